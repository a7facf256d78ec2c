//! Long messages recorded segment by segment: the segments an attempt got through are kept
//! when others failed (a retry, a failure, a restart in between), a later claim learns
//! them, receipts find them while the message waits, and the message is submitted — and
//! delivered — only with all of them.

use serde_json::{Value, json};
use ulak_core::model::*;
use ulak_core::net::OutboundPolicy;
use ulak_store::{ReceiptIn, Rest, Store, SubmitOutcome, SubmitResult};

use crate::helpers::TestDb;
use crate::messages::{funded, msg};

crate::store_tests!(
    a_long_message_goes_through_in_pieces,
    segments_taken_stay_recorded_when_the_message_fails,
    receipts_wait_for_their_accounts_submit_records
);

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap())
        .unwrap()
}

fn receipt(id: &str) -> ReceiptIn {
    ReceiptIn {
        operator_ids: vec![id.into()],
        state: MessageState::Delivered,
        error_code: None,
        raw: format!("id:{id}"),
    }
}

fn taken(parts: &[(u32, &str)]) -> Vec<(u32, String)> {
    parts.iter().map(|(k, id)| (*k, (*id).to_owned())).collect()
}

async fn long_message(s: &Store, c: CompanyId, p: ProviderAccountId, to: &str) -> Message {
    let m = s
        .enqueue_message(c, msg(p, to, &"Uzun duyuru metni. ".repeat(20)), None)
        .await
        .unwrap()
        .message;
    assert_eq!(m.segments, 3);
    m
}

async fn a_long_message_goes_through_in_pieces(db: &TestDb) {
    in_pieces(&db.store).await;
}

/// The same on a database in memory, where submit records and receipts take the sqlx path
/// that PostgreSQL takes, on SQLite (a file's go to its writer thread).
#[tokio::test]
async fn a_long_message_goes_through_in_pieces_in_memory() {
    let s = Store::connect("sqlite::memory:", crate::helpers::KEY)
        .await
        .unwrap();
    in_pieces(&s).await;
    s.close().await;
}

async fn in_pieces(s: &Store) {
    let (c, p) = funded(s, 10).await;
    s.create_webhook_endpoint(
        c,
        NewWebhookEndpoint::new(
            "https://x.example/hook",
            None,
            &["message.sent".to_owned()],
            true,
            &OutboundPolicy::any(),
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let m = long_message(s, c, p, "05321234567").await;
    assert_eq!(s.claim_messages(p, "w", 10, 60_000).await.unwrap().len(), 1);
    // Segments 1 and 3 taken, 2 refused for now.
    s.record_submits(vec![SubmitOutcome {
        id: m.id,
        result: SubmitResult::Segments {
            taken: taken(&[(1, "A1"), (3, "A3")]),
            rest: Rest::Retry {
                reason: "segment 2 refused".into(),
                at: now_ms() - 1,
            },
        },
    }])
    .await
    .unwrap();
    let d = s.get_message(c, m.id).await.unwrap().unwrap();
    assert_eq!(d.message.state, MessageState::Queued);
    assert_eq!(d.message.submitted_at, None);
    assert_eq!(
        d.parts.iter().map(|p| p.part_no).collect::<Vec<_>>(),
        vec![1, 3]
    );
    assert_eq!(s.credit_balance(c).await.unwrap(), 7, "still reserved");
    // Their receipts find them while the message waits, and do not finish it.
    let st = s
        .apply_receipts(c, p, vec![receipt("A1"), receipt("a3")])
        .await
        .unwrap();
    assert_eq!((st.applied, st.unmatched), (2, 0));
    let d = s.get_message(c, m.id).await.unwrap().unwrap();
    assert_eq!(d.message.state, MessageState::Queued);
    assert!(d.parts.iter().all(|p| p.state == MessageState::Delivered));

    // The retry's claim learns what is taken, and so does the claim after a restart that
    // found it being sent.
    let claimed = s.claim_messages(p, "w", 10, 60_000).await.unwrap();
    assert_eq!(claimed[0].attempts, 2);
    let want = std::collections::BTreeMap::from([(m.id, vec![1, 3])]);
    assert_eq!(s.taken_parts(&[m.id]).await.unwrap(), want);
    assert_eq!(s.requeue_leases_of("w").await.unwrap(), 1);
    let claimed = s.claim_messages(p, "w", 10, 60_000).await.unwrap();
    assert_eq!(claimed[0].attempts, 3);
    assert_eq!(s.taken_parts(&[m.id]).await.unwrap(), want);

    // Segment 2's receipt overtakes its submit record; then segment 2 is recorded: the
    // message is submitted and, every segment delivered, delivered.
    let st = s.apply_receipts(c, p, vec![receipt("A2")]).await.unwrap();
    assert_eq!(st.unmatched, 1);
    s.record_submits(vec![SubmitOutcome {
        id: m.id,
        result: SubmitResult::Segments {
            taken: taken(&[(2, "A2")]),
            rest: Rest::Submitted,
        },
    }])
    .await
    .unwrap();
    let d = s.get_message(c, m.id).await.unwrap().unwrap();
    assert_eq!(d.message.state, MessageState::Delivered);
    assert_eq!(
        d.parts
            .iter()
            .map(|p| (p.part_no, p.operator_id.as_str(), p.state))
            .collect::<Vec<_>>(),
        vec![
            (1, "A1", MessageState::Delivered),
            (2, "A2", MessageState::Delivered),
            (3, "A3", MessageState::Delivered)
        ]
    );
    let submitted = d
        .events
        .iter()
        .find(|e| e.state == MessageState::Submitted)
        .unwrap();
    assert_eq!(
        submitted.detail.as_deref(),
        Some("operator ids: A1, A2, A3")
    );
    assert_eq!(s.count_unmatched_receipts(c).await.unwrap(), 0);
    assert_eq!(s.credit_balance(c).await.unwrap(), 7, "charged once");
    assert_eq!(
        s.credit_balance(c).await.unwrap(),
        s.credit_ledger_sum(c).await.unwrap()
    );
    // Announced once, with every segment's id.
    let hooks = s.claim_webhook_attempts(100, 60_000).await.unwrap();
    let sent: Vec<Value> = hooks
        .iter()
        .map(|h| serde_json::from_str::<Value>(&h.payload).unwrap())
        .filter(|b| b["type"] == "message.sent")
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["data"]["operator_ids"], json!(["A1", "A2", "A3"]));
}

async fn segments_taken_stay_recorded_when_the_message_fails(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 10).await;
    let m = long_message(s, c, p, "05321234568").await;
    s.claim_messages(p, "w", 10, 60_000).await.unwrap();
    s.record_submits(vec![SubmitOutcome {
        id: m.id,
        result: SubmitResult::Segments {
            taken: taken(&[(1, "B1")]),
            rest: Rest::Failed {
                reason: "segment 2 refused".into(),
                code: Some("0x0000000B".into()),
            },
        },
    }])
    .await
    .unwrap();
    let d = s.get_message(c, m.id).await.unwrap().unwrap();
    assert_eq!(d.message.state, MessageState::Failed);
    assert_eq!(d.message.error_code.as_deref(), Some("0x0000000B"));
    assert_eq!(d.parts.len(), 1);
    assert_eq!(s.credit_balance(c).await.unwrap(), 10, "released");
    // The segment's receipt is matched, not kept as unknown; the message stays failed.
    let st = s.apply_receipts(c, p, vec![receipt("B1")]).await.unwrap();
    assert_eq!((st.applied, st.unmatched), (1, 0));
    // A late outcome for a message no longer being sent changes nothing.
    s.record_submits(vec![SubmitOutcome {
        id: m.id,
        result: SubmitResult::Segments {
            taken: taken(&[(2, "B2"), (3, "B3")]),
            rest: Rest::Submitted,
        },
    }])
    .await
    .unwrap();
    let d = s.get_message(c, m.id).await.unwrap().unwrap();
    assert_eq!(d.message.state, MessageState::Failed);
    assert_eq!(d.parts.len(), 1);
    assert_eq!(
        s.credit_balance(c).await.unwrap(),
        s.credit_ledger_sum(c).await.unwrap()
    );
}

/// On PostgreSQL a receipt batch takes its account's advisory lock, which a submit record of
/// the same account holds to its commit (see `lock_receipts`): without it a receipt could
/// miss a segment being recorded and be filed as unmatched after that record looked for
/// unmatched ones. Held from outside, the lock keeps the batch waiting until it is let go.
/// SQLite's one writer serialises them anyway.
async fn receipts_wait_for_their_accounts_submit_records(db: &TestDb) {
    let s = &db.store;
    if s.backend() != ulak_store::Backend::Postgres {
        return;
    }
    let (c, p) = funded(s, 10).await;
    let raw = db.raw().await;
    let outside = hold_account_lock(&raw, p).await;
    let store = s.clone();
    let batch =
        tokio::spawn(async move { store.apply_receipts(c, p, vec![receipt("kayip-1")]).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !batch.is_finished(),
        "the batch waits for the account's lock"
    );
    outside.commit().await.unwrap();
    let stats = tokio::time::timeout(std::time::Duration::from_secs(10), batch)
        .await
        .expect("the batch goes on once the lock is let go")
        .unwrap()
        .unwrap();
    assert_eq!(stats.unmatched, 1);

    // A submit record of the account takes the same lock.
    let m = long_message(s, c, p, "05321234568").await;
    assert_eq!(s.claim_messages(p, "w", 10, 60_000).await.unwrap().len(), 1);
    let outside = hold_account_lock(&raw, p).await;
    let store = s.clone();
    let record = tokio::spawn(async move {
        let done = taken(&[(1, "K1"), (2, "K2"), (3, "K3")]);
        let outcome = SubmitOutcome {
            id: m.id,
            result: SubmitResult::Segments {
                taken: done,
                rest: Rest::Submitted,
            },
        };
        store.record_submits(vec![outcome]).await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !record.is_finished(),
        "the record waits for the account's lock"
    );
    outside.commit().await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), record)
        .await
        .expect("the record goes on once the lock is let go")
        .unwrap()
        .unwrap();
    let d = s.get_message(c, m.id).await.unwrap().unwrap();
    assert_eq!(d.message.state, MessageState::Submitted);
}

/// Takes account `p`'s advisory lock (PostgreSQL) in a transaction from outside the store,
/// held until that ends. The key: the store's namespace in the high bits, the account's id
/// below.
async fn hold_account_lock(
    raw: &sqlx::AnyPool,
    p: ProviderAccountId,
) -> sqlx::Transaction<'static, sqlx::Any> {
    use sqlx::Executor;
    let mut outside = raw.begin().await.unwrap();
    let key = (0x756c_616b_i64 << 32) | (p.0 & 0xffff_ffff);
    outside
        .execute(sqlx::AssertSqlSafe(format!(
            "SELECT 1 FROM pg_advisory_xact_lock({key}) AS l"
        )))
        .await
        .unwrap();
    outside
}
