//! Taking over a campaign's queueing: a stale one by one claimer, a node's own at once however
//! fresh, and a halted one only after a resume.

use std::time::Duration;

use ulak_core::model::{CampaignAction, CampaignState};
use ulak_store::{CampaignQueueing, QUEUEING_ACTIVE, QUEUEING_HALTED, StoreError};

use crate::campaigns::{balance, draft, funded, get, msgs, queue, skips};
use crate::helpers::TestDb;

crate::store_tests!(
    stale_queueing_is_taken_over_by_one_claimer,
    a_node_takes_back_its_own_queueing_however_fresh,
    a_halted_queueing_waits_for_a_resume,
);

async fn stale_queueing_is_taken_over_by_one_claimer(db: &TestDb) {
    let s = &db.store;
    let (c, _) = funded(s, 100).await;
    let never = draft(s, c).await;
    let k = draft(s, c).await;
    s.begin_campaign_queueing(c, k.id, 1, 0, 1).await.unwrap();
    let k = get(s, &k).await;
    let stamped = queue(s, &k).await.queue_at.unwrap();
    // Fresh: nobody takes it.
    assert!(
        s.claim_stale_campaign_queueing(stamped - 30_000)
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    // Stale (the writer's stamp is before the limit): of four nodes asking at once, one gets
    // it, stamped anew.
    let limit = stamped + 1;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let s = s.clone();
        set.spawn(async move { s.claim_stale_campaign_queueing(limit).await.unwrap() });
    }
    let mut got: Vec<CampaignQueueing> = Vec::new();
    while let Some(r) = set.join_next().await {
        got.extend(r.unwrap());
    }
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].campaign_id, got[0].company_id), (k.id, c));
    assert!(got[0].queue_at.unwrap() >= limit);
    assert_eq!(queue(s, &k).await, got[0]);
    assert!(s.campaign_queueing(c, never.id).await.unwrap().is_none());
    // A sign of life from the writer at the cursor keeps it; one at another cursor is told to
    // stop.
    assert!(s.touch_campaign_queueing(c, k.id, 0).await.unwrap());
    assert!(!s.touch_campaign_queueing(c, k.id, 1).await.unwrap());
    // Cancelled: never taken over.
    s.set_campaign_state(c, k.id, CampaignAction::Cancel, None)
        .await
        .unwrap();
    assert!(
        s.claim_stale_campaign_queueing(i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!s.touch_campaign_queueing(c, k.id, 0).await.unwrap());
}

async fn a_node_takes_back_its_own_queueing_however_fresh(db: &TestDb) {
    let (a, b) = (
        db.store.clone().for_node("node-a"),
        db.store.clone().for_node("node-b"),
    );
    let (c, _) = funded(&a, 100).await;
    let (mine, theirs) = (draft(&a, c).await, draft(&a, c).await);
    a.begin_campaign_queueing(c, mine.id, 1, 0, 1)
        .await
        .unwrap();
    b.begin_campaign_queueing(c, theirs.id, 1, 0, 1)
        .await
        .unwrap();
    // Without a node nothing is anybody's own; node B's fresh queueing is not A's.
    assert!(
        db.store
            .claim_own_campaign_queueing()
            .await
            .unwrap()
            .is_empty()
    );
    let got = a.claim_own_campaign_queueing().await.unwrap();
    assert_eq!(
        got.iter().map(|q| q.campaign_id).collect::<Vec<_>>(),
        vec![mine.id]
    );
    // A stale queueing taken over becomes the taker's own.
    let took = a.claim_stale_campaign_queueing(i64::MAX).await.unwrap();
    assert_eq!(took.len(), 2);
    let mut own: Vec<i64> = a
        .claim_own_campaign_queueing()
        .await
        .unwrap()
        .iter()
        .map(|q| q.campaign_id)
        .collect();
    own.sort_unstable();
    assert_eq!(own, vec![mine.id, theirs.id]);
    assert!(b.claim_own_campaign_queueing().await.unwrap().is_empty());
}

async fn a_halted_queueing_waits_for_a_resume(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 10).await;
    let k = draft(s, c).await;
    s.begin_campaign_queueing(c, k.id, 10, 0, 10).await.unwrap();
    let k = get(s, &k).await;
    assert_eq!(balance(s, c).await, 0);
    let err = s
        .queue_campaign_chunk(c, k.id, 0, 11, &msgs(p, 0, 11), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InsufficientCredit { .. }),
        "{err:?}"
    );
    assert!(
        !s.halt_campaign_queueing(c, k.id, 5, "no").await.unwrap(),
        "only at the cursor"
    );
    assert!(
        s.halt_campaign_queueing(c, k.id, 0, "insufficient credit")
            .await
            .unwrap()
    );
    let h = get(s, &k).await;
    let hq = queue(s, &k).await;
    assert_eq!(
        (
            h.state.as_str(),
            h.state_reason.as_deref(),
            hq.queueing,
            hq.reserve_left
        ),
        ("paused", Some("insufficient credit"), QUEUEING_HALTED, 10)
    );
    // Halted: no writer goes on and no node takes it over, whatever its age.
    assert!(
        !s.queue_campaign_chunk(c, k.id, 0, 10, &msgs(p, 0, 10), &[])
            .await
            .unwrap()
    );
    assert!(
        s.claim_stale_campaign_queueing(i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    s.finish_done_campaigns().await.unwrap();
    assert_eq!(get(s, &k).await.state, CampaignState::Paused);
    // A resume lets the queueing go on, stamped as worked on now.
    let r = s
        .set_campaign_state(c, k.id, CampaignAction::Resume, None)
        .await
        .unwrap();
    let rq = queue(s, &k).await;
    assert_eq!(
        (r.state.as_str(), rq.queueing),
        ("running", QUEUEING_ACTIVE)
    );
    assert!(rq.queue_at.unwrap() >= hq.queue_at.unwrap());
    assert!(
        s.queue_campaign_chunk(c, k.id, 0, 11, &msgs(p, 0, 10), &skips(1))
            .await
            .unwrap()
    );
    assert!(s.finish_campaign_queueing(c, k.id, 11).await.unwrap());
    let done = get(s, &k).await;
    assert_eq!((done.recipients, done.skipped, done.cost), (10, 1, 10));
    assert_eq!(balance(s, c).await, 0);
    // A pause and resume of a campaign not halted leaves its queueing alone.
    let k2 = draft(s, c).await;
    s.begin_campaign_queueing(c, k2.id, 0, 0, 0).await.unwrap();
    let before = queue(s, &k2).await;
    s.set_campaign_state(c, k2.id, CampaignAction::Pause, None)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    s.set_campaign_state(c, k2.id, CampaignAction::Resume, None)
        .await
        .unwrap();
    assert_eq!(queue(s, &k2).await, before);
}
