//! The front door under hostile clients: connections that send nothing or their headers a
//! byte at a time, idle keep-alive connections and slow bodies are closed after their
//! time-outs, never lock out other clients at the connection limit and never hold up a stop;
//! rate limits answer 429 with `Retry-After`.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{ADMIN_KEY, TestApp, spawn_app, spawn_app_with};

/// Opens `n` connections; every other one starts a request head and stops.
async fn hostile(app: &TestApp, n: usize) -> Vec<TcpStream> {
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        if i % 2 == 1 {
            s.write_all(b"GET /api/v1/credit HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
        }
        out.push(s);
    }
    out
}

/// `/healthz` and an authenticated call, each on a new connection, answer within 5 s.
async fn still_serves(app: &TestApp) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let h = http.get(format!("{}/healthz", app.base)).send().await;
    assert_eq!(h.map(|r| r.status().as_u16()).ok(), Some(200), "healthz");
    let c = http
        .get(format!("{}/api/v1/credit", app.base))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await;
    assert_eq!(c.map(|r| r.status().as_u16()).ok(), Some(200), "credit");
}

/// Whether the server closes `s` within `within` (reads until end of stream).
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn a_full_connection_table_of_idle_and_slow_clients_does_not_lock_others_out() {
    let app = spawn_app_with(|s| s.max_connections = 50).await;
    let _held = hostile(&app, 300).await;
    still_serves(&app).await;
    // And again, with the hostile ones still open and coming.
    let _more = hostile(&app, 100).await;
    still_serves(&app).await;
}

#[tokio::test]
async fn idle_keep_alive_and_slow_heads_are_closed_after_their_time_outs() {
    let app = spawn_app_with(|s| {
        s.idle_timeout_secs = 1;
        s.header_read_timeout_secs = 1;
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    // Keep-alive: one answered request, then nothing.
    let mut keep = TcpStream::connect(&addr).await.unwrap();
    keep.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = keep.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Never a byte.
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    // A head one byte every 300 ms: it never ends in time.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    let dribble = tokio::spawn(async move {
        for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if slow.write_all(&[*b]).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        false
    });
    assert!(
        closed_within(&mut keep, Duration::from_secs(10)).await,
        "keep-alive"
    );
    assert!(
        closed_within(&mut silent, Duration::from_secs(10)).await,
        "silent"
    );
    let cut = tokio::time::timeout(Duration::from_secs(15), dribble)
        .await
        .unwrap()
        .unwrap();
    assert!(cut, "a head sent a byte at a time was never cut off");
    still_serves(&app).await;
}

#[tokio::test]
async fn a_request_whose_body_never_ends_gets_408() {
    let app = spawn_app_with(|s| s.request_timeout_secs = 1).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/groups HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\""
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer and not closed");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("application/problem+json"), "{text}");
}

#[tokio::test]
async fn a_stop_is_not_held_up_by_idle_or_slow_connections() {
    let app = spawn_app_with(|_| {}).await;
    let mut held = hostile(&app, 200).await;
    // Some keep-alive connections after an answered request.
    let addr = app.base.trim_start_matches("http://").to_owned();
    for _ in 0..20 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf).await.unwrap();
        held.push(s);
    }
    let started = Instant::now();
    app.stop_within(Duration::from_secs(10)).await;
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let app = spawn_app_with(|s| {
        s.rate_limit_per_key = 1;
    })
    .await;
    // A burst of twice the rate goes through, then 429 with when to come back.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = app
            .http
            .get(format!("{}/api/v1/credit", app.base))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            let retry: u64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(retry, 1);
            assert_eq!(
                r.headers()["content-type"].to_str().unwrap(),
                "application/problem+json"
            );
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["status"], 429, "{body}");
        }
    }
    assert_eq!(statuses, [200, 200, 429, 429]);
    // Every route counts against the key.
    let other = app
        .call(
            "POST",
            "/companies",
            ADMIN_KEY,
            Some(json!({"name": "x", "display_name": "x", "country_type": "TR"})),
        )
        .await;
    assert_eq!(other.status, 429, "the system key is still over its limit");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        app.call("GET", "/credit", ADMIN_KEY, None).await.status,
        200
    );
}

#[tokio::test]
async fn per_address_limits_spare_health_checks() {
    let app = spawn_app_with(|s| s.rate_limit_per_ip = 1).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(app.call("GET", "/credit", ADMIN_KEY, None).await.status);
    }
    assert_eq!(statuses, [200, 200, 429, 429]);
    // Even unauthenticated requests count, before any key is looked at.
    assert_eq!(
        app.call("GET", "/credit", "ulak_nobody", None).await.status,
        429
    );
    for _ in 0..5 {
        let h = app
            .http
            .get(format!("{}/healthz", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(h.status(), 200);
    }
}

#[tokio::test]
async fn guessing_keys_from_one_address_is_throttled_before_the_key_is_checked() {
    let app = spawn_app_with(|s| s.auth_failures_per_minute = 5).await;
    // A client's key that verified before the guessing, and one never used yet.
    let r = app
        .call(
            "POST",
            "/api-keys",
            ADMIN_KEY,
            Some(serde_json::json!({"name": "fresh", "role": "admin"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let fresh = r.body["key"].as_str().unwrap().to_owned();
    for i in 0..5 {
        let r = app
            .call("GET", "/credit", &format!("ulak_guess-{i}"), None)
            .await;
        assert_eq!(r.status, 401);
    }
    let r = app.call("GET", "/credit", "ulak_guess-6", None).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(
        r.body["type"],
        "https://ulak.dev/problems/too-many-requests"
    );
    // A key that verified before still gets through (a guesser sharing the address does not
    // lock its client out); a right key never seen from anywhere waits like a guess: the
    // address is refused before it is verified.
    assert_eq!(
        app.call("GET", "/credit", ADMIN_KEY, None).await.status,
        200
    );
    assert_eq!(app.call("GET", "/credit", &fresh, None).await.status, 429);
    assert_eq!(
        app.call("GET", "/credit", "ulak_guess-7", None)
            .await
            .status,
        429
    );
}

/// The number plan's metadata is built while the server starts: the first send does not pay
/// for it, nor the requests that queue behind that send (~100 ms in a release build).
#[tokio::test]
async fn the_number_plan_is_built_before_the_first_request() {
    let _app = spawn_app().await;
    assert!(ulak_core::phone::preloaded());
}
