//! The OpenAPI 3.1 document is served and lists the routes.

use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn document_is_served_and_complete() {
    let app = spawn_app().await;
    let doc: Value = app.openapi().await;
    assert_eq!(doc["openapi"], "3.1.0");
    for path in ["/api/v1/count", "/healthz", "/readyz"] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    // Rate limits and the request time-out can answer any operation.
    let op = &doc["paths"]["/api/v1/subscribers"]["get"]["responses"];
    assert!(op["408"].is_object(), "{op}");
    assert!(op["429"]["headers"]["Retry-After"].is_object(), "{op}");
    for path in [
        "/api/v1/companies/{id}/credit/entries",
        "/api/v1/companies/{id}/tckn-subscription",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
}

#[tokio::test]
async fn health_endpoints_answer() {
    let app = spawn_app().await;
    let res = app
        .http
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Follows a `$ref` into the document's components.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap();
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// Every string a request body can carry, with where it is: (path, schema).
fn strings<'a>(doc: &'a Value, schema: &'a Value, at: String, out: &mut Vec<(String, &'a Value)>) {
    let s = resolve(doc, schema);
    for key in ["allOf", "anyOf", "oneOf"] {
        // `allOf[1]` of a body is a rule across fields (`CrossFieldRules`), not fields.
        let parts = s[key].as_array().into_iter().flatten().enumerate();
        for (i, part) in parts.filter(|(i, _)| key != "allOf" || *i == 0) {
            strings(doc, part, format!("{at}/{key}[{i}]"), out);
        }
    }
    for (name, p) in s["properties"].as_object().into_iter().flatten() {
        strings(doc, p, format!("{at}.{name}"), out);
    }
    if s["items"].is_object() {
        strings(doc, &s["items"], format!("{at}[]"), out);
    }
    if s["additionalProperties"].is_object() {
        strings(doc, &s["additionalProperties"], format!("{at}.*"), out);
    }
    if s["propertyNames"].is_object() {
        strings(doc, &s["propertyNames"], format!("{at} names"), out);
    }
    let string = match &s["type"] {
        Value::String(t) => t == "string",
        Value::Array(ts) => ts.iter().any(|t| t == "string"),
        _ => false,
    };
    if string {
        out.push((at, s));
    }
}

/// Every text field of every JSON request body states its maximum and its characters: a
/// `maxLength` and a `pattern` (or a domain `format`), unless it is an enumeration.
#[test]
fn every_request_text_field_has_a_documented_maximum_and_pattern() {
    let doc = serde_json::to_value(ulak_server::routes::openapi()).unwrap();
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let body = &op["requestBody"]["content"]["application/json"]["schema"];
            if body.is_object() {
                strings(&doc, body, format!("{method} {path} body"), &mut found);
            }
            for p in op["parameters"].as_array().into_iter().flatten() {
                strings(
                    &doc,
                    &p["schema"],
                    format!("{method} {path} {}", p["name"]),
                    &mut found,
                );
            }
        }
    }
    assert!(found.len() > 60, "only {} text fields found", found.len());
    let loose: Vec<&str> = found
        .iter()
        .filter(|(_, s)| {
            let enumerated = s["enum"].is_array() || s["const"].is_string();
            let limited = s["maxLength"].is_u64();
            let shaped =
                s["pattern"].is_string() || matches!(s["format"].as_str(), Some("phone" | "tckn"));
            // The empty alternative of an optional value ("empty clears it").
            let empty = s["maxLength"] == 0;
            !(enumerated || empty || limited && shaped)
        })
        .map(|(at, _)| at.as_str())
        .collect();
    assert!(
        loose.is_empty(),
        "text fields without a maximum or pattern:\n{}",
        loose.join("\n")
    );
}

/// The patterns the document states are the ones the server applies (spot checks of the
/// control-character rule and the sender header rule on both sides).
#[test]
fn documented_patterns_agree_with_the_rules() {
    use ulak_core::model::{Lines, SenderName, check_controls};
    use ulak_server::routes::schema::{LINE, TEXT_ANY, sender_pattern};
    // The document's patterns, read by the same regex engine family the validators use.
    let line = regex::Regex::new(LINE).unwrap();
    let text = regex::Regex::new(TEXT_ANY).unwrap();
    for s in [
        "Ayşe", " a ", "a\u{0}b", "a\tb", "a\nb", "\u{85}", "  ", "x\u{9f}",
    ] {
        let rule = ulak_core::model::validation::text(s, 1000).is_ok();
        assert_eq!(line.is_match(s), rule, "one line: {s:?}");
        assert_eq!(
            text.is_match(s),
            check_controls(s, Lines::Many).is_ok(),
            "lines: {s:?}"
        );
    }
    let sender = regex::Regex::new(&sender_pattern()).unwrap();
    for s in [
        "ULAK",
        "ULAK A.S.",
        " ULAK ",
        "12",
        "123",
        "905321234567",
        "1234567890123456",
        "ABCDEFGHIJK",
        "ABCDEFGHIJKL",
        "1-2",
        "A-1",
        "ULAK!",
        "ULAKŞ",
        "  1 A  ",
    ] {
        assert_eq!(
            sender.is_match(s),
            SenderName::parse(s).is_ok(),
            "sender {s:?}"
        );
    }
}
