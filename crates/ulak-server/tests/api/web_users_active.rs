//! Deactivating users and the last-administrator rule, through the web UI and the API: a
//! deactivated user cannot sign in and their sessions end; a company always keeps one active
//! administrator, whoever asks and however (demote, deactivate, delete), on SQLite and
//! PostgreSQL.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{ADMIN_KEY, Backend, TestApp, spawn_app, spawn_app_on};
use crate::web::{Browser, user};
use crate::web_headers_hooks::signed_in;

const PASSWORD: &str = "Dogru-Parola-1";

async fn user_id(app: &TestApp, key: &str, login: &str) -> i64 {
    let users = app.call("GET", "/users", key, None).await.body;
    users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["login"] == login)
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn a_deactivated_user_is_signed_out_and_cannot_sign_in_until_reactivated() {
    let app = spawn_app().await;
    let mut admin = signed_in(&app, "yonetici", "admin").await;
    let mut okur = signed_in(&app, "okur", "viewer").await;
    let id = user_id(&app, ADMIN_KEY, "okur").await;
    let (_, page, _) = admin.get("/settings/users").await;
    let csrf = Browser::csrf_in(&page);
    let path = format!("/settings/users/{id}/active");
    // The viewer sees no such form and may not post it.
    let (_, theirs, _) = okur.get("/settings/users").await;
    assert!(!theirs.contains("/active\""), "{theirs}");
    let own = Browser::csrf_in(&theirs);
    let form = [("csrf", own.as_str()), ("active", "no")];
    assert_eq!(okur.post(&path, &form).await.0, StatusCode::FORBIDDEN);
    let form = [("csrf", "yanlis"), ("active", "no")];
    assert_eq!(admin.post(&path, &form).await.0, StatusCode::FORBIDDEN);
    let form = [("csrf", csrf.as_str()), ("active", "belki")];
    assert_eq!(admin.post(&path, &form).await.0, StatusCode::BAD_REQUEST);
    let form = [("csrf", csrf.as_str()), ("active", "no")];
    let (status, _, to) = admin.post(&path, &form).await;
    assert_eq!(
        (status, to.as_deref()),
        (StatusCode::SEE_OTHER, Some("/settings/users"))
    );
    let r = app
        .call("GET", &format!("/users/{id}"), ADMIN_KEY, None)
        .await;
    assert_eq!(r.body["active"], false);
    assert_eq!(
        okur.get("/").await.2.as_deref(),
        Some("/login"),
        "signed out"
    );
    let mut again = Browser::new(&app);
    assert_ne!(
        again.sign_in("okur", PASSWORD).await.2.as_deref(),
        Some("/")
    );
    let (_, page, _) = admin.get("/settings/users").await;
    assert!(
        page.contains("Devre dışı") && page.contains("Yeniden etkinleştir"),
        "{page}"
    );
    let form = [("csrf", csrf.as_str()), ("active", "yes")];
    assert_eq!(admin.post(&path, &form).await.0, StatusCode::SEE_OTHER);
    let mut back = Browser::new(&app);
    assert_eq!(back.sign_in("okur", PASSWORD).await.2.as_deref(), Some("/"));
    let other = app.company("baska").await;
    let theirs = json!({"login": "yabanci", "password": PASSWORD, "role": "viewer"});
    assert_eq!(
        app.call("POST", "/users", &other, Some(theirs))
            .await
            .status,
        201
    );
    let theirs = user_id(&app, &other, "yabanci").await;
    let path = format!("/settings/users/{theirs}/active");
    let form = [("csrf", csrf.as_str()), ("active", "no")];
    assert_eq!(admin.post(&path, &form).await.0, StatusCode::NOT_FOUND);
    let r = app
        .call("GET", &format!("/users/{theirs}"), &other, None)
        .await;
    assert_eq!(r.body["active"], true);
}

/// Makes user `id` of `default` a system administrator (in the store, as another system
/// administrator would on /admin).
async fn system_admin(app: &TestApp, id: i64) {
    let url = format!("sqlite://{}?mode=rwc", app.dir.join("ulak.db").display());
    let store = ulak_store::Store::connect(&url, [0; 32]).await.unwrap();
    let default = store
        .get_company_by_name(ulak_store::DEFAULT_COMPANY)
        .await
        .unwrap()
        .unwrap();
    let id = ulak_core::model::UserId(id);
    store
        .set_user_system_admin(default.id, id, true)
        .await
        .unwrap();
    store.close().await;
}

#[tokio::test]
async fn the_last_admin_cannot_demote_or_deactivate_themselves_on_the_web() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "yonetici", "admin").await;
    let me = user_id(&app, ADMIN_KEY, "yonetici").await;
    // The company's first administrator steps down: "yonetici" is the last one (and, as the
    // server keeps a system administrator, takes that over first).
    system_admin(&app, me).await;
    let users = app.call("GET", "/users", ADMIN_KEY, None).await.body;
    for u in users["items"].as_array().unwrap() {
        if u["role"] == "admin" && u["id"] != me {
            let path = format!("/users/{}", u["id"]);
            let down = json!({"role": "viewer"});
            assert_eq!(
                app.call("PATCH", &path, ADMIN_KEY, Some(down)).await.status,
                200
            );
        }
    }
    let (_, page, _) = b.get("/settings/users").await;
    let csrf = Browser::csrf_in(&page);
    let role = format!("/settings/users/{me}/role");
    let (status, page, _) = b.post(&role, &[("csrf", &csrf), ("role", "viewer")]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("en az bir etkin yöneticisi"), "{page}");
    let active = format!("/settings/users/{me}/active");
    let form = [("csrf", csrf.as_str()), ("active", "no")];
    assert_eq!(b.post(&active, &form).await.0, StatusCode::CONFLICT);
    let r = app
        .call("GET", &format!("/users/{me}"), ADMIN_KEY, None)
        .await;
    assert_eq!(
        (&r.body["role"], &r.body["active"]),
        (&json!("admin"), &json!(true))
    );
    assert_eq!(b.get("/").await.0, StatusCode::OK, "still signed in");
    // With a second administrator, the first may step down; then the second is the last.
    user(&app, "ikinci", PASSWORD, "admin").await;
    system_admin(&app, user_id(&app, ADMIN_KEY, "ikinci").await).await;
    let (status, _, _) = b
        .post(&role, &[("csrf", &csrf), ("role", "operator")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let second = user_id(&app, ADMIN_KEY, "ikinci").await;
    let mut en = Browser::new(&app);
    en.sign_in("ikinci", PASSWORD).await;
    let (_, page, _) = en.get("/settings/users").await;
    let en_csrf = Browser::csrf_in(&page);
    en.post("/language", &[("csrf", &en_csrf), ("language", "en")])
        .await;
    let path = format!("/settings/users/{second}/active");
    let form = [("csrf", en_csrf.as_str()), ("active", "no")];
    let (status, page, _) = en.post(&path, &form).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("at least one active administrator"), "{page}");
}

#[tokio::test]
async fn the_last_admin_rule_holds_through_the_api_on_sqlite() {
    last_admin_through_the_api(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_last_admin_rule_holds_through_the_api_on_postgres() {
    last_admin_through_the_api(Backend::Postgres).await;
}

async fn last_admin_through_the_api(backend: Backend) {
    let Some(app) = spawn_app_on(backend).await else {
        return;
    };
    let key = app.company("tek").await;
    let only = json!({"login": "tek", "password": PASSWORD, "role": "admin"});
    let r = app.call("POST", "/users", &key, Some(only)).await;
    assert_eq!((r.status, &r.body["active"]), (201, &json!(true)));
    let id = r.body["id"].as_i64().unwrap();
    let path = format!("/users/{id}");
    for patch in [
        json!({"role": "viewer"}),
        json!({"active": false}),
        json!({"role": "operator", "active": false}),
    ] {
        let r = app.call("PATCH", &path, &key, Some(patch.clone())).await;
        assert_eq!(r.status, 409, "{patch}: {:?}", r.body);
        assert_eq!(r.body["code"], "user.last_admin");
    }
    assert_eq!(app.call("DELETE", &path, &key, None).await.status, 409);
    let ok = json!({"role": "admin", "display_name": "Tek"});
    assert_eq!(app.call("PATCH", &path, &key, Some(ok)).await.status, 200);
    // An inactive admin does not count; a second active one does.
    let idle = json!({"login": "pasif", "password": PASSWORD, "role": "admin"});
    let idle = app.call("POST", "/users", &key, Some(idle)).await.body["id"]
        .as_i64()
        .unwrap();
    let off = json!({"active": false});
    let r = app
        .call("PATCH", &format!("/users/{idle}"), &key, Some(off))
        .await;
    assert_eq!((r.status, &r.body["active"]), (200, &json!(false)));
    let r = app
        .call("PATCH", &path, &key, Some(json!({"active": false})))
        .await;
    assert_eq!(r.status, 409, "the inactive admin does not count");
    let on = json!({"active": true});
    assert_eq!(
        app.call("PATCH", &format!("/users/{idle}"), &key, Some(on))
            .await
            .status,
        200
    );
    let r = app
        .call("PATCH", &path, &key, Some(json!({"role": "viewer"})))
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .call("DELETE", &format!("/users/{idle}"), &key, None)
        .await;
    assert_eq!(r.status, 409, "now the last one");
    // Two admins demoting each other at once: exactly one wins.
    let third = json!({"login": "ucuncu", "password": PASSWORD, "role": "admin"});
    let third = app.call("POST", "/users", &key, Some(third)).await.body["id"]
        .as_i64()
        .unwrap();
    let (a, b) = (format!("/users/{idle}"), format!("/users/{third}"));
    let down = json!({"role": "viewer"});
    let (ra, rb) = tokio::join!(
        app.call("PATCH", &a, &key, Some(down.clone())),
        app.call("PATCH", &b, &key, Some(down)),
    );
    let mut got = [ra.status, rb.status];
    got.sort_unstable();
    assert_eq!(got, [200, 409], "{:?} {:?}", ra.body, rb.body);
    let r = app.call("GET", "/users", &key, None).await.body;
    let admins = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["role"] == "admin");
    assert_eq!(admins.count(), 1);
}
