//! Group commit of accepts: concurrent accepts share transactions, yet each is answered as if
//! alone — its own credit check, its own idempotency key, its own failure.

use std::sync::Arc;
use std::time::Duration;

use ulak_core::model::*;
use ulak_store::{Idempotency, StoreError, StoredAnswer};

use crate::helpers::TestDb;
use crate::messages::{funded, msg};

crate::store_tests!(
    concurrent_accepts_share_commits_and_all_land,
    a_short_balance_refuses_only_what_it_cannot_cover,
    one_new_key_sent_many_times_at_once_makes_one_message,
    a_batch_is_answered_item_by_item_in_order,
    a_failing_message_does_not_fail_its_group,
    an_opt_out_is_checked_in_the_accepting_transaction,
    an_accepted_message_reads_back_as_it_was_answered,
    a_flood_of_batches_does_not_hold_back_another_companys_single_send,
    a_flood_deeper_than_the_lane_does_not_hold_back_another_companys_single_send
);

fn answer(m: &Message) -> StoredAnswer {
    StoredAnswer {
        status: 202,
        body: format!("{{\"id\":{}}}", m.id.0),
    }
}

fn key<'a>(key: &'a str, hash: &'a str) -> Idempotency<'a> {
    Idempotency {
        key,
        request_hash: hash,
        answer,
    }
}

async fn count_messages(db: &TestDb, c: CompanyId) -> i64 {
    let pool = db.raw().await;
    sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE company_id = $1")
        .bind(c.0)
        .fetch_one(&pool)
        .await
        .unwrap()
}

/// Runs `n` accepts at once, each from its own task, and returns their results in order.
async fn at_once<F, Fut>(n: usize, f: F) -> Vec<ulak_store::Result<ulak_store::Enqueued>>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ulak_store::Result<ulak_store::Enqueued>> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for i in 0..n {
        let b = barrier.clone();
        let fut = f(i);
        tasks.push(tokio::spawn(async move {
            b.wait().await;
            fut.await
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

async fn concurrent_accepts_share_commits_and_all_land(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 10_000).await;
    let before = s.accept_stats();
    let n = 300;
    let results = at_once(n, |i| {
        let s = s.clone();
        async move {
            s.enqueue_message(c, msg(p, &format!("0532{:07}", i), "Merhaba"), None)
                .await
        }
    })
    .await;
    let ids: std::collections::HashSet<i64> = results
        .into_iter()
        .map(|r| r.unwrap().message.id.0)
        .collect();
    assert_eq!(ids.len(), n, "every accept made its own message");
    assert_eq!(count_messages(db, c).await, n as i64);
    assert_eq!(s.credit_balance(c).await.unwrap(), 10_000 - n as i64);
    assert_eq!(
        s.credit_ledger_sum(c).await.unwrap(),
        10_000 - n as i64,
        "one reservation per message, as before"
    );
    let after = s.accept_stats();
    assert_eq!(after.messages - before.messages, n as u64);
    assert!(
        after.commits - before.commits < n as u64,
        "accepts waiting together share a commit: {} commits for {n} messages",
        after.commits - before.commits
    );
}

async fn a_short_balance_refuses_only_what_it_cannot_cover(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 50).await;
    let results = at_once(80, |i| {
        let s = s.clone();
        async move {
            s.enqueue_message(c, msg(p, &format!("0533{:07}", i), "Merhaba"), None)
                .await
        }
    })
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let short = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::InsufficientCredit { .. })))
        .count();
    assert_eq!(
        (ok, short),
        (50, 30),
        "each is checked against the balance left"
    );
    assert_eq!(s.credit_balance(c).await.unwrap(), 0);
    assert_eq!(s.credit_ledger_sum(c).await.unwrap(), 0);
    assert_eq!(count_messages(db, c).await, 50);
}

async fn one_new_key_sent_many_times_at_once_makes_one_message(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 100).await;
    let results = at_once(40, |i| {
        let s = s.clone();
        async move {
            // Half ask with the same request, half with another under the same key.
            let hash = if i % 2 == 0 { "same" } else { "other" };
            s.enqueue_message(c, msg(p, "05321234567", "Merhaba"), Some(key("k-1", hash)))
                .await
        }
    })
    .await;
    let made: Vec<_> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .filter(|e| !e.replayed)
        .collect();
    assert_eq!(made.len(), 1, "one message for one key");
    let first = made[0].message.id;
    let first_hash_even = results
        .iter()
        .enumerate()
        .find(|(_, r)| r.as_ref().is_ok_and(|e| !e.replayed))
        .map(|(i, _)| i % 2 == 0)
        .unwrap();
    for (i, r) in results.iter().enumerate() {
        let same_as_first = (i % 2 == 0) == first_hash_even;
        match r {
            Ok(e) => {
                assert!(same_as_first, "request {i} replayed another request's key");
                assert_eq!(e.message.id, first);
                let body = format!("{{\"id\":{}}}", first.0);
                assert_eq!(e.answer.as_ref().map(|a| a.body.as_str()), Some(&*body));
            }
            Err(StoreError::IdempotencyConflict) => assert!(!same_as_first),
            Err(e) => panic!("request {i}: {e}"),
        }
    }
    assert_eq!(count_messages(db, c).await, 1);
    assert_eq!(s.credit_balance(c).await.unwrap(), 99);
}

async fn a_batch_is_answered_item_by_item_in_order(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 3).await;
    let first = s
        .enqueue_message(c, msg(p, "05320000001", "Bir"), Some(key("seen", "h")))
        .await
        .unwrap();
    let batch = vec![
        (msg(p, "05320000002", "İki"), None),
        (msg(p, "05320000001", "Bir"), Some(key("seen", "h"))),
        (msg(p, "05320000003", "Üç"), Some(key("seen", "other"))),
        (msg(p, "05320000004", "Dört"), Some(key("new", "h"))),
        (msg(p, "05320000005", "Beş"), None),
        (msg(p, "05320000004", "Dört"), Some(key("new", "h"))),
    ];
    let r = s.enqueue_messages(c, batch).await;
    assert_eq!(r.len(), 6);
    let two = r[0].as_ref().unwrap();
    assert!(!two.replayed && two.message.body == "İki");
    let again = r[1].as_ref().unwrap();
    assert!(again.replayed && again.message.id == first.message.id);
    assert!(matches!(r[2], Err(StoreError::IdempotencyConflict)));
    let four = r[3].as_ref().unwrap();
    assert!(!four.replayed && four.message.body == "Dört");
    assert!(
        matches!(r[4], Err(StoreError::InsufficientCredit { .. })),
        "the balance of 3 covered the first, İki and Dört"
    );
    let four_again = r[5].as_ref().unwrap();
    assert!(
        four_again.replayed && four_again.message.id == four.message.id,
        "a key used earlier in the same batch is a replay"
    );
    assert_eq!(count_messages(db, c).await, 3);
    assert_eq!(s.credit_ledger_sum(c).await.unwrap(), 0);
}

async fn a_failing_message_does_not_fail_its_group(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 100).await;
    // A provider account that does not exist breaks the insert (a foreign key): the group
    // rolls back and the others are accepted one by one.
    let broken = msg(ProviderAccountId(p.0 + 1_000_000), "05320000009", "Kırık");
    let batch = vec![
        (msg(p, "05320000010", "A"), None),
        (broken, None),
        (msg(p, "05320000011", "B"), None),
    ];
    let r = s.enqueue_messages(c, batch).await;
    assert!(r[0].is_ok() && r[2].is_ok(), "{r:?}");
    // A SQLite file accepts on its writer thread, PostgreSQL through sqlx.
    match s.backend() {
        ulak_store::Backend::Sqlite => {
            assert!(matches!(r[1], Err(StoreError::Sqlite(_))), "{:?}", r[1])
        }
        ulak_store::Backend::Postgres => {
            assert!(matches!(r[1], Err(StoreError::Database(_))), "{:?}", r[1])
        }
    }
    assert_eq!(count_messages(db, c).await, 2);
    assert_eq!(s.credit_balance(c).await.unwrap(), 98);
    assert_eq!(s.credit_ledger_sum(c).await.unwrap(), 98);
}

async fn an_opt_out_is_checked_in_the_accepting_transaction(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 10).await;
    let phone = ulak_core::Msisdn::parse("05320000020", ulak_core::CountryType::Tr).unwrap();
    s.add_opt_out(c, &phone, None).await.unwrap();
    let batch = vec![
        (msg(p, "05320000020", "Kontrollü").unless_opted_out(), None),
        (msg(p, "05320000021", "Kontrollü").unless_opted_out(), None),
        // A campaign's message skips the check (its planner skipped opted-out numbers).
        (msg(p, "05320000020", "Kampanya"), None),
        (
            msg(p, "05320000020", "Kontrollü").unless_opted_out(),
            Some(key("o-1", "h")),
        ),
    ];
    let r = s.enqueue_messages(c, batch).await;
    let refused = |i: usize| match &r[i] {
        Err(StoreError::Validation(v)) => {
            v.0.iter().any(|e| e.code == ulak_core::Code::PhoneOptedOut)
        }
        _ => false,
    };
    assert!(refused(0) && refused(3), "{r:?}");
    assert!(r[1].is_ok() && r[2].is_ok(), "{r:?}");
    assert_eq!(count_messages(db, c).await, 2);
    assert_eq!(
        s.credit_balance(c).await.unwrap(),
        8,
        "refused ones reserve nothing"
    );
    // The refused key was left unused.
    let again = s
        .enqueue_message(c, msg(p, "05320000022", "Yeni"), Some(key("o-1", "h")))
        .await
        .unwrap();
    assert!(!again.replayed);
}

/// Every column the accept wrote reads back as the answer said (a SQLite file and PostgreSQL
/// each write a group's rows through one JSON parameter), whatever the text holds, a
/// scheduled message records its schedule, and each message has its reservation, in order.
async fn an_accepted_message_reads_back_as_it_was_answered(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 10).await;
    // 2096 in unix milliseconds: ahead of any run of this test.
    let later = 4_000_000_000_000;
    let mut scheduled = msg(p, "05320000030", "Yarın: şubemiz açık").in_class(TrafficClass::Otp);
    scheduled.scheduled_at = Some(later);
    let mut awkward = msg(p, "05320000032", "x");
    awkward.body = "\"tırnak\" \\ters\\ {a,b} NULL\tsekme\nyeni satır 🙂 €".into();
    awkward.recipient = Recipient::Tckn(ulak_core::Tckn::parse("12345678950").unwrap());
    let batch = vec![
        (msg(p, "05320000031", "Şimdi"), Some(key("r-1", "h"))),
        (scheduled, None),
        (awkward, None),
    ];
    let r = s.enqueue_messages(c, batch).await;
    for (i, answered) in r.iter().enumerate() {
        let answered = &answered.as_ref().unwrap().message;
        let stored = s.get_message(c, answered.id).await.unwrap().unwrap();
        assert_eq!(&stored.message, answered, "message {i}");
    }
    let odd = &r[2].as_ref().unwrap().message;
    assert_eq!(
        odd.body,
        "\"tırnak\" \\ters\\ {a,b} NULL\tsekme\nyeni satır 🙂 €"
    );
    assert_eq!(
        (odd.recipient_kind.as_str(), odd.recipient.as_str()),
        ("tckn", "12345678950")
    );
    let queued = &r[0].as_ref().unwrap().message;
    assert_eq!(queued.state, MessageState::Queued);
    assert_eq!(queued.class, TrafficClass::Transactional);
    let later_one = s
        .get_message(c, r[1].as_ref().unwrap().message.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(later_one.message.state, MessageState::Scheduled);
    assert_eq!(later_one.message.next_attempt_at, later);
    assert_eq!(later_one.message.class, TrafficClass::Otp);
    assert_eq!(later_one.message.body, "Yarın: şubemiz açık");
    let states: Vec<_> = later_one.events.iter().map(|e| e.state).collect();
    assert_eq!(states, [MessageState::Scheduled]);
    let ledger: Vec<(LedgerKind, i64, i64)> = s
        .list_credit_entries(c, &ListQuery::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|e| (e.kind, e.amount, e.balance_after))
        .collect();
    let costs: Vec<i64> = r.iter().map(|m| m.as_ref().unwrap().message.cost).collect();
    let mut left = 10;
    let mut expected = vec![(LedgerKind::Purchase, 10, 10)];
    for cost in costs {
        left -= cost;
        expected.push((LedgerKind::Reservation, -cost, left));
    }
    assert_eq!(ledger, expected);
    // The key's stored answer came from the message as written.
    let again = s
        .enqueue_message(c, msg(p, "05320000031", "Şimdi"), Some(key("r-1", "h")))
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.message.id, queued.id);
    assert_eq!(again.answer, Some(answer(queued)));
}

/// A database in memory has no file for the writer thread: its accepts go through sqlx, with
/// the same rules.
#[tokio::test]
async fn accepts_work_on_a_database_in_memory() {
    let s = ulak_store::Store::connect("sqlite::memory:", crate::helpers::KEY)
        .await
        .unwrap();
    let (c, p) = funded(&s, 2).await;
    let batch = vec![
        (msg(p, "05320000040", "Bir"), Some(key("m-1", "h"))),
        (msg(p, "05320000041", "İki"), None),
        (msg(p, "05320000042", "Üç"), None),
        (msg(p, "05320000040", "Bir"), Some(key("m-1", "h"))),
    ];
    let r = s.enqueue_messages(c, batch).await;
    let first = r[0].as_ref().unwrap();
    assert!(!first.replayed && r[1].is_ok());
    assert!(
        matches!(r[2], Err(StoreError::InsufficientCredit { .. })),
        "{:?}",
        r[2]
    );
    let repeat = r[3].as_ref().unwrap();
    assert!(repeat.replayed && repeat.message.id == first.message.id);
    assert_eq!(s.credit_balance(c).await.unwrap(), 0);
    assert_eq!(s.credit_ledger_sum(c).await.unwrap(), 0);
    s.close().await;
}

/// A company flooding the lane with batches does not queue another company's single send
/// behind them: the single send takes its turn in the next group, so most of the flood
/// commits after it. One lane took them first come, first served: the single send was the
/// last to commit.
async fn a_flood_of_batches_does_not_hold_back_another_companys_single_send(db: &TestDb) {
    let batches = |pa| {
        (0..20)
            .map(|k| {
                (0..1000)
                    .map(|i| msg(pa, &format!("0532 {k:02}{i:05}"), "toplu"))
                    .collect()
            })
            .collect()
    };
    let after = committed_after_a_later_single_send(db, 20_000, batches).await;
    // Only the first group (at most 4,000 messages) was under way before the single send
    // came.
    assert!(
        after >= 16_000,
        "only {after} of the flood's 20,000 messages committed after the single send"
    );
}

/// More requests from one company than its lane's turns and channel hold (4,096 each): the
/// company waits for places of its own (512), so another company's single send still
/// reaches the lane, and takes its turn, at once. Without the places it queued behind the
/// channel's 4,096 and the senders waiting for room there.
async fn a_flood_deeper_than_the_lane_does_not_hold_back_another_companys_single_send(db: &TestDb) {
    let singles = |pa| {
        (0..9_000)
            .map(|i| vec![msg(pa, &format!("0532 1{i:06}"), "tek tek")])
            .collect()
    };
    let after = committed_after_a_later_single_send(db, 9_000, singles).await;
    // At most the company's 512 places were in the group under way.
    assert!(
        after >= 8_488,
        "only {after} of the flood's 9,000 messages committed after the single send"
    );
}

/// Queues the requests `flood` makes for a company funded with `credit` while the lane's
/// writes are held, then one message of an earlier company of the same lane, lets the
/// writes go, and answers how many of the flood's messages committed after that one (a
/// message's id is drawn at its commit). The earlier company's message goes first within a
/// group they share (a group writes its companies in id order). The waits give the
/// requests time to reach the lane in that order.
async fn committed_after_a_later_single_send(
    db: &TestDb,
    credit: i64,
    flood: impl FnOnce(ProviderAccountId) -> Vec<Vec<NewMessage>>,
) -> usize {
    let s = &db.store;
    let (b, pb) = funded(s, 1).await;
    // A company of the same lane: PostgreSQL has four, chosen by the company's id.
    let (a, pa) = loop {
        let (a, pa) = funded(s, credit).await;
        if a.0.unsigned_abs() % 4 == b.0.unsigned_abs() % 4 {
            break (a, pa);
        }
    };
    let requests = flood(pa);
    // The lane's first group waits on this lock while the rest queue behind it.
    let hold = db.hold_writes("messages").await;
    let mut flood = Vec::new();
    for request in requests {
        let store = s.clone();
        let request = request.into_iter().map(|m| (m, None)).collect();
        flood.push(tokio::spawn(async move {
            store.enqueue_messages(a, request).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let store = s.clone();
    let single = tokio::spawn(async move {
        store
            .enqueue_message(b, msg(pb, "05329999999", "tek"), None)
            .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    hold.rollback().await.unwrap();
    let single = single.await.unwrap().unwrap().message.id.0;
    let mut after = 0;
    for t in flood {
        for r in t.await.unwrap() {
            if r.unwrap().message.id.0 > single {
                after += 1;
            }
        }
    }
    after
}
