//! Single sends through the API to the built-in simulator: queued, submitted and delivered
//! with the operator's ids; idempotency keys; credit; every refusal named by field.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, Backend, TestApp, spawn_app, spawn_app_on};

async fn credit(app: &TestApp, key: &str, amount: i64) {
    let r = app
        .call(
            "POST",
            "/credit/entries",
            key,
            Some(json!({"kind": "purchase", "amount": amount})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

/// Polls a message until it reaches `state`.
async fn wait_for(app: &TestApp, key: &str, id: i64, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = app.call("GET", &format!("/messages/{id}"), key, None).await;
        assert_eq!(m.status, 200, "{}", m.body);
        if m.body["state"] == state {
            return m.body;
        }
        assert!(
            Instant::now() < deadline,
            "still {}: {}",
            m.body["state"],
            m.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn send_with_key(app: &TestApp, key: Option<&str>, body: Value) -> (u16, Value, bool) {
    let mut req = app
        .http
        .post(format!("{}/api/v1/messages", app.base))
        .bearer_auth(ADMIN_KEY)
        .json(&body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let res = req.send().await.unwrap();
    let replayed = res.headers().get("idempotent-replayed").is_some();
    (res.status().as_u16(), res.json().await.unwrap(), replayed)
}

#[tokio::test]
async fn a_message_is_sent_and_delivered_through_the_simulator() {
    let app = spawn_app().await;
    let k = ADMIN_KEY;
    credit(&app, k, 10).await;
    let r = app
        .call(
            "POST",
            "/messages",
            k,
            Some(json!({"to": "0532 123 45 67", "text": "Şifreniz 4711. Kimseyle paylaşmayın."})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["recipient"], "+905321234567");
    assert_eq!(
        r.body["sender"], "ULAK",
        "the default header of a fresh start"
    );
    assert_eq!(
        (r.body["segments"].as_u64(), r.body["cost"].as_i64()),
        (Some(1), Some(1))
    );
    let id = r.body["id"].as_i64().unwrap();
    let m = wait_for(&app, k, id, "delivered").await;
    assert_eq!(m["parts"][0]["state"], "delivered");
    assert!(!m["parts"][0]["operator_id"].as_str().unwrap().is_empty());
    let states: Vec<&str> = m["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, vec!["queued", "submitted", "delivered"]);
    assert_eq!(app.call("GET", "/credit", k, None).await.body["balance"], 9);
    // The metrics count it.
    let res = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = res.text().await.unwrap();
    for line in [
        "ulak_messages{state=\"delivered\"} 1",
        "ulak_submits_total{provider=\"1\"} 1",
        "ulak_receipts_total{provider=\"1\"} 1",
        "ulak_submit_seconds_count{provider=\"1\"} 1",
    ] {
        assert!(text.contains(line), "{line} not in\n{text}");
    }
    // Another company sees none of it.
    let other = app.company("baska").await;
    assert_eq!(
        app.call("GET", &format!("/messages/{id}"), &other, None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn idempotency_keys_make_retries_safe() {
    let app = spawn_app().await;
    credit(&app, ADMIN_KEY, 10).await;
    let body = json!({"to": "05321112233", "text": "Merhaba"});
    let (s1, b1, r1) = send_with_key(&app, Some("order-42"), body.clone()).await;
    assert_eq!((s1, r1), (202, false), "{b1}");
    let (s2, b2, r2) = send_with_key(&app, Some("order-42"), body).await;
    assert_eq!((s2, r2), (202, true), "{b2}");
    assert_eq!(b1["id"], b2["id"]);
    let (s3, b3, _) = send_with_key(
        &app,
        Some("order-42"),
        json!({"to": "05321112233", "text": "Başka"}),
    )
    .await;
    assert_eq!(s3, 409, "{b3}");
    assert_eq!(
        app.call("GET", "/credit", ADMIN_KEY, None).await.body["balance"],
        9
    );
    let (s4, b4, _) = send_with_key(
        &app,
        Some("bad key ü"),
        json!({"to": "05321112233", "text": "x"}),
    )
    .await;
    assert_eq!(s4, 422, "{b4}");
}

#[tokio::test]
async fn a_replay_is_the_first_answer_even_after_delivery_and_opt_out_on_sqlite() {
    replay_is_the_first_answer(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_replay_is_the_first_answer_even_after_delivery_and_opt_out_on_postgres() {
    replay_is_the_first_answer(Backend::Postgres).await;
}

async fn replay_is_the_first_answer(backend: Backend) {
    let Some(app) = spawn_app_on(backend).await else {
        return;
    };
    credit(&app, ADMIN_KEY, 10).await;
    let (s1, first, r1) = send_with_key(
        &app,
        Some("order-43"),
        json!({"to": "0532 123 45 67", "text": "Merhaba"}),
    )
    .await;
    assert_eq!((s1, r1), (202, false), "{first}");
    assert_eq!(first["state"], "queued");
    let id = first["id"].as_i64().unwrap();
    wait_for(&app, ADMIN_KEY, id, "delivered").await;
    // The same request with the number written another way is a replay of the first answer,
    // not a 409, and still says `queued`.
    let again = json!({"to": "+905321234567", "text": "Merhaba"});
    let (s2, second, r2) = send_with_key(&app, Some("order-43"), again.clone()).await;
    assert_eq!((s2, r2), (202, true), "{second}");
    assert_eq!(second, first);
    // The number opts out: a send to it is refused now, but the replay is the first answer.
    let o = app
        .call(
            "POST",
            "/opt-outs",
            ADMIN_KEY,
            Some(json!({"phone": "05321234567"})),
        )
        .await;
    assert_eq!(o.status, 201, "{}", o.body);
    let (s3, third, r3) = send_with_key(&app, Some("order-43"), again.clone()).await;
    assert_eq!((s3, r3), (202, true), "{third}");
    assert_eq!(third, first);
    let (s4, fresh, _) = send_with_key(&app, Some("order-44"), again).await;
    assert_eq!(s4, 422, "{fresh}");
    assert_eq!(
        app.call("GET", "/credit", ADMIN_KEY, None).await.body["balance"],
        9,
        "one message charged"
    );
}

#[tokio::test]
async fn refusals_are_named_and_cost_nothing() {
    let app = spawn_app().await;
    let k = ADMIN_KEY;
    // No credit yet.
    let r = app
        .call(
            "POST",
            "/messages",
            k,
            Some(json!({"to": "05321112233", "text": "x"})),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("insufficient credit")
    );
    credit(&app, k, 100).await;
    let r = app
        .call(
            "POST",
            "/messages",
            k,
            Some(json!({"to": "0312 123 45 67", "sender": "YOK", "validity": 5})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        vec!["to", "text", "sender", "validity"],
        "{}",
        r.body
    );
    // A template with a missing field; then rendered.
    let t = app
        .call(
            "POST",
            "/templates",
            k,
            Some(json!({"name": "b", "body": "Sayın {{ad}}, bakiyeniz {{bakiye}} TL."})),
        )
        .await;
    let tid = t.body["id"].as_i64().unwrap();
    let r = app
        .call(
            "POST",
            "/messages",
            k,
            Some(json!({"to": "05321112233", "template_id": tid, "fields": {"ad": "Ayşe"}})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["errors"][0]["field"], "fields.bakiye");
    let r = app
        .call(
            "POST",
            "/messages",
            k,
            Some(json!({"to": "05321112233", "template_id": tid,
                        "fields": {"ad": "Ayşe", "bakiye": "120,50"}})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let m = app
        .call("GET", &format!("/messages/{}", r.body["id"]), k, None)
        .await;
    assert_eq!(m.body["text"], "Sayın Ayşe, bakiyeniz 120,50 TL.");
    // Opted-out numbers are refused.
    app.call(
        "POST",
        "/opt-outs",
        k,
        Some(json!({"phone": "05329998877"})),
    )
    .await;
    let r = app
        .call(
            "POST",
            "/messages",
            k,
            Some(json!({"to": "05329998877", "text": "Kampanya"})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    // Texts over ten segments are refused.
    let r = app
        .call(
            "POST",
            "/messages",
            k,
            Some(json!({"to": "05321112233", "text": "x".repeat(153 * 10 + 1)})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        app.call("GET", "/credit", k, None).await.body["balance"],
        99
    );
}

#[tokio::test]
async fn tc_id_sends_need_the_subscription_and_use_its_header() {
    let app = spawn_app().await;
    let k = ADMIN_KEY;
    credit(&app, k, 10).await;
    let body = json!({"to": "10000000146", "text": "Randevunuz yarın 10:00."});
    let r = app.call("POST", "/messages", k, Some(body.clone())).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.to_string().contains("TC-ID subscription"),
        "{}",
        r.body
    );
    let r = app
        .call(
            "PATCH",
            "/sms-settings",
            k,
            Some(json!({"tckn_subscription_active": true, "tckn_sender": "ULAK TC"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.call("POST", "/messages", k, Some(body)).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        (r.body["recipient_kind"].as_str(), r.body["sender"].as_str()),
        (Some("tckn"), Some("ULAK TC"))
    );
    wait_for(&app, k, r.body["id"].as_i64().unwrap(), "delivered").await;
    // An invalid TC ID number is named as such.
    let r = app
        .call(
            "POST",
            "/messages",
            k,
            Some(json!({"to": "10000000147", "text": "x"})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.to_string().contains("TC ID"), "{}", r.body);
}

/// Three companies on the built-in simulator at once: each account binds with credentials of
/// its own, so every receipt reaches the company that sent the message and all are delivered
/// (with one shared system id, the simulator handed receipts to any company's bind and about
/// two thirds of them were lost).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_companies_on_the_simulator_get_their_own_receipts() {
    let app = spawn_app().await;
    let mut companies = Vec::new();
    for name in ["alfa", "beta", "gama"] {
        let (key, id) = app.company_with_id(name).await;
        app.buy_credit(id, 100).await;
        for (path, body) in [
            (
                "/sender-headers",
                json!({"name": name.to_uppercase(), "is_default": true}),
            ),
            (
                "/provider-accounts",
                json!({"name": "sim", "kind": "simulator", "host": "builtin", "port": 2775,
                       "system_id": "ulak", "window": 20, "rate_per_sec": 1000}),
            ),
        ] {
            let r = app.call("POST", path, &key, Some(body)).await;
            assert_eq!(r.status, 201, "{path}: {}", r.body);
        }
        companies.push(key);
    }
    let sent = tokio::join!(
        send_thirty(&app, &companies[0], 0),
        send_thirty(&app, &companies[1], 1),
        send_thirty(&app, &companies[2], 2),
    );
    let sent = [sent.0, sent.1, sent.2];
    for (key, ids) in companies.iter().zip(sent) {
        for id in ids {
            wait_for(&app, key, id, "delivered").await;
        }
    }
}

/// Sends thirty messages as the company of `key`; their ids.
async fn send_thirty(app: &TestApp, key: &str, c: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..30 {
        let r = app
            .call(
                "POST",
                "/messages",
                key,
                Some(json!({"to": format!("0532{c}{i:06}"), "text": "Merhaba"})),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.body);
        ids.push(r.body["id"].as_i64().unwrap());
    }
    ids
}

/// An account deleted and replaced at once: on SQLite the new account gets the deleted one's
/// id back, and the deleted account's link (still running until the engine's next look) must
/// not take the new account's messages — they go to the new account's SMSC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_account_sends_through_its_own_link_at_once() {
    use ulak_smpp::sim::{SimConfig, Simulator};
    let sim = Simulator::start(SimConfig {
        record_submits: true,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let app = crate::helpers::spawn_app_with(|s| {
        s.outbound_allow = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let k = ADMIN_KEY;
    credit(&app, k, 10).await;
    let old = app.call("GET", "/provider-accounts", k, None).await;
    let old_id = old.body["items"][0]["id"].as_i64().unwrap();
    let r = app
        .call("DELETE", &format!("/provider-accounts/{old_id}"), k, None)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = app
        .call(
            "POST",
            "/provider-accounts",
            k,
            Some(json!({"name": "smsc", "kind": "smpp", "host": "127.0.0.1",
                        "port": sim.local_addr().port(), "system_id": "ulak",
                        "password": "secret"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app
        .call(
            "POST",
            "/messages",
            k,
            Some(json!({"to": "0532 123 45 67", "text": "Merhaba"})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    wait_for(&app, k, r.body["id"].as_i64().unwrap(), "delivered").await;
    let submits = sim.submits();
    assert_eq!(submits.len(), 1, "the new account's SMSC got it");
    assert_eq!(submits[0].sm.dest.addr, "905321234567");
}

/// Two `Idempotency-Key` headers are refused: a proxy may read one and Ulak the other.
#[tokio::test]
async fn two_idempotency_keys_are_refused() {
    let app = spawn_app().await;
    credit(&app, ADMIN_KEY, 10).await;
    let res = app
        .http
        .post(format!("{}/api/v1/messages", app.base))
        .bearer_auth(ADMIN_KEY)
        .header("Idempotency-Key", "k-1")
        .header("Idempotency-Key", "k-2")
        .json(&json!({"to": "0532 123 45 67", "text": "Merhaba"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["code"], "idempotency.key_invalid",
        "{body}"
    );
    assert_eq!(
        app.call("GET", "/credit", ADMIN_KEY, None).await.body["balance"],
        10,
        "nothing was accepted"
    );
}
