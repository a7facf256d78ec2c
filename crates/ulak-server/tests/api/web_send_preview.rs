//! The send window's preview step, validity, subscriber picker and field insertion through a
//! real server: who is left out and why, the cost against the balance, what becomes of the
//! draft (cancelled when refused or edited, a draft when abandoned, running when sent), roles,
//! CSRF, and the picker's JSON kept to the company and shown as text.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE};
use serde_json::{Value, json};
use ulak_store::{DEFAULT_COMPANY, Store};

use crate::helpers::{ADMIN_KEY, Backend, TestApp, spawn_app, spawn_app_on};
use crate::web::{Browser, user};
use crate::web_send::{admin, created, credit, draft_in, escaped, other_company, through_preview};

const XSS: &str = "<script>alert(1)</script>";

/// The states of the company's campaigns, newest first.
async fn states(app: &TestApp) -> Vec<String> {
    let list = app.call("GET", "/campaigns", ADMIN_KEY, None).await;
    list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["state"].as_str().unwrap_or("").to_owned())
        .collect()
}

async fn preview_shows_who_is_left_out_samples_and_cost(backend: Backend) {
    let Some(app) = spawn_app_on(backend).await else {
        return;
    };
    credit(&app, 100).await;
    let ok = created(
        &app,
        ADMIN_KEY,
        "/subscribers",
        json!({"name": "Ayşe", "phone": "05321110001"}),
    )
    .await;
    let out = created(
        &app,
        ADMIN_KEY,
        "/subscribers",
        json!({"name": "Ret", "phone": "05321110002", "consent": "opted_out"}),
    )
    .await;
    let mut b = admin(&app).await;
    let (_, page, _) = b.get("/send").await;
    let csrf = Browser::csrf_in(&page);
    let (ok, out) = (ok.to_string(), out.to_string());
    let form = [
        ("csrf", csrf.as_str()),
        ("action", "preview"),
        ("subscriber", &ok),
        ("subscriber", &out),
        ("numbers", "05321110003\n0532 111 00 03\n12345"),
        ("text", "Merhaba {{telefon}}"),
        ("validity", "2"),
    ];
    let (status, page, _) = b.post("/send", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Gönderim önizlemesi"), "{page}");
    let cell = |id: &str, v: &str| format!(r#"data-testid="{id}">{v}<"#);
    for (id, v) in [
        ("recipients", "2"),
        ("skipped", "2"),
        ("duplicates", "1"),
        ("segments", "2"),
        ("cost", "2"),
        ("balance", "100"),
        ("after", "98"),
        ("validity", "2 saat"),
        ("when", "Hemen"),
    ] {
        assert!(page.contains(&cell(id, v)), "{id} = {v}: {page}");
    }
    assert!(page.contains("İleti izni yok"), "the opted-out reason");
    assert!(
        page.contains("Geçersiz telefon numarası"),
        "the invalid one"
    );
    assert!(page.contains("+90532*****02"), "a masked example: {page}");
    assert!(
        !page.contains("05321110002") && !page.contains("+905321110002"),
        "never the whole number of someone left out"
    );
    assert!(page.contains("Merhaba 0532"), "a sample filled in: {page}");
    assert!(page.contains(r#"value="send""#), "the send button");
    assert!(draft_in(&page).is_some());
    assert_eq!(
        states(&app).await,
        vec!["draft"],
        "a preview keeps a draft, nothing runs"
    );
    // "Düzenle": the form again with everything kept, the draft cancelled.
    let mut edit: Vec<(&str, &str)> = form
        .iter()
        .filter(|(k, _)| *k != "action")
        .copied()
        .collect();
    let draft = draft_in(&page).unwrap();
    edit.push(("action", "edit"));
    edit.push(("draft", &draft));
    let (status, page, _) = b.post("/send", &edit).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Merhaba {{telefon}}</textarea>"), "{page}");
    assert!(page.contains("0532 111 00 03"), "the numbers are kept");
    assert!(page.contains(r#"<option value="2" selected>"#), "{page}");
    assert!(page.contains(&format!(r#"name="subscriber" value="{ok}""#)));
    assert_eq!(states(&app).await, vec!["cancelled"]);
}

#[tokio::test]
async fn preview_shows_who_is_left_out_samples_and_cost_on_sqlite() {
    preview_shows_who_is_left_out_samples_and_cost(Backend::Sqlite).await;
}

#[tokio::test]
async fn preview_shows_who_is_left_out_samples_and_cost_on_postgres() {
    preview_shows_who_is_left_out_samples_and_cost(Backend::Postgres).await;
}

/// The validity the store keeps for campaign `id` of the default company, seconds.
async fn validity_of(app: &TestApp, id: i64) -> i64 {
    let url = format!("sqlite://{}?mode=rwc", app.dir.join("ulak.db").display());
    let store = Store::connect(&url, [0; 32]).await.unwrap();
    let company = store
        .get_company_by_name(DEFAULT_COMPANY)
        .await
        .unwrap()
        .unwrap()
        .id;
    let c = store.get_campaign_lean(company, id).await.unwrap().unwrap();
    c.validity_s
}

#[tokio::test]
async fn send_on_the_preview_starts_that_draft_once_with_its_validity() {
    let app = spawn_app().await;
    credit(&app, 100).await;
    let mut b = admin(&app).await;
    let (_, page, _) = b.get("/send").await;
    let csrf = Browser::csrf_in(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("numbers", "05321110001"),
        ("text", "Merhaba"),
        ("validity", "4"),
    ];
    let (status, page, to) = through_preview(&mut b, &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let to = to.unwrap();
    let id: i64 = to.trim_start_matches("/campaigns/").parse().unwrap();
    let c = app
        .call("GET", &format!("/campaigns/{id}"), ADMIN_KEY, None)
        .await;
    assert!(
        c.body["state"] == "running" || c.body["state"] == "finished",
        "{}",
        c.body
    );
    assert_eq!(validity_of(&app, id).await, 4 * 3600);
    // The button pressed again: the same send's page, no second campaign.
    let draft = id.to_string();
    let again = [
        ("csrf", csrf.as_str()),
        ("action", "send"),
        ("draft", &draft),
        ("text", "Merhaba"),
    ];
    let (status, _, back) = b.post("/send", &again).await;
    assert_eq!((status, back), (StatusCode::SEE_OTHER, Some(to)));
    assert_eq!(states(&app).await.len(), 1);
    // Without a choice the engine's default (24 hours) applies.
    let form = [
        ("csrf", csrf.as_str()),
        ("numbers", "05321110002"),
        ("text", "Merhaba"),
    ];
    let (_, _, to) = through_preview(&mut b, &form).await;
    let id: i64 = to
        .unwrap()
        .trim_start_matches("/campaigns/")
        .parse()
        .unwrap();
    assert_eq!(validity_of(&app, id).await, 24 * 3600);
    // Out of range is the API's refusal, named on the form, with nothing created.
    let form = [
        ("csrf", csrf.as_str()),
        ("action", "preview"),
        ("numbers", "05321110003"),
        ("text", "Merhaba"),
        ("validity", "100"),
    ];
    let (status, page, _) = b.post("/send", &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Geçerlilik süresi:"), "{page}");
    assert_eq!(states(&app).await.len(), 2);
    let bad = [
        ("csrf", csrf.as_str()),
        ("action", "preview"),
        ("validity", "x"),
    ];
    let (status, _, _) = b.post("/send", &bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn send_pressed_twice_at_once_goes_to_the_progress_page_both_times() {
    let app = spawn_app().await;
    credit(&app, 1000).await;
    let mut b = admin(&app).await;
    let (_, page, _) = b.get("/send").await;
    let csrf = Browser::csrf_in(&page);
    for round in 0..4 {
        let numbers: Vec<String> = (0..50)
            .map(|i| format!("0532111{:04}", round * 100 + i))
            .collect();
        let numbers = numbers.join("\n");
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("numbers", numbers.as_str()),
            ("text", "Merhaba"),
            ("action", "preview"),
        ];
        let (status, page, _) = b.post("/send", &form).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let draft = draft_in(&page).unwrap();
        form.pop();
        form.extend([("action", "send"), ("draft", draft.as_str())]);
        // The same session's second tab, or a double click: two posts of that draft at once.
        let mut twin = Browser {
            app: &app,
            http: b.http.clone(),
            cookies: b.cookies.clone(),
        };
        let (one, two) = tokio::join!(b.post("/send", &form), twin.post("/send", &form));
        let to = Some(format!("/campaigns/{draft}"));
        for (status, page, at) in [one, two] {
            assert_eq!((status, at), (StatusCode::SEE_OTHER, to.clone()), "{page}");
        }
        let c = app
            .call("GET", &format!("/campaigns/{draft}"), ADMIN_KEY, None)
            .await;
        assert_eq!(c.body["recipients"], 50, "queued once: {}", c.body);
    }
    assert_eq!(states(&app).await.len(), 4, "no other campaign");
}

#[tokio::test]
async fn an_abandoned_preview_s_draft_is_purged_after_a_day_an_api_draft_is_not() {
    let app = spawn_app().await;
    credit(&app, 100).await;
    let mut b = admin(&app).await;
    let (_, page, _) = b.get("/send").await;
    let csrf = Browser::csrf_in(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("action", "preview"),
        ("numbers", "05321110001"),
        ("text", "Merhaba"),
    ];
    let (status, page, _) = b.post("/send", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let previewed: i64 = draft_in(&page).unwrap().parse().unwrap();
    let body = json!({"name": "api", "text": "Merhaba", "audience": {"numbers": ["05321110002"]}});
    let api = created(&app, ADMIN_KEY, "/campaigns", body).await;
    let url = format!("sqlite://{}?mode=rwc", app.dir.join("ulak.db").display());
    let store = Store::connect(&url, [0; 32]).await.unwrap();
    assert_eq!(store.purge_preview_drafts(10).await.unwrap(), 0, "not yet");
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::query("UPDATE campaigns SET created_at = created_at - $1")
        .bind(ulak_store::PREVIEW_DRAFT_MAX_AGE_MS + 1000)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(store.purge_preview_drafts(10).await.unwrap(), 1);
    let path = |id: i64| format!("/campaigns/{id}");
    assert_eq!(
        app.call("GET", &path(previewed), ADMIN_KEY, None)
            .await
            .status,
        404
    );
    assert_eq!(
        app.call("GET", &path(api), ADMIN_KEY, None).await.status,
        200
    );
    pool.close().await;
    store.close().await;
}

#[tokio::test]
async fn a_short_balance_is_refused_on_the_preview_and_nothing_starts() {
    let app = spawn_app().await;
    credit(&app, 1).await;
    let mut b = admin(&app).await;
    let (_, page, _) = b.get("/send").await;
    let csrf = Browser::csrf_in(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("action", "preview"),
        ("numbers", "05321110001\n05321110002"),
        ("text", "Merhaba"),
    ];
    let (status, page, _) = b.post("/send", &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Yeterli kredi yok."), "{page}");
    assert!(page.contains(r#"data-testid="cost">2<"#), "{page}");
    assert!(!page.contains(r#"value="send""#), "no way on: {page}");
    assert!(page.contains(r#"value="edit""#), "but back to the form");
    assert_eq!(states(&app).await, vec!["cancelled"]);
    // Posting "Gönder" for that draft anyway does not start it.
    let list = app.call("GET", "/campaigns", ADMIN_KEY, None).await;
    let id = list.body["items"][0]["id"].as_i64().unwrap().to_string();
    let send = [("csrf", csrf.as_str()), ("action", "send"), ("draft", &id)];
    let (status, _, _) = b.post("/send", &send).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(states(&app).await, vec!["cancelled"]);
    // Credit spent between the preview and "Gönder": refused then, the draft cancelled.
    credit(&app, 1).await;
    let (status, page, _) = b.post("/send", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let draft = draft_in(&page).unwrap();
    let a = app
        .call(
            "POST",
            "/credit/entries",
            ADMIN_KEY,
            Some(json!({"kind": "adjustment", "amount": -2})),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let send = [
        ("csrf", csrf.as_str()),
        ("action", "send"),
        ("draft", &draft),
        ("numbers", "05321110001\n05321110002"),
        ("text", "Merhaba"),
    ];
    let (status, page, _) = b.post("/send", &send).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Yeterli kredi yok."), "{page}");
    assert!(page.contains("Merhaba</textarea>"), "the form is kept");
    assert_eq!(states(&app).await, vec!["cancelled", "cancelled"]);
}

#[tokio::test]
async fn a_viewer_and_a_post_without_csrf_are_refused_at_every_step() {
    let app = spawn_app().await;
    credit(&app, 100).await;
    let mut a = admin(&app).await;
    let (_, page, _) = a.get("/send").await;
    let csrf = Browser::csrf_in(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("action", "preview"),
        ("numbers", "05321110001"),
        ("text", "Merhaba"),
    ];
    let (_, page, _) = a.post("/send", &form).await;
    let draft = draft_in(&page).unwrap();
    user(&app, "izleyici", "Dogru-Parola-1", "viewer").await;
    let mut v = Browser::new(&app);
    v.sign_in("izleyici", "Dogru-Parola-1").await;
    let (_, page, _) = v.get("/send").await;
    let vcsrf = Browser::csrf_in(&page);
    for action in ["preview", "send", "edit"] {
        let f = [
            ("csrf", vcsrf.as_str()),
            ("action", action),
            ("draft", &draft),
            ("numbers", "05321110001"),
            ("text", "Merhaba"),
        ];
        let (status, _, _) = v.post("/send", &f).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "a viewer's {action}");
        let f = [("action", action), ("draft", &draft), ("text", "Merhaba")];
        let (status, _, _) = a.post("/send", &f).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{action} without CSRF");
    }
    assert_eq!(
        states(&app).await,
        vec!["draft"],
        "nothing started or cancelled"
    );
    // Another company's draft cannot be started from here.
    let mut o = other_company(&app).await;
    let (_, page, _) = o.get("/send").await;
    let ocsrf = Browser::csrf_in(&page);
    let f = [
        ("csrf", ocsrf.as_str()),
        ("action", "send"),
        ("draft", &draft),
    ];
    let (status, _, _) = o.post("/send", &f).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let f = [
        ("csrf", ocsrf.as_str()),
        ("action", "edit"),
        ("draft", &draft),
    ];
    let (status, _, _) = o.post("/send", &f).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        states(&app).await,
        vec!["draft"],
        "and not cancelled either"
    );
}

/// `GET /send/subscribers?q=` as `b`.
async fn find(b: &Browser<'_>, q: &str) -> (StatusCode, String, Value) {
    let r = b
        .http
        .get(format!("{}/send/subscribers", b.app.base))
        .query(&[("q", q)])
        .header(COOKIE, b.cookie_header())
        .send()
        .await
        .unwrap();
    let status = r.status();
    let kind = r
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    (status, kind, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_picker_finds_the_company_s_subscribers_only_and_as_text() {
    let app = spawn_app().await;
    let x = created(
        &app,
        ADMIN_KEY,
        "/subscribers",
        json!({"name": format!("Ali {XSS}"), "phone": "05321110001"}),
    )
    .await;
    for i in 0..25 {
        let body = json!({"name": format!("Ali {i}"), "phone": format!("05331110{i:03}")});
        created(&app, ADMIN_KEY, "/subscribers", body).await;
    }
    let other = app.company("dis").await;
    created(
        &app,
        &other,
        "/subscribers",
        json!({"name": "Ali Başka", "phone": "05329990001"}),
    )
    .await;
    let mut b = admin(&app).await;
    let (status, kind, v) = find(&b, "ali").await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("application/json"), "{kind}");
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 20, "at most 20");
    let (_, _, v) = find(&b, "script").await;
    assert_eq!(v["items"][0]["name"], format!("Ali {XSS}"));
    assert_eq!(v["items"][0]["id"], x);
    let (_, _, v) = find(&b, "Başka").await;
    assert_eq!(v["items"], json!([]), "another company's never shows");
    let (status, _, _) = find(&b, &"a".repeat(201)).await;
    assert!(status.is_client_error(), "{status}");
    let (status, _, _) = find(&b, "a\u{7}b").await;
    assert!(status.is_client_error(), "{status}");
    // Another company's user finds none of these.
    let o = other_company(&app).await;
    let (status, _, v) = find(&o, "ali").await;
    assert_eq!((status, v["items"].clone()), (StatusCode::OK, json!([])));
    // Signed out: no answer.
    let anon = Browser::new(&app);
    let (status, _, _) = find(&anon, "ali").await;
    assert_ne!(status, StatusCode::OK);
    // Without JavaScript: the matches as unchecked boxes of the form, escaped; marked and
    // posted, they are picked and the rest of the form is kept.
    let (_, page, _) = b.get("/send").await;
    let csrf = Browser::csrf_in(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("action", "find"),
        ("find", "script"),
        ("text", "Merhaba"),
    ];
    let (status, page, _) = b.post("/send", &form).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!(
            r#"name="subscriber" value="{x}" data-phones="1">"#
        )),
        "unchecked: {page}"
    );
    assert!(!page.contains(XSS) && escaped(&page), "{page}");
    let xs = x.to_string();
    let form = [
        ("csrf", csrf.as_str()),
        ("action", "count"),
        ("find", "script"),
        ("subscriber", &xs),
        ("text", "Merhaba"),
    ];
    let (_, page, _) = b.post("/send", &form).await;
    assert!(
        page.contains(&format!(
            r#"name="subscriber" value="{x}" data-phones="1" checked>"#
        )),
        "picked: {page}"
    );
    assert!(page.contains("Eşleşen abone yok."), "no longer a match");
    assert!(page.contains("Merhaba</textarea>"));
    let form = [
        ("csrf", csrf.as_str()),
        ("action", "find"),
        ("find", &"a".repeat(300)),
    ];
    let (status, page, _) = b.post("/send", &form).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Arama metni geçersiz"), "{page}");
}

#[tokio::test]
async fn a_field_is_inserted_and_listed_without_javascript() {
    let app = spawn_app().await;
    let mut b = admin(&app).await;
    let (_, page, _) = b.get("/send").await;
    assert!(page.contains("<code>{{ad}}</code> abonenin adı"), "{page}");
    let csrf = Browser::csrf_in(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("action", "field"),
        ("field", "ad"),
        ("text", "Sayın"),
    ];
    let (status, page, _) = b.post("/send", &form).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Sayın {{ad}}</textarea>"), "{page}");
}

#[tokio::test]
async fn the_preview_shows_names_and_hidden_fields_as_text() {
    let app = spawn_app().await;
    credit(&app, 100).await;
    let s = created(
        &app,
        ADMIN_KEY,
        "/subscribers",
        json!({"name": XSS, "phone": "05321110001"}),
    )
    .await;
    let mut b = admin(&app).await;
    let (_, page, _) = b.get("/send").await;
    let csrf = Browser::csrf_in(&page);
    let s = s.to_string();
    let text = format!("Merhaba {{{{ad}}}} \"{XSS}");
    let form = [
        ("csrf", csrf.as_str()),
        ("action", "preview"),
        ("subscriber", &s),
        ("text", &text),
        ("schedule", "2099-01-02T12:00"),
    ];
    let (status, page, _) = b.post("/send", &form).await;
    // A schedule beyond a year is the API's refusal: the form again, nothing created.
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert_eq!(states(&app).await.len(), 0);
    let form = [
        ("csrf", csrf.as_str()),
        ("action", "preview"),
        ("subscriber", &s),
        ("text", &text),
    ];
    let (status, page, _) = b.post("/send", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(!page.contains(XSS), "nothing unescaped: {page}");
    assert!(
        escaped(&page),
        "the sample and the hidden text as text: {page}"
    );
    assert!(!page.contains(r#"value="Merhaba {{ad}} "<"#), "{page}");
}
