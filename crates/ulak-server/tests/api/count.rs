//! `POST /api/v1/count` gives the same answer as the text engine (and `ulak count --json`).

use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, spawn_app};

#[tokio::test]
async fn count_matches_the_engine() {
    let app = spawn_app().await;
    for (text, policy) in [
        ("Şifreniz: 123456", "turkish-shift"),
        ("x", "gsm7-or-ucs2"),
        (&*"ş".repeat(80), "turkish-shift"),
    ] {
        let res = app
            .http
            .post(format!("{}/api/v1/count", app.base))
            .bearer_auth(ADMIN_KEY)
            .json(&json!({"text": text, "policy": policy}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let got: Value = res.json().await.unwrap();
        let opts = ulak_text::Options {
            policy: policy.parse().unwrap(),
            ..Default::default()
        };
        let mut want = serde_json::to_value(ulak_text::count(text, &opts).unwrap()).unwrap();
        want["max_segments"] = json!(10);
        want["too_long"] = json!(false);
        assert_eq!(got, want);
    }
}

#[tokio::test]
async fn bad_input_is_a_problem_document() {
    let app = spawn_app().await;
    let res = app
        .http
        .post(format!("{}/api/v1/count", app.base))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"text": "x", "policy": "latin1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "policy");

    let res = app
        .http
        .post(format!("{}/api/v1/count", app.base))
        .bearer_auth(ADMIN_KEY)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["content-type"], "application/problem+json");

    // Longer than any text the count takes (8,000 characters).
    let too_long = "a".repeat(8001);
    let res = app
        .http
        .post(format!("{}/api/v1/count", app.base))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"text": too_long}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn count_needs_a_key_like_every_api_route() {
    let app = spawn_app().await;
    let res = app
        .http
        .post(format!("{}/api/v1/count", app.base))
        .json(&json!({"text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

async fn count(app: &TestApp, key: &str, body: Value) -> (u16, Value) {
    let a = app.call("POST", "/count", key, Some(body)).await;
    (a.status, a.body)
}

/// 144 characters of Turkish: one segment with the Turkish shift tables, three in UCS-2.
fn turkish() -> String {
    "Şifreniz 4711. Kimseyle paylaşmayın. ".repeat(4)
}

#[tokio::test]
async fn count_uses_the_policy_the_company_sends_with() {
    let app = spawn_app().await;
    let text = turkish();
    let under = |policy: &str| {
        let opts = ulak_text::Options {
            policy: policy.parse().unwrap(),
            ..Default::default()
        };
        ulak_text::count(&text, &opts).unwrap().segments
    };
    assert_eq!((under("turkish-shift"), under("gsm7-or-ucs2")), (1, 3));

    // An Azerbaijani company: its operators take no Turkish tables.
    let c = app
        .call(
            "POST",
            "/companies",
            ADMIN_KEY,
            Some(json!({"name": "baku", "display_name": "Bakı", "country_type": "AZ"})),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.body);
    let az = c.body["api_key"].as_str().unwrap().to_owned();
    // Without a provider account: the country's default.
    let (status, before) = count(&app, &az, json!({"text": text})).await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(
        (before["policy"].as_str(), before["segments"].as_u64()),
        (Some("gsm7-or-ucs2"), Some(3))
    );
    // With one: its policy, and what sending then charges is what the count said.
    for (path, body) in [
        (
            "/provider-accounts",
            json!({"name": "Sim", "kind": "simulator"}),
        ),
        (
            "/sender-headers",
            json!({"name": "FIRMA", "is_default": true}),
        ),
    ] {
        let r = app.call("POST", path, &az, Some(body)).await;
        assert_eq!(r.status, 201, "{path}: {}", r.body);
    }
    // Credit is sold by the system administrator.
    let az_id = c.body["company"]["id"].as_i64().unwrap();
    app.buy_credit(az_id, 10).await;
    let (_, counted) = count(&app, &az, json!({"text": text})).await;
    let sent = app
        .call(
            "POST",
            "/messages",
            &az,
            Some(json!({"to": "050 123 45 67", "text": text})),
        )
        .await;
    assert_eq!(sent.status, 202, "{}", sent.body);
    assert_eq!(sent.body["segments"], counted["segments"]);
    assert_eq!(sent.body["encoding"], counted["encoding"]);
    assert_eq!(sent.body["cost"], 3);
    // A policy the request names still wins.
    let (_, named) = count(&app, &az, json!({"text": text, "policy": "turkish-shift"})).await;
    assert_eq!(named["segments"], 1);
    // A Turkish company (the default one) counts with the Turkish tables.
    let (_, tr) = count(&app, ADMIN_KEY, json!({"text": text})).await;
    assert_eq!(
        (tr["policy"].as_str(), tr["segments"].as_u64()),
        (Some("turkish-shift"), Some(1))
    );
}

#[tokio::test]
async fn count_says_when_a_text_is_over_the_sending_maximum() {
    let app = spawn_app().await;
    let (status, ten) = count(&app, ADMIN_KEY, json!({"text": "a".repeat(10 * 153)})).await;
    assert_eq!(status, 200, "{ten}");
    assert_eq!(
        (
            ten["segments"].as_u64(),
            ten["max_segments"].as_u64(),
            ten["too_long"].as_bool()
        ),
        (Some(10), Some(10), Some(false))
    );
    let (status, eleven) = count(&app, ADMIN_KEY, json!({"text": "a".repeat(10 * 153 + 1)})).await;
    assert_eq!(status, 200, "{eleven}");
    assert_eq!(
        (eleven["segments"].as_u64(), eleven["too_long"].as_bool()),
        (Some(11), Some(true))
    );
}
