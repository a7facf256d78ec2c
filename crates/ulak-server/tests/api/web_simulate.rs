//! The inbox's "message from the simulator" form: administrators of a company on the built-in
//! simulator send a message as a handset would, and it arrives through the real inbound path;
//! operators and viewers see no form and are refused when they post it anyway.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::{ADMIN_KEY, TestApp, spawn_app};
use crate::web::{Browser, user};

async fn simulator_account(app: &TestApp) -> String {
    let a = app.call("GET", "/provider-accounts", ADMIN_KEY, None).await;
    a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "simulator")
        .and_then(|p| p["id"].as_i64())
        .expect("a simulator account")
        .to_string()
}

#[tokio::test]
async fn an_administrator_sends_a_message_from_the_simulator_into_the_inbox() {
    let app = spawn_app().await;
    let account = simulator_account(&app).await;
    user(&app, "yonetici", "Dogru-Parola-1", "admin").await;
    user(&app, "ayse", "Dogru-Parola-1", "operator").await;

    let mut op = Browser::new(&app);
    op.sign_in("ayse", "Dogru-Parola-1").await;
    let (_, page, _) = op.get("/inbox").await;
    assert!(!page.contains(r#"action="/inbox/simulate""#), "{page}");
    let csrf = Browser::csrf_in(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("account", account.as_str()),
        ("from", "0532 111 22 33"),
        ("to", "4545"),
        ("text", "operatör"),
    ];
    let (status, _, _) = op.post("/inbox/simulate", &form).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an operator may not");

    let mut admin = Browser::new(&app);
    admin.sign_in("yonetici", "Dogru-Parola-1").await;
    let (_, page, _) = admin.get("/inbox").await;
    assert!(page.contains(r#"action="/inbox/simulate""#), "{page}");
    let csrf = Browser::csrf_in(&page);
    let no_csrf = [("csrf", ""), ("account", account.as_str())];
    let (status, _, _) = admin.post("/inbox/simulate", &no_csrf).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF token");

    // A landline and an empty text: both named in Turkish, nothing sent.
    let bad = [
        ("csrf", csrf.as_str()),
        ("account", account.as_str()),
        ("from", "0212 111 22 33"),
        ("to", "4545"),
        ("text", ""),
    ];
    let (status, page, _) = admin.post("/inbox/simulate", &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("Sabit hatlar SMS alamaz"), "{page}");
    assert!(page.contains("Metin boş"), "{page}");
    let (status, _, _) = admin
        .post("/inbox/simulate", &[("csrf", &csrf), ("account", "x")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let text = "Randevumu <b>ertelemek</b> istiyorum";
    let good = [
        ("csrf", csrf.as_str()),
        ("account", account.as_str()),
        ("from", "0532 111 22 33"),
        ("to", "4545"),
        ("text", text),
    ];
    // Refused as "not connected" until the engine has bound the account after the start.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (status, to) = loop {
        let (status, page, to) = admin.post("/inbox/simulate", &good).await;
        if !page.contains("simülatöre bağlı değil") || Instant::now() > deadline {
            break (status, to);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (status, to.as_deref()),
        (StatusCode::SEE_OTHER, Some("/inbox?simulated=1"))
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, page, _) = admin.get("/inbox?simulated=1").await;
        if page.contains("Randevumu &#60;b&#62;ertelemek&#60;/b&#62; istiyorum") {
            assert!(page.contains(r#"data-testid="simulated""#), "{page}");
            break;
        }
        assert!(Instant::now() < deadline, "never arrived: {page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
