//! The webhook delivery loop against real HTTP receivers on loopback, with a retry schedule
//! in milliseconds: every try of a failing endpoint carries the same `webhook-id` and a valid
//! signature, follows the schedule, and the delivery fails once it is used up; refused
//! connections and slow answers are named in the tries, by category. Loopback is reached only
//! where the outbound policy allows it, whether named by address or by a host name.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::json;
use ulak_core::model::*;
use ulak_core::net::OutboundPolicy;
use ulak_engine::webhooks::{WebhookSettings, verify};
use ulak_engine::{Engine, EngineConfig};
use ulak_store::{DEFAULT_COMPANY, Store};

/// What a receiver got: `(webhook-id, webhook-timestamp, webhook-signature, body, when)`.
type Log = Arc<Mutex<Vec<(String, String, String, String, Instant)>>>;

#[derive(Clone)]
struct Rx {
    log: Log,
    status: StatusCode,
    delay: Duration,
}

async fn hook(State(rx): State<Rx>, headers: HeaderMap, body: String) -> StatusCode {
    let h = |n: &str| headers[n].to_str().unwrap().to_owned();
    rx.log.lock().unwrap().push((
        h("webhook-id"),
        h("webhook-timestamp"),
        h("webhook-signature"),
        body,
        Instant::now(),
    ));
    tokio::time::sleep(rx.delay).await;
    rx.status
}

/// A receiver answering `status` after `delay`; returns its URL and log.
async fn receiver(status: StatusCode, delay: Duration) -> (String, Log) {
    let log = Log::default();
    let app = axum::Router::new()
        .route("/h", axum::routing::post(hook))
        .with_state(Rx {
            log: log.clone(),
            status,
            delay,
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/h"), log)
}

async fn endpoint(s: &Store, c: CompanyId, url: &str) -> (WebhookEndpointId, String) {
    let (e, secret) = s
        .create_webhook_endpoint(
            c,
            // Stored as entered whatever the address: the engine's policy is under test.
            NewWebhookEndpoint::new(url, None, &[], true, &OutboundPolicy::any()).unwrap(),
        )
        .await
        .unwrap();
    (e.id, secret.expose().to_owned())
}

/// The policy the system administrator sets for tests: loopback allowed.
fn loopback() -> OutboundPolicy {
    OutboundPolicy::allowing(vec!["127.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()])
}

/// A store on a new SQLite file in `dir` and its default company.
async fn store(dir: &std::path::Path) -> (Store, CompanyId) {
    let s = Store::connect(
        &format!("sqlite://{}?mode=rwc", dir.join("t.db").display()),
        [7; 32],
    )
    .await
    .unwrap();
    let c = s
        .get_company_by_name(DEFAULT_COMPANY)
        .await
        .unwrap()
        .unwrap()
        .id;
    (s, c)
}

/// Waits until every delivery of the endpoint is final; returns them.
async fn settled(s: &Store, c: CompanyId, e: WebhookEndpointId) -> Vec<WebhookAttempt> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = s
            .list_webhook_attempts(c, e, &ListQuery::default())
            .await
            .unwrap();
        if !page.items.is_empty()
            && page
                .items
                .iter()
                .all(|a| a.state != WebhookDeliveryState::Pending)
        {
            return page.items;
        }
        assert!(Instant::now() < deadline, "still pending: {page:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_endpoints_get_every_try_of_the_schedule_then_the_delivery_fails() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::connect(
        &format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display()),
        [7; 32],
    )
    .await
    .unwrap();
    let c = s
        .get_company_by_name(DEFAULT_COMPANY)
        .await
        .unwrap()
        .unwrap()
        .id;
    let (busy_url, busy_log) = receiver(StatusCode::SERVICE_UNAVAILABLE, Duration::ZERO).await;
    let (busy, secret) = endpoint(&s, c, &busy_url).await;
    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let (refused, _) = endpoint(&s, c, &format!("http://{closed}/h")).await;
    let (slow_url, _) = receiver(StatusCode::OK, Duration::from_secs(5)).await;
    let (slow, _) = endpoint(&s, c, &slow_url).await;

    let schedule = vec![Duration::from_millis(100), Duration::from_millis(200)];
    let engine = Engine::start(
        s.clone(),
        EngineConfig {
            webhooks: WebhookSettings {
                schedule: schedule.clone(),
                jitter: 0.0,
                timeout: Duration::from_millis(300),
                idle: Duration::from_millis(10),
                ..WebhookSettings::default()
            },
            outbound: loopback(),
            ..EngineConfig::default()
        },
    );
    let msg_id = s
        .emit_event_now(
            c,
            WebhookEventType::MessageFailed,
            json!({"id": 1, "recipient": "+905321234567"}),
        )
        .await
        .unwrap()
        .unwrap();

    let tries = settled(&s, c, busy).await;
    assert_eq!(tries.len(), 1);
    let d = &tries[0];
    assert_eq!(d.msg_id, msg_id);
    assert_eq!(d.state, WebhookDeliveryState::Failed);
    assert_eq!(d.attempts, 3, "the first try and one per delay");
    assert_eq!(
        d.history.iter().map(|h| h.status).collect::<Vec<_>>(),
        vec![Some(503); 3]
    );
    assert_eq!(d.last_error.as_deref(), Some("HTTP 503"));
    let log = busy_log.lock().unwrap().clone();
    assert_eq!(log.len(), 3);
    for (i, (id, ts, sig, body, _)) in log.iter().enumerate() {
        assert_eq!(id, &msg_id, "the same webhook-id on every try");
        assert_eq!(body, &log[0].3, "the same body on every try");
        assert!(
            verify(&secret, id, ts.parse().unwrap(), body, sig),
            "try {i}"
        );
    }
    for (i, delay) in schedule.iter().enumerate() {
        let gap = log[i + 1].4 - log[i].4;
        assert!(
            gap >= *delay,
            "try {} came {gap:?} after the one before",
            i + 2
        );
    }

    let refused = settled(&s, c, refused).await;
    assert_eq!(refused[0].state, WebhookDeliveryState::Failed);
    assert_eq!(refused[0].attempts, 3);
    assert_eq!(refused[0].last_status, None);
    assert_eq!(
        refused[0].last_error.as_deref(),
        Some("connection refused"),
        "a category, not the client's text with the address"
    );

    let slow = settled(&s, c, slow).await;
    assert_eq!(slow[0].state, WebhookDeliveryState::Failed);
    assert_eq!(slow[0].last_error.as_deref(), Some("timed out"));
    assert!(slow[0].history.iter().all(|h| h.duration_ms >= 300));

    engine.shutdown().await;
}

/// Without the allowance, a receiver on loopback is never connected to: not by its address
/// in any notation, nor by a name that resolves to it (checked when connecting, as a name
/// may resolve elsewhere than it did when entered). Each try records only "target not
/// allowed"; with the allowance the same receiver gets the event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_is_reached_only_when_the_policy_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let (s, c) = store(dir.path()).await;
    let (url, log) = receiver(StatusCode::OK, Duration::ZERO).await;
    let port = url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/h");
    let mut endpoints = Vec::new();
    for u in [
        format!("http://localhost:{port}/h"),
        url.clone(),
        format!("http://2130706433:{port}/h"),
        format!("http://[::ffff:127.0.0.1]:{port}/h"),
    ] {
        endpoints.push(endpoint(&s, c, &u).await.0);
    }
    let webhooks = WebhookSettings {
        schedule: vec![Duration::from_millis(50)],
        jitter: 0.0,
        timeout: Duration::from_secs(2),
        idle: Duration::from_millis(10),
        ..WebhookSettings::default()
    };
    let engine = Engine::start(
        s.clone(),
        EngineConfig {
            webhooks: webhooks.clone(),
            ..EngineConfig::default()
        },
    );
    s.emit_event_now(c, WebhookEventType::MessageFailed, json!({"id": 1}))
        .await
        .unwrap();
    for e in &endpoints {
        let d = settled(&s, c, *e).await;
        assert_eq!(d[0].state, WebhookDeliveryState::Failed);
        assert_eq!(d[0].attempts, 2);
        for t in &d[0].history {
            assert_eq!(t.error.as_deref(), Some("target not allowed"));
            assert_eq!(t.status, None);
        }
    }
    engine.shutdown().await;
    assert!(log.lock().unwrap().is_empty(), "the receiver heard nothing");

    let engine = Engine::start(
        s.clone(),
        EngineConfig {
            webhooks,
            outbound: loopback(),
            ..EngineConfig::default()
        },
    );
    s.emit_event_now(c, WebhookEventType::MessageFailed, json!({"id": 2}))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while log.lock().unwrap().len() < endpoints.len() {
        assert!(
            Instant::now() < deadline,
            "not every endpoint got the event"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    engine.shutdown().await;
}
