//! Webhooks: endpoints per company with their secret encrypted at rest, events written with
//! the state change they announce to the endpoints that subscribe, and the claim → try →
//! record cycle with retries, failures and leases.

use std::collections::HashSet;

use serde_json::{Value, json};
use sqlx::Row;
use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_core::net::OutboundPolicy;
use ulak_store::{
    ClaimedWebhook, ReceiptIn, Store, StoreError, SubmitOutcome, SubmitResult, WebhookOutcome,
    WebhookResult,
};

use crate::helpers::{TestDb, company, simulator_account};

crate::store_tests!(
    endpoints_are_per_company_and_validated_patches_apply,
    secrets_are_encrypted_at_rest_and_bound_to_their_row,
    events_reach_only_subscribed_enabled_endpoints,
    claim_retry_fail_and_deliver,
    message_state_changes_announce_themselves,
    concurrent_claimers_never_share_a_delivery
);

fn new_endpoint(url: &str, types: &[&str]) -> NewWebhookEndpoint {
    let types: Vec<String> = types.iter().map(|t| (*t).to_owned()).collect();
    NewWebhookEndpoint::new(url, Some("test"), &types, true, &OutboundPolicy::any()).unwrap()
}

async fn endpoint(s: &Store, c: CompanyId, url: &str, types: &[&str]) -> WebhookEndpoint {
    s.create_webhook_endpoint(c, new_endpoint(url, types))
        .await
        .unwrap()
        .0
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap())
        .unwrap()
}

fn outcome(result: WebhookResult, status: Option<u16>, error: Option<&str>) -> WebhookOutcome {
    WebhookOutcome {
        result,
        status,
        error: error.map(Into::into),
        duration_ms: 12,
    }
}

fn body(c: &ClaimedWebhook) -> Value {
    serde_json::from_str(&c.payload).unwrap()
}

async fn endpoints_are_per_company_and_validated_patches_apply(db: &TestDb) {
    let s = &db.store;
    let a = company(s, CountryType::Tr).await.id;
    let b = company(s, CountryType::Tr).await.id;
    let (ea, secret) = s
        .create_webhook_endpoint(a, new_endpoint("https://a.example/hook", &["message.sent"]))
        .await
        .unwrap();
    assert!(secret.expose().starts_with("whsec_"));
    assert_eq!(ea.event_types, vec![WebhookEventType::MessageSent]);
    assert_eq!(ea.description.as_deref(), Some("test"));
    assert!(ea.enabled);
    let eb = endpoint(s, b, "https://b.example/hook", &[]).await;
    let list = |c| async move {
        s.list_webhook_endpoints(c, &ListQuery::default())
            .await
            .unwrap()
            .items
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(list(a).await, vec![ea.id]);
    assert_eq!(list(b).await, vec![eb.id]);
    // Another company's endpoint is missing, whatever is asked.
    assert!(s.get_webhook_endpoint(b, ea.id).await.unwrap().is_none());
    assert!(matches!(
        s.get_webhook_secret(b, ea.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.update_webhook_endpoint(b, ea.id, WebhookEndpointPatch::default())
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.delete_webhook_endpoint(b, ea.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.list_webhook_attempts(b, ea.id, &ListQuery::default())
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.emit_test_event(b, ea.id).await,
        Err(StoreError::NotFound)
    ));
    // Patches change only what they name; `Some(None)` clears the description.
    let all: Vec<String> = vec![];
    let any = OutboundPolicy::any();
    let p = WebhookEndpointPatch::new(None, Some(None), Some(&all), Some(false), &any).unwrap();
    let changed = s.update_webhook_endpoint(a, ea.id, p).await.unwrap();
    assert_eq!(changed.url, "https://a.example/hook");
    assert_eq!(changed.description, None);
    assert!(changed.event_types.is_empty());
    assert!(!changed.enabled);
    let p =
        WebhookEndpointPatch::new(Some("http://127.0.0.1:9/x"), None, None, None, &any).unwrap();
    let changed = s.update_webhook_endpoint(a, ea.id, p).await.unwrap();
    assert_eq!(changed.url, "http://127.0.0.1:9/x");
    assert!(!changed.enabled, "untouched");
    assert_eq!(
        s.get_webhook_secret(a, ea.id).await.unwrap().expose(),
        secret.expose(),
        "a patch keeps the secret"
    );
    s.delete_webhook_endpoint(a, ea.id).await.unwrap();
    assert!(list(a).await.is_empty());
    assert_eq!(list(b).await, vec![eb.id]);
}

async fn secrets_are_encrypted_at_rest_and_bound_to_their_row(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await.id;
    let (e1, secret1) = s
        .create_webhook_endpoint(c, new_endpoint("https://x.example/1", &[]))
        .await
        .unwrap();
    let (e2, secret2) = s
        .create_webhook_endpoint(c, new_endpoint("https://x.example/2", &[]))
        .await
        .unwrap();
    assert_ne!(secret1.expose(), secret2.expose());
    assert_eq!(
        s.get_webhook_secret(c, e1.id).await.unwrap().expose(),
        secret1.expose()
    );
    let raw = db.raw().await;
    let stored: Vec<String> = sqlx::query("SELECT secret FROM webhook_endpoints ORDER BY id")
        .fetch_all(&raw)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
    assert_eq!(stored.len(), 2);
    for (v, secret) in stored.iter().zip([&secret1, &secret2]) {
        assert!(v.starts_with("v1:"), "sealed");
        let body = secret.expose().strip_prefix("whsec_").unwrap();
        assert!(!v.contains(body), "the secret is not stored in clear");
    }
    // Moving a ciphertext to another row does not decrypt there.
    sqlx::query("UPDATE webhook_endpoints SET secret = (SELECT secret FROM webhook_endpoints WHERE id = $1) WHERE id = $2")
        .bind(e1.id.0)
        .bind(e2.id.0)
        .execute(&raw)
        .await
        .unwrap();
    assert!(matches!(
        s.get_webhook_secret(c, e2.id).await,
        Err(StoreError::Secret(_))
    ));
    raw.close().await;
}

async fn events_reach_only_subscribed_enabled_endpoints(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await.id;
    let other = company(s, CountryType::Tr).await.id;
    let all = endpoint(s, c, "https://x.example/all", &[]).await;
    let any = OutboundPolicy::any();
    let delivered = endpoint(s, c, "https://x.example/d", &["message.delivered"]).await;
    let off = endpoint(s, c, "https://x.example/off", &[]).await;
    let p = WebhookEndpointPatch::new(None, None, None, Some(false), &any).unwrap();
    s.update_webhook_endpoint(c, off.id, p).await.unwrap();
    let _elsewhere = endpoint(s, other, "https://y.example/all", &[]).await;

    let id = s
        .emit_event_now(
            c,
            WebhookEventType::MessageDelivered,
            json!({"id": 7, "state": "delivered"}),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(id.starts_with("msg_"));
    let claimed = s.claim_webhook_attempts(10, 60_000).await.unwrap();
    let to: HashSet<WebhookEndpointId> = claimed.iter().map(|c| c.endpoint_id).collect();
    assert_eq!(to, HashSet::from([all.id, delivered.id]));
    for d in &claimed {
        assert_eq!(
            d.msg_id, id,
            "one webhook-id for the event, whatever the endpoint"
        );
        assert_eq!(d.company_id, c);
        assert_eq!(d.event_type, "message.delivered");
        assert_eq!(d.attempts, 0);
        let b = body(d);
        assert_eq!(b["type"], "message.delivered");
        assert_eq!(b["data"], json!({"id": 7, "state": "delivered"}));
        let ts = b["timestamp"].as_str().unwrap();
        assert!(
            ts.len() == 24 && ts.ends_with('Z') && ts.as_bytes()[10] == b'T',
            "{ts}"
        );
    }
    // message.sent: only the endpoint that takes everything.
    s.emit_event_now(c, WebhookEventType::MessageSent, json!({}))
        .await
        .unwrap()
        .unwrap();
    let claimed = s.claim_webhook_attempts(10, 60_000).await.unwrap();
    assert_eq!(
        claimed.iter().map(|c| c.endpoint_id).collect::<Vec<_>>(),
        vec![all.id]
    );
    // Nobody subscribed: nothing stored.
    s.delete_webhook_endpoint(c, all.id).await.unwrap();
    assert_eq!(
        s.emit_event_now(c, WebhookEventType::InboundReceived, json!({}))
            .await
            .unwrap(),
        None
    );
    // A disabled endpoint's deliveries wait; enabled again, they go.
    let t = s.emit_test_event(c, off.id).await.unwrap();
    assert!(
        s.claim_webhook_attempts(10, 60_000)
            .await
            .unwrap()
            .is_empty()
    );
    let p = WebhookEndpointPatch::new(None, None, None, Some(true), &any).unwrap();
    s.update_webhook_endpoint(c, off.id, p).await.unwrap();
    let claimed = s.claim_webhook_attempts(10, 60_000).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].msg_id, t);
    assert_eq!(claimed[0].event_type, "webhook.test");
}

async fn claim_retry_fail_and_deliver(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await.id;
    let e = endpoint(s, c, "https://x.example/h", &[]).await;
    let first = s
        .emit_event_now(c, WebhookEventType::CampaignFinished, json!({"id": 1}))
        .await
        .unwrap()
        .unwrap();
    let claimed = s.claim_webhook_attempts(10, 60_000).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let d = &claimed[0];
    assert!(
        s.claim_webhook_attempts(10, 60_000)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    // A 500: retry now (due at once in this test).
    let retry = WebhookResult::Retry { at: now_ms() - 1 };
    assert!(
        s.record_webhook_attempt(d.attempt_id, outcome(retry, Some(500), Some("HTTP 500")))
            .await
            .unwrap()
    );
    let again = s.claim_webhook_attempts(10, 60_000).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].attempt_id, again[0].attempts, &again[0].msg_id),
        (d.attempt_id, 1, &first),
        "the same delivery and webhook-id, one try counted"
    );
    assert_eq!(again[0].payload, d.payload, "the same bytes on every try");
    // Out of tries: failed, never claimed again, and a late record changes nothing.
    assert!(
        s.record_webhook_attempt(
            d.attempt_id,
            outcome(WebhookResult::Failed, None, Some("timeout"))
        )
        .await
        .unwrap()
    );
    assert!(
        !s.record_webhook_attempt(
            d.attempt_id,
            outcome(WebhookResult::Delivered, Some(200), None)
        )
        .await
        .unwrap()
    );
    // A lease of 0 lets another claim take a delivery whose worker went away.
    let second = s
        .emit_event_now(c, WebhookEventType::MessageSent, json!({"id": 2}))
        .await
        .unwrap()
        .unwrap();
    let lost = s.claim_webhook_attempts(10, 0).await.unwrap();
    assert_eq!(lost.len(), 1);
    let taken = s.claim_webhook_attempts(10, 60_000).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].msg_id, second);
    assert!(
        s.record_webhook_attempt(
            taken[0].attempt_id,
            outcome(WebhookResult::Delivered, Some(204), None)
        )
        .await
        .unwrap()
    );

    let page = s
        .list_webhook_attempts(c, e.id, &ListQuery::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    let failed = &page.items[0];
    assert_eq!(failed.msg_id, first);
    assert_eq!(failed.event_type, "campaign.finished");
    assert_eq!(failed.state, WebhookDeliveryState::Failed);
    assert_eq!(failed.attempts, 2);
    assert_eq!(failed.next_attempt_at, None);
    assert_eq!(failed.last_status, None);
    assert_eq!(failed.last_error.as_deref(), Some("timeout"));
    assert!(failed.last_attempt_at.is_some());
    assert_eq!(failed.delivered_at, None);
    assert_eq!(
        failed
            .history
            .iter()
            .map(|h| (h.status, h.error.as_deref(), h.duration_ms))
            .collect::<Vec<_>>(),
        vec![
            (Some(500), Some("HTTP 500"), 12),
            (None, Some("timeout"), 12)
        ]
    );
    let ok = &page.items[1];
    assert_eq!(ok.state, WebhookDeliveryState::Delivered);
    assert_eq!((ok.attempts, ok.last_status), (1, Some(204)));
    assert!(ok.delivered_at.is_some());
    assert_eq!(ok.history.len(), 1);
    // Paging.
    let q = ListQuery {
        limit: Some(1),
        ..ListQuery::default()
    };
    let p1 = s.list_webhook_attempts(c, e.id, &q).await.unwrap();
    assert_eq!(p1.items.len(), 1);
    assert_eq!(p1.items[0].history.len(), 2);
    let q = ListQuery {
        limit: Some(1),
        cursor: p1.next_cursor,
        ..ListQuery::default()
    };
    let p2 = s.list_webhook_attempts(c, e.id, &q).await.unwrap();
    assert_eq!(p2.items[0].msg_id, second);
    assert_eq!(p2.next_cursor, None);
    // Deleting the endpoint takes its deliveries with it.
    s.delete_webhook_endpoint(c, e.id).await.unwrap();
    let raw = db.raw().await;
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_attempt_log")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(left, 0);
    raw.close().await;
}

async fn message_state_changes_announce_themselves(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await.id;
    s.add_credit_entry(
        c,
        NewCreditEntry::new(LedgerKind::Purchase, 100, None).unwrap(),
    )
    .await
    .unwrap();
    let p = simulator_account(s, c, "sim").await;
    let msg = |to: &str| {
        NewMessage::new(
            Recipient::Msisdn(ulak_core::Msisdn::parse(to, CountryType::Tr).unwrap()),
            SenderName::parse("ULAK").unwrap(),
            "Merhaba",
            ulak_text::Policy::TurkishShift,
            1,
            Some(p),
            None,
            i64::MAX,
        )
        .unwrap()
    };
    // Before any endpoint exists, state changes store no event.
    let quiet = s
        .enqueue_message(c, msg("05321000009"), None)
        .await
        .unwrap();
    s.claim_messages(p, "w", 10, 60_000).await.unwrap();
    s.record_submits(vec![SubmitOutcome {
        id: quiet.message.id,
        result: SubmitResult::Failed {
            reason: "x".into(),
            code: None,
        },
    }])
    .await
    .unwrap();
    let raw = db.raw().await;
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_messages")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(stored, 0);
    raw.close().await;

    endpoint(s, c, "https://x.example/all", &[]).await;
    let ok = s
        .enqueue_message(c, msg("05321000001"), None)
        .await
        .unwrap();
    let bad = s
        .enqueue_message(c, msg("05321000002"), None)
        .await
        .unwrap();
    let lost = s
        .enqueue_message(c, msg("05321000003"), None)
        .await
        .unwrap();
    s.claim_messages(p, "w", 10, 60_000).await.unwrap();
    s.record_submits(vec![
        SubmitOutcome {
            id: ok.message.id,
            result: SubmitResult::Submitted {
                operator_ids: vec!["A1".into()],
            },
        },
        SubmitOutcome {
            id: bad.message.id,
            result: SubmitResult::Failed {
                reason: "rejected by operator".into(),
                code: Some("0x45".into()),
            },
        },
        SubmitOutcome {
            id: lost.message.id,
            result: SubmitResult::Submitted {
                operator_ids: vec!["B2".into()],
            },
        },
    ])
    .await
    .unwrap();
    let receipt = |id: &str, state| ReceiptIn {
        operator_ids: vec![id.into()],
        state,
        error_code: None,
        raw: String::new(),
    };
    s.apply_receipts(
        c,
        p,
        vec![
            receipt("A1", MessageState::Delivered),
            receipt("B2", MessageState::Undeliverable),
        ],
    )
    .await
    .unwrap();
    // A repeated receipt announces nothing again.
    s.apply_receipts(c, p, vec![receipt("A1", MessageState::Delivered)])
        .await
        .unwrap();

    let claimed = s.claim_webhook_attempts(100, 60_000).await.unwrap();
    let events: Vec<(String, i64, String)> = claimed
        .iter()
        .map(|d| {
            let b = body(d);
            assert_eq!(b["type"], d.event_type.as_str());
            (
                d.event_type.clone(),
                b["data"]["id"].as_i64().unwrap(),
                b["data"]["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let (ok, bad, lost) = (ok.message.id.0, bad.message.id.0, lost.message.id.0);
    // One batch of outcomes is announced in no particular order among itself (failures are
    // written one by one, submits together); batches follow each other in order.
    let mut events = events;
    events[..3].sort_by_key(|e| e.1);
    assert_eq!(
        events,
        vec![
            ("message.sent".into(), ok, "submitted".into()),
            ("message.failed".into(), bad, "failed".into()),
            ("message.sent".into(), lost, "submitted".into()),
            ("message.delivered".into(), ok, "delivered".into()),
            ("message.failed".into(), lost, "undeliverable".into()),
        ]
    );
    let of = |kind: &str, id: i64| {
        claimed
            .iter()
            .map(body)
            .find(|b| b["type"] == kind && b["data"]["id"] == id)
            .unwrap()
    };
    let sent = of("message.sent", ok);
    assert_eq!(sent["data"]["recipient"], "+905321000001");
    assert_eq!(sent["data"]["sender"], "ULAK");
    assert_eq!(sent["data"]["segments"], 1);
    assert_eq!(sent["data"]["operator_ids"], json!(["A1"]));
    let failed = of("message.failed", bad);
    assert_eq!(failed["data"]["error_code"], "0x45");
    assert_eq!(failed["data"]["reason"], "rejected by operator");
}

async fn concurrent_claimers_never_share_a_delivery(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await.id;
    endpoint(s, c, "https://x.example/1", &[]).await;
    endpoint(s, c, "https://x.example/2", &["message.sent"]).await;
    for i in 0..60 {
        s.emit_event_now(c, WebhookEventType::MessageSent, json!({"i": i}))
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = s.claim_webhook_attempts(7, 60_000).await.unwrap();
                if got.is_empty() {
                    break;
                }
                mine.extend(got.into_iter().map(|d| d.attempt_id));
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 120, "every delivery claimed");
    assert_eq!(distinct.len(), 120, "none claimed twice");
}
