//! Stable error codes: each refusal of a send names its field and code; every problem carries
//! a code; the texts are Turkish when `Accept-Language` prefers Turkish; the OpenAPI document
//! and docs/errors.md list the same codes.

use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, spawn_app};

/// A request with headers, answered with status, headers and JSON body.
async fn raw(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = app
        .http
        .request(method, format!("{}/api/v1{path}", app.base))
        .bearer_auth(ADMIN_KEY);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let h = res.headers().clone();
    let text = res.text().await.unwrap();
    (
        status,
        h,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// The (field, code) pairs of a 422.
fn fields(body: &Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap_or("").to_owned(),
                e["code"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn each_refused_send_names_its_field_and_code() {
    let app = spawn_app().await;
    let r = app
        .call(
            "POST",
            "/opt-outs",
            ADMIN_KEY,
            Some(json!({"phone": "0532 999 88 77"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let long = "Ж".repeat(67 * 10 + 1);
    let table: Vec<(Value, &str, &str)> = vec![
        (
            json!({"to": "0212 123 45 67", "text": "a"}),
            "to",
            "phone.landline",
        ),
        (
            json!({"to": "+1 202 555 0100", "text": "a"}),
            "to",
            "phone.country_not_allowed",
        ),
        (
            json!({"to": "0532 12", "text": "a"}),
            "to",
            "phone.too_short",
        ),
        (
            json!({"to": "12345678901", "text": "a"}),
            "to",
            "tckn.checksum",
        ),
        (
            json!({"to": "10000000078", "text": "a"}),
            "to",
            "tckn.subscription_off",
        ),
        (
            json!({"to": "0532 999 88 77", "text": "a"}),
            "to",
            "phone.opted_out",
        ),
        (
            json!({"to": "05321234567", "text": "   "}),
            "text",
            "text.empty",
        ),
        (
            json!({"to": "05321234567", "text": long}),
            "text",
            "text.too_long",
        ),
        (json!({"to": "05321234567"}), "text", "text.missing"),
        (
            json!({"to": "05321234567", "text": "a", "template_id": 1}),
            "text",
            "text.ambiguous",
        ),
        (
            json!({"to": "05321234567", "template_id": 999_999}),
            "template_id",
            "template.unknown",
        ),
        (
            json!({"to": "05321234567", "text": "a", "sender": "NOBODY"}),
            "sender",
            "sender.unknown",
        ),
        (
            json!({"to": "05321234567", "text": "a", "sender": "ŞİRKET"}),
            "sender",
            "sender.turkish_letter",
        ),
        (
            json!({"to": "05321234567", "text": "a", "validity": 10}),
            "validity",
            "validity.out_of_range",
        ),
        (
            json!({"to": "05321234567", "text": "a", "scheduled_at": 1}),
            "scheduled_at",
            "schedule.out_of_range",
        ),
    ];
    for (body, field, code) in table {
        let r = app
            .call("POST", "/messages", ADMIN_KEY, Some(body.clone()))
            .await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        assert_eq!(r.body["code"], "request.invalid", "{}", r.body);
        assert!(
            fields(&r.body).contains(&(field.to_owned(), code.to_owned())),
            "{body}: want {field} {code}, got {}",
            r.body
        );
    }
    // Conflicts have codes of their own: no credit bought yet, then a key reused.
    let r = app
        .call(
            "POST",
            "/messages",
            ADMIN_KEY,
            Some(json!({"to": "05321234567", "text": "a"})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (409, Some("credit.insufficient")),
        "{}",
        r.body
    );
    app.call(
        "POST",
        "/credit/entries",
        ADMIN_KEY,
        Some(json!({"kind": "purchase", "amount": 5})),
    )
    .await;
    let key = [("Idempotency-Key", "k-1")];
    let first = json!({"to": "05321234567", "text": "bir"});
    let (s, _, b) = raw(&app, "POST", "/messages", Some(first), &key).await;
    assert_eq!(s, 202, "{b}");
    let other = json!({"to": "05321234567", "text": "iki"});
    let (s, _, b) = raw(&app, "POST", "/messages", Some(other), &key).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (409, Some("idempotency.body_mismatch")),
        "{b}"
    );
    let bad_key = [("Idempotency-Key", "")];
    let (s, _, b) = raw(
        &app,
        "POST",
        "/messages",
        Some(json!({"to": "05321234567", "text": "a"})),
        &bad_key,
    )
    .await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(
        fields(&b),
        [(
            "Idempotency-Key".to_owned(),
            "idempotency.key_invalid".to_owned()
        )]
    );
}

#[tokio::test]
async fn turkish_texts_when_asked_codes_unchanged() {
    let app = spawn_app().await;
    let body = json!({"to": "0212 123 45 67", "text": "a"});
    let (s, h, en) = raw(&app, "POST", "/messages", Some(body.clone()), &[]).await;
    assert_eq!(s, 422);
    assert_eq!(h["content-language"], "en");
    assert_eq!(en["title"], "Unprocessable Entity");
    assert!(
        en["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("landline"),
        "{en}"
    );
    for asked in ["tr", "tr-TR,tr;q=0.9,en-US;q=0.8,en;q=0.7", "en;q=0.5, tr"] {
        let (s, h, tr) = raw(
            &app,
            "POST",
            "/messages",
            Some(body.clone()),
            &[("Accept-Language", asked)],
        )
        .await;
        assert_eq!(
            (s, &h["content-language"]),
            (422, &"tr".parse().unwrap()),
            "{asked}"
        );
        assert_eq!(tr["title"], "Geçersiz Veri");
        assert_eq!(tr["code"], en["code"]);
        assert_eq!(tr["errors"][0]["code"], "phone.landline");
        assert_eq!(tr["errors"][0]["field"], "to");
        assert_eq!(tr["errors"][0]["message"], "Sabit hatlar SMS alamaz.");
        assert_eq!(
            tr["detail"],
            "Bazı alanlar geçersiz; ayrıntılar `errors` içinde."
        );
    }
    // English stays the default for any other language.
    let (_, h, de) = raw(
        &app,
        "POST",
        "/messages",
        Some(body),
        &[("Accept-Language", "de-DE")],
    )
    .await;
    assert_eq!(
        (h["content-language"].to_str().unwrap(), &de["title"]),
        ("en", &en["title"])
    );
    // Answers the router makes by itself, and refusals before any handler, have codes too.
    let (s, h, b) = raw(
        &app,
        "GET",
        "/no-such-thing",
        None,
        &[("Accept-Language", "tr")],
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str(), b["title"].as_str()),
        (404, Some("resource.not_found"), Some("Bulunamadı"))
    );
    assert_eq!(h["content-type"], "application/problem+json");
    let (s, _, b) = raw(&app, "DELETE", "/credit", None, &[]).await;
    assert_eq!((s, b["code"].as_str()), (405, Some("method.not_allowed")));
    let r = app
        .call(
            "GET",
            "/credit",
            "ulak_wrong-key-0000000000000000000000",
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (401, Some("auth.required"))
    );
    let res = app
        .http
        .post(format!("{}/api/v1/messages", app.base))
        .bearer_auth(ADMIN_KEY)
        .header("content-type", "application/json")
        .header("accept-language", "tr")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let b: Value = res.json().await.unwrap();
    assert_eq!(
        (b["code"].as_str(), b["detail"].as_str()),
        (Some("request.malformed"), Some("İstek okunamadı."))
    );
}

#[tokio::test]
async fn the_document_lists_the_codes_of_docs_errors_md() {
    let app = spawn_app().await;
    let doc: Value = app.openapi().await;
    let schemas = &doc["components"]["schemas"];
    // The code's schema, named or inline.
    let resolve = |s: &Value| match s["$ref"].as_str() {
        Some(r) => schemas[r.trim_start_matches("#/components/schemas/")].clone(),
        None => s.clone(),
    };
    let problem_code = resolve(&schemas["Problem"]["properties"]["code"]);
    let field_code = resolve(&schemas["FieldError"]["properties"]["code"]);
    assert_eq!(problem_code, field_code);
    let listed: std::collections::BTreeSet<String> = problem_code["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("no enum of codes: {}", schemas["Problem"]))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let md = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/errors.md"))
        .unwrap();
    let documented: std::collections::BTreeSet<String> = md
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect();
    assert!(listed.len() > 40, "{listed:?}");
    assert_eq!(listed, documented);
    for c in [
        "phone.invalid",
        "phone.country_not_allowed",
        "tckn.checksum",
        "text.empty",
        "text.too_long",
        "sender.unknown",
        "tckn.subscription_off",
        "credit.insufficient",
        "idempotency.body_mismatch",
    ] {
        assert!(listed.contains(c), "{c}");
    }
    assert!(
        schemas["Problem"]["required"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "code")
    );
}
