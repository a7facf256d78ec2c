//! Provider accounts: the web form (create, edit keeping the stored password) and "test
//! connection" over real SMPP on TCP, through the API and the page: the built-in simulator
//! binds, a wrong password and an unknown system id are named, a closed port is refused, an
//! internal address is refused by the outbound policy; admins only, company by company.

use reqwest::StatusCode;
use serde_json::{Value, json};
use ulak_smpp::sim::{SimConfig, SimHandle, Simulator};

use crate::helpers::{ADMIN_KEY, TestApp, spawn_app, spawn_app_with};
use crate::web::{Browser, user};

const PASSWORD: &str = "Dogru-Parola-1";

async fn signed_in<'a>(app: &'a TestApp, login: &str, role: &str) -> Browser<'a> {
    user(app, login, PASSWORD, role).await;
    let mut b = Browser::new(app);
    let (status, _, _) = b.sign_in(login, PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    b
}

/// A server that may connect to loopback (where the test's SMSC listens).
async fn loopback_app() -> TestApp {
    spawn_app_with(|s| s.outbound_allow = vec!["127.0.0.0/8".parse().unwrap()]).await
}

/// An SMSC of the test's own that accepts `acct` / `right`.
async fn smsc() -> SimHandle {
    Simulator::start(SimConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        accounts: vec![("acct".to_owned(), "right".to_owned())],
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

async fn smpp_account(app: &TestApp, name: &str, port: u16, system_id: &str, pw: &str) -> i64 {
    let body = json!({"name": name, "kind": "smpp", "host": "127.0.0.1", "port": port,
        "system_id": system_id, "password": pw});
    let r = app
        .call("POST", "/provider-accounts", ADMIN_KEY, Some(body))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_i64().unwrap()
}

async fn test_api(app: &TestApp, id: i64) -> Value {
    let r = app
        .call(
            "POST",
            &format!("/provider-accounts/{id}/test"),
            ADMIN_KEY,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// A port nothing listens on (bound, then closed).
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn the_built_in_simulator_account_binds() {
    let app = spawn_app().await;
    let list = app.call("GET", "/provider-accounts", ADMIN_KEY, None).await;
    let id = list.body["items"][0]["id"].as_i64().unwrap();
    let r = test_api(&app, id).await;
    assert_eq!(
        (r["ok"].as_bool(), r["code"].as_str()),
        (Some(true), Some("ok")),
        "{r}"
    );
    assert!(r["elapsed_ms"].as_u64().unwrap() < 10_000, "{r}");
    // Through the page too, in Turkish.
    let mut b = signed_in(&app, "yonetici", "admin").await;
    let (status, page, _) = b.get(&format!("/settings/providers/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let csrf = Browser::csrf_in(&page);
    let path = format!("/settings/providers/{id}/test");
    let (status, page, _) = b.post(&path, &[("csrf", csrf.as_str())]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(r#"data-ok="true""#), "{page}");
    assert!(page.contains("Bağlantı başarılı"), "{page}");
}

#[tokio::test]
async fn wrong_credentials_and_a_closed_port_are_named() {
    let app = loopback_app().await;
    let sim = smsc().await;
    let port = sim.local_addr().port();
    let good = smpp_account(&app, "good", port, "acct", "right").await;
    let wrong_pw = smpp_account(&app, "wrong-pw", port, "acct", "wrong").await;
    let wrong_id = smpp_account(&app, "wrong-id", port, "nobody", "right").await;
    let closed = smpp_account(&app, "closed", closed_port().await, "acct", "right").await;
    for (id, ok, code) in [
        (good, true, "ok"),
        (wrong_pw, false, "invalid_password"),
        (wrong_id, false, "invalid_system_id"),
        (closed, false, "connection_refused"),
    ] {
        let r = test_api(&app, id).await;
        assert_eq!(
            (r["ok"].as_bool(), r["code"].as_str()),
            (Some(ok), Some(code)),
            "{r}"
        );
        assert!(!r["message"].as_str().unwrap().is_empty());
    }
    let mut b = signed_in(&app, "yonetici", "admin").await;
    let (_, page, _) = b.get(&format!("/settings/providers/{wrong_pw}")).await;
    let csrf = Browser::csrf_in(&page);
    let path = format!("/settings/providers/{wrong_pw}/test");
    let (status, page, _) = b.post(&path, &[("csrf", csrf.as_str())]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(r#"data-ok="false""#) && page.contains("Parola yanlış"),
        "{page}"
    );
    drop(sim);
}

#[tokio::test]
async fn an_internal_address_is_refused_by_the_outbound_policy() {
    let app = loopback_app().await;
    let sim = smsc().await;
    let id = smpp_account(&app, "inside", sim.local_addr().port(), "acct", "right").await;
    assert_eq!(test_api(&app, id).await["code"], "ok");
    // The system administrator no longer allows loopback: the test does not connect.
    let app = app.restart_with(|s| s.outbound_allow = Vec::new()).await;
    let r = test_api(&app, id).await;
    assert_eq!(
        (r["ok"].as_bool(), r["code"].as_str()),
        (Some(false), Some("target_not_allowed")),
        "{r}"
    );
    // Nor can the form make such an account.
    let mut b = signed_in(&app, "yonetici", "admin").await;
    let (_, page, _) = b.get("/settings/providers/new").await;
    let csrf = Browser::csrf_in(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "yerel"),
        ("host", "10.0.0.5"),
        ("port", "2775"),
        ("system_id", "acct"),
        ("bind_mode", "transceiver"),
    ];
    let (status, page, _) = b.post("/settings/providers", &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("host: "), "{page}");
}

#[tokio::test]
async fn the_form_creates_and_edits_an_smpp_account_keeping_its_password() {
    let app = loopback_app().await;
    let sim = smsc().await;
    let port = sim.local_addr().port().to_string();
    let mut b = signed_in(&app, "yonetici", "admin").await;
    let (status, page, _) = b.get("/settings/providers/new").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let csrf = Browser::csrf_in(&page);
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("name", "<b>Operatör</b>"),
        ("host", "127.0.0.1"),
        ("port", port.as_str()),
        ("system_id", "acct"),
        ("password", "right"),
        ("bind_mode", "transceiver"),
        ("binds", "2"),
        ("window", "20"),
        ("rate_per_sec", "30"),
        ("enabled", "on"),
    ];
    let (status, _, to) = b.post("/settings/providers", &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let to = to.unwrap();
    let id: i64 = to.rsplit('/').next().unwrap().parse().unwrap();
    let a = app
        .call("GET", &format!("/provider-accounts/{id}"), ADMIN_KEY, None)
        .await
        .body;
    assert_eq!(
        (
            &a["binds"],
            &a["window"],
            &a["rate_per_sec"],
            &a["has_password"]
        ),
        (&json!(2), &json!(20), &json!(30), &json!(true)),
        "{a}"
    );
    let (_, page, _) = b.get(&to).await;
    assert!(page.contains("&#60;b&#62;Operatör") && !page.contains("<b>Operatör"));
    // An empty password keeps the stored one: the account still binds.
    form[5] = ("password", "");
    form[9] = ("rate_per_sec", "40");
    let (status, _, _) = b.post(&to, &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let r = test_api(&app, id).await;
    assert_eq!(r["code"], "ok", "{r}");
    // The same name again is a clear refusal; a port that is no number a 400.
    let (status, page, _) = b.post("/settings/providers", &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    form[3] = ("port", "yirmi");
    let (status, _, _) = b.post("/settings/providers", &form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    drop(sim);
}

#[tokio::test]
async fn only_admins_of_the_company_change_or_test_accounts() {
    let app = spawn_app().await;
    let list = app.call("GET", "/provider-accounts", ADMIN_KEY, None).await;
    let id = list.body["items"][0]["id"].as_i64().unwrap();
    let path = format!("/provider-accounts/{id}/test");
    let other = app.company("baska").await;
    assert_eq!(app.call("POST", &path, &other, None).await.status, 404);
    let viewer = app
        .call(
            "POST",
            "/api-keys",
            ADMIN_KEY,
            Some(json!({"name": "v", "role": "viewer"})),
        )
        .await;
    let viewer = viewer.body["key"].as_str().unwrap().to_owned();
    assert_eq!(app.call("POST", &path, &viewer, None).await.status, 403);
    let mut b = signed_in(&app, "izleyici", "viewer").await;
    for get in [
        "/settings/providers/new",
        &format!("/settings/providers/{id}"),
    ] {
        let (status, _, _) = b.get(get).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{get}");
    }
    let (_, page, _) = b.get("/settings/password").await;
    let csrf = Browser::csrf_in(&page);
    let test = format!("/settings/providers/{id}/test");
    let (status, _, _) = b.post(&test, &[("csrf", csrf.as_str())]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = b
        .post(
            "/settings/providers",
            &[("csrf", csrf.as_str()), ("name", "x")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // No such account: a clear 404.
    let mut a = signed_in(&app, "yonetici", "admin").await;
    let (status, _, _) = a.get("/settings/providers/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// `POST /provider-accounts/{id}/test` by `key` in Turkish: status and problem document.
async fn test_tr(app: &TestApp, id: i64, key: &str) -> (u16, Value) {
    let r = app
        .http
        .post(format!("{}/api/v1/provider-accounts/{id}/test", app.base))
        .bearer_auth(key)
        .header("accept-language", "tr")
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// The first connection to `listener` whose bind names `system_id` (another test may
/// connect to a port it believes closed, which this listener took over).
async fn bind_from(listener: &tokio::net::TcpListener, system_id: &[u8]) -> tokio::net::TcpStream {
    use tokio::io::AsyncReadExt;
    loop {
        let (mut c, _) = listener.accept().await.unwrap();
        let mut buf = vec![0; 256];
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), c.read(&mut buf))
            .await
            .map_or(0, |r| r.unwrap_or(0));
        if buf[..n].windows(system_id.len()).any(|w| w == system_id) {
            return c;
        }
    }
}

#[tokio::test]
async fn one_connection_test_at_a_time_per_company() {
    let app = loopback_app().await;
    // An "SMSC" that takes the connection and says nothing: the first test waits on it.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    // Disabled: the engine does not bind it, only the test connects.
    let body = json!({"name": "slow", "kind": "smpp", "host": "127.0.0.1",
        "port": silent.local_addr().unwrap().port(), "system_id": "slow-probe",
        "password": "b", "enabled": false});
    let r = app
        .call("POST", "/provider-accounts", ADMIN_KEY, Some(body))
        .await;
    assert_eq!(
        (r.status, &r.body["enabled"]),
        (201, &json!(false)),
        "{}",
        r.body
    );
    let slow = r.body["id"].as_i64().unwrap();
    let closed = smpp_account(&app, "closed", closed_port().await, "acct", "right").await;
    let first = test_api(&app, slow);
    tokio::pin!(first);
    let held = tokio::select! {
        c = bind_from(&silent, b"slow-probe") => c,
        r = &mut first => panic!("the first test ended early: {r}"),
    };
    // A second test of the company, of any account, is refused while the first runs.
    let (status, p) = test_tr(&app, closed, ADMIN_KEY).await;
    assert_eq!(status, 429, "{p}");
    assert_eq!(p["code"], "provider.test_busy", "{p}");
    assert!(
        p["detail"].as_str().unwrap().contains("zaten sürüyor"),
        "{p}"
    );
    let mut b = signed_in(&app, "yonetici", "admin").await;
    let (_, page, _) = b.get(&format!("/settings/providers/{closed}")).await;
    let csrf = Browser::csrf_in(&page);
    let path = format!("/settings/providers/{closed}/test");
    let (status, page, _) = b.post(&path, &[("csrf", csrf.as_str())]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{page}");
    assert!(
        page.contains(r#"data-ok="false""#) && page.contains("zaten sürüyor"),
        "{page}"
    );
    // Another company is not held up.
    let other = app.company("baska").await;
    let body = json!({"name": "o", "kind": "smpp", "host": "127.0.0.1",
        "port": closed_port().await, "system_id": "acct", "password": "x"});
    let r = app
        .call("POST", "/provider-accounts", &other, Some(body))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let (status, p) = test_tr(&app, r.body["id"].as_i64().unwrap(), &other).await;
    assert_eq!(
        (status, &p["code"]),
        (200, &json!("connection_refused")),
        "{p}"
    );
    // The first ends (its SMSC hangs up); the next test of the company runs.
    drop(held);
    assert_eq!(first.await["ok"], false);
    assert_eq!(test_api(&app, closed).await["code"], "connection_refused");
}
