//! Customer accounts ("cari hesap") through the API: CRUD, search, validation, import.

use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, spawn_app};

async fn import(app: &TestApp, key: &str, csv: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let file = csv.as_bytes().to_vec();
    app.upload("/customers/import", key, file, "cari.csv", fields)
        .await
}

#[tokio::test]
async fn customer_accounts_crud_search_and_errors() {
    let app = spawn_app().await;
    let k = ADMIN_KEY;
    let c = app
        .call(
            "POST",
            "/customers",
            k,
            Some(json!({
                "code": "120.01.001", "title": "Yıldız Gıda Ltd. Şti.", "kind": "customer",
                "phones": ["0532 111 22 33", "+90 542 000 11 22"], "balance_minor": 123456,
                "attributes": {"yetkili": "Ayşe Hanım"}
            })),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.body);
    assert_eq!(c.body["phones"], json!(["+905321112233", "+905420001122"]));
    let id = c.body["id"].as_i64().unwrap();

    // The code is unique in the company.
    let dup = app
        .call(
            "POST",
            "/customers",
            k,
            Some(json!({"code": "120.01.001", "title": "X", "phones": ["05330000000"]})),
        )
        .await;
    assert_eq!(dup.status, 409, "{}", dup.body);
    // Every invalid field is named; nothing is stored.
    let bad = app
        .call(
            "POST",
            "/customers",
            k,
            Some(json!({"code": "", "title": "T", "phones": ["0532", "abc"], "kind": "customer"})),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["code", "phones[0]", "phones[1]"]);
    let none = app
        .call(
            "POST",
            "/customers",
            k,
            Some(json!({"code": "X", "title": "T", "phones": []})),
        )
        .await;
    assert_eq!(none.status, 422, "{}", none.body);
    let wrong_kind = app
        .call(
            "POST",
            "/customers",
            k,
            Some(json!({"code": "X", "title": "T", "phones": ["05321112233"], "kind": "bank"})),
        )
        .await;
    assert!(
        [400, 422].contains(&wrong_kind.status),
        "{}",
        wrong_kind.body
    );

    // Search by title (Turkish letters folded), by code and by phone.
    for q in ["yildiz", "120.01", "5420001122"] {
        let l = app
            .call("GET", &format!("/customers?search={q}"), k, None)
            .await;
        assert_eq!(l.body["items"].as_array().unwrap().len(), 1, "search {q}");
    }
    let l = app.call("GET", "/customers?search=zzz", k, None).await;
    assert!(l.body["items"].as_array().unwrap().is_empty());

    let p = app
        .call(
            "PATCH",
            &format!("/customers/{id}"),
            k,
            Some(json!({"balance_minor": -500, "kind": "supplier"})),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(
        (p.body["balance_minor"].as_i64(), p.body["kind"].as_str()),
        (Some(-500), Some("supplier"))
    );
    assert_eq!(p.body["title"], "Yıldız Gıda Ltd. Şti.", "untouched field");
    let p = app
        .call(
            "PATCH",
            &format!("/customers/{id}"),
            k,
            Some(json!({"phones": ["nope"]})),
        )
        .await;
    assert_eq!(p.status, 422);
    let g = app.call("GET", &format!("/customers/{id}"), k, None).await;
    assert_eq!(g.body["phones"].as_array().unwrap().len(), 2, "unchanged");

    // A viewer reads but cannot write.
    let viewer = app
        .call(
            "POST",
            "/api-keys",
            k,
            Some(json!({"name": "v", "role": "viewer"})),
        )
        .await;
    let v = viewer.body["key"].as_str().unwrap();
    assert_eq!(app.call("GET", "/customers", v, None).await.status, 200);
    assert_eq!(
        app.call("DELETE", &format!("/customers/{id}"), v, None)
            .await
            .status,
        403
    );
    assert_eq!(
        app.call("DELETE", &format!("/customers/{id}"), k, None)
            .await
            .status,
        204
    );
    assert_eq!(
        app.call("GET", &format!("/customers/{id}"), k, None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn customer_accounts_import_with_mapping_and_row_errors() {
    let app = spawn_app().await;
    let k = ADMIN_KEY;
    let mapping = r#"{"code":"Cari Kod","title":"Ünvan","phones":"GSM","balance":"Bakiye","kind":"Tip","attr.vade":"Vade"}"#;
    let csv = "Cari Kod;Ünvan;GSM;Bakiye;Tip;Vade\n\
               C1;Anadolu Ltd;0532 111 22 33, 0533 444 55 66;1.234,56;Müşteri;30\n\
               C2;Ege Tekstil;0542 000 00 01;-75;tedarikçi;\n\
               C3;Bozuk;12;abc;bank;\n\
               C1;Tekrar;0532 999 99 99;0;;\n";
    // All-or-nothing: row 4 has three problems, row 5 repeats a code; nothing is stored.
    let (status, body) = import(&app, k, csv, &[("mapping", mapping)]).await;
    assert_eq!(status, 422, "{body}");
    let errs: Vec<(u64, &str)> = body["row_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["column"].as_str().unwrap()))
        .collect();
    assert_eq!(errs, vec![(4, "Tip"), (4, "Bakiye"), (5, "code")], "{body}");
    let list = app.call("GET", "/customers", k, None).await;
    assert!(list.body["items"].as_array().unwrap().is_empty());

    // Skip-invalid: the two good rows are stored, the rest reported.
    let (status, body) = import(
        &app,
        k,
        csv,
        &[("mapping", mapping), ("mode", "skip-invalid")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["rows"].as_u64(),
            body["imported"].as_u64(),
            body["skipped"].as_u64()
        ),
        (Some(4), Some(2), Some(2))
    );
    let c1 = app.call("GET", "/customers?search=anadolu", k, None).await;
    let c1 = &c1.body["items"][0];
    assert_eq!(c1["balance_minor"], 123_456);
    assert_eq!(c1["phones"], json!(["+905321112233", "+905334445566"]));
    assert_eq!(c1["attributes"]["vade"], "30");
    let c2 = app.call("GET", "/customers?search=ege", k, None).await;
    assert_eq!(
        (
            c2.body["items"][0]["kind"].as_str(),
            c2.body["items"][0]["balance_minor"].as_i64()
        ),
        (Some("supplier"), Some(-7_500))
    );

    // Importing again reports the existing codes and overwrites nothing.
    let (status, body) = import(
        &app,
        k,
        "code;title;phones\nC1;Yeni Ünvan;05320000000\n",
        &[("mode", "skip-invalid")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], 0);
    assert_eq!(body["errors"][0]["column"], "code");
    assert!(
        body["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );
    let c1 = app.call("GET", "/customers?search=C1", k, None).await;
    assert_eq!(c1.body["items"][0]["title"], "Anadolu Ltd");

    // Clear errors for a missing required column and for a group.
    let (status, body) = import(&app, k, "code;title\nC9;T\n", &[]).await;
    assert_eq!(status, 422);
    assert!(body.to_string().contains("phones"), "{body}");
    let (status, _) = import(
        &app,
        k,
        "code;title;phones\nC9;T;05321112233\n",
        &[("group_id", "1")],
    )
    .await;
    assert_eq!(status, 422);
}
