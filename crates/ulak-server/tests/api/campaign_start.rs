//! A campaign starts at once, through the API on SQLite and PostgreSQL: the start answers with
//! the queueing under way and the campaign then delivers every message; one the balance cannot
//! cover ends paused with nothing sent; a cancel during the queueing reports every recipient
//! not sent; a stop during the queueing is taken back by the restarted server.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, Backend, TestApp, spawn_app_on};

/// More entries than a start prices in its call (5,000).
const N: usize = 6_000;

fn numbers(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("0535{i:07}")).collect()
}

async fn buy(app: &TestApp, amount: i64) {
    let r = app
        .call(
            "POST",
            "/credit/entries",
            ADMIN_KEY,
            Some(json!({"kind": "purchase", "amount": amount})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

async fn balance(app: &TestApp) -> i64 {
    app.call("GET", "/credit", ADMIN_KEY, None).await.body["balance"]
        .as_i64()
        .unwrap()
}

async fn get(app: &TestApp, id: i64) -> Value {
    let c = app
        .call("GET", &format!("/campaigns/{id}"), ADMIN_KEY, None)
        .await;
    assert_eq!(c.status, 200, "{}", c.body);
    c.body
}

/// Polls the campaign until `done` says so (at most two minutes).
async fn wait_until(app: &TestApp, id: i64, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let c = get(app, id).await;
        if done(&c) {
            return c;
        }
        assert!(Instant::now() < deadline, "not {what}: {c}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Messages written for the campaign (every count).
fn written(c: &Value) -> i64 {
    c["counts"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_i64)
        .sum()
}

/// Creates a draft to `n` pasted numbers; returns its id.
async fn draft(app: &TestApp, n: usize) -> i64 {
    let c = app
        .call(
            "POST",
            "/campaigns",
            ADMIN_KEY,
            Some(json!({"name": "Büyük", "audience": {"numbers": numbers(n)},
                        "text": "Kampanya başladı"})),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.body);
    c.body["id"].as_i64().unwrap()
}

async fn start_answers_while_queueing_and_finishes(backend: Backend) {
    let Some(app) = spawn_app_on(backend).await else {
        return;
    };
    buy(&app, 10_000).await;
    let id = draft(&app, N).await;
    let s = app
        .call("POST", &format!("/campaigns/{id}/start"), ADMIN_KEY, None)
        .await;
    assert_eq!(s.status, 200, "{}", s.body);
    assert_eq!(s.body["state"], "running", "{}", s.body);
    // Answered with the queueing under way: recorded, nothing written by the call itself.
    assert_eq!(
        s.body["queueing"],
        json!({"state": "active", "written": 0, "total": 6000, "not_queued": 0}),
        "{}",
        s.body
    );
    // The most it can cost is reserved; what was not needed comes back at the end.
    assert_eq!(s.body["cost"], 6000);
    let done = wait_until(&app, id, "finished", |c| c["state"] == "finished").await;
    assert_eq!(done["counts"], json!({"delivered": 6000}), "{done}");
    assert_eq!(
        done["queueing"],
        json!({"state": "done", "written": 6000, "total": 6000, "not_queued": 0})
    );
    assert_eq!(
        (done["recipients"].as_i64(), done["cost"].as_i64()),
        (Some(6000), Some(6000))
    );
    assert_eq!(balance(&app).await, 4000);
    // Listed with its queueing too.
    let list = app.call("GET", "/campaigns", ADMIN_KEY, None).await;
    assert_eq!(
        list.body["items"][0]["queueing"]["state"], "done",
        "{}",
        list.body
    );
}

#[tokio::test]
async fn start_answers_while_queueing_and_finishes_sqlite() {
    start_answers_while_queueing_and_finishes(Backend::Sqlite).await;
}

#[tokio::test]
async fn start_answers_while_queueing_and_finishes_postgres() {
    start_answers_while_queueing_and_finishes(Backend::Postgres).await;
}

async fn a_start_the_balance_cannot_cover_sends_nothing(backend: Backend) {
    let Some(app) = spawn_app_on(backend).await else {
        return;
    };
    buy(&app, 100).await;
    let id = draft(&app, N).await;
    let s = app
        .call("POST", &format!("/campaigns/{id}/start"), ADMIN_KEY, None)
        .await;
    assert_eq!(s.status, 200, "{}", s.body);
    assert_eq!(
        (&s.body["state"], &s.body["queueing"]["state"]),
        (&json!("running"), &json!("pricing")),
        "{}",
        s.body
    );
    let paused = wait_until(&app, id, "paused", |c| c["state"] == "paused").await;
    let reason = paused["state_reason"].as_str().unwrap();
    assert!(reason.contains("insufficient credit"), "{reason}");
    // Nothing queued, sent or reserved; as a start refused at once leaves it.
    assert_eq!(paused["counts"], json!({}), "{paused}");
    assert!(paused["queueing"].is_null(), "{paused}");
    assert!(paused["started_at"].is_null(), "{paused}");
    assert_eq!(balance(&app).await, 100);
    // A resume after a top-up starts it.
    buy(&app, 6000).await;
    let r = app
        .call("POST", &format!("/campaigns/{id}/resume"), ADMIN_KEY, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["queueing"]["state"], "active", "{}", r.body);
    wait_until(&app, id, "finished", |c| c["state"] == "finished").await;
    assert_eq!(balance(&app).await, 100);
}

#[tokio::test]
async fn a_start_the_balance_cannot_cover_sends_nothing_sqlite() {
    a_start_the_balance_cannot_cover_sends_nothing(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_start_the_balance_cannot_cover_sends_nothing_postgres() {
    a_start_the_balance_cannot_cover_sends_nothing(Backend::Postgres).await;
}

async fn pause_and_cancel_during_queueing(backend: Backend) {
    let Some(app) = spawn_app_on(backend).await else {
        return;
    };
    buy(&app, 50_000).await;
    // Paused while its recipients are written: they are written, none handed out.
    let id = draft(&app, N).await;
    let s = app
        .call("POST", &format!("/campaigns/{id}/start"), ADMIN_KEY, None)
        .await;
    assert_eq!(s.status, 200, "{}", s.body);
    let p = app
        .call("POST", &format!("/campaigns/{id}/pause"), ADMIN_KEY, None)
        .await;
    assert_eq!(p.body["state"], "paused", "{}", p.body);
    let a = wait_until(&app, id, "queued", |c| c["queueing"]["state"] == "done").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let b = get(&app, id).await;
    assert_eq!(b["state"], "paused");
    assert_eq!(written(&b), 6000, "{b}");
    assert_eq!(a["counts"]["queued"], b["counts"]["queued"], "{a} / {b}");
    let r = app
        .call("POST", &format!("/campaigns/{id}/resume"), ADMIN_KEY, None)
        .await;
    assert_eq!(r.body["state"], "running", "{}", r.body);
    let done = wait_until(&app, id, "finished", |c| c["state"] == "finished").await;
    assert_eq!(done["counts"], json!({"delivered": 6000}), "{done}");

    // Cancelled while its recipients are written: the writing stops, and the answer reports
    // every recipient not sent, written (cancelled) or not.
    let before = balance(&app).await;
    let id = draft(&app, 20_000).await;
    app.call("POST", &format!("/campaigns/{id}/start"), ADMIN_KEY, None)
        .await;
    let x = app
        .call("POST", &format!("/campaigns/{id}/cancel"), ADMIN_KEY, None)
        .await;
    assert_eq!(x.body["state"], "cancelled", "{}", x.body);
    let counts = &x.body["counts"];
    let q = &x.body["queueing"];
    let n = |v: &Value| v.as_i64().unwrap_or(0);
    let sent = n(&counts["submitted"]) + n(&counts["delivered"]) + n(&counts["sending"]);
    assert_eq!(q["state"], "done", "{}", x.body);
    assert_eq!(
        n(&counts["cancelled"]) + sent + n(&q["not_queued"]),
        20_000,
        "{}",
        x.body
    );
    assert_eq!(n(&q["not_queued"]), 20_000 - n(&q["written"]), "{}", x.body);
    // Nothing more is written after the cancel.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let later = get(&app, id).await;
    assert_eq!(written(&later), written(&x.body), "{later}");
    assert_eq!(later["queueing"], x.body["queueing"], "{later}");
    let final_sent: i64 = [
        "submitted",
        "delivered",
        "sending",
        "undeliverable",
        "expired",
    ]
    .iter()
    .map(|s| n(&later["counts"][*s]))
    .sum();
    assert_eq!(balance(&app).await, before - final_sent, "{later}");
}

#[tokio::test]
async fn pause_and_cancel_during_queueing_sqlite() {
    pause_and_cancel_during_queueing(Backend::Sqlite).await;
}

#[tokio::test]
async fn pause_and_cancel_during_queueing_postgres() {
    pause_and_cancel_during_queueing(Backend::Postgres).await;
}

/// A server stopped while a start's recipients are written takes the queueing back when it
/// starts again, and every recipient gets one message.
#[tokio::test]
async fn a_queueing_cut_off_by_a_stop_is_taken_back_after_the_restart() {
    let Some(app) = spawn_app_on(Backend::Sqlite).await else {
        return;
    };
    buy(&app, 50_000).await;
    let id = draft(&app, 20_000).await;
    let s = app
        .call("POST", &format!("/campaigns/{id}/start"), ADMIN_KEY, None)
        .await;
    assert_eq!(s.body["queueing"]["state"], "active", "{}", s.body);
    let app = app.restart().await;
    let done = wait_until(&app, id, "finished", |c| c["state"] == "finished").await;
    assert_eq!(done["counts"], json!({"delivered": 20_000}), "{done}");
    assert_eq!(done["queueing"]["written"], 20_000, "{done}");
    assert_eq!(balance(&app).await, 30_000);
}
