//! A system administrator's account is changed by a system administrator only: an ordinary
//! administrator of company `default` (an API key or a web user) can neither reset its
//! password, demote, deactivate nor delete it, so the server's administration cannot be
//! taken over; the accounts of everyone else stay theirs to manage. The last active system
//! administrator stays one (409 `user.last_system_admin`), on the API and on the web.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{ADMIN_KEY, TestApp, spawn_app};
use crate::web::{Browser, user};

/// The id of the user `login` of `default`.
async fn user_id(app: &TestApp, login: &str) -> i64 {
    let users = app.call("GET", "/users", ADMIN_KEY, None).await;
    users.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["login"] == login)
        .and_then(|u| u["id"].as_i64())
        .unwrap_or_else(|| panic!("no user {login}: {}", users.body))
}

#[tokio::test]
async fn an_ordinary_admin_cannot_take_over_the_system_administrator() {
    let app = spawn_app().await;
    let root = user_id(&app, "admin").await;
    user(&app, "admin2", "Dogru-Parola-1", "admin").await;
    user(&app, "ali", "Dogru-Parola-1", "operator").await;
    let ali = user_id(&app, "ali").await;
    // An admin key of `default` that is not the system administrator's.
    let r = app
        .call(
            "POST",
            "/api-keys",
            ADMIN_KEY,
            Some(json!({"name": "yonetim", "role": "admin"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let key = r.body["key"].as_str().unwrap().to_owned();

    let path = format!("/users/{root}");
    for body in [
        json!({"password": "Hijacked123456!"}),
        json!({"role": "viewer"}),
        json!({"active": false}),
        json!({"display_name": "x"}),
    ] {
        let r = app.call("PATCH", &path, &key, Some(body.clone())).await;
        assert_eq!(r.status, 403, "{body}: {}", r.body);
    }
    let r = app.call("DELETE", &path, &key, None).await;
    assert_eq!(r.status, 403, "{}", r.body);
    // Everyone else's account is still the company admin's to change; the system
    // administrator's key changes the system administrator's.
    let r = app
        .call(
            "PATCH",
            &format!("/users/{ali}"),
            &key,
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .call(
            "PATCH",
            &path,
            ADMIN_KEY,
            Some(json!({"display_name": "Kök"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // On the web: the role and active forms are refused for that account.
    let mut b = Browser::new(&app);
    let (status, _, _) = b.sign_in("admin2", "Dogru-Parola-1").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page, _) = b.get("/settings/users").await;
    let csrf = Browser::csrf_in(&page);
    let role = format!("/settings/users/{root}/role");
    let (status, _, _) = b.post(&role, &[("csrf", &csrf), ("role", "viewer")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let active = format!("/settings/users/{root}/active");
    let (status, _, _) = b.post(&active, &[("csrf", &csrf), ("active", "no")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = b
        .post(
            &format!("/settings/users/{ali}/role"),
            &[("csrf", &csrf), ("role", "operator")],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "an ordinary user is still changed"
    );
    let users = app.call("GET", &path, ADMIN_KEY, None).await;
    assert_eq!(
        (&users.body["role"], &users.body["active"]),
        (&json!("admin"), &json!(true)),
        "{}",
        users.body
    );
}

#[tokio::test]
async fn the_last_system_administrator_stays_one() {
    let app = spawn_app().await;
    let root = user_id(&app, "admin").await;
    // Another administrator of `default`: the company's last-admin rule alone would let
    // every change below through.
    user(&app, "admin2", "Dogru-Parola-1", "admin").await;
    let path = format!("/users/{root}");
    let r = app
        .call(
            "PATCH",
            &path,
            ADMIN_KEY,
            Some(json!({"password": "Dogru-Parola-1"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for body in [json!({"role": "operator"}), json!({"active": false})] {
        let r = app
            .call("PATCH", &path, ADMIN_KEY, Some(body.clone()))
            .await;
        assert_eq!(
            (r.status, &r.body["code"]),
            (409, &json!("user.last_system_admin")),
            "{body}: {}",
            r.body
        );
    }
    let r = app.call("DELETE", &path, ADMIN_KEY, None).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.body["code"], "user.last_system_admin");

    // On the web: demoting or deactivating oneself is refused with the reason.
    let mut b = Browser::new(&app);
    let (status, _, _) = b.sign_in("admin", "Dogru-Parola-1").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page, _) = b.get("/settings/users").await;
    let csrf = Browser::csrf_in(&page);
    let role = format!("/settings/users/{root}/role");
    let active = format!("/settings/users/{root}/active");
    for (to, form) in [(&role, ("role", "viewer")), (&active, ("active", "no"))] {
        let (status, page, _) = b.post(to, &[("csrf", &csrf), form]).await;
        assert_eq!(status, StatusCode::CONFLICT, "{to}: {page}");
        assert!(
            page.contains("en az bir etkin sistem yöneticisi"),
            "{to}: {page}"
        );
    }
    let u = app.call("GET", &path, ADMIN_KEY, None).await.body;
    assert_eq!(
        (&u["role"], &u["active"]),
        (&json!("admin"), &json!(true)),
        "{u}"
    );
}
