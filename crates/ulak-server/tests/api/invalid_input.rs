//! One table of invalid input, run against a server on SQLite and on PostgreSQL: a control
//! character in any text field of any input is a 422 naming the field, never a 500 (PostgreSQL
//! cannot store NUL; SQLite took it). Multi-line fields (message and campaign texts, template
//! bodies, attribute values, counted texts) take tab, line feed and carriage return.

use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, Backend, TestApp, spawn_app_on};

/// C0 (NUL, BEL, ESC, and tab and line feed for one-line fields), DEL and C1 (NEL, CSI).
const ONE_LINE_BAD: [char; 8] = [
    '\u{0}', '\u{7}', '\u{1b}', '\t', '\n', '\u{7f}', '\u{85}', '\u{9b}',
];
/// What multi-line fields still refuse.
const MULTI_LINE_BAD: [char; 6] = ['\u{0}', '\u{7}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9b}'];

/// One text field of one request: `method path` with a valid `body`, the field at `at` inside
/// it, and the field name the 422 gives.
struct Field {
    method: &'static str,
    path: String,
    body: Value,
    at: Vec<Step>,
    named: &'static str,
    multi_line: bool,
}

/// A step into a JSON body: a key or an index.
#[derive(Clone)]
enum Step {
    Key(&'static str),
    Index(usize),
}

fn key(k: &'static str) -> Step {
    Step::Key(k)
}

/// The value at `at`.
fn slot<'a>(body: &'a mut Value, at: &[Step]) -> &'a mut Value {
    at.iter().fold(body, |v, s| match s {
        Step::Key(k) => &mut v[*k],
        Step::Index(i) => &mut v[*i],
    })
}

/// `valid` with `bad` in its middle.
fn spoil(valid: &str, bad: char) -> String {
    let chars: Vec<char> = valid.chars().collect();
    let mid = chars.len() / 2;
    chars[..mid]
        .iter()
        .chain(std::iter::once(&bad))
        .chain(&chars[mid..])
        .collect()
}

/// Ids of the objects the paths name.
struct Ids {
    subscriber: i64,
    group: i64,
    customer: i64,
    template: i64,
    webhook: i64,
    user: i64,
}

async fn created(app: &TestApp, path: &str, body: Value) -> i64 {
    let a = app.call("POST", path, ADMIN_KEY, Some(body)).await;
    assert_eq!(a.status, 201, "{path}: {}", a.body);
    a.body["id"].as_i64().unwrap()
}

async fn setup(app: &TestApp) -> Ids {
    let credit = app
        .call(
            "POST",
            "/credit/entries",
            ADMIN_KEY,
            Some(json!({"kind": "purchase", "amount": 100})),
        )
        .await;
    assert_eq!(credit.status, 201, "{}", credit.body);
    Ids {
        subscriber: created(
            app,
            "/subscribers",
            json!({"name": "Ayşe", "phone": "05321110001"}),
        )
        .await,
        group: created(app, "/groups", json!({"name": "Grup"})).await,
        customer: created(
            app,
            "/customers",
            json!({"code": "C1", "title": "Cari", "phones": ["05321110002"]}),
        )
        .await,
        template: created(
            app,
            "/templates",
            json!({"name": "Şablon", "body": "Merhaba {{ad}}"}),
        )
        .await,
        webhook: created(app, "/webhooks", json!({"url": "https://example.com/hook"})).await,
        user: created(
            app,
            "/users",
            json!({"login": "ali", "password": "correct horse", "role": "viewer"}),
        )
        .await,
    }
}

/// Every text field of every JSON input.
fn table(ids: &Ids) -> Vec<Field> {
    let f = |method, path: String, body: Value, at: Vec<Step>, named, multi_line| Field {
        method,
        path,
        body,
        at,
        named,
        multi_line,
    };
    let subscriber = json!({"name": "Mehmet", "phone": "05321110003", "tckn": "10000000146",
                            "attributes": {"bakiye": "120,50"}});
    let customer = json!({"code": "C2", "title": "Cari İki", "phones": ["05321110004"],
                          "attributes": {"il": "İzmir"}});
    let provider = json!({"name": "Operatör", "kind": "smpp", "host": "smpp.example.net",
                          "port": 2775, "system_id": "firma", "password": "operator-pass",
                          "system_type": "VMA", "bind_mode": "transceiver",
                          "text_policy": "turkish-shift"});
    let user = json!({"login": "veli", "password": "correct horse", "display_name": "Veli",
                      "phone": "05321110005", "email": "veli@example.com", "role": "viewer"});
    let message = json!({"to": "05321110006", "text": "Merhaba", "sender": "ULAK"});
    let templated = json!({"to": "05321110006", "template_id": ids.template,
                           "fields": {"ad": "Ayşe"}});
    let campaign = json!({"name": "Kampanya", "text": "Merhaba {{ad}}", "sender": "ULAK",
                          "audience": {"numbers": ["05321110007"], "tckns": ["10000000146"]}});
    let settings = json!({"tckn_sender": "KIMLIK", "otp_username": "otp1",
                          "otp_password": "otp-pass", "opt_out_keywords": ["RET"]});
    let (sid, gid, cid, tid, wid, uid) = (
        ids.subscriber,
        ids.group,
        ids.customer,
        ids.template,
        ids.webhook,
        ids.user,
    );
    let one = false;
    let many = true;
    vec![
        f(
            "POST",
            "/subscribers".into(),
            subscriber.clone(),
            vec![key("name")],
            "name",
            one,
        ),
        f(
            "POST",
            "/subscribers".into(),
            subscriber.clone(),
            vec![key("phone")],
            "phone",
            one,
        ),
        f(
            "POST",
            "/subscribers".into(),
            subscriber.clone(),
            vec![key("tckn")],
            "tckn",
            one,
        ),
        f(
            "POST",
            "/subscribers".into(),
            subscriber.clone(),
            vec![key("attributes"), key("bakiye")],
            "attributes.bakiye",
            many,
        ),
        f(
            "PATCH",
            format!("/subscribers/{sid}"),
            json!({"name": "Ayşe"}),
            vec![key("name")],
            "name",
            one,
        ),
        f(
            "PATCH",
            format!("/subscribers/{sid}"),
            json!({"phone": "05321110001"}),
            vec![key("phone")],
            "phone",
            one,
        ),
        f(
            "PATCH",
            format!("/subscribers/{sid}"),
            json!({"tckn": "10000000146"}),
            vec![key("tckn")],
            "tckn",
            one,
        ),
        f(
            "POST",
            "/groups".into(),
            json!({"name": "Yeni", "description": "Açıklama"}),
            vec![key("name")],
            "name",
            one,
        ),
        f(
            "POST",
            "/groups".into(),
            json!({"name": "Yeni", "description": "Açıklama"}),
            vec![key("description")],
            "description",
            one,
        ),
        f(
            "PUT",
            format!("/groups/{gid}"),
            json!({"name": "Grup", "description": "Açıklama"}),
            vec![key("description")],
            "description",
            one,
        ),
        f(
            "POST",
            "/customers".into(),
            customer.clone(),
            vec![key("code")],
            "code",
            one,
        ),
        f(
            "POST",
            "/customers".into(),
            customer.clone(),
            vec![key("title")],
            "title",
            one,
        ),
        f(
            "POST",
            "/customers".into(),
            customer.clone(),
            vec![key("phones"), Step::Index(0)],
            "phones[0]",
            one,
        ),
        f(
            "POST",
            "/customers".into(),
            customer,
            vec![key("attributes"), key("il")],
            "attributes.il",
            many,
        ),
        f(
            "PATCH",
            format!("/customers/{cid}"),
            json!({"title": "Cari"}),
            vec![key("title")],
            "title",
            one,
        ),
        f(
            "POST",
            "/templates".into(),
            json!({"name": "Yeni", "body": "Merhaba"}),
            vec![key("name")],
            "name",
            one,
        ),
        f(
            "POST",
            "/templates".into(),
            json!({"name": "Yeni", "body": "Merhaba"}),
            vec![key("body")],
            "body",
            many,
        ),
        f(
            "PUT",
            format!("/templates/{tid}"),
            json!({"name": "Şablon", "body": "Merhaba"}),
            vec![key("body")],
            "body",
            many,
        ),
        f(
            "POST",
            format!("/templates/{tid}/preview"),
            json!({"fields": {"ad": "Ayşe"}}),
            vec![key("fields"), key("ad")],
            "fields.ad",
            many,
        ),
        f(
            "POST",
            "/sender-headers".into(),
            json!({"name": "FIRMA"}),
            vec![key("name")],
            "name",
            one,
        ),
        f(
            "POST",
            "/messages".into(),
            message.clone(),
            vec![key("to")],
            "to",
            one,
        ),
        f(
            "POST",
            "/messages".into(),
            message.clone(),
            vec![key("text")],
            "text",
            many,
        ),
        f(
            "POST",
            "/messages".into(),
            message,
            vec![key("sender")],
            "sender",
            one,
        ),
        f(
            "POST",
            "/messages".into(),
            templated,
            vec![key("fields"), key("ad")],
            "fields.ad",
            many,
        ),
        f(
            "POST",
            "/campaigns".into(),
            campaign.clone(),
            vec![key("name")],
            "name",
            one,
        ),
        f(
            "POST",
            "/campaigns".into(),
            campaign.clone(),
            vec![key("text")],
            "text",
            many,
        ),
        f(
            "POST",
            "/campaigns".into(),
            campaign.clone(),
            vec![key("sender")],
            "sender",
            one,
        ),
        f(
            "POST",
            "/campaigns".into(),
            campaign.clone(),
            vec![key("audience"), key("numbers"), Step::Index(0)],
            "audience.numbers[0]",
            one,
        ),
        f(
            "POST",
            "/campaigns".into(),
            campaign,
            vec![key("audience"), key("tckns"), Step::Index(0)],
            "audience.tckns[0]",
            one,
        ),
        f(
            "POST",
            "/count".into(),
            json!({"text": "Merhaba"}),
            vec![key("text")],
            "text",
            many,
        ),
        f(
            "POST",
            "/credit/entries".into(),
            json!({"kind": "purchase", "amount": 1, "note": "Fatura 7"}),
            vec![key("note")],
            "note",
            one,
        ),
        f(
            "POST",
            "/opt-outs".into(),
            json!({"phone": "05321110008", "reason": "RET"}),
            vec![key("phone")],
            "phone",
            one,
        ),
        f(
            "POST",
            "/opt-outs".into(),
            json!({"phone": "05321110008", "reason": "RET"}),
            vec![key("reason")],
            "reason",
            one,
        ),
        f(
            "PATCH",
            "/sms-settings".into(),
            settings.clone(),
            vec![key("tckn_sender")],
            "tckn_sender",
            one,
        ),
        f(
            "PATCH",
            "/sms-settings".into(),
            settings.clone(),
            vec![key("otp_username")],
            "otp_username",
            one,
        ),
        f(
            "PATCH",
            "/sms-settings".into(),
            settings.clone(),
            vec![key("otp_password")],
            "otp_password",
            one,
        ),
        f(
            "PATCH",
            "/sms-settings".into(),
            settings,
            vec![key("opt_out_keywords"), Step::Index(0)],
            "opt_out_keywords[0]",
            one,
        ),
        f(
            "POST",
            "/provider-accounts".into(),
            provider.clone(),
            vec![key("name")],
            "name",
            one,
        ),
        f(
            "POST",
            "/provider-accounts".into(),
            provider.clone(),
            vec![key("host")],
            "host",
            one,
        ),
        f(
            "POST",
            "/provider-accounts".into(),
            provider.clone(),
            vec![key("system_id")],
            "system_id",
            one,
        ),
        f(
            "POST",
            "/provider-accounts".into(),
            provider.clone(),
            vec![key("password")],
            "password",
            one,
        ),
        f(
            "POST",
            "/provider-accounts".into(),
            provider.clone(),
            vec![key("system_type")],
            "system_type",
            one,
        ),
        f(
            "POST",
            "/provider-accounts".into(),
            provider.clone(),
            vec![key("bind_mode")],
            "bind_mode",
            one,
        ),
        f(
            "POST",
            "/provider-accounts".into(),
            provider,
            vec![key("text_policy")],
            "text_policy",
            one,
        ),
        f(
            "POST",
            "/webhooks".into(),
            json!({"url": "https://example.com/a", "description": "Not"}),
            vec![key("url")],
            "url",
            one,
        ),
        f(
            "POST",
            "/webhooks".into(),
            json!({"url": "https://example.com/a", "description": "Not"}),
            vec![key("description")],
            "description",
            one,
        ),
        f(
            "PATCH",
            format!("/webhooks/{wid}"),
            json!({"description": "Not"}),
            vec![key("description")],
            "description",
            one,
        ),
        f(
            "POST",
            "/users".into(),
            user.clone(),
            vec![key("login")],
            "login",
            one,
        ),
        f(
            "POST",
            "/users".into(),
            user.clone(),
            vec![key("password")],
            "password",
            one,
        ),
        f(
            "POST",
            "/users".into(),
            user.clone(),
            vec![key("display_name")],
            "display_name",
            one,
        ),
        f(
            "POST",
            "/users".into(),
            user.clone(),
            vec![key("phone")],
            "phone",
            one,
        ),
        f(
            "POST",
            "/users".into(),
            user,
            vec![key("email")],
            "email",
            one,
        ),
        f(
            "PATCH",
            format!("/users/{uid}"),
            json!({"display_name": "Ali"}),
            vec![key("display_name")],
            "display_name",
            one,
        ),
        f(
            "POST",
            "/api-keys".into(),
            json!({"name": "anahtar", "role": "viewer"}),
            vec![key("name")],
            "name",
            one,
        ),
        f(
            "POST",
            "/companies".into(),
            json!({"name": "firma", "display_name": "Firma", "country_type": "TR"}),
            vec![key("name")],
            "name",
            one,
        ),
        f(
            "POST",
            "/companies".into(),
            json!({"name": "firma", "display_name": "Firma", "country_type": "TR"}),
            vec![key("display_name")],
            "display_name",
            one,
        ),
    ]
}

async fn run(backend: Backend) {
    let Some(app) = spawn_app_on(backend).await else {
        return;
    };
    let ids = setup(&app).await;
    let mut failures = Vec::new();
    for field in table(&ids) {
        let valid = slot(&mut field.body.clone(), &field.at)
            .as_str()
            .unwrap()
            .to_owned();
        let bad = if field.multi_line {
            &MULTI_LINE_BAD[..]
        } else {
            &ONE_LINE_BAD[..]
        };
        for &c in bad {
            let mut body = field.body.clone();
            *slot(&mut body, &field.at) = Value::String(spoil(&valid, c));
            let a = app
                .call(field.method, &field.path, ADMIN_KEY, Some(body))
                .await;
            let named = a.body["errors"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["field"] == field.named));
            if a.status != 422 || !named {
                failures.push(format!(
                    "{} {} {} with {c:?}: {} {}",
                    field.method, field.path, field.named, a.status, a.body
                ));
            }
        }
    }
    // The search parameter of lists too.
    for c in ONE_LINE_BAD {
        let q = format!("/subscribers?search=Ay{}se", percent(c));
        let a = app.call("GET", &q, ADMIN_KEY, None).await;
        if a.status != 422 || a.body["errors"][0]["field"] != "search" {
            failures.push(format!("GET {q}: {} {}", a.status, a.body));
        }
    }
    assert!(failures.is_empty(), "{backend:?}:\n{}", failures.join("\n"));
}

/// `c` percent-encoded as UTF-8.
fn percent(c: char) -> String {
    c.to_string().bytes().map(|b| format!("%{b:02X}")).collect()
}

/// Multi-line fields take tab, line feed and carriage return.
async fn multi_line_fields_take_line_breaks(backend: Backend) {
    let Some(app) = spawn_app_on(backend).await else {
        return;
    };
    setup(&app).await;
    let text = "Merhaba\r\nAyşe,\tnasılsın?";
    for (method, path, body, want) in [
        (
            "POST",
            "/messages",
            json!({"to": "05321110009", "text": text}),
            202,
        ),
        (
            "POST",
            "/templates",
            json!({"name": "Satırlı", "body": text}),
            201,
        ),
        ("POST", "/count", json!({"text": text}), 200),
        (
            "POST",
            "/subscribers",
            json!({"name": "Zeynep", "phone": "05321110010", "attributes": {"adres": text}}),
            201,
        ),
        (
            "POST",
            "/campaigns",
            json!({"name": "Satırlı", "text": text, "audience": {"numbers": ["05321110011"]}}),
            201,
        ),
    ] {
        let a = app.call(method, path, ADMIN_KEY, Some(body)).await;
        assert_eq!(a.status, want, "{backend:?} {method} {path}: {}", a.body);
    }
}

#[tokio::test]
async fn control_characters_are_a_422_on_sqlite() {
    run(Backend::Sqlite).await;
}

#[tokio::test]
async fn control_characters_are_a_422_on_postgres() {
    run(Backend::Postgres).await;
}

#[tokio::test]
async fn multi_line_fields_take_line_breaks_on_sqlite() {
    multi_line_fields_take_line_breaks(Backend::Sqlite).await;
}

#[tokio::test]
async fn multi_line_fields_take_line_breaks_on_postgres() {
    multi_line_fields_take_line_breaks(Backend::Postgres).await;
}
