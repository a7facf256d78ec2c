//! Priority lanes: claims hand out OTP codes, then single sends, then campaign messages, each
//! lane in due order; an urgent claim takes the lanes up to the one it names; a queued message wakes its
//! account's waiter in this process, and on PostgreSQL another node's too.

use std::time::Duration;

use futures_util::FutureExt;
use ulak_core::model::*;
use ulak_store::Store;

use crate::helpers::TestDb;
use crate::messages::{funded, msg};

crate::store_tests!(
    claims_take_the_urgent_lanes_first,
    a_claim_answers_every_column_as_stored_and_brings_in_due_schedules,
    a_claim_given_up_before_its_commit_takes_nothing,
    queued_messages_wake_their_accounts_waiter,
    a_claim_larger_than_a_piece_takes_what_it_asked_in_order,
    a_claim_whose_caller_goes_away_gives_back_what_it_took
);

/// A caller that goes away while its claim runs in pieces (a SQLite file) strands nothing:
/// what the pieces took goes back to the queue, the attempt not counted. The claim is
/// dropped after more and more polls, so some drops land between pieces.
async fn a_claim_whose_caller_goes_away_gives_back_what_it_took(db: &TestDb) {
    let s = &db.store;
    if s.backend() != ulak_store::Backend::Sqlite {
        return;
    }
    let (c, p) = funded(s, 10_000).await;
    let batch: Vec<NewMessage> = (0..1000)
        .map(|i| msg(p, &format!("0532 7{i:06}"), "parça").in_class(TrafficClass::Campaign))
        .collect();
    s.enqueue_batch(c, None, &batch).await.unwrap();
    let raw = db.raw().await;
    for polls in 1..=10 {
        let mut claim = Box::pin(s.claim_messages(p, "gone", 1000, 60_000));
        for _ in 0..polls {
            if let Some(done) = (&mut claim).now_or_never() {
                // It finished first: put its messages back for the next round.
                let ids: Vec<MessageId> = done.unwrap().iter().map(|m| m.id).collect();
                s.release_claims("gone", &ids).await.unwrap();
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        drop(claim);
        let mut leased = -1;
        for _ in 0..100 {
            leased = sqlx::query_scalar("SELECT count(*) FROM messages WHERE state = 'sending'")
                .fetch_one(&raw)
                .await
                .unwrap();
            if leased == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            leased, 0,
            "dropped after {polls} polls: messages left leased"
        );
    }
    let most: i64 = sqlx::query_scalar("SELECT max(attempts) FROM messages")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(most, 0, "given back without counting an attempt");
    assert_eq!(
        s.claim_messages(p, "next", 1000, 60_000)
            .await
            .unwrap()
            .len(),
        1000
    );
}

/// A SQLite file claims in pieces of a few hundred rows (decision 0010): a claim of more
/// still takes exactly as many as asked, lanes first and each lane in due order, each once;
/// the next claim takes the rest.
async fn a_claim_larger_than_a_piece_takes_what_it_asked_in_order(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 10_000).await;
    let campaign: Vec<NewMessage> = (0..700)
        .map(|i| msg(p, &format!("0532 5{i:06}"), "kampanya").in_class(TrafficClass::Campaign))
        .collect();
    s.enqueue_batch(c, None, &campaign).await.unwrap();
    let single = s
        .enqueue_message(c, msg(p, "0532 600 00 00", "tek"), None)
        .await
        .unwrap();
    let first = s.claim_messages(p, "w", 600, 60_000).await.unwrap();
    assert_eq!(first.len(), 600);
    assert_eq!(
        first[0].id, single.message.id,
        "the single send's lane first"
    );
    assert!(
        first[1..].windows(2).all(|w| w[0].id < w[1].id),
        "the campaign's in the order they were queued"
    );
    let rest = s.claim_messages(p, "w", 600, 60_000).await.unwrap();
    assert_eq!(rest.len(), 101, "the rest, and no more");
    let mut all: Vec<MessageId> = first.iter().chain(&rest).map(|m| m.id).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 701, "each message once");
    assert!(first.last().map(|m| m.id) < rest.first().map(|m| m.id));
}

/// A claim's messages read back as stored, column by column (a SQLite file claims on its
/// writer thread and reads rows by position), and a scheduled message whose time came is
/// claimed with the history saying so.
async fn a_claim_answers_every_column_as_stored_and_brings_in_due_schedules(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 100).await;
    let mut scheduled = msg(p, "0532 400 00 00", "Yarın: şubemiz açık").in_class(TrafficClass::Otp);
    // 2096 in unix milliseconds: still to come when accepted.
    scheduled.scheduled_at = Some(4_000_000_000_000);
    let mut awkward = msg(p, "0532 400 00 01", "x");
    awkward.body = "\"tırnak\" \\ters\\ NULL\tsekme\nyeni satır 🙂 €".into();
    let campaign = msg(p, "0532 400 00 02", "kampanya").in_class(TrafficClass::Campaign);
    let mut ids = Vec::new();
    for m in [scheduled, awkward, campaign] {
        ids.push(s.enqueue_message(c, m, None).await.unwrap().message.id);
    }
    // Its time came.
    let raw = db.raw().await;
    sqlx::query("UPDATE messages SET next_attempt_at = 1 WHERE id = $1")
        .bind(ids[0].0)
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;
    let claimed = s.claim_messages(p, "w", 10, 60_000).await.unwrap();
    // The most urgent lane first: the code, the single send, the campaign's.
    assert_eq!(claimed.iter().map(|m| m.id).collect::<Vec<_>>(), ids);
    for m in &claimed {
        let stored = s.get_message(c, m.id).await.unwrap().unwrap();
        assert_eq!(&stored.message, m);
        assert_eq!((m.state, m.attempts), (MessageState::Sending, 1));
    }
    assert_eq!(claimed[0].class, TrafficClass::Otp);
    assert_eq!(
        claimed[1].body,
        "\"tırnak\" \\ters\\ NULL\tsekme\nyeni satır 🙂 €"
    );
    let history = s.get_message(c, ids[0]).await.unwrap().unwrap().events;
    let came = history
        .iter()
        .find(|e| e.state == MessageState::Queued)
        .expect("the schedule's end is in the history");
    assert_eq!(came.detail.as_deref(), Some("the scheduled time came"));
    // Claimed already: nothing is left.
    assert!(
        s.claim_messages(p, "w", 10, 60_000)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A claim whose caller stops waiting (a worker stopping) while it waits for the database
/// takes nothing: its messages stay queued for the next claim, not leased to a caller that
/// is gone. (A SQLite file claims in a closure on its writer thread, which goes on without
/// the caller and rolls back before its commit.)
async fn a_claim_given_up_before_its_commit_takes_nothing(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 100).await;
    let id = s
        .enqueue_message(c, msg(p, "0532 500 00 00", "bekle"), None)
        .await
        .unwrap()
        .message
        .id;
    // Another connection holds the write lock (SQLite) or the table (PostgreSQL).
    let blocker = db.hold_writes("messages").await;
    let given_up = tokio::time::timeout(
        Duration::from_millis(300),
        s.claim_messages(p, "gone", 10, 60_000),
    )
    .await;
    assert!(given_up.is_err(), "the claim did not wait for the lock");
    blocker.rollback().await.unwrap();
    let mut got = Vec::new();
    for _ in 0..50 {
        got = s.claim_messages(p, "next", 10, 60_000).await.unwrap();
        if !got.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(got.iter().map(|m| m.id).collect::<Vec<_>>(), [id]);
    assert_eq!(got[0].attempts, 1, "the given-up claim counted an attempt");
}

async fn claims_take_the_urgent_lanes_first(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 100).await;
    let campaign: Vec<NewMessage> = (0..5)
        .map(|i| msg(p, &format!("0532 100 00 0{i}"), "kampanya").in_class(TrafficClass::Campaign))
        .collect();
    s.enqueue_batch(c, None, &campaign).await.unwrap();
    let single = s
        .enqueue_message(c, msg(p, "0532 200 00 00", "tek"), None)
        .await
        .unwrap();
    let otp = msg(p, "0532 300 00 00", "kod 1234").in_class(TrafficClass::Otp);
    let otp = s.enqueue_message(c, otp, None).await.unwrap();
    assert_eq!(single.message.class, TrafficClass::Transactional);
    // Up to the OTP lane: the code alone.
    let up_to = |last| s.claim_urgent_messages(p, "w", 10, 60_000, last);
    let ids = |v: Vec<Message>| v.iter().map(|m| m.id).collect::<Vec<MessageId>>();
    assert_eq!(
        ids(up_to(TrafficClass::Otp).await.unwrap()),
        [otp.message.id]
    );
    // Up to single sends: both lanes, the most urgent first (a code queued after the single
    // send goes before it); then none.
    let otp2 = msg(p, "0532 300 00 01", "kod 5678").in_class(TrafficClass::Otp);
    let otp2 = s.enqueue_message(c, otp2, None).await.unwrap();
    let both = up_to(TrafficClass::Transactional).await.unwrap();
    assert_eq!(ids(both), [otp2.message.id, single.message.id]);
    assert!(up_to(TrafficClass::Transactional).await.unwrap().is_empty());
    // The campaign's, in the order they were queued; and a later single send goes before
    // campaign messages queued earlier.
    let late = s
        .enqueue_message(c, msg(p, "0532 200 00 01", "geç"), None)
        .await
        .unwrap();
    let all = s.claim_messages(p, "w", 3, 60_000).await.unwrap();
    assert_eq!(all[0].id, late.message.id);
    assert_eq!(
        all[1..].iter().map(|m| m.class).collect::<Vec<_>>(),
        [TrafficClass::Campaign; 2]
    );
    assert!(all[1].id < all[2].id);
}

async fn queued_messages_wake_their_accounts_waiter(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 100).await;
    let (_, other) = funded(s, 100).await;
    let waiter = s.queue_waiter(p);
    let bystander = s.queue_waiter(other);
    assert!(
        waiter.notified().now_or_never().is_none(),
        "nothing queued yet"
    );
    s.enqueue_message(c, msg(p, "0532 200 00 00", "tek"), None)
        .await
        .unwrap();
    assert!(
        waiter.notified().now_or_never().is_some(),
        "a single send wakes it"
    );
    let batch = [msg(p, "0532 200 00 01", "toplu")];
    s.enqueue_batch(c, None, &batch).await.unwrap();
    assert!(
        waiter.notified().now_or_never().is_some(),
        "a batch wakes it"
    );
    assert!(
        bystander.notified().now_or_never().is_none(),
        "another account's is not"
    );
    if s.backend() != ulak_store::Backend::Postgres {
        return;
    }
    // Another node on the same database hears of it through NOTIFY.
    let node = Store::connect(&db.url, [7; 32]).await.unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let listening = node.listen_for_queued(stop.clone()).unwrap();
    let remote = node.queue_waiter(p);
    // The listener subscribes asynchronously: keep queueing until it hears one.
    let heard = async {
        loop {
            s.enqueue_message(c, msg(p, "0532 200 00 02", "uzak"), None)
                .await
                .unwrap();
            if tokio::time::timeout(Duration::from_millis(200), remote.notified())
                .await
                .is_ok()
            {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), heard)
        .await
        .expect("the other node's waiter was never woken");
    stop.cancel();
    listening.await.unwrap();
    node.close().await;
}
