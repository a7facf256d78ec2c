//! A SIGTERM ends `ulak serve` within 10 s whatever it is doing: sending to an SMSC that went
//! silent after the bind, retrying SMSCs that refuse or swallow connections, delivering
//! webhooks to an endpoint that never answers, serving a request that runs for a long time, or
//! queueing a large campaign. What it was doing is left as a crash would leave it, which the crash test covers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;

use common::{Proc, free_port, ready};

const KEY: &str = "ulak_graceful-stop-key-0123456789abcdef012";

/// The promise: from SIGTERM to exit.
const LIMIT: Duration = Duration::from_secs(10);

struct Server {
    proc: Proc,
    base: String,
    http: reqwest::Client,
}

impl Server {
    async fn start(data: &Path) -> Server {
        let port = free_port();
        let proc = Command::new(env!("CARGO_BIN_EXE_ulak"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data)
            .env("ULAK_BOOTSTRAP_API_KEY", KEY)
            // The SMSCs and the webhook endpoint of these tests listen on loopback.
            .env("ULAK_OUTBOUND_ALLOW", "127.0.0.0/8")
            .env(
                "ULAK_LOG",
                std::env::var("ULAK_TEST_LOGS").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(if std::env::var_os("ULAK_TEST_LOGS").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .unwrap();
        let s = Server {
            proc: Proc(proc),
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        ready(&s.http, &s.base).await;
        s
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/api/v1{path}", self.base);
        let mut req = self
            .http
            .request(method.parse().unwrap(), url)
            .bearer_auth(KEY);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Replaces the built-in simulator account with SMPP accounts at `ports`, buys credit
    /// and queues `n` messages.
    async fn send_to(&self, ports: &[u16], n: usize) {
        self.call(
            "POST",
            "/credit/entries",
            Some(json!({"kind": "purchase", "amount": 10_000})),
        )
        .await;
        // The new accounts first, then the built-in one goes (so no new account takes a
        // deleted one's id).
        let old = self.call("GET", "/provider-accounts", None).await;
        for (i, port) in ports.iter().enumerate() {
            self.call(
                "POST",
                "/provider-accounts",
                Some(
                    json!({"name": format!("smsc {i}"), "kind": "smpp", "host": "127.0.0.1",
                            "port": port, "system_id": "ulak", "password": "secret"}),
                ),
            )
            .await;
        }
        for a in old["items"].as_array().unwrap() {
            self.call("DELETE", &format!("/provider-accounts/{}", a["id"]), None)
                .await;
        }
        for i in 0..n {
            self.call(
                "POST",
                "/messages",
                Some(json!({"to": format!("0532{i:07}"), "text": "Merhaba"})),
            )
            .await;
        }
    }

    /// Sends SIGTERM and returns how long the process took to exit.
    fn terminate(mut self) -> Duration {
        let pid = self.proc.0.id().to_string();
        let t = Instant::now();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        loop {
            if let Some(status) = self.proc.0.try_wait().unwrap() {
                assert!(status.success(), "serve exited with {status}");
                return t.elapsed();
            }
            if t.elapsed() > Duration::from_secs(40) {
                return t.elapsed();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn within_limit(what: &str, took: Duration) {
    eprintln!("{what}: stopped in {took:.1?}");
    assert!(took <= LIMIT, "{what}: SIGTERM took {took:.1?}");
}

/// The SMSC binds, then answers nothing (no submit_sm_resp, no enquire_link_resp): the
/// submits in flight would wait for their 30 s response timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_smsc_gone_silent_after_the_bind() {
    let sim = ulak_smpp::sim::Simulator::start(ulak_smpp::sim::SimConfig {
        resp_delay: Duration::from_secs(3600),
        answer_enquire_link: false,
        ..ulak_smpp::sim::SimConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    server.send_to(&[sim.local_addr().port()], 30).await;
    // Wait until submits are on the wire and unanswered.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.counts().submits == 0 {
        assert!(
            Instant::now() < deadline,
            "nothing was submitted: {}",
            server.call("GET", "/messages/1", None).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    within_limit("silent SMSC", server.terminate());
}

/// One SMSC refuses connections (the engine is backing off between retries), another
/// accepts TCP and never answers the bind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_smscs_refusing_or_swallowing_connections() {
    let swallow = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let swallow_port = swallow.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    server.send_to(&[free_port(), swallow_port], 20).await;
    // Let both accounts' workers start and block on their links.
    let (conn, _) = tokio::task::spawn_blocking(move || swallow.accept())
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    within_limit("unreachable and swallowing SMSCs", server.terminate());
    drop(conn);
}

/// Webhook deliveries are in flight to an endpoint that accepts the connection and never
/// answers (each try would wait for its 10 s timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_webhooks_in_flight_to_an_endpoint_that_never_answers() {
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", hang.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((c, _)) = hang.accept().await {
            conns.push(c);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    server
        .call("POST", "/webhooks", Some(json!({"url": url})))
        .await;
    server
        .call(
            "POST",
            "/credit/entries",
            Some(json!({"kind": "purchase", "amount": 100})),
        )
        .await;
    for i in 0..5 {
        server
            .call(
                "POST",
                "/messages",
                Some(json!({"to": format!("0532000{i:04}"), "text": "Merhaba"})),
            )
            .await;
    }
    // The built-in simulator delivers them; their events go out and hang.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let hooks = server.call("GET", "/webhooks", None).await;
        let id = hooks["items"][0]["id"].clone();
        let attempts = server
            .call("GET", &format!("/webhooks/{id}/attempts"), None)
            .await;
        if attempts["items"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        assert!(Instant::now() < deadline, "no webhook delivery began");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    within_limit("hanging webhook endpoint", server.terminate());
    held.abort();
}

/// A request that runs long (the preview of a campaign of 300,000 pasted numbers, planned in
/// the request) is cut off rather than awaited. The numbers run through 100,000 different
/// first six digits in turn: the number plan's verdicts are remembered by those (at most
/// 65,536 at a time), so each number is read the slow way, as before that memo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_long_request_running() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let numbers: Vec<String> = (0..300_000)
        .map(|i| format!("05{:05}{:04}", i % 100_000, i / 100_000))
        .collect();
    let draft = server
        .call(
            "POST",
            "/campaigns",
            Some(json!({"name": "uzun", "audience": {"numbers": numbers}, "text": "Kampanya"})),
        )
        .await;
    let url = format!("{}/api/v1/campaigns/{}/preview", server.base, draft["id"]);
    let http = server.http.clone();
    let request = tokio::spawn(async move { http.get(url).bearer_auth(KEY).send().await });
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !request.is_finished(),
        "the request ended too soon to test anything"
    );
    within_limit("long request", server.terminate());
    request.abort();
}

/// A start answers at once and leaves its queueing (300,000 pasted numbers) to a task: that is
/// stopped rather than awaited, and left to be taken up again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_campaign_being_queued() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    server
        .call(
            "POST",
            "/credit/entries",
            Some(json!({"kind": "purchase", "amount": 1_000_000})),
        )
        .await;
    let numbers: Vec<String> = (0..300_000).map(|i| format!("0532{i:07}")).collect();
    let started = server
        .call(
            "POST",
            "/campaigns",
            Some(json!({"name": "uzun", "audience": {"numbers": numbers},
                        "text": "Kampanya", "start": true})),
        )
        .await;
    assert_eq!(started["queueing"]["state"], "active", "{started}");
    let now = server
        .call("GET", &format!("/campaigns/{}", started["id"]), None)
        .await;
    assert_eq!(
        now["queueing"]["state"], "active",
        "the queueing ended too soon to test anything: {now}"
    );
    within_limit("campaign queueing", server.terminate());
}
