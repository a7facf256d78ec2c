//! A campaign's streamed queueing: the start's single reservation, chunks that only move the
//! cursor from where their writer found it, the excess of a grown audience, the end that
//! releases what is left, cancel and finish while queueing. Taking over stale queueing is in
//! `campaign_takeover.rs`.

use std::time::Duration;

use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_store::{
    Campaign, CampaignQueueing, NewCampaign, QUEUEING_ACTIVE, QUEUEING_DONE, SkippedRow, Store,
    StoreError,
};

use crate::helpers::{TestDb, company, simulator_account};

crate::store_tests!(
    a_start_reserves_once_or_changes_nothing,
    a_chunk_at_a_stale_cursor_writes_nothing,
    writers_racing_for_one_cursor_queue_the_chunk_once,
    chunks_draw_on_the_reservation_and_the_end_releases_the_rest,
    cancelling_mid_queueing_releases_what_is_left_of_the_reservation,
    a_campaign_still_queueing_is_not_finished,
    histories_are_told_from_the_columns_without_event_rows,
    planner_statistics_are_refreshed_after_a_big_batch
);

pub(crate) async fn funded(s: &Store, credit: i64) -> (CompanyId, ProviderAccountId) {
    let c = company(s, CountryType::Tr).await.id;
    if credit > 0 {
        s.add_credit_entry(
            c,
            NewCreditEntry::new(LedgerKind::Purchase, credit, None).unwrap(),
        )
        .await
        .unwrap();
    }
    let p = simulator_account(s, c, "sim").await;
    (c, p)
}

pub(crate) async fn draft(s: &Store, c: CompanyId) -> Campaign {
    s.create_campaign(
        c,
        NewCampaign {
            name: "Kampanya".into(),
            sender: Some("ULAK".into()),
            body: "Merhaba".into(),
            audience: "{}".into(),
            scheduled_at: None,
            validity_s: 3600,
            preview: false,
        },
    )
    .await
    .unwrap()
}

/// `n` one-segment messages (one credit each) to numbers from `from` on.
pub(crate) fn msgs(p: ProviderAccountId, from: usize, n: usize) -> Vec<NewMessage> {
    (from..from + n)
        .map(|i| {
            NewMessage::new(
                Recipient::Msisdn(
                    ulak_core::Msisdn::parse(&format!("0532700{i:04}"), CountryType::Tr).unwrap(),
                ),
                SenderName::parse("ULAK").unwrap(),
                "Merhaba",
                ulak_text::Policy::TurkishShift,
                1,
                Some(p),
                None,
                i64::MAX,
            )
            .unwrap()
        })
        .collect()
}

pub(crate) fn skips(n: usize) -> Vec<SkippedRow> {
    (0..n)
        .map(|i| {
            (
                "unknown".to_owned(),
                format!("0312 000 00 {i:02}"),
                "invalid number: not a mobile number".to_owned(),
            )
        })
        .collect()
}

/// The balance, checked against the ledger.
pub(crate) async fn balance(s: &Store, c: CompanyId) -> i64 {
    let b = s.credit_balance(c).await.unwrap();
    assert_eq!(
        b,
        s.credit_ledger_sum(c).await.unwrap(),
        "balance == ledger"
    );
    assert!(b >= 0);
    b
}

async fn ledger_len(s: &Store, c: CompanyId) -> usize {
    s.list_credit_entries(
        c,
        &ListQuery {
            limit: Some(MAX_LIMIT),
            ..ListQuery::default()
        },
    )
    .await
    .unwrap()
    .items
    .len()
}

pub(crate) async fn get(s: &Store, k: &Campaign) -> Campaign {
    s.get_campaign(k.company_id, k.id).await.unwrap().unwrap()
}

pub(crate) async fn queue(s: &Store, k: &Campaign) -> CampaignQueueing {
    s.campaign_queueing(k.company_id, k.id)
        .await
        .unwrap()
        .unwrap()
}

pub(crate) async fn count(s: &Store, k: &Campaign, state: &str) -> i64 {
    s.campaign_counts(k.company_id, k.id)
        .await
        .unwrap()
        .get(state)
        .copied()
        .unwrap_or(0)
}

async fn a_start_reserves_once_or_changes_nothing(db: &TestDb) {
    let s = &db.store;
    let (c, _) = funded(s, 100).await;
    // More than the balance: InsufficientCredit, still a draft, no entry.
    let k = draft(s, c).await;
    let entries = ledger_len(s, c).await;
    let err = s
        .begin_campaign_queueing(c, k.id, 101, 0, 101)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InsufficientCredit { balance: 100, .. }),
        "{err:?}"
    );
    assert_eq!(get(s, &k).await.state, CampaignState::Draft);
    assert_eq!(ledger_len(s, c).await, entries);
    // Within it: one reservation, running with its cursor at 0.
    assert!(s.campaign_queueing(c, k.id).await.unwrap().is_none());
    s.begin_campaign_queueing(c, k.id, 10, 2, 10).await.unwrap();
    let k = get(s, &k).await;
    let q = queue(s, &k).await;
    assert_eq!(
        (
            k.state.as_str(),
            q.queueing,
            q.queued_pos,
            q.reserve_left,
            k.recipients,
            k.skipped,
            k.cost
        ),
        ("running", QUEUEING_ACTIVE, 0, 10, 10, 2, 10)
    );
    assert!(k.started_at.is_some() && q.queue_at.is_some());
    assert_eq!(ledger_len(s, c).await, entries + 1);
    assert_eq!(balance(s, c).await, 90);
    // A second start (another request, another node) is refused and reserves nothing.
    let err = s
        .begin_campaign_queueing(c, k.id, 10, 2, 10)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::WrongState(_)), "{err:?}");
    assert_eq!(balance(s, c).await, 90);
    // Another company's campaign is not found.
    let other = company(s, CountryType::Tr).await.id;
    let err = s
        .begin_campaign_queueing(other, k.id, 1, 0, 0)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

async fn a_chunk_at_a_stale_cursor_writes_nothing(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 100).await;
    let k = draft(s, c).await;
    s.begin_campaign_queueing(c, k.id, 10, 1, 10).await.unwrap();
    let k = get(s, &k).await;
    assert!(
        s.queue_campaign_chunk(c, k.id, 0, 4, &msgs(p, 0, 3), &skips(1))
            .await
            .unwrap()
    );
    let after_first = queue(s, &k).await;
    assert_eq!((after_first.queued_pos, after_first.reserve_left), (4, 7));
    let entries = ledger_len(s, c).await;
    assert_eq!(balance(s, c).await, 90, "taken from the reservation");

    // A second writer that read the cursor at 0 (the same chunk), and one far behind whose
    // chunk would even need more credit: both refused whole.
    assert!(
        !s.queue_campaign_chunk(c, k.id, 0, 4, &msgs(p, 0, 3), &skips(1))
            .await
            .unwrap()
    );
    assert!(
        !s.queue_campaign_chunk(c, k.id, 0, 40, &msgs(p, 100, 30), &skips(5))
            .await
            .unwrap()
    );
    // And one ahead of the cursor.
    assert!(
        !s.queue_campaign_chunk(c, k.id, 5, 8, &msgs(p, 3, 2), &[])
            .await
            .unwrap()
    );
    assert_eq!(count(s, &k, "queued").await, 3);
    assert_eq!(count(s, &k, "skipped").await, 1);
    assert_eq!(ledger_len(s, c).await, entries);
    assert_eq!(balance(s, c).await, 90);
    assert_eq!(queue(s, &k).await, after_first);
    // The writer at the cursor goes on.
    assert!(
        s.queue_campaign_chunk(c, k.id, 4, 8, &msgs(p, 3, 4), &[])
            .await
            .unwrap()
    );
    assert_eq!(count(s, &k, "queued").await, 7);
    assert_eq!(queue(s, &k).await.reserve_left, 3);
}

async fn writers_racing_for_one_cursor_queue_the_chunk_once(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 100).await;
    let k = draft(s, c).await;
    s.begin_campaign_queueing(c, k.id, 5, 0, 5).await.unwrap();
    let k = get(s, &k).await;
    // Four writers at cursor 0 at once, each chunk costing more than the reservation.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let s = s.clone();
        let m = msgs(p, 0, 8);
        set.spawn(async move {
            s.queue_campaign_chunk(c, k.id, 0, 9, &m, &skips(1))
                .await
                .unwrap()
        });
    }
    let mut applied = 0;
    while let Some(r) = set.join_next().await {
        applied += usize::from(r.unwrap());
    }
    assert_eq!(applied, 1);
    assert_eq!(count(s, &k, "queued").await, 8);
    assert_eq!(count(s, &k, "skipped").await, 1);
    assert_eq!(
        balance(s, c).await,
        92,
        "5 reserved at start, 3 beyond it, once"
    );
    assert_eq!(queue(s, &k).await.queued_pos, 9);
}

async fn chunks_draw_on_the_reservation_and_the_end_releases_the_rest(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 100).await;
    let k = draft(s, c).await;
    s.begin_campaign_queueing(c, k.id, 10, 0, 10).await.unwrap();
    let k = get(s, &k).await;
    assert!(
        s.queue_campaign_chunk(c, k.id, 0, 5, &msgs(p, 0, 5), &[])
            .await
            .unwrap()
    );
    // The audience grew since the start: 7 more need 2 beyond the reservation.
    assert!(
        s.queue_campaign_chunk(c, k.id, 5, 13, &msgs(p, 5, 7), &skips(1))
            .await
            .unwrap()
    );
    assert_eq!(queue(s, &k).await.reserve_left, 0);
    assert_eq!(balance(s, c).await, 88);
    // More than the balance can cover: nothing written, the cursor stays.
    let err = s
        .queue_campaign_chunk(c, k.id, 13, 120, &msgs(p, 12, 100), &skips(2))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InsufficientCredit { balance: 88, .. }),
        "{err:?}"
    );
    assert_eq!(queue(s, &k).await.queued_pos, 13);
    assert_eq!(count(s, &k, "queued").await, 12);
    assert_eq!(count(s, &k, "skipped").await, 1);
    assert_eq!(balance(s, c).await, 88);
    // Ending at another cursor is refused; at this one it records what was queued.
    assert!(!s.finish_campaign_queueing(c, k.id, 5).await.unwrap());
    assert!(s.finish_campaign_queueing(c, k.id, 13).await.unwrap());
    let done = get(s, &k).await;
    let q = queue(s, &k).await;
    assert_eq!(
        (
            q.queueing,
            q.reserve_left,
            done.recipients,
            done.skipped,
            done.cost
        ),
        (QUEUEING_DONE, 0, 12, 1, 12)
    );
    assert!(
        !s.finish_campaign_queueing(c, k.id, 13).await.unwrap(),
        "once"
    );
    assert!(
        !s.queue_campaign_chunk(c, k.id, 13, 14, &msgs(p, 50, 1), &[])
            .await
            .unwrap(),
        "no chunk after the end"
    );
    assert_eq!(balance(s, c).await, 88);

    // Fewer than planned (recipients left since the start): the rest comes back at the end.
    let k = draft(s, c).await;
    s.begin_campaign_queueing(c, k.id, 10, 0, 10).await.unwrap();
    let k = get(s, &k).await;
    assert_eq!(balance(s, c).await, 78);
    assert!(
        s.queue_campaign_chunk(c, k.id, 0, 6, &msgs(p, 200, 4), &skips(2))
            .await
            .unwrap()
    );
    assert!(s.finish_campaign_queueing(c, k.id, 6).await.unwrap());
    let done = get(s, &k).await;
    assert_eq!((done.recipients, done.skipped, done.cost), (4, 2, 4));
    assert_eq!(balance(s, c).await, 84);
}

async fn cancelling_mid_queueing_releases_what_is_left_of_the_reservation(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 100).await;
    let k = draft(s, c).await;
    s.begin_campaign_queueing(c, k.id, 10, 0, 10).await.unwrap();
    let k = get(s, &k).await;
    assert!(
        s.queue_campaign_chunk(c, k.id, 0, 3, &msgs(p, 0, 3), &[])
            .await
            .unwrap()
    );
    assert_eq!(queue(s, &k).await.reserve_left, 7);
    assert_eq!(balance(s, c).await, 90);
    let x = s
        .set_campaign_state(c, k.id, CampaignAction::Cancel, Some("cancelled by a user"))
        .await
        .unwrap();
    assert_eq!(
        (
            x.state.as_str(),
            queue(s, &k).await.queueing,
            queue(s, &k).await.reserve_left
        ),
        ("cancelled", QUEUEING_DONE, 0)
    );
    // The 3 queued and the 7 not queued yet: all back; its totals are what was queued.
    assert_eq!(balance(s, c).await, 100);
    assert_eq!((x.recipients, x.skipped, x.cost), (3, 0, 3));
    assert_eq!(count(s, &k, "cancelled").await, 3);
    // The writer's next chunk is refused, and nothing more is released.
    assert!(
        !s.queue_campaign_chunk(c, k.id, 3, 6, &msgs(p, 3, 3), &[])
            .await
            .unwrap()
    );
    assert!(!s.finish_campaign_queueing(c, k.id, 3).await.unwrap());
    assert_eq!(balance(s, c).await, 100);
    assert_eq!(count(s, &k, "queued").await, 0);
}

async fn a_campaign_still_queueing_is_not_finished(db: &TestDb) {
    let s = &db.store;
    let (c, _) = funded(s, 100).await;
    let k = draft(s, c).await;
    s.begin_campaign_queueing(c, k.id, 1, 1, 1).await.unwrap();
    let k = get(s, &k).await;
    // Nothing queued yet, so no message is left to send: but the queueing is not done.
    s.finish_done_campaigns().await.unwrap();
    assert_eq!(get(s, &k).await.state, CampaignState::Running);
    assert!(
        s.queue_campaign_chunk(c, k.id, 0, 1, &[], &skips(1))
            .await
            .unwrap()
    );
    s.finish_done_campaigns().await.unwrap();
    assert_eq!(get(s, &k).await.state, CampaignState::Running);
    assert!(s.finish_campaign_queueing(c, k.id, 1).await.unwrap());
    s.finish_done_campaigns().await.unwrap();
    let k = get(s, &k).await;
    assert_eq!(
        (k.state.as_str(), k.recipients, k.skipped),
        ("finished", 0, 1)
    );
    assert_eq!(balance(s, c).await, 100);
}

/// The usual steps of a history (accepted, final) are read from the message's columns: a
/// cancelled message shows being queued and then cancelled with the reason; a recipient left
/// out at once shows only being skipped, with why.
async fn histories_are_told_from_the_columns_without_event_rows(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 100).await;
    let k = draft(s, c).await;
    s.begin_campaign_queueing(c, k.id, 3, 1, 2).await.unwrap();
    assert!(
        s.queue_campaign_chunk(c, k.id, 0, 3, &msgs(p, 0, 2), &skips(1))
            .await
            .unwrap()
    );
    s.set_campaign_state(c, k.id, CampaignAction::Cancel, Some("cancelled by a user"))
        .await
        .unwrap();
    // A fresh schema per test: the campaign's rows are the first messages.
    let mut seen = Vec::new();
    for id in 1..=3 {
        let d = s
            .get_message(c, ulak_core::model::MessageId(id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.message.campaign_id, Some(k.id));
        let steps: Vec<(MessageState, Option<String>)> = d
            .events
            .iter()
            .map(|e| (e.state, e.detail.clone()))
            .collect();
        // Times never go backwards.
        assert!(d.events.windows(2).all(|w| w[0].at <= w[1].at));
        seen.push((d.message.state, steps));
    }
    seen.sort_by_key(|(state, _)| state.as_str());
    assert_eq!(
        seen,
        vec![
            (
                MessageState::Cancelled,
                vec![
                    (MessageState::Queued, None),
                    (
                        MessageState::Cancelled,
                        Some("the campaign was cancelled".to_owned())
                    )
                ]
            ),
            (
                MessageState::Cancelled,
                vec![
                    (MessageState::Queued, None),
                    (
                        MessageState::Cancelled,
                        Some("the campaign was cancelled".to_owned())
                    )
                ]
            ),
            (
                MessageState::Skipped,
                vec![(
                    MessageState::Skipped,
                    Some("invalid number: not a mobile number".to_owned())
                )]
            ),
        ]
    );
}

/// On PostgreSQL, 10,000 new messages of which 2,000 are claimed make `messages` stale for the
/// planner: it is analyzed once, and not again within 30 seconds. SQLite has nothing to do.
async fn planner_statistics_are_refreshed_after_a_big_batch(db: &TestDb) {
    let s = &db.store;
    let (c, p) = funded(s, 20_000).await;
    s.enqueue_batch(c, None, &msgs(p, 0, 5000)).await.unwrap();
    s.enqueue_batch(c, None, &msgs(p, 5000, 5000))
        .await
        .unwrap();
    assert_eq!(
        s.claim_messages(p, "t", 2000, 60_000).await.unwrap().len(),
        2000
    );
    if s.backend() != ulak_store::Backend::Postgres {
        assert!(s.refresh_statistics().await.unwrap().is_empty());
        return;
    }
    // PostgreSQL publishes table counters a moment after the transaction ends.
    let mut analyzed = Vec::new();
    for _ in 0..50 {
        analyzed = s.refresh_statistics().await.unwrap();
        if !analyzed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(analyzed, vec!["messages".to_owned()]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(s.refresh_statistics().await.unwrap().is_empty());
}
