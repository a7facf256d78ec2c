//! The OpenAPI 3.1 document is served and lists the routes.

use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn document_is_served_and_complete() {
    let app = spawn_app().await;
    let doc: Value = app
        .http
        .get(format!("{}/api/v1/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
