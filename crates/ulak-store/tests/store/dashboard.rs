//! The web UI's aggregates: a campaign's delivery per time bucket, the company's messages
//! per day, campaigns newest first by state, unread inbound messages and an account's queue,
//! each only of the company asked about.

use sqlx::AnyPool;
use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_store::{DayCounts, DeliveryBucket, InboundIn};

use crate::campaigns::draft;
use crate::helpers::{TestDb, company, simulator_account};

crate::store_tests!(
    delivery_is_counted_per_bucket_of_the_campaign_only,
    days_are_cut_at_the_given_bounds,
    campaigns_come_newest_first_by_state_in_pages,
    unread_inbound_and_queues_are_the_companys_own
);

/// A message of `company` (and `campaign`) in `state`, created at `created` and final at
/// `final_at`, for `account`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn message(
    raw: &AnyPool,
    company: CompanyId,
    campaign: Option<i64>,
    account: Option<i64>,
    state: MessageState,
    created: i64,
    final_at: Option<i64>,
) {
    sqlx::query(
        "INSERT INTO messages (company_id, campaign_id, provider_account_id, recipient_kind, \
         recipient, sender, body, encoding, segments, cost, state, state_at, attempts, \
         next_attempt_at, valid_until, created_at, final_at) VALUES ($1, $2, $3, 'msisdn', \
         '+905321234567', 'ULAK', 'metin', 'gsm7', 1, 1, $4, $5, 0, $5, $5, $5, $6)",
    )
    .bind(company.0)
    .bind(campaign)
    .bind(account)
    .bind(state.as_str())
    .bind(created)
    .bind(final_at)
    .execute(raw)
    .await
    .unwrap();
}

async fn delivery_is_counted_per_bucket_of_the_campaign_only(db: &TestDb) {
    let s = &db.store;
    let raw = db.raw().await;
    let c = company(s, CountryType::Tr).await.id;
    let other = company(s, CountryType::Tr).await.id;
    let k = draft(s, c).await.id;
    let k2 = draft(s, c).await.id;
    // Whole minutes, as the chart asks (its counts are kept per minute).
    let min = 60_000;
    let start = 1_000 * min;
    use MessageState::*;
    for (state, at) in [
        (Delivered, start),
        (Delivered, start + min - 1),
        (Rejected, start + 10),
        (Delivered, start + 2 * min),
        (Expired, start + 2 * min + 5),
        (Undeliverable, start + 2 * min + 6),
        // Beyond the last bucket: counted in it.
        (Delivered, start + 50 * min),
        // Not delivery outcomes, or before the start: left out.
        (Cancelled, start + 10),
        (Skipped, start + 10),
        (Delivered, start - 1),
    ] {
        message(&raw, c, Some(k), None, state, start, Some(at)).await;
    }
    message(&raw, c, Some(k), None, Queued, start, None).await;
    // Another campaign of the company, and (same ids) another company's messages.
    message(&raw, c, Some(k2), None, Delivered, start, Some(start)).await;
    message(&raw, other, Some(k), None, Delivered, start, Some(start)).await;
    let b = s.campaign_delivery(c, k, start, min, 3).await.unwrap();
    let d = |delivered, failed| DeliveryBucket { delivered, failed };
    assert_eq!(b, vec![d(2, 1), d(0, 0), d(2, 2)]);
    assert_eq!(
        s.campaign_delivery(other, k2, start, min, 3).await.unwrap(),
        vec![d(0, 0); 3],
        "another company's campaign id shows nothing"
    );
    raw.close().await;
}

async fn days_are_cut_at_the_given_bounds(db: &TestDb) {
    let s = &db.store;
    let raw = db.raw().await;
    let c = company(s, CountryType::Tr).await.id;
    let other = company(s, CountryType::Tr).await.id;
    // Uneven days, as a change of clocks makes them; `h` a 1/250 of a quarter hour, the
    // bounds quarter hours as midnights are.
    let h = 3_600;
    let bounds = [1_000 * h, 2_000 * h, 2_500 * h, 4_000 * h];
    use MessageState::*;
    for (state, at) in [
        (Delivered, 1_000),
        (Queued, 1_999),
        (Skipped, 1_500),
        (Rejected, 2_000),
        (Failed, 2_499),
        (Delivered, 3_999),
        (Cancelled, 3_000),
        // Outside the bounds.
        (Delivered, 999),
        (Delivered, 4_000),
    ] {
        message(&raw, c, None, None, state, at * h, None).await;
    }
    message(&raw, other, None, None, Delivered, 1_500 * h, None).await;
    let days = s.daily_message_counts(c, &bounds).await.unwrap();
    let day = |accepted, delivered, failed| DayCounts {
        accepted,
        delivered,
        failed,
    };
    assert_eq!(days, vec![day(2, 1, 0), day(2, 0, 2), day(2, 1, 0)]);
    assert!(s.daily_message_counts(c, &[5]).await.unwrap().is_empty());
    raw.close().await;
}

async fn campaigns_come_newest_first_by_state_in_pages(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await.id;
    let other = company(s, CountryType::Tr).await.id;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(draft(s, c).await.id);
    }
    draft(s, other).await;
    s.set_campaign_state(c, ids[1], CampaignAction::Cancel, None)
        .await
        .unwrap();
    let q = |cursor: Option<String>| ListQuery {
        limit: Some(2),
        cursor,
        ..ListQuery::default()
    };
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = s.list_campaigns_newest(c, &q(cursor), None).await.unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|k| k.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);
    let cancelled = s
        .list_campaigns_newest(c, &q(None), Some(CampaignState::Cancelled))
        .await
        .unwrap();
    assert_eq!(
        cancelled.items.iter().map(|k| k.id).collect::<Vec<_>>(),
        vec![ids[1]]
    );
    let drafts = s
        .list_campaigns_newest(c, &ListQuery::default(), Some(CampaignState::Draft))
        .await
        .unwrap();
    assert_eq!(drafts.items.len(), 4);
}

async fn unread_inbound_and_queues_are_the_companys_own(db: &TestDb) {
    let s = &db.store;
    let raw = db.raw().await;
    let c = company(s, CountryType::Tr).await.id;
    let other = company(s, CountryType::Tr).await.id;
    let m = |body: &str| InboundIn {
        sender: "905321112233".into(),
        recipient: "4545".into(),
        body: body.into(),
        body_raw: None,
        data_coding: Some(0),
        complete: true,
    };
    s.store_inbound(c, None, vec![m("bir"), m("iki"), m("üç")])
        .await
        .unwrap();
    s.store_inbound(other, None, vec![m("başka")])
        .await
        .unwrap();
    let (n, latest) = s.unread_inbound(c, 2).await.unwrap();
    assert_eq!(n, 3);
    assert_eq!(
        latest.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        vec!["üç", "iki"]
    );
    assert!(s.mark_inbound_read(c, latest[0].id).await.unwrap());
    assert_eq!(s.unread_inbound(c, 5).await.unwrap().0, 2);
    let p = simulator_account(s, c, "sim").await;
    for state in [
        MessageState::Queued,
        MessageState::Queued,
        MessageState::Delivered,
    ] {
        message(&raw, c, None, Some(p.0), state, 1, None).await;
    }
    assert_eq!(s.queued_for_account(c, p).await.unwrap(), 2);
    assert_eq!(
        s.queued_for_account(other, p).await.unwrap(),
        0,
        "another company's account"
    );
    raw.close().await;
}
