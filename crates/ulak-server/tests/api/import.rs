//! CSV and XLSX imports through the API: mapping, groups, both modes, per-row errors, broken
//! files and oversize uploads — and that a refused import changes nothing.

use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, spawn_app};

async fn import(app: &TestApp, file: Vec<u8>, name: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    app.upload("/subscribers/import", ADMIN_KEY, file, name, fields)
        .await
}

async fn count(app: &TestApp) -> usize {
    app.call("GET", "/subscribers?limit=500", ADMIN_KEY, None)
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .len()
}

/// A file, its name, form fields, and a phrase the error must contain.
type Case = (
    Vec<u8>,
    &'static str,
    Vec<(&'static str, &'static str)>,
    &'static str,
);

const MAPPING: &str = r#"{"name":"Ad Soyad","phone":"Telefon","tckn":"TC","attr.bakiye":"Bakiye"}"#;

#[tokio::test]
async fn csv_into_a_group_with_mapping() {
    let app = spawn_app().await;
    let g = app
        .call("POST", "/groups", ADMIN_KEY, Some(json!({"name": "VIP"})))
        .await;
    let gid = g.body["id"].as_i64().unwrap().to_string();
    let csv = "Ad Soyad;Telefon;TC;Bakiye\nAyşe Yılmaz;0532 123 45 67;10000000146;120,50\nMehmet Demir;+90 542 987 65 43;;80,00\n";
    let (status, body) = import(
        &app,
        csv.into(),
        "a.csv",
        &[("mapping", MAPPING), ("group_id", &gid)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["rows"].as_u64(), body["imported"].as_u64()),
        (Some(2), Some(2))
    );
    let members = app
        .call("GET", &format!("/groups/{gid}/members"), ADMIN_KEY, None)
        .await;
    let items = members.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["attributes"]["bakiye"], "120,50");
    assert_eq!(items[1]["phone"], "+905429876543");
}

#[tokio::test]
async fn all_or_nothing_refuses_everything_and_names_each_row() {
    let app = spawn_app().await;
    let csv = "name,phone,tckn\nA,05321234567,\nB,0312 123 45 67,\nC,05321234567,\nD,05331234567,12345678901\n";
    let (status, body) = import(&app, csv.into(), "a.csv", &[]).await;
    assert_eq!(status, 422, "{body}");
    let errors: Vec<(u64, String)> = body["row_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["column"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        vec![(3, "phone".into()), (4, "phone".into()), (5, "tckn".into())],
        "{body}: the repeated phone of row 4 is named along with the invalid rows"
    );
    assert_eq!(count(&app).await, 0, "nothing imported");

    let (status, body) = import(&app, csv.into(), "a.csv", &[("mode", "skip-invalid")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], 1);
    let rows: Vec<u64> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["row"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, vec![3, 4, 5], "{body}");
    assert!(
        body["errors"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("row 2"),
        "{body}"
    );
    assert_eq!(count(&app).await, 1);
}

#[tokio::test]
async fn xlsx_with_numeric_phone_cells() {
    let app = spawn_app().await;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "Ad Soyad").unwrap();
    sheet.write_string(0, 1, "Telefon").unwrap();
    sheet.write_string(1, 0, "Çağrı Işık").unwrap();
    // Excel keeps a typed phone number as a float and drops the leading zero.
    sheet.write_number(1, 1, 5_321_234_567.0).unwrap();
    sheet.write_string(2, 0, "Şule").unwrap();
    sheet.write_number(2, 1, 905_339_876_543.0).unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let (status, body) = import(
        &app,
        bytes,
        "a.xlsx",
        &[("mapping", r#"{"name":"Ad Soyad","phone":"Telefon"}"#)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], 2);
    let list = app
        .call("GET", "/subscribers?search=cagri", ADMIN_KEY, None)
        .await;
    assert_eq!(list.body["items"][0]["phone"], "+905321234567");
}

#[tokio::test]
async fn broken_files_and_mappings_are_clear_errors() {
    let app = spawn_app().await;
    let cases: Vec<Case> = vec![
        (b"".to_vec(), "e.csv", vec![], "empty"),
        (b"PK\x03\x04not a zip".to_vec(), "b.xlsx", vec![], "XLSX"),
        (b"name,name\nx,y\n".to_vec(), "d.csv", vec![], "repeat"),
        (
            b"name,phone\nx,05321234567\n".to_vec(),
            "m.csv",
            vec![("mapping", r#"{"phone":"GSM"}"#)],
            "its columns are",
        ),
        (
            b"name,phone\nx,05321234567\n".to_vec(),
            "m.csv",
            vec![("mapping", r#"{"fax":"phone"}"#)],
            "unknown field",
        ),
        (
            b"name,phone\nx,05321234567\n".to_vec(),
            "m.csv",
            vec![("mapping", "not json")],
            "JSON",
        ),
        (b"name\nx\n".to_vec(), "n.csv", vec![], "required field"),
        (
            b"name,phone\nx,05321234567\n".to_vec(),
            "m.csv",
            vec![("mode", "sometimes")],
            "skip-invalid",
        ),
    ];
    for (file, name, fields, expect) in cases {
        let (status, body) = import(&app, file, name, &fields).await;
        assert_eq!(status, 422, "{name} {fields:?}: {body}");
        assert!(
            body.to_string().contains(expect),
            "{name} {fields:?}: {body}"
        );
    }
    let (status, _) = import(
        &app,
        b"name,phone\nx,05321234567\n".to_vec(),
        "g.csv",
        &[("group_id", "999")],
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(count(&app).await, 0);
}

#[tokio::test]
async fn importing_known_subscribers_into_a_group_adds_them() {
    let app = spawn_app().await;
    let mut gids = Vec::new();
    for name in ["Liste 1", "Liste 2"] {
        let g = app
            .call("POST", "/groups", ADMIN_KEY, Some(json!({"name": name})))
            .await;
        gids.push(g.body["id"].as_i64().unwrap().to_string());
    }
    let csv = "name;phone\nAyşe;05321234567\nAli;05421234567\n";
    let (status, body) = import(&app, csv.into(), "a.csv", &[("group_id", &gids[0])]).await;
    assert_eq!(
        (status, body["imported"].as_u64()),
        (200, Some(2)),
        "{body}"
    );
    // The same list plus one new number into the second group: all three become members,
    // nothing is skipped, the known two are not duplicated.
    let csv2 = format!("{csv}Veli;05051234567\n");
    let (status, body) = import(&app, csv2.into(), "b.csv", &[("group_id", &gids[1])]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["imported"].as_u64(),
            body["added_to_group"].as_u64(),
            body["skipped"].as_u64()
        ),
        (Some(1), Some(2), Some(0)),
        "{body}"
    );
    let members = app
        .call(
            "GET",
            &format!("/groups/{}/members", gids[1]),
            ADMIN_KEY,
            None,
        )
        .await;
    assert_eq!(members.body["items"].as_array().unwrap().len(), 3);
    assert_eq!(count(&app).await, 3);
    // Without a group, known numbers are still reported as existing.
    let (status, body) = import(&app, csv.into(), "c.csv", &[("mode", "skip-invalid")]).await;
    assert_eq!(
        (status, body["imported"].as_u64(), body["skipped"].as_u64()),
        (200, Some(0), Some(2)),
        "{body}"
    );
}

#[tokio::test]
async fn oversize_uploads_are_413_and_change_nothing() {
    let app = crate::helpers::spawn_app_with(|s| s.max_body_bytes = 4096).await;
    let mut csv = String::from("name,phone\n");
    for i in 0..400 {
        csv.push_str(&format!("Abone {i},0532{i:07}\n"));
    }
    assert!(csv.len() > 4096);
    let (status, body) = import(&app, csv.into_bytes(), "big.csv", &[]).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["status"], 413);
    assert_eq!(count(&app).await, 0);
}

#[tokio::test]
async fn huge_error_reports_are_capped_and_counted() {
    let app = spawn_app().await;
    let mut csv = String::from("name,phone\n");
    for i in 0..10_050 {
        csv.push_str(&format!("Abone {i},12{i}\n"));
    }
    csv.push_str("Son,05321234567\n");
    let (status, body) = import(
        &app,
        csv.clone().into_bytes(),
        "e.csv",
        &[("mode", "skip-invalid")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rows"], 10_051);
    assert_eq!(body["imported"], 1);
    assert_eq!(body["skipped"], 10_050);
    assert_eq!(body["errors"].as_array().unwrap().len(), 10_000);
    assert_eq!(body["errors_omitted"], 50);
    assert_eq!(body["errors"][0]["row"], 2);
    let (status, body) = import(&app, csv.into_bytes(), "e.csv", &[]).await;
    assert_eq!(status, 422);
    assert_eq!(
        body["row_errors_omitted"], 51,
        "the 50 beyond the cap and the existing phone"
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("more problems not listed"),
        "{body}"
    );
}
