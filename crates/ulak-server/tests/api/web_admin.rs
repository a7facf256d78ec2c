//! System administration through a real server: the first start's `admin` user of `default`
//! is a system administrator; nobody else reaches /admin (403) until one makes them one; a
//! company made on the page has a first administrator who signs in to it; credit is sold.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{ADMIN_KEY, Backend, TestApp, spawn_app_on};
use crate::web::{Browser, user};

const PASSWORD: &str = "Dogru-Parola-1";

/// Signs in to `company`.
async fn sign_in_to(b: &mut Browser<'_>, company: &str, login: &str, pw: &str) -> StatusCode {
    let (_, page, _) = b.get("/login").await;
    let csrf = Browser::csrf_in(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("company", company),
        ("username", login),
        ("password", pw),
    ];
    b.post("/login", &form).await.0
}

/// The first start's `admin` user, with a password the test knows (set through the API).
async fn first_admin(app: &TestApp) -> Browser<'_> {
    let users = app.call("GET", "/users", ADMIN_KEY, None).await;
    let admin = users.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["login"] == "admin")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = app
        .call(
            "PATCH",
            &format!("/users/{admin}"),
            ADMIN_KEY,
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut b = Browser::new(app);
    assert_eq!(
        sign_in_to(&mut b, "default", "admin", PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    b
}

async fn system_administration(backend: Backend) {
    let Some(app) = spawn_app_on(backend).await else {
        return;
    };
    let mut root = first_admin(&app).await;
    let (status, page, _) = root.get("/admin/companies").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(r#"href="/admin/companies""#), "the nav link");
    let csrf = Browser::csrf_in(&page);

    // Another admin of `default`, and a viewer: no way in, no link.
    user(&app, "yonetici", PASSWORD, "admin").await;
    let mut other = Browser::new(&app);
    sign_in_to(&mut other, "default", "yonetici", PASSWORD).await;
    let (status, _, _) = other.get("/admin/companies").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, dash, _) = other.get("/").await;
    assert!(!dash.contains("/admin/companies"), "no link for them");
    let ocsrf = Browser::csrf_in(&dash);
    let company = [
        ("csrf", ocsrf.as_str()),
        ("name", "acme"),
        ("display_name", "Acme"),
        ("country_type", "TR"),
        ("login", "patron"),
        ("password", PASSWORD),
    ];
    let (status, _, _) = other.post("/admin/companies", &company).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A company with its first administrator, who signs in to it (and is no system admin).
    let mut company = company.to_vec();
    company[0] = ("csrf", csrf.as_str());
    company[2] = ("display_name", "<i>Acme</i>");
    let (status, _, to) = root.post("/admin/companies", &company).await;
    assert_eq!(
        (status, to.as_deref()),
        (StatusCode::SEE_OTHER, Some("/admin/companies"))
    );
    let (status, page, _) = root.post("/admin/companies", &company).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the name is taken"
    );
    assert!(page.contains("&#60;i&#62;Acme") && !page.contains("<i>Acme"));
    let mut patron = Browser::new(&app);
    assert_eq!(
        sign_in_to(&mut patron, "acme", "patron", PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    let (status, page, _) = patron.get("/settings/users").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("patron") && !page.contains("yonetici"),
        "{page}"
    );
    let (status, _, _) = patron.get("/admin/companies").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A refused first administrator leaves no company behind.
    let mut short = company.clone();
    short[1] = ("name", "kisa");
    short[5] = ("password", "kisa");
    let (status, _, _) = root.post("/admin/companies", &short).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let all = app.call("GET", "/companies", ADMIN_KEY, None).await.body;
    let names: Vec<_> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert!(
        names.contains(&json!("acme")) && !names.contains(&json!("kisa")),
        "{names:?}"
    );
    let acme = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "acme")
        .unwrap()["id"]
        .as_i64()
        .unwrap();

    // Credit sold to it, as the API's purchase; bad amounts are refused clearly.
    let credit = format!("/admin/companies/{acme}/credit");
    let sell = [
        ("csrf", csrf.as_str()),
        ("amount", "1500"),
        ("note", "fatura 1"),
    ];
    let (status, _, _) = root.post(&credit, &sell).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page, _) = patron.get("/settings/credit").await;
    assert!(page.contains("1.500"), "{page}");
    let (status, _, _) = root
        .post(&credit, &[("csrf", csrf.as_str()), ("amount", "çok")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = root
        .post(&credit, &[("csrf", csrf.as_str()), ("amount", "-5")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _, _) = other
        .post(&credit, &[("csrf", ocsrf.as_str()), ("amount", "5")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Made a system administrator, the other admin gets in; nobody removes their own flag;
    // a user of another company cannot be one.
    let users = app.call("GET", "/users", ADMIN_KEY, None).await.body;
    let yonetici = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["login"] == "yonetici")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let grant = format!("/admin/users/{yonetici}/system-admin");
    let (status, _, _) = other
        .post(&grant, &[("csrf", ocsrf.as_str()), ("on", "yes")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not by themselves");
    let (status, _, _) = root
        .post(&grant, &[("csrf", csrf.as_str()), ("on", "yes")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, _) = other.get("/admin/companies").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = other
        .post(&grant, &[("csrf", ocsrf.as_str()), ("on", "no")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, page, _) = patron.get("/settings/users").await;
    let patron_id = page
        .split(r#"data-user=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let outside = format!("/admin/users/{patron_id}/system-admin");
    let (status, _, _) = root
        .post(&outside, &[("csrf", csrf.as_str()), ("on", "yes")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = patron.get("/admin/companies").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn system_administration_on_sqlite() {
    system_administration(Backend::Sqlite).await;
}

#[tokio::test]
async fn system_administration_on_postgres() {
    system_administration(Backend::Postgres).await;
}
