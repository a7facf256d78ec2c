//! The bulk-send window and a campaign's progress page through a real server: who sees and
//! may use them, CSRF, escaping, another company's data, the counter's JSON against the
//! API's, refusals in Turkish, and a send that ends delivered.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, spawn_app};
use crate::web::{Browser, user};

const XSS: &str = "<script>alert(1)</script>";

pub(crate) async fn admin(app: &TestApp) -> Browser<'_> {
    user(app, "yonetici", "Dogru-Parola-1", "admin").await;
    let mut b = Browser::new(app);
    let (status, _, _) = b.sign_in("yonetici", "Dogru-Parola-1").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    b
}

pub(crate) async fn created(app: &TestApp, key: &str, path: &str, body: Value) -> i64 {
    let a = app.call("POST", path, key, Some(body)).await;
    assert!(a.status == 201 || a.status == 200, "{path}: {}", a.body);
    a.body["id"].as_i64().unwrap_or(0)
}

pub(crate) async fn credit(app: &TestApp, amount: i64) {
    let a = app
        .call(
            "POST",
            "/credit/entries",
            ADMIN_KEY,
            Some(json!({"kind": "purchase", "amount": amount})),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
}

/// The draft id a preview page's "Gönder" starts, if it has the button.
pub(crate) fn draft_in(page: &str) -> Option<String> {
    let at = page.find(r#"name="draft" value=""#)? + 20;
    page[at..].split('"').next().map(str::to_owned)
}

/// Posts `form` as "Önizle", then "Gönder" on the preview: the answer to the second post.
pub(crate) async fn through_preview(
    b: &mut Browser<'_>,
    form: &[(&str, &str)],
) -> (StatusCode, String, Option<String>) {
    let mut f: Vec<(&str, &str)> = form
        .iter()
        .filter(|(k, _)| *k != "action")
        .copied()
        .collect();
    f.push(("action", "preview"));
    let (status, page, _) = b.post("/send", &f).await;
    assert_eq!(status, StatusCode::OK, "the preview: {page}");
    let draft = draft_in(&page).expect("a draft to send");
    f.pop();
    f.push(("action", "send"));
    f.push(("draft", &draft));
    b.post("/send", &f).await
}

#[tokio::test]
async fn the_window_lists_the_company_s_groups_and_templates_escaped() {
    let app = spawn_app().await;
    let g = created(&app, ADMIN_KEY, "/groups", json!({"name": XSS})).await;
    let s = created(
        &app,
        ADMIN_KEY,
        "/subscribers",
        json!({"name": XSS, "phone": "05321110001"}),
    )
    .await;
    let members = format!("/groups/{g}/members");
    created(&app, ADMIN_KEY, &members, json!({"subscriber_ids": [s]})).await;
    let body = format!("Merhaba {XSS}");
    created(
        &app,
        ADMIN_KEY,
        "/templates",
        json!({"name": XSS, "body": body}),
    )
    .await;
    let other = app.company("baska").await;
    created(&app, &other, "/groups", json!({"name": "Başkasının grubu"})).await;
    let mut b = admin(&app).await;
    let (status, page, _) = b
        .get(&format!("/send?subscribers={s}&groups={g}&customers=999"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!(r#"value="{g}" data-phones="1" checked"#)),
        "the group passed in is checked: {page}"
    );
    assert!(page.contains("Toplu Mesaj Gönder"), "{page}");
    assert!(
        page.contains(r#"value="preview""#),
        "an admin has the preview button"
    );
    assert!(
        page.contains(&format!(r#"name="group" value="{g}" data-phones="1""#)),
        "the group with its member count: {page}"
    );
    assert!(page.contains("1 üye"), "{page}");
    assert!(
        page.contains(&format!(r#"name="subscriber" value="{s}""#)),
        "the subscriber passed in"
    );
    assert!(!page.contains(XSS), "nothing unescaped: {page}");
    assert!(escaped(&page), "the names show as text: {page}");
    assert!(
        !page.contains("Başkasının grubu"),
        "another company's group never shows"
    );
    assert!(
        !page.contains(r#"id="tckns""#),
        "no TC ID field without the subscription"
    );
    let a = app
        .call(
            "PUT",
            "/companies/1/tckn-subscription",
            ADMIN_KEY,
            Some(json!({"active": true})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, page, _) = b.get("/send").await;
    assert!(page.contains(r#"id="tckns""#), "the TC ID field with it");
}

#[tokio::test]
async fn a_viewer_sees_no_send_button_and_is_refused() {
    let app = spawn_app().await;
    user(&app, "izleyici", "Dogru-Parola-1", "viewer").await;
    let mut b = Browser::new(&app);
    b.sign_in("izleyici", "Dogru-Parola-1").await;
    let (status, page, _) = b.get("/send").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains(r#"value="preview""#), "{page}");
    assert!(page.contains("yalnızca görüntüleyebilirsiniz"), "{page}");
    let csrf = Browser::csrf_in(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("action", "send"),
        ("numbers", "05321110001"),
        ("text", "Merhaba"),
    ];
    let (status, _, _) = b.post("/send", &form).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = b.post("/campaigns/1/cancel", &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_post_without_the_csrf_token_is_refused() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let form = [
        ("action", "send"),
        ("numbers", "05321110001"),
        ("text", "x"),
    ];
    let (status, _, _) = b.post("/send", &form).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = b.post("/send", &[("csrf", "yanlis"), ("text", "x")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let r = count(&b, "", "Merhaba").await;
    assert_eq!(r.0, StatusCode::FORBIDDEN);
}

/// Whether `page` has the payload as escaped text (askama writes `<` as `&#60;`).
pub(crate) fn escaped(page: &str) -> bool {
    [
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "&#60;script&#62;alert(1)&#60;/script&#62;",
    ]
    .iter()
    .any(|e| page.contains(e))
}

/// `POST /send/count` with `csrf` in the header.
async fn count(b: &Browser<'_>, csrf: &str, text: &str) -> (StatusCode, Value) {
    let r = b
        .http
        .post(format!("{}/send/count", b.app.base))
        .header(COOKIE, b.cookie_header())
        .header("x-csrf-token", csrf)
        .json(&json!({ "text": text }))
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_counter_answers_what_the_api_counts_and_names_the_ucs2_character() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let (_, page, _) = b.get("/send").await;
    let csrf = Browser::csrf_in(&page);
    for text in ["Çağrı ışık", "“Merhaba” dünya", "😀", &"a".repeat(161)] {
        let (status, web) = count(&b, &csrf, text).await;
        assert_eq!(status, StatusCode::OK, "{web}");
        let api = app
            .call("POST", "/count", ADMIN_KEY, Some(json!({ "text": text })))
            .await;
        assert_eq!(api.status, 200);
        for (k, v) in api.body.as_object().unwrap() {
            assert_eq!(&web[k], v, "{k} differs for {text:?}");
        }
    }
    let (_, web) = count(&b, &csrf, "“Merhaba” dünya").await;
    assert_eq!(web["encoding"], "ucs2");
    assert_eq!(
        web["hint"],
        json!({"char": "“", "code": "U+201C", "replacement": "\""})
    );
    let (_, web) = count(&b, &csrf, "Çağrı").await;
    assert_eq!(web["hint"], Value::Null);
    // Without JavaScript the same replacement is a button of the form.
    let form = [
        ("csrf", csrf.as_str()),
        ("action", "replace"),
        ("text", "“Merhaba” dünya"),
    ];
    let (status, page, _) = b.post("/send", &form).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("&#34;Merhaba” dünya</textarea>"), "{page}");
    assert!(page.contains(r#"<q id="hint-char">”</q>"#), "{page}");
}

#[tokio::test]
async fn refusals_show_the_codes_turkish_texts() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let (_, page, _) = b.get("/send").await;
    let csrf = Browser::csrf_in(&page);
    let (status, page, _) = b
        .post(
            "/send",
            &[("csrf", &csrf), ("action", "send"), ("text", XSS)],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains(r#"role="alert""#), "{page}");
    assert!(page.contains("Alıcılar: Bir değer girilmelidir."), "{page}");
    assert!(
        !page.contains(XSS) && escaped(&page),
        "the text is escaped when shown again"
    );
    // No credit bought: the send is refused before anything is queued.
    let form = [
        ("csrf", csrf.as_str()),
        ("action", "send"),
        ("numbers", "05321110001"),
        ("text", "Merhaba"),
    ];
    let (status, page, _) = b.post("/send", &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Yeterli kredi yok."), "{page}");
    let list = app.call("GET", "/campaigns", ADMIN_KEY, None).await;
    let states: Vec<&Value> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["state"])
        .collect();
    assert_eq!(states, vec!["cancelled"], "the refused draft does not stay");
}

#[tokio::test]
async fn a_template_fills_the_text_without_javascript() {
    let app = spawn_app().await;
    let id = created(
        &app,
        ADMIN_KEY,
        "/templates",
        json!({"name": "Bayram", "body": "Sayın {{ad}}, iyi bayramlar."}),
    )
    .await;
    let mut b = admin(&app).await;
    let (_, page, _) = b.get("/send").await;
    let csrf = Browser::csrf_in(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("action", "template"),
        ("template", &id.to_string()),
        ("text", ""),
    ];
    let (status, page, _) = b.post("/send", &form).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Sayın {{ad}}, iyi bayramlar.</textarea>"),
        "{page}"
    );
    assert!(page.contains(r#"id="count-segments">1<"#), "{page}");
}

#[tokio::test]
async fn a_send_goes_to_its_progress_page_and_is_delivered() {
    let app = spawn_app().await;
    credit(&app, 100).await;
    let mut b = admin(&app).await;
    let (_, page, _) = b.get("/send").await;
    let csrf = Browser::csrf_in(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("action", "send"),
        ("numbers", "05321110001\n05321110002, 05321110003"),
        ("text", "Merhaba"),
    ];
    let (status, _, to) = through_preview(&mut b, &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let to = to.unwrap();
    let id: i64 = to.trim_start_matches("/campaigns/").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body, _) = b.get(&format!("{to}/progress")).await;
        assert_eq!(status, StatusCode::OK);
        let p: Value = serde_json::from_str(&body).unwrap();
        if p["state"] == "finished" {
            assert_eq!(
                (p["done"].as_i64(), p["total"].as_i64()),
                (Some(3), Some(3))
            );
            break;
        }
        assert!(Instant::now() < deadline, "{p}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, page, _) = b.get(&to).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"data-count="delivered">3<"#), "{page}");
    assert!(page.contains("Tamamlandı"), "{page}");
    assert!(
        !page.contains(r#"data-testid="cancel""#),
        "a finished send has no buttons"
    );
    // Another company's campaign is not found, and neither is its progress.
    let mut ob = other_company(&app).await;
    let (status, _, _) = ob.get(&format!("/campaigns/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = ob.get(&format!("/campaigns/{id}/progress")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A browser signed in as the administrator of a second company.
pub(crate) async fn other_company(app: &TestApp) -> Browser<'_> {
    let key = app.company("baska").await;
    let body = json!({"login": "ikinci", "password": "Dogru-Parola-1", "role": "admin"});
    let a = app.call("POST", "/users", &key, Some(body)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let mut b = Browser::new(app);
    let (_, page, _) = b.get("/login").await;
    let csrf = Browser::csrf_in(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("company", "baska"),
        ("username", "ikinci"),
        ("password", "Dogru-Parola-1"),
    ];
    let (status, _, _) = b.post("/login", &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    b
}

#[tokio::test]
async fn a_scheduled_send_can_be_paused_resumed_and_cancelled_from_its_page() {
    let app = spawn_app().await;
    credit(&app, 100).await;
    let mut b = admin(&app).await;
    let (_, page, _) = b.get("/send").await;
    let csrf = Browser::csrf_in(&page);
    let tz = jiff::tz::TimeZone::get("Europe/Istanbul").unwrap();
    let tomorrow = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
    let at = tz
        .to_datetime(tomorrow)
        .strftime("%Y-%m-%dT%H:%M")
        .to_string();
    let form = [
        ("csrf", csrf.as_str()),
        ("action", "send"),
        ("numbers", "05321110001"),
        ("text", "Yarın görüşürüz"),
        ("schedule", &at),
    ];
    let (status, page, to) = through_preview(&mut b, &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let to = to.unwrap();
    let id: i64 = to.trim_start_matches("/campaigns/").parse().unwrap();
    let c = app
        .call("GET", &format!("/campaigns/{id}"), ADMIN_KEY, None)
        .await;
    assert_eq!(c.body["state"], "running", "{}", c.body);
    let (_, page, _) = b.get(&to).await;
    assert!(page.contains(r#"data-testid="pause""#), "{page}");
    for (action, state) in [
        ("pause", "paused"),
        ("resume", "running"),
        ("cancel", "cancelled"),
    ] {
        let (status, _, back) = b.post(&format!("{to}/{action}"), &[("csrf", &csrf)]).await;
        assert_eq!(
            (status, back.as_deref()),
            (StatusCode::SEE_OTHER, Some(to.as_str()))
        );
        let c = app
            .call("GET", &format!("/campaigns/{id}"), ADMIN_KEY, None)
            .await;
        assert_eq!(c.body["state"], state, "after {action}: {}", c.body);
    }
    let (_, page, _) = b.get(&to).await;
    assert!(page.contains("İptal edildi"), "{page}");
    let (status, _, _) = b.post(&format!("{to}/resume"), &[("csrf", &csrf)]).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a cancelled send cannot resume"
    );
}
