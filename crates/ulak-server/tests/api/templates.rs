//! Templates (syntax checked on save, rendered with missing fields named) and sender headers.

use serde_json::json;

use crate::helpers::{ADMIN_KEY, spawn_app};

#[tokio::test]
async fn templates_are_checked_rendered_and_counted() {
    let app = spawn_app().await;
    let k = ADMIN_KEY;
    let bad = app
        .call(
            "POST",
            "/templates",
            k,
            Some(json!({"name": "x", "body": "Sayın {{ad"})),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(bad.body["errors"][0]["field"], "body");
    let t = app
        .call(
            "POST",
            "/templates",
            k,
            Some(json!({"name": "Bakiye", "body": "Sayın {{ad}}, bakiyeniz {{bakiye}} TL."})),
        )
        .await;
    assert_eq!(t.status, 201, "{}", t.body);
    assert_eq!(t.body["fields"], json!(["ad", "bakiye"]));
    let tid = t.body["id"].as_i64().unwrap();
    let s = app
        .call("POST", "/subscribers", k, Some(json!({"name": "Şükrü Öztürk", "phone": "05321234567", "attributes": {"bakiye": "42,00"}})))
        .await;
    let sid = s.body["id"].as_i64().unwrap();
    let p = app
        .call(
            "POST",
            &format!("/templates/{tid}/preview"),
            k,
            Some(json!({"subscriber_id": sid})),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["text"], "Sayın Şükrü Öztürk, bakiyeniz 42,00 TL.");
    assert_eq!(p.body["count"]["encoding"], "gsm7+turkish-single-shift");
    assert_eq!(p.body["count"]["segments"], 1);
    let missing = app
        .call(
            "POST",
            &format!("/templates/{tid}/preview"),
            k,
            Some(json!({"fields": {"ad": "Ali"}})),
        )
        .await;
    assert_eq!(missing.status, 422);
    assert_eq!(missing.body["errors"][0]["field"], "fields.bakiye");
    let dup = app
        .call(
            "POST",
            "/templates",
            k,
            Some(json!({"name": "Bakiye", "body": "x"})),
        )
        .await;
    assert_eq!(dup.status, 409);
    // Another company sees none of it.
    let other = app.company("digerfirma").await;
    assert_eq!(
        app.call("GET", &format!("/templates/{tid}"), &other, None)
            .await
            .status,
        404
    );
    assert_eq!(
        app.call(
            "POST",
            &format!("/templates/{tid}/preview"),
            &other,
            Some(json!({}))
        )
        .await
        .status,
        404
    );
    assert_eq!(
        app.call("DELETE", &format!("/templates/{tid}"), &other, None)
            .await
            .status,
        404
    );
    assert_eq!(
        app.call("DELETE", &format!("/templates/{tid}"), k, None)
            .await
            .status,
        204
    );
}

#[tokio::test]
async fn sender_headers_have_one_default_and_valid_names() {
    let app = spawn_app().await;
    // A new company: `default` starts with the header ULAK already.
    let k = &app.company("basliklar").await;
    for bad in ["ŞİRKET", "TOO-LONG-NAME-12", ""] {
        let r = app
            .call("POST", "/sender-headers", k, Some(json!({"name": bad})))
            .await;
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
    }
    let a = app
        .call(
            "POST",
            "/sender-headers",
            k,
            Some(json!({"name": "ULAK", "is_default": true})),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let b = app
        .call(
            "POST",
            "/sender-headers",
            k,
            Some(json!({"name": "KAMPANYA"})),
        )
        .await;
    let bid = b.body["id"].as_i64().unwrap();
    let d = app
        .call("POST", &format!("/sender-headers/{bid}/default"), k, None)
        .await;
    assert_eq!(
        (d.status, d.body["is_default"].as_bool()),
        (200, Some(true))
    );
    let list = app.call("GET", "/sender-headers", k, None).await;
    let defaults: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["is_default"] == true)
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(defaults, vec!["KAMPANYA"]);
}
