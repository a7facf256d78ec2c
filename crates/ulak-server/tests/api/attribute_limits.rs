//! Attributes of subscribers and customer accounts are bounded (count, key, value, total),
//! and list pages are bounded by size as well as by rows.

use std::collections::BTreeMap;

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, spawn_app};

/// `n` attributes whose values are `len` characters long.
fn attrs(n: usize, len: usize) -> BTreeMap<String, String> {
    (0..n).map(|i| (format!("a{i}"), "ç".repeat(len))).collect()
}

/// The start of a body, for assertion messages (an echoed attribute set can be megabytes).
fn short(body: &Value) -> String {
    body.to_string().chars().take(300).collect()
}

fn fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn too_many_or_too_large_attributes_are_422() {
    let app = spawn_app().await;
    let sub = |a: BTreeMap<String, String>| json!({"name": "Ali", "phone": "05321234567", "attributes": a});
    let cases = [
        (
            "the issue's 20,000 of 1,000 characters",
            attrs(20_000, 1000),
        ),
        ("101 short ones", attrs(101, 1)),
        (
            "17 of 1,000 characters (over 16 KiB together)",
            attrs(17, 1000),
        ),
        ("a value of 1,001 characters", attrs(1, 1001)),
        (
            "a key of 65 characters",
            [("k".repeat(65), "v".to_owned())].into_iter().collect(),
        ),
    ];
    for (what, a) in cases {
        // Built before the clock starts: a debug build takes seconds to serialize 20 MB.
        let body = sub(a.clone()).to_string();
        let t = std::time::Instant::now();
        let res = app
            .http
            .post(format!("{}/api/v1/subscribers", app.base))
            .bearer_auth(ADMIN_KEY)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let took = t.elapsed();
        let r = crate::helpers::Answer {
            status: res.status().as_u16(),
            body: res.json().await.unwrap(),
        };
        assert_eq!(r.status, 422, "{what}: {}", short(&r.body));
        assert!(
            fields(&r.body).iter().all(|f| f.starts_with("attributes")),
            "{what}: {}",
            short(&r.body)
        );
        assert!(
            r.body["errors"].as_array().unwrap().len() <= 10,
            "{what}: one problem is one error, not one per attribute"
        );
        // Generous: a debug build parses the 20 MB body in about 2 s.
        assert!(took.as_secs() < 15, "{what}: {took:?}");
        let c = app
            .call(
                "POST",
                "/customers",
                ADMIN_KEY,
                Some(
                    json!({"code": "C1", "title": "T", "phones": ["05321234567"], "attributes": a}),
                ),
            )
            .await;
        assert_eq!(c.status, 422, "customer, {what}: {}", short(&c.body));
    }
    // The largest allowed set is stored whole.
    let ok = app
        .call("POST", "/subscribers", ADMIN_KEY, Some(sub(attrs(100, 40))))
        .await;
    assert_eq!(ok.status, 201, "{}", short(&ok.body));
    assert_eq!(ok.body["attributes"].as_object().unwrap().len(), 100);
    let id = ok.body["id"].as_i64().unwrap();
    let p = app
        .call(
            "PATCH",
            &format!("/subscribers/{id}"),
            ADMIN_KEY,
            Some(json!({"attributes": attrs(101, 1)})),
        )
        .await;
    assert_eq!(p.status, 422, "{}", p.body);
    let phones: Vec<String> = (0..21).map(|i| format!("05321234{i:03}")).collect();
    let c = app
        .call(
            "POST",
            "/customers",
            ADMIN_KEY,
            Some(json!({"code": "C2", "title": "T", "phones": phones})),
        )
        .await;
    assert_eq!(c.status, 422, "{}", c.body);
    assert_eq!(fields(&c.body), vec!["phones"], "{}", c.body);
}

#[tokio::test]
async fn an_import_mapping_more_attributes_than_allowed_is_422() {
    let app = spawn_app().await;
    let mut header = String::from("name,phone");
    let mut row = String::from("Ali,05321234567");
    let mut mapping = serde_json::Map::new();
    for i in 0..101 {
        header.push_str(&format!(",k{i}"));
        row.push_str(",v");
        mapping.insert(format!("attr.k{i}"), json!(format!("k{i}")));
    }
    let form = Form::new()
        .part(
            "file",
            Part::bytes(format!("{header}\n{row}\n").into_bytes()).file_name("a.csv"),
        )
        .text("mapping", Value::Object(mapping).to_string());
    let res = app
        .http
        .post(format!("{}/api/v1/subscribers/import", app.base))
        .bearer_auth(ADMIN_KEY)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 422, "{body}");
    assert_eq!(fields(&body), vec!["mapping"], "{body}");
}

#[tokio::test]
async fn list_pages_stop_early_when_rows_are_large() {
    let app = spawn_app().await;
    // 150 subscribers of ~16 KB each: about 2.4 MB in all, over one page's size.
    let n = 150;
    for i in 0..n {
        let a = json!({"name": format!("Abone {i}"), "phone": format!("0532{i:07}"),
            "attributes": attrs(16, 500)});
        let r = app.call("POST", "/subscribers", ADMIN_KEY, Some(a)).await;
        assert_eq!(r.status, 201, "{}", short(&r.body));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut pages = 0;
    let mut cursor = String::new();
    loop {
        let r = app
            .call(
                "GET",
                &if cursor.is_empty() {
                    "/subscribers?limit=500".to_owned()
                } else {
                    format!("/subscribers?limit=500&cursor={cursor}")
                },
                ADMIN_KEY,
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", short(&r.body));
        pages += 1;
        for s in r.body["items"].as_array().unwrap() {
            assert!(seen.insert(s["id"].as_i64().unwrap()), "a row on two pages");
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), n);
    assert!(pages >= 2, "one page of {n} large rows");
}

#[tokio::test]
async fn the_document_states_the_limits() {
    let app = spawn_app().await;
    let doc: Value = app.openapi().await;
    let schemas = &doc["components"]["schemas"];
    for (schema, nullable) in [
        ("SubscriberIn", false),
        ("SubscriberPatchIn", true),
        ("CustomerIn", false),
        ("CustomerPatchIn", true),
    ] {
        let s = &schemas[schema];
        let a = &s["properties"]["attributes"];
        assert_eq!(a["maxProperties"], 100, "{schema}: {a}");
        assert_eq!(
            a["additionalProperties"]["maxLength"], 1000,
            "{schema}: {a}"
        );
        assert_eq!(a["propertyNames"]["maxLength"], 64, "{schema}: {a}");
        let listed = s["required"]
            .as_array()
            .is_some_and(|r| r.iter().any(|f| f == "attributes"));
        assert!(!listed, "{schema}: attributes may be left out");
        let null = a["type"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == "null"));
        assert_eq!(null, nullable, "{schema}: {a}");
    }
    assert_eq!(
        schemas["SubscriberIn"]["properties"]["name"]["maxLength"],
        200
    );
    assert_eq!(
        schemas["CustomerIn"]["properties"]["phones"]["maxItems"],
        20
    );
    assert_eq!(schemas["CustomerIn"]["properties"]["code"]["maxLength"], 64);
}
