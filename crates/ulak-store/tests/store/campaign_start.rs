//! A start recorded before its audience is priced (docs/decisions/0006-sending-core.md, "A
//! campaign starts at once"): nothing reserved or queued while it is priced; the pricing
//! reserves the exact cost, or takes the start back leaving the campaign paused as a start
//! refused for credit; a cancel meanwhile wins; a pricing left alone is taken over; the
//! audience's candidates are counted without reading them.

use std::collections::BTreeMap;

use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_store::{Opening, QUEUEING_ACTIVE, QUEUEING_DONE, QUEUEING_PRICING, StoreError};

use crate::campaigns::{balance, count, draft, funded, get, msgs, queue};
use crate::helpers::TestDb;

crate::store_tests!(
    a_start_being_priced_reserves_nothing_until_it_is_priced,
    a_pricing_the_balance_cannot_cover_takes_the_start_back,
    a_cancel_while_priced_wins,
    a_pricing_left_alone_is_taken_over,
    a_bound_reserved_at_start_is_trued_up_at_the_end,
    the_audience_is_counted_as_planning_reads_it
);

async fn a_start_being_priced_reserves_nothing_until_it_is_priced(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 100).await;
    let k = draft(s, c).await;
    let q = s
        .open_campaign_queueing(c, k.id, Opening::Pricing, Some(50))
        .await
        .unwrap();
    assert_eq!(
        (q.queueing, q.queued_pos, q.reserve_left, q.total),
        (QUEUEING_PRICING, 0, 0, Some(50))
    );
    let k = get(s, &k).await;
    assert_eq!(k.state, CampaignState::Running);
    assert!(k.started_at.is_some());
    assert_eq!(balance(s, c).await, 100, "nothing reserved");
    // Started once only.
    assert!(matches!(
        s.open_campaign_queueing(c, k.id, Opening::Pricing, None)
            .await,
        Err(StoreError::WrongState(_))
    ));
    // No chunk before the price, and it is not finished while priced.
    assert!(
        !s.queue_campaign_chunk(c, k.id, 0, 3, &msgs(p, 0, 3), &[])
            .await
            .unwrap()
    );
    s.finish_done_campaigns().await.unwrap();
    assert_eq!(get(s, &k).await.state, CampaignState::Running);
    // The pricing says it is at work.
    assert!(s.touch_campaign_queueing(c, k.id, 0).await.unwrap());

    assert!(
        s.price_campaign_queueing(c, k.id, 10, 2, 10, 48)
            .await
            .unwrap()
    );
    let q = queue(s, &k).await;
    assert_eq!(
        (q.queueing, q.reserve_left, q.total),
        (QUEUEING_ACTIVE, 10, Some(48))
    );
    let k = get(s, &k).await;
    assert_eq!((k.recipients, k.skipped, k.cost), (10, 2, 10));
    assert_eq!(balance(s, c).await, 90);
    // Priced once only.
    assert!(
        !s.price_campaign_queueing(c, k.id, 10, 2, 10, 48)
            .await
            .unwrap()
    );
    assert_eq!(balance(s, c).await, 90);
    assert!(
        s.queue_campaign_chunk(c, k.id, 0, 12, &msgs(p, 0, 10), &[])
            .await
            .unwrap()
    );
    assert!(s.finish_campaign_queueing(c, k.id, 12).await.unwrap());
    let q = queue(s, &k).await;
    assert_eq!(
        (q.queueing, q.total),
        (QUEUEING_DONE, Some(12)),
        "exact at the end"
    );
}

async fn a_pricing_the_balance_cannot_cover_takes_the_start_back(db: &TestDb) {
    let s = &db.store;
    let (c, _) = funded(s, 5).await;
    let k = draft(s, c).await;
    s.open_campaign_queueing(c, k.id, Opening::Pricing, Some(10))
        .await
        .unwrap();
    // Paused by a user while priced.
    s.set_campaign_state(c, k.id, CampaignAction::Pause, Some("paused by a user"))
        .await
        .unwrap();
    assert!(matches!(
        s.price_campaign_queueing(c, k.id, 10, 0, 10, 10).await,
        Err(StoreError::InsufficientCredit { balance: 5, .. })
    ));
    assert_eq!(queue(s, &k).await.queueing, QUEUEING_PRICING, "unchanged");
    assert_eq!(balance(s, c).await, 5);
    assert!(
        s.unstart_campaign(
            c,
            k.id,
            CampaignAction::WaitForCredit,
            "insufficient credit"
        )
        .await
        .unwrap()
    );
    // As a start refused at once leaves it: paused, not started, no queueing.
    let k = get(s, &k).await;
    assert_eq!(
        (k.state, k.state_reason.as_deref(), k.started_at),
        (CampaignState::Paused, Some("insufficient credit"), None)
    );
    assert!(s.campaign_queueing(c, k.id).await.unwrap().is_none());
    assert_eq!(balance(s, c).await, 5);
    assert!(
        !s.unstart_campaign(c, k.id, CampaignAction::WaitForCredit, "again")
            .await
            .unwrap()
    );
    // And it can be started again.
    s.begin_campaign_queueing(c, k.id, 5, 0, 5).await.unwrap();
    assert_eq!(get(s, &k).await.state, CampaignState::Running);
    assert_eq!(balance(s, c).await, 0);

    // A running one whose setup broke while priced: paused the same way.
    let k = draft(s, c).await;
    s.open_campaign_queueing(c, k.id, Opening::Pricing, Some(10))
        .await
        .unwrap();
    assert!(
        s.unstart_campaign(c, k.id, CampaignAction::Halt, "queueing stopped")
            .await
            .unwrap()
    );
    let k = get(s, &k).await;
    assert_eq!((k.state, k.started_at), (CampaignState::Paused, None));
}

async fn a_cancel_while_priced_wins(db: &TestDb) {
    let s = &db.store;
    let (c, _) = funded(s, 100).await;
    let k = draft(s, c).await;
    s.open_campaign_queueing(c, k.id, Opening::Pricing, Some(30))
        .await
        .unwrap();
    let x = s
        .set_campaign_state(c, k.id, CampaignAction::Cancel, None)
        .await
        .unwrap();
    assert_eq!(x.state, CampaignState::Cancelled);
    let q = queue(s, &k).await;
    assert_eq!(
        (q.queueing, q.queued_pos, q.total),
        (QUEUEING_DONE, 0, Some(30))
    );
    assert!(!s.touch_campaign_queueing(c, k.id, 0).await.unwrap());
    assert!(
        !s.price_campaign_queueing(c, k.id, 30, 0, 30, 30)
            .await
            .unwrap()
    );
    assert!(
        !s.unstart_campaign(c, k.id, CampaignAction::WaitForCredit, "short")
            .await
            .unwrap()
    );
    assert_eq!(get(s, &k).await.state, CampaignState::Cancelled);
    assert_eq!(balance(s, c).await, 100);
}

async fn a_pricing_left_alone_is_taken_over(db: &TestDb) {
    let base = &db.store;
    let (c, _) = funded(base, 100).await;
    let a = base.clone().for_node("node-a");
    let k = draft(&a, c).await;
    a.open_campaign_queueing(c, k.id, Opening::Pricing, Some(5))
        .await
        .unwrap();
    // Node A, started again, takes it back at once; another node once it is stale.
    let own = a.claim_own_campaign_queueing().await.unwrap();
    assert_eq!(
        own.iter()
            .map(|q| (q.campaign_id, q.queueing))
            .collect::<Vec<_>>(),
        [(k.id, QUEUEING_PRICING)]
    );
    let b = base.clone().for_node("node-b");
    let taken = b.claim_stale_campaign_queueing(i64::MAX).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].queueing, QUEUEING_PRICING);
    // Read for a page of campaigns.
    let page = a.campaign_queueings(c, &[k.id, k.id + 1000]).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[&k.id].total, Some(5));
}

async fn a_bound_reserved_at_start_is_trued_up_at_the_end(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 100).await;
    let k = draft(s, c).await;
    // 40 entries at most one credit each, without a plan.
    let opening = Opening::Reserved {
        recipients: 0,
        skipped: 0,
        cost: 40,
    };
    let q = s
        .open_campaign_queueing(c, k.id, opening, Some(40))
        .await
        .unwrap();
    assert_eq!((q.queueing, q.reserve_left), (QUEUEING_ACTIVE, 40));
    assert_eq!(balance(s, c).await, 60);
    assert!(
        s.queue_campaign_chunk(c, k.id, 0, 40, &msgs(p, 0, 30), &[])
            .await
            .unwrap()
    );
    assert!(s.finish_campaign_queueing(c, k.id, 40).await.unwrap());
    let k = get(s, &k).await;
    assert_eq!((k.recipients, k.skipped, k.cost), (30, 0, 30));
    assert_eq!(count(s, &k, "queued").await, 30);
    assert_eq!(balance(s, c).await, 70);
}

async fn the_audience_is_counted_as_planning_reads_it(db: &TestDb) {
    let s = &db.store;
    let (c, _) = funded(s, 0).await;
    let tr = CountryType::Tr;
    let g = s
        .create_group(c, GroupName::parse("Üyeler").unwrap(), None)
        .await
        .unwrap()
        .id;
    let mut ids = Vec::new();
    for i in 0..3 {
        let new = NewSubscriber::new(
            &format!("Üye {i}"),
            &format!("0533000{i:04}"),
            tr,
            None,
            BTreeMap::new(),
            Consent::OptedIn,
        )
        .unwrap();
        ids.push(s.create_subscriber(c, new).await.unwrap().id);
    }
    s.add_group_members(c, g, &ids).await.unwrap();
    let empty = s
        .create_group(c, GroupName::parse("Boş").unwrap(), None)
        .await
        .unwrap()
        .id;
    let account = NewCustomerAccount::new(
        "C1",
        "Firma",
        CustomerKind::Customer,
        &["05321110001", "05421110002"],
        tr,
        0,
        BTreeMap::new(),
    )
    .unwrap();
    let acc = s.create_customer_account(c, account).await.unwrap().id;
    // Another company's group and account count as unknown ids: one entry each.
    let (other, _) = funded(s, 0).await;
    let theirs = s
        .create_group(other, GroupName::parse("Onların").unwrap(), None)
        .await
        .unwrap()
        .id;
    let n = s
        .count_audience(
            c,
            &[g.0, empty.0, g.0, 990_001, theirs.0],
            &[acc.0, 990_002, acc.0],
        )
        .await
        .unwrap();
    // 3 + 0 + 3 + 1 + 1 members, 2 + 1 + 2 phones.
    assert_eq!(n, 13);
    assert_eq!(s.count_audience(c, &[], &[]).await.unwrap(), 0);
}
