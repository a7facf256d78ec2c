//! The message log, a message's timeline and the inbox through a real server: filters,
//! escaping, roles (a viewer cannot reply), CSRF, and another company's messages never shown.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use ulak_store::{DEFAULT_COMPANY, InboundIn, Store};

use crate::helpers::{ADMIN_KEY, TestApp, spawn_app};
use crate::web::{Browser, user};

const XSS: &str = "<script>alert(1)</script>";
/// How askama escapes [`XSS`] (numeric character references).
const ESCAPED: &str = "&#60;script&#62;alert(1)&#60;/script&#62;";

async fn send(app: &TestApp, key: &str, to: &str, text: &str) -> i64 {
    let r = app
        .call(
            "POST",
            "/messages",
            key,
            Some(json!({"to": to, "text": text})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    r.body["id"].as_i64().unwrap()
}

async fn buy(app: &TestApp, key: &str) {
    let r = app
        .call(
            "POST",
            "/credit/entries",
            key,
            Some(json!({"kind": "purchase", "amount": 1000})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

/// A message of a second company (its own header and account), to be kept out of sight.
async fn other_companys_message(app: &TestApp) -> i64 {
    let (key, id) = app.company_with_id("baska").await;
    app.buy_credit(id, 100).await;
    for (path, body) in [
        (
            "/sender-headers",
            json!({"name": "BASKA", "is_default": true}),
        ),
        (
            "/provider-accounts",
            json!({"name": "p", "kind": "simulator", "host": "builtin", "port": 2775,
                   "system_id": "baska"}),
        ),
    ] {
        let r = app.call("POST", path, &key, Some(body)).await;
        assert_eq!(r.status, 201, "{path}: {}", r.body);
    }
    send(app, &key, "05329998877", "baskasinin mesaji").await
}

#[tokio::test]
async fn the_log_filters_escapes_and_shows_only_the_companys_messages() {
    let app = spawn_app().await;
    buy(&app, ADMIN_KEY).await;
    let first = send(&app, ADMIN_KEY, "05321234567", XSS).await;
    let second = send(&app, ADMIN_KEY, "05327654321", "Merhaba").await;
    let foreign = other_companys_message(&app).await;
    user(&app, "izleyici", "Dogru-Parola-1", "viewer").await;
    let mut b = Browser::new(&app);
    b.sign_in("izleyici", "Dogru-Parola-1").await;

    let (status, page, _) = b.get("/messages").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    for id in [first, second] {
        assert!(page.contains(&format!(r#"data-id="{id}""#)), "{id}: {page}");
    }
    assert!(!page.contains(&format!(r#"data-id="{foreign}""#)), "{page}");
    assert!(!page.contains("+905329998877"), "{page}");
    assert!(page.contains("Mesaj kayıtları") && page.contains("+905321234567"));

    // A recipient written the way people write it finds the message; another finds none.
    let (_, page, _) = b.get("/messages?recipient=0532+123+45+67&state=").await;
    assert!(page.contains(&format!(r#"data-id="{first}""#)), "{page}");
    assert!(!page.contains(&format!(r#"data-id="{second}""#)), "{page}");
    let (_, page, _) = b.get("/messages?state=cancelled").await;
    assert!(page.contains(r#"data-testid="no-messages""#), "{page}");
    // The API's checks, in the user's language.
    let (status, page, _) = b.get("/messages?state=kayip&from=31.02.2026").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("role=\"alert\""), "{page}");
    let (status, page, _) = b.get("/messages?recipient=12").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("recipient:"), "{page}");

    // The timeline: the text escaped, accepted first.
    let (status, page, _) = b.get(&format!("/messages/{first}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(ESCAPED) && !page.contains(XSS), "{page}");
    assert!(page.contains("Kabul edildi"), "{page}");
    // Another company's message, a missing one and a path that is no id: the 404 page.
    for path in [
        format!("/messages/{foreign}"),
        "/messages/999999".to_owned(),
        "/messages/abc".to_owned(),
    ] {
        let (status, page, _) = b.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {page}");
        assert!(!page.contains("baskasinin"), "{page}");
    }
    let (status, _, _) = b.get("/messages/export?campaign=1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, page, _) = b.get("/messages?campaign=7").await;
    assert!(
        page.contains(r#"href="/messages/export?campaign=7""#),
        "{page}"
    );

    // Pages of 50, newest first: the next page, filters kept, holds the oldest.
    for i in 0..50 {
        send(&app, ADMIN_KEY, "05321234567", &format!("toplu {i}")).await;
    }
    let (_, page, _) = b.get("/messages?recipient=05321234567").await;
    assert!(!page.contains(&format!(r#"data-id="{first}""#)), "{page}");
    let next = page
        .split(r#"" rel="next""#)
        .next()
        .and_then(|before| before.rsplit(r#"href=""#).next())
        .unwrap()
        .replace("&#38;", "&");
    assert!(
        next.starts_with("/messages?recipient=") && next.contains("&cursor=m"),
        "{next}"
    );
    let (status, page, _) = b.get(&next).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(&format!(r#"data-id="{first}""#)), "{page}");
    assert!(!page.contains(&format!(r#"data-id="{second}""#)), "{page}");
    assert!(!page.contains(r#"rel="next""#), "{page}");
}

#[tokio::test]
async fn a_message_not_final_says_since_when_and_reaches_delivered() {
    let app = spawn_app().await;
    buy(&app, ADMIN_KEY).await;
    user(&app, "ayse", "Dogru-Parola-1", "operator").await;
    let mut b = Browser::new(&app);
    b.sign_in("ayse", "Dogru-Parola-1").await;
    // Scheduled an hour ahead: not final, with its state and since when.
    let at = jiff::Timestamp::now().as_millisecond() + 3_600_000;
    let r = app
        .call(
            "POST",
            "/messages",
            ADMIN_KEY,
            Some(json!({"to": "05321234567", "text": "sonra", "scheduled_at": at})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    let (_, page, _) = b.get(&format!("/messages/{id}")).await;
    assert!(
        page.contains(r#"data-testid="pending""#) && page.contains("Zamanlandı"),
        "{page}"
    );
    // Sent now, the built-in simulator delivers it: the timeline shows the operator's id.
    let id = send(&app, ADMIN_KEY, "05321234567", "simdi").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, page, _) = b.get(&format!("/messages/{id}")).await;
        if page.contains(r#"data-state="delivered""#) {
            assert!(!page.contains(r#"data-testid="pending""#), "{page}");
            assert!(page.contains(r#"data-testid="parts""#), "{page}");
            break;
        }
        assert!(Instant::now() < deadline, "never delivered: {page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Puts an inbound message in `default`'s inbox, as the engine does.
async fn inbound(app: &TestApp, text: &str) {
    let url = format!("sqlite://{}?mode=rwc", app.dir.join("ulak.db").display());
    let store = Store::connect(&url, [0; 32]).await.unwrap();
    let company = store
        .get_company_by_name(DEFAULT_COMPANY)
        .await
        .unwrap()
        .unwrap()
        .id;
    let m = InboundIn {
        sender: "905321112233".into(),
        recipient: "4545".into(),
        body: text.into(),
        body_raw: None,
        data_coding: Some(0),
        complete: true,
    };
    store.store_inbound(company, None, vec![m]).await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn the_inbox_escapes_replies_through_the_send_service_and_refuses_viewers() {
    let app = spawn_app().await;
    buy(&app, ADMIN_KEY).await;
    inbound(&app, XSS).await;
    user(&app, "izleyici", "Dogru-Parola-1", "viewer").await;
    user(&app, "ayse", "Dogru-Parola-1", "operator").await;

    let mut viewer = Browser::new(&app);
    viewer.sign_in("izleyici", "Dogru-Parola-1").await;
    let (status, page, _) = viewer.get("/inbox").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(ESCAPED) && !page.contains(XSS), "{page}");
    assert!(page.contains("+905321112233"), "{page}");
    assert!(!page.contains(r#"action="/inbox/reply""#), "{page}");
    assert!(
        !page.contains(r#"id="unmatched""#),
        "viewers see no receipts"
    );
    let csrf = Browser::csrf_in(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("inbound", "1"),
        ("to", "+905321112233"),
        ("text", "yanit"),
    ];
    let (status, _, _) = viewer.post("/inbox/reply", &form).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = viewer
        .post("/inbox/read", &[("csrf", csrf.as_str()), ("inbound", "1")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let mut op = Browser::new(&app);
    op.sign_in("ayse", "Dogru-Parola-1").await;
    let (_, page, _) = op.get("/inbox").await;
    assert!(page.contains(r#"action="/inbox/reply""#), "{page}");
    let csrf = Browser::csrf_in(&page);
    let (status, _, _) = op
        .post(
            "/inbox/reply",
            &[("inbound", "1"), ("to", "+905321112233"), ("text", "yanit")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF token");
    // An empty reply: the send service's refusal, in Turkish, and nothing sent.
    let mut form = form;
    form[0].1 = csrf.as_str();
    form[3].1 = "";
    let (status, page, _) = op.post("/inbox/reply", &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("role=\"alert\""), "{page}");
    form[3].1 = "Tesekkurler, ilgileniyoruz.";
    let (status, _, to) = op.post("/inbox/reply", &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let to = to.unwrap();
    let id: i64 = to.strip_prefix("/inbox?sent=").unwrap().parse().unwrap();
    let (_, page, _) = op.get(&to).await;
    assert!(page.contains(r#"data-testid="reply-sent""#), "{page}");
    // Answered is read.
    assert!(!page.contains(r#"data-testid="unread""#), "{page}");
    let m = app
        .call("GET", &format!("/messages/{id}"), ADMIN_KEY, None)
        .await;
    assert_eq!(
        (&m.body["recipient"], &m.body["text"]),
        (
            &"+905321112233".into(),
            &"Tesekkurler, ilgileniyoruz.".into()
        )
    );
    // A message read without a reply: marked by hand, once; another id is the 404 page.
    inbound(&app, "ikinci").await;
    let (_, page, _) = op.get("/inbox").await;
    assert!(page.contains(r#"action="/inbox/read""#), "{page}");
    let read = [("csrf", csrf.as_str()), ("inbound", "2")];
    let (status, _, to) = op.post("/inbox/read", &read).await;
    assert_eq!(
        (status, to.as_deref()),
        (StatusCode::SEE_OTHER, Some("/inbox"))
    );
    let (_, page, _) = op.get("/inbox").await;
    assert!(!page.contains(r#"data-testid="unread""#), "{page}");
    let (status, _, _) = op
        .post("/inbox/read", &[("csrf", csrf.as_str()), ("inbound", "99")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Administrators see the unmatched receipts' section.
    let mut admin = Browser::new(&app);
    user(&app, "yonetici", "Dogru-Parola-1", "admin").await;
    admin.sign_in("yonetici", "Dogru-Parola-1").await;
    let (_, page, _) = admin.get("/inbox").await;
    assert!(
        page.contains(r#"id="unmatched""#) && page.contains(r#"data-testid="no-unmatched""#),
        "{page}"
    );
}

#[tokio::test]
async fn the_inbox_shows_the_newest_message_first() {
    let app = spawn_app().await;
    inbound(&app, "ilk gelen").await;
    inbound(&app, "son gelen").await;
    user(&app, "ayse", "Dogru-Parola-1", "operator").await;
    let mut op = Browser::new(&app);
    op.sign_in("ayse", "Dogru-Parola-1").await;
    let (status, page, _) = op.get("/inbox").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let (newer, older) = (page.find("son gelen"), page.find("ilk gelen"));
    assert!(
        newer.is_some() && older.is_some() && newer < older,
        "newest first: {page}"
    );
}
