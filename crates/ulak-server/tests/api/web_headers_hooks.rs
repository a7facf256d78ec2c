//! The settings screens for sender headers and webhooks through a real server: admins add,
//! change and delete; viewers only read; CSRF; stable-code errors in the page; another
//! company's rows answer 404.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{ADMIN_KEY, TestApp, spawn_app};
use crate::web::{Browser, user};

const PASSWORD: &str = "Dogru-Parola-1";

pub(crate) async fn signed_in<'a>(app: &'a TestApp, login: &str, role: &str) -> Browser<'a> {
    user(app, login, PASSWORD, role).await;
    let mut b = Browser::new(app);
    let (status, _, _) = b.sign_in(login, PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    b
}

/// The id of the company's header `name`, read through the API.
async fn header_id(app: &TestApp, key: &str, name: &str) -> Option<i64> {
    let all = app.call("GET", "/sender-headers", key, None).await.body;
    all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name)
        .map(|h| h["id"].as_i64().unwrap())
}

#[tokio::test]
async fn an_admin_adds_defaults_and_deletes_sender_headers() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "yonetici", "admin").await;
    let (status, page, _) = b.get("/settings/headers").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let csrf = Browser::csrf_in(&page);
    for name in ["ORNEK", "ACME"] {
        let (status, _, to) = b
            .post("/settings/headers", &[("csrf", &csrf), ("name", name)])
            .await;
        assert_eq!(
            (status, to.as_deref()),
            (StatusCode::SEE_OTHER, Some("/settings/headers"))
        );
    }
    // Core's rules, shown with the stable code's text; the typed value stays in the form.
    let (status, page, _) = b
        .post("/settings/headers", &[("csrf", &csrf), ("name", "ŞEKER")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("Türkçe harf kullanılamaz") && page.contains("ŞEKER"),
        "{page}"
    );
    let (status, page, _) = b
        .post("/settings/headers", &[("csrf", &csrf), ("name", "ORNEK")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("zaten kayıtlı"), "{page}");
    let acme = header_id(&app, ADMIN_KEY, "ACME").await.unwrap();
    let path = format!("/settings/headers/{acme}/default");
    assert_eq!(
        b.post(&path, &[("csrf", "x")]).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        b.post(&path, &[("csrf", &csrf)]).await.0,
        StatusCode::SEE_OTHER
    );
    let all = app
        .call("GET", "/sender-headers", ADMIN_KEY, None)
        .await
        .body;
    let default: Vec<_> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["is_default"] == true)
        .map(|h| h["name"].clone())
        .collect();
    assert_eq!(default, vec![json!("ACME")]);
    let ulak = header_id(&app, ADMIN_KEY, "ORNEK").await.unwrap();
    let path = format!("/settings/headers/{ulak}/delete");
    assert_eq!(
        b.post(&path, &[("csrf", &csrf)]).await.0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(header_id(&app, ADMIN_KEY, "ORNEK").await, None);
    let bad = format!("/settings/headers/{acme}/explode");
    assert_eq!(
        b.post(&bad, &[("csrf", &csrf)]).await.0,
        StatusCode::NOT_FOUND
    );
    let bad = "/settings/headers/abc/delete";
    assert_eq!(
        b.post(bad, &[("csrf", &csrf)]).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.post("/settings/headers", &[("nope", "1")]).await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_viewer_sees_headers_but_no_forms_and_cannot_post() {
    let app = spawn_app().await;
    let new = json!({"name": "ORNEK", "is_default": true});
    let r = app
        .call("POST", "/sender-headers", ADMIN_KEY, Some(new))
        .await;
    assert_eq!(r.status, 201);
    let id = r.body["id"].as_i64().unwrap();
    for role in ["viewer", "operator"] {
        let mut b = signed_in(&app, &format!("{role}1"), role).await;
        let (status, page, _) = b.get("/settings/headers").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("ORNEK"), "{page}");
        assert!(
            !page.contains(r#"action="/settings/headers"#),
            "{role}: {page}"
        );
        let csrf = Browser::csrf_in(&page);
        let form = [("csrf", csrf.as_str()), ("name", "YENI")];
        assert_eq!(
            b.post("/settings/headers", &form).await.0,
            StatusCode::FORBIDDEN
        );
        let path = format!("/settings/headers/{id}/delete");
        assert_eq!(
            b.post(&path, &[("csrf", &csrf)]).await.0,
            StatusCode::FORBIDDEN
        );
    }
    assert!(header_id(&app, ADMIN_KEY, "ORNEK").await.is_some());
    assert!(header_id(&app, ADMIN_KEY, "YENI").await.is_none());
}

#[tokio::test]
async fn another_companys_header_is_not_found() {
    let app = spawn_app().await;
    let other = app.company("baska").await;
    let r = app
        .call(
            "POST",
            "/sender-headers",
            &other,
            Some(json!({"name": "YABANCI"})),
        )
        .await;
    assert_eq!(r.status, 201);
    let theirs = r.body["id"].as_i64().unwrap();
    let mut b = signed_in(&app, "yonetici", "admin").await;
    let (_, page, _) = b.get("/settings/headers").await;
    assert!(!page.contains("YABANCI"), "{page}");
    let csrf = Browser::csrf_in(&page);
    for action in ["default", "delete"] {
        let path = format!("/settings/headers/{theirs}/{action}");
        assert_eq!(
            b.post(&path, &[("csrf", &csrf)]).await.0,
            StatusCode::NOT_FOUND
        );
    }
    assert!(header_id(&app, &other, "YABANCI").await.is_some());
}

/// The value of the once-shown secret field of a page.
fn shown_secret(page: &str) -> Option<String> {
    let at = page.find(r#"data-testid="new-secret""#)?;
    let before = &page[..at];
    let v = before.rfind(r#"value=""#)? + 7;
    Some(before[v..].split('"').next()?.to_owned())
}

/// The company's deliveries of endpoint `id`, through the API.
async fn attempts(app: &TestApp, id: i64) -> Vec<serde_json::Value> {
    let path = format!("/webhooks/{id}/attempts");
    let r = app.call("GET", &path, ADMIN_KEY, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

/// Waits until the deliveries of `id` satisfy `done`.
async fn wait_attempts(
    app: &TestApp,
    id: i64,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    for _ in 0..300 {
        let a = attempts(app, id).await;
        if done(&a) {
            return a;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("deliveries: {:#?}", attempts(app, id).await);
}

#[tokio::test]
async fn a_webhook_is_made_with_its_secret_shown_once_tested_and_redelivered() {
    let app = crate::webhooks::app_allowing_loopback().await;
    let hook = crate::webhooks::receiver(0).await;
    let mut b = signed_in(&app, "yonetici", "admin").await;
    let (status, page, _) = b.get("/settings/webhooks").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let csrf = Browser::csrf_in(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("url", hook.url.as_str()),
        ("description", "<b>Muhasebe</b>"),
        ("event", "message.delivered"),
        ("event", "campaign.finished"),
        ("enabled", "yes"),
    ];
    assert_eq!(
        b.post("/settings/webhooks", &form[1..]).await.0,
        StatusCode::FORBIDDEN,
        "no CSRF token"
    );
    let (status, page, _) = b.post("/settings/webhooks", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let secret = shown_secret(&page).expect("the secret on the page");
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(page.contains("&#60;b&#62;Muhasebe") && !page.contains("<b>Muhasebe"));
    let (_, list, _) = b.get("/settings/webhooks").await;
    assert!(
        !list.contains(&secret) && shown_secret(&list).is_none(),
        "shown once"
    );
    let all = app.call("GET", "/webhooks", ADMIN_KEY, None).await.body;
    let made = &all["items"][0];
    assert_eq!(
        made["event_types"],
        json!(["message.delivered", "campaign.finished"])
    );
    let id = made["id"].as_i64().unwrap();
    let here = format!("/settings/webhooks/{id}");
    let (_, page, _) = b.get(&here).await;
    assert!(
        !page.contains(&secret) && page.contains(&hook.url),
        "{page}"
    );
    let (status, _, to) = b.post(&format!("{here}/test"), &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(to, Some(format!("{here}?done=test")));
    hook.wait("the test event", |g| g.len() == 1).await;
    let done = wait_attempts(&app, id, |a| a.len() == 1 && a[0]["state"] == "delivered").await;
    let attempt = done[0]["id"].as_i64().unwrap();
    let (_, page, _) = b.get(&here).await;
    assert!(
        page.contains("webhook.test") && page.contains("204"),
        "{page}"
    );
    let again = format!("{here}/attempts/{attempt}/redeliver");
    assert_eq!(
        b.post(&again, &[("csrf", "x")]).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, _, to) = b.post(&again, &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(to, Some(format!("{here}?done=redeliver")));
    hook.wait("the same event again", |g| g.len() == 2).await;
    let a = wait_attempts(&app, id, |a| a[0]["state"] == "delivered").await;
    assert_eq!(a.len(), 1, "the same delivery, not a new one");
    assert_eq!(a[0]["tries"].as_array().unwrap().len(), 2, "{a:?}");
    // Disabled, a test waits; a pending delivery cannot be redelivered.
    let disable = format!("{here}/disable");
    assert_eq!(
        b.post(&disable, &[("csrf", &csrf)]).await.0,
        StatusCode::SEE_OTHER
    );
    let r = app
        .call("GET", &format!("/webhooks/{id}"), ADMIN_KEY, None)
        .await;
    assert_eq!(r.body["enabled"], false);
    b.post(&format!("{here}/test"), &[("csrf", &csrf)]).await;
    let a = attempts(&app, id).await;
    let waiting = a[1]["id"].as_i64().unwrap();
    let path = format!("{here}/attempts/{waiting}/redeliver");
    assert_eq!(
        b.post(&path, &[("csrf", &csrf)]).await.0,
        StatusCode::CONFLICT
    );
    let api = format!("/webhooks/{id}/attempts/{waiting}/redeliver");
    assert_eq!(app.call("POST", &api, ADMIN_KEY, None).await.status, 409);
    let (status, page, _) = b.post(&format!("{here}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    let sure = [("csrf", csrf.as_str()), ("confirm", "yes")];
    let (status, _, to) = b.post(&format!("{here}/delete"), &sure).await;
    assert_eq!(
        (status, to.as_deref()),
        (StatusCode::SEE_OTHER, Some("/settings/webhooks"))
    );
    let r = app
        .call("GET", &format!("/webhooks/{id}"), ADMIN_KEY, None)
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn redelivery_through_the_api_is_admin_only_and_per_company() {
    let app = crate::webhooks::app_allowing_loopback().await;
    let hook = crate::webhooks::receiver(0).await;
    let new = json!({"url": hook.url});
    let r = app.call("POST", "/webhooks", ADMIN_KEY, Some(new)).await;
    assert_eq!(r.status, 201);
    let id = r.body["id"].as_i64().unwrap();
    let test = format!("/webhooks/{id}/test");
    assert_eq!(app.call("POST", &test, ADMIN_KEY, None).await.status, 202);
    let a = wait_attempts(&app, id, |a| a.len() == 1 && a[0]["state"] == "delivered").await;
    let attempt = a[0]["id"].as_i64().unwrap();
    let path = format!("/webhooks/{id}/attempts/{attempt}/redeliver");
    let other = app.company("baska").await;
    assert_eq!(app.call("POST", &path, &other, None).await.status, 404);
    let viewer = json!({"name": "okur", "role": "viewer"});
    let r = app.call("POST", "/api-keys", ADMIN_KEY, Some(viewer)).await;
    let viewer = r.body["key"].as_str().unwrap().to_owned();
    assert_eq!(app.call("POST", &path, &viewer, None).await.status, 403);
    let wrong = format!("/webhooks/{id}/attempts/{}/redeliver", attempt + 1000);
    assert_eq!(app.call("POST", &wrong, ADMIN_KEY, None).await.status, 404);
    assert_eq!(app.call("POST", &path, ADMIN_KEY, None).await.status, 202);
    hook.wait("the redelivery", |g| g.len() == 2).await;
    let doc = app.openapi().await;
    let op = &doc["paths"]["/api/v1/webhooks/{id}/attempts/{attempt_id}/redeliver"]["post"];
    assert!(op["responses"]["202"].is_object(), "{op}");
}

#[tokio::test]
async fn webhook_pages_refuse_non_admins_bad_urls_and_other_companies() {
    let app = spawn_app().await;
    let other = app.company("baska").await;
    let theirs = json!({"url": "https://example.com/hook"});
    let r = app.call("POST", "/webhooks", &other, Some(theirs)).await;
    assert_eq!(r.status, 201);
    let theirs = r.body["id"].as_i64().unwrap();
    for role in ["viewer", "operator"] {
        let mut b = signed_in(&app, &format!("{role}1"), role).await;
        let (status, page, _) = b.get("/settings/webhooks").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (_, page2, _) = b.get("/settings/users").await;
        assert!(!page2.contains("/settings/webhooks"), "{page}");
        let csrf = Browser::csrf_in(&page2);
        let form = [("csrf", csrf.as_str()), ("url", "https://example.com/x")];
        assert_eq!(
            b.post("/settings/webhooks", &form).await.0,
            StatusCode::FORBIDDEN
        );
    }
    let mut b = signed_in(&app, "yonetici", "admin").await;
    let (_, page, _) = b.get("/settings/webhooks").await;
    assert!(!page.contains("example.com/hook"), "{page}");
    let csrf = Browser::csrf_in(&page);
    // The API's URL rules: no internal address (unless allowed), no credentials.
    for (url, says) in [
        ("http://127.0.0.1:9/hook", "bağlanamayacağı"),
        (
            "https://kim:parola@example.com/",
            "kullanıcı adı ya da parola",
        ),
        ("ftp://example.com/", "http ve https"),
    ] {
        let form = [("csrf", csrf.as_str()), ("url", url)];
        let (status, page, _) = b.post("/settings/webhooks", &form).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        assert!(page.contains(says), "{url}: {page}");
    }
    let form = [
        ("csrf", csrf.as_str()),
        ("url", "https://example.com/x"),
        ("event", "nope"),
    ];
    assert_eq!(
        b.post("/settings/webhooks", &form).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let none = app.call("GET", "/webhooks", ADMIN_KEY, None).await.body;
    assert_eq!(none["items"], json!([]), "nothing was made");
    assert_eq!(
        b.get(&format!("/settings/webhooks/{theirs}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.get("/settings/webhooks/abc").await.0,
        StatusCode::NOT_FOUND
    );
    for action in ["test", "disable", "delete"] {
        let path = format!("/settings/webhooks/{theirs}/{action}");
        let form = [("csrf", csrf.as_str()), ("confirm", "yes")];
        assert_eq!(
            b.post(&path, &form).await.0,
            StatusCode::NOT_FOUND,
            "{action}"
        );
    }
    let path = format!("/settings/webhooks/{theirs}/attempts/1/redeliver");
    assert_eq!(
        b.post(&path, &[("csrf", &csrf)]).await.0,
        StatusCode::NOT_FOUND
    );
    let r = app
        .call("GET", &format!("/webhooks/{theirs}"), &other, None)
        .await;
    assert_eq!(r.body["enabled"], true, "theirs is untouched");
}
