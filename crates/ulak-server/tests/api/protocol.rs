//! Answers the router gives by itself, and how the key is read: every error is a problem
//! document, whatever part of the server gives it.

use crate::helpers::{ADMIN_KEY, spawn_app};

/// Sends `method path` with `authorization`; returns status, content type, `Allow` and body.
async fn raw(
    app: &crate::helpers::TestApp,
    method: &str,
    path: &str,
    authorization: &str,
) -> (u16, String, String, serde_json::Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let res = app
        .http
        .request(method, format!("{}{path}", app.base))
        .header("authorization", authorization)
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (status, ct, allow) = (
        res.status().as_u16(),
        header("content-type"),
        header("allow"),
    );
    let body = serde_json::from_str(&res.text().await.unwrap()).unwrap_or_default();
    (status, ct, allow, body)
}

#[tokio::test]
async fn unknown_paths_other_methods_and_long_uris_are_problem_documents() {
    let app = spawn_app().await;
    let auth = format!("Bearer {ADMIN_KEY}");

    let (status, ct, _, body) = raw(&app, "GET", "/api/v1/no-such-thing", &auth).await;
    assert_eq!((status, ct.as_str()), (404, "application/problem+json"));
    assert_eq!(body["status"], 404);

    let (status, ct, allow, body) = raw(&app, "DELETE", "/api/v1/count", &auth).await;
    assert_eq!((status, ct.as_str()), (405, "application/problem+json"));
    assert_eq!(body["status"], 405);
    assert!(allow.contains("POST"), "Allow: {allow}");

    let long = format!("/api/v1/groups?search={}", "a".repeat(9000));
    let (status, ct, _, body) = raw(&app, "GET", &long, &auth).await;
    assert_eq!((status, ct.as_str()), (414, "application/problem+json"));
    assert_eq!(body["status"], 414);
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let (status, _, _, body) = raw(
            &app,
            "GET",
            "/api/v1/groups",
            &format!("{scheme} {ADMIN_KEY}"),
        )
        .await;
        assert_eq!(status, 200, "{scheme}: {body}");
    }
    let (status, ct, _, _) =
        raw(&app, "GET", "/api/v1/groups", &format!("Basic {ADMIN_KEY}")).await;
    assert_eq!((status, ct.as_str()), (401, "application/problem+json"));
}
