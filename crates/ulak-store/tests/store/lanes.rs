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
    queued_messages_wake_their_accounts_waiter
);

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
