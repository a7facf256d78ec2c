//! `POST /api/v1/count` gives the same answer as the text engine (and `ulak count --json`).

use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, spawn_app};

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
        let want = serde_json::to_value(ulak_text::count(text, &opts).unwrap()).unwrap();
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

    let too_long = "a".repeat(255 * 153 + 1);
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
