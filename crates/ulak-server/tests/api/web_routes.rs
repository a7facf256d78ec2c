//! The routes tab through a real server: admins add, change and delete routes, as the API
//! sees them; every role reads them; viewers' posts are refused; bad input is a clear 4xx.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, Backend, TestApp, spawn_app_on};
use crate::web::{Browser, user};

const PASSWORD: &str = "Dogru-Parola-1";

async fn signed_in<'a>(app: &'a TestApp, login: &str, role: &str) -> Browser<'a> {
    user(app, login, PASSWORD, role).await;
    let mut b = Browser::new(app);
    let (status, _, _) = b.sign_in(login, PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    b
}

async fn routes(app: &TestApp) -> Vec<Value> {
    let r = app.call("GET", "/routes", ADMIN_KEY, None).await;
    r.body["items"].as_array().unwrap().clone()
}

async fn crud(backend: Backend) {
    let Some(app) = spawn_app_on(backend).await else {
        return;
    };
    let list = app.call("GET", "/provider-accounts", ADMIN_KEY, None).await;
    let sim = list.body["items"][0]["id"].as_i64().unwrap().to_string();
    let mut b = signed_in(&app, "yonetici", "admin").await;
    let (status, page, _) = b.get("/settings/routes").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("Simülatör"),
        "account names for admins: {page}"
    );
    let csrf = Browser::csrf_in(&page);
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("position", "5"),
        ("recipient_kind", "msisdn"),
        ("zone", "tr"),
        ("prefix", "90533"),
        ("class", "otp"),
        ("account", sim.as_str()),
        ("weight", "3"),
        ("account", ""),
        ("weight", ""),
    ];
    let (status, _, to) = b.post("/settings/routes", &form).await;
    assert_eq!(
        (status, to.as_deref()),
        (StatusCode::SEE_OTHER, Some("/settings/routes"))
    );
    let all = routes(&app).await;
    assert_eq!(all.len(), 1);
    let r = &all[0];
    assert_eq!(
        (&r["position"], &r["zone"], &r["prefix"], &r["class"]),
        (&json!(5), &json!("tr"), &json!("90533"), &json!("otp"))
    );
    assert_eq!(
        r["targets"],
        json!([{"account_id": sim.parse::<i64>().unwrap(), "weight": 3}])
    );
    let id = r["id"].as_i64().unwrap();
    // Changed: any class now.
    let edit = format!("/settings/routes/{id}");
    let (status, page, _) = b.get(&edit).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"value="90533""#), "{page}");
    form[5] = ("class", "");
    let (status, _, _) = b.post(&edit, &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(routes(&app).await[0].get("class"), None);
    // Refusals: a prefix starting with 0, an account of nobody's, a position that is no number.
    form[4] = ("prefix", "0533");
    let (status, page, _) = b.post(&edit, &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("prefix: "), "{page}");
    form[4] = ("prefix", "90533");
    form[6] = ("account", "999999");
    let (status, page, _) = b.post("/settings/routes", &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    form[1] = ("position", "beş");
    let (status, _, _) = b.post("/settings/routes", &form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A viewer reads the list without buttons; posting anyway is refused.
    let mut v = signed_in(&app, "izleyici", "viewer").await;
    let (status, page, _) = v.get("/settings/routes").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(r#"data-route=""#) && !page.contains("/delete"),
        "{page}"
    );
    let (_, pw, _) = v.get("/settings/password").await;
    let vcsrf = Browser::csrf_in(&pw);
    let del = format!("/settings/routes/{id}/delete");
    let confirm = [("csrf", vcsrf.as_str()), ("confirm", "yes")];
    let (status, _, _) = v.post(&del, &confirm).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = v.get(&edit).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(routes(&app).await.len(), 1);
    // Deleting needs the tick.
    let (status, _, _) = b.post(&del, &[("csrf", csrf.as_str())]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _, _) = b.post(&del, &[("csrf", &csrf), ("confirm", "yes")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(routes(&app).await.is_empty());
    let (status, _, _) = b.post(&del, &[("csrf", &csrf), ("confirm", "yes")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn routes_are_managed_by_admins_on_sqlite() {
    crud(Backend::Sqlite).await;
}

#[tokio::test]
async fn routes_are_managed_by_admins_on_postgres() {
    crud(Backend::Postgres).await;
}
