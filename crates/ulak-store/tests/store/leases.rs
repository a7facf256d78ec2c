//! Claims and their leases: a retry at the time given, failures, leases that run out and a
//! restarting node's leases taken back, expiry, and concurrent claimers that never share a
//! message.

use std::collections::HashSet;

use ulak_core::model::*;
use ulak_store::{SubmitOutcome, SubmitResult};

use crate::helpers::TestDb;
use crate::messages::{balanced, funded, msg};

crate::store_tests!(
    retries_failures_leases_and_expiry,
    concurrent_claimers_never_share_a_message,
    an_expiry_pass_that_finds_nothing_waits_for_no_writer,
);

async fn retries_failures_leases_and_expiry(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 10).await;
    let a = s
        .enqueue_message(c, msg(p, "05323000001", "a"), None)
        .await
        .unwrap()
        .message;
    let b = s
        .enqueue_message(c, msg(p, "05323000002", "b"), None)
        .await
        .unwrap()
        .message;
    s.claim_messages(p, "w", 10, 60_000).await.unwrap();
    let later = a.created_at + 3_600_000;
    s.record_submits(vec![
        SubmitOutcome {
            id: a.id,
            result: SubmitResult::Retry {
                reason: "throttled".into(),
                at: later,
            },
        },
        SubmitOutcome {
            id: b.id,
            result: SubmitResult::Failed {
                reason: "invalid destination".into(),
                code: Some("0x0B".into()),
            },
        },
    ])
    .await
    .unwrap();
    let ma = s.get_message(c, a.id).await.unwrap().unwrap().message;
    assert_eq!(
        (ma.state, ma.state_reason.as_deref()),
        (MessageState::Queued, Some("throttled"))
    );
    assert_eq!(ma.next_attempt_at, later);
    assert!(
        s.claim_messages(p, "w", 10, 60_000)
            .await
            .unwrap()
            .is_empty(),
        "not due yet"
    );
    let mb = s.get_message(c, b.id).await.unwrap().unwrap().message;
    assert_eq!(mb.state, MessageState::Failed);
    assert_eq!(
        balanced(s, c).await,
        9,
        "the failed one's reservation came back"
    );

    // A worker that dies leaves a lease that runs out: the message is queued again.
    let d = s
        .enqueue_message(c, msg(p, "05323000003", "d"), None)
        .await
        .unwrap()
        .message;
    let got = s.claim_messages(p, "dead", 10, -1).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(s.requeue_expired_leases().await.unwrap(), 1);
    let again = s.claim_messages(p, "alive", 10, 60_000).await.unwrap();
    assert_eq!((again[0].id, again[0].attempts), (d.id, 2));
    // The dead worker's late outcome still counts once; the live one's changes nothing.
    let ok = |id| SubmitOutcome {
        id,
        result: SubmitResult::Submitted {
            operator_ids: vec!["77".into()],
        },
    };
    s.record_submits(vec![ok(d.id)]).await.unwrap();
    s.record_submits(vec![ok(d.id)]).await.unwrap();
    let md = s.get_message(c, d.id).await.unwrap().unwrap();
    assert_eq!(md.parts.len(), 1);
    assert_eq!(balanced(s, c).await, 8);

    // Validity: a message past it is expired, not sent, and its credit comes back.
    let mut e = msg(p, "05323000004", "e");
    e.valid_until = 1;
    let e = s.enqueue_message(c, e, None).await.unwrap().message;
    assert!(
        s.claim_messages(p, "w", 10, 60_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.expire_due(p).await.unwrap(), 1);
    let me = s.get_message(c, e.id).await.unwrap().unwrap().message;
    assert_eq!(me.state, MessageState::Expired);
    assert_eq!(balanced(s, c).await, 8);

    // A node that restarts takes back at once what it held, whatever the lease says.
    let f = s
        .enqueue_message(c, msg(p, "05323000005", "f"), None)
        .await
        .unwrap()
        .message;
    let held = s.claim_messages(p, "node-a", 1, 3_600_000).await.unwrap();
    assert_eq!(held[0].id, f.id);
    assert_eq!(s.requeue_leases_of("node-b").await.unwrap(), 0);
    assert_eq!(s.requeue_leases_of("node-a").await.unwrap(), 1);
    let mf = s.get_message(c, f.id).await.unwrap().unwrap();
    assert_eq!(mf.message.state, MessageState::Queued);
    assert!(mf.message.state_reason.unwrap().contains("restarted"));
}

async fn concurrent_claimers_never_share_a_message(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 500).await;
    for i in 0..200 {
        s.enqueue_message(c, msg(p, &format!("0532400{i:04}"), "x"), None)
            .await
            .unwrap();
    }
    let mut set = tokio::task::JoinSet::new();
    for w in 0..4 {
        let st = s.clone();
        set.spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = st
                    .claim_messages(p, &format!("w{w}"), 7, 60_000)
                    .await
                    .unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|m| m.id));
            }
        });
    }
    let mut all = Vec::new();
    while let Some(r) = set.join_next().await {
        all.extend(r.unwrap());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 200);
    assert_eq!(unique.len(), 200, "no message claimed twice");
}

/// Expiry looks for expired messages outside the write lock: it reads the account's whole
/// queue (no index orders it by validity), and inside the lock every accept waited for that
/// read, every pass. Here a writer holds the lock from outside: a pass with nothing to expire
/// must still answer at once; one with something to expire waits for the lock and then does it.
async fn an_expiry_pass_that_finds_nothing_waits_for_no_writer(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 100).await;
    let live = s
        .enqueue_message(c, msg(p, "05323000010", "canlı"), None)
        .await
        .unwrap()
        .message;
    let raw = db.raw().await;
    let mut outside = raw.begin().await.unwrap();
    let lock = match s.backend() {
        // A write statement takes SQLite's one write lock, matched rows or not.
        ulak_store::Backend::Sqlite => "UPDATE messages SET state_at = state_at WHERE id = -1",
        ulak_store::Backend::Postgres => "LOCK TABLE messages IN EXCLUSIVE MODE",
    };
    sqlx::query(lock).execute(&mut *outside).await.unwrap();
    let pass = tokio::time::timeout(std::time::Duration::from_secs(3), s.expire_due(p)).await;
    assert!(
        matches!(pass, Ok(Ok(0))),
        "a pass with nothing to expire waited for the writer: {pass:?}"
    );
    outside.rollback().await.unwrap();
    // Past its validity, it is expired by the next pass.
    let mut e = msg(p, "05323000011", "geçti");
    e.valid_until = 1;
    let e = s.enqueue_message(c, e, None).await.unwrap().message;
    assert_eq!(s.expire_due(p).await.unwrap(), 1);
    let state = |id| async move { s.get_message(c, id).await.unwrap().unwrap().message.state };
    assert_eq!(state(e.id).await, MessageState::Expired);
    assert_eq!(state(live.id).await, MessageState::Queued);
}
