//! One table of invalid input, run against a server on SQLite and on PostgreSQL: a control
//! character in any text field of any input is a 422 naming the field, never a 500 (PostgreSQL
//! cannot store NUL; SQLite took it). Multi-line fields (message and campaign texts, template
//! bodies, attribute values, counted texts) take tab, line feed and carriage return.

use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, Backend, TestApp, spawn_app_on};

mod table;

use table::{Ids, Step, table};

/// C0 (NUL, BEL, ESC, and tab and line feed for one-line fields), DEL and C1 (NEL, CSI).
const ONE_LINE_BAD: [char; 8] = [
    '\u{0}', '\u{7}', '\u{1b}', '\t', '\n', '\u{7f}', '\u{85}', '\u{9b}',
];
/// What multi-line fields still refuse.
const MULTI_LINE_BAD: [char; 6] = ['\u{0}', '\u{7}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9b}'];

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
