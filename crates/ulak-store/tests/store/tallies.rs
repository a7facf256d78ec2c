//! The message counts the database keeps (migration 0023) against counting the messages:
//! equal after inserts, state changes, new final times, updates that change nothing counted
//! and deletes, whether or not PostgreSQL's pending changes were folded in yet.

use std::collections::BTreeMap;

use sqlx::AnyPool;
use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_store::{Backend, Store};

use crate::campaigns::draft;
use crate::dashboard::message;
use crate::helpers::{TestDb, company};

crate::store_tests!(
    kept_counts_equal_counting_through_every_change,
    a_fold_moves_the_pending_changes_once
);

const QUARTER: i64 = 900_000;

/// Every figure read from the kept counts, as one comparable value.
async fn kept(
    s: &Store,
    c: CompanyId,
    k: i64,
) -> (
    Vec<(String, i64)>,
    BTreeMap<String, i64>,
    Vec<(MessageState, i64)>,
) {
    (
        s.count_messages_by_state().await.unwrap(),
        s.campaign_counts(c, k).await.unwrap(),
        s.message_state_counts(c, 4 * QUARTER, 8 * QUARTER)
            .await
            .unwrap(),
    )
}

/// The same figures, counted from the messages.
async fn counted(
    raw: &AnyPool,
    c: CompanyId,
    k: i64,
) -> (
    Vec<(String, i64)>,
    BTreeMap<String, i64>,
    Vec<(MessageState, i64)>,
) {
    let all: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM messages GROUP BY state ORDER BY state")
            .fetch_all(raw)
            .await
            .unwrap();
    let campaign: Vec<(String, i64)> = sqlx::query_as(
        "SELECT state, COUNT(*) FROM messages WHERE company_id = $1 AND campaign_id = $2 \
         GROUP BY state",
    )
    .bind(c.0)
    .bind(k)
    .fetch_all(raw)
    .await
    .unwrap();
    let window: Vec<(String, i64)> = sqlx::query_as(
        "SELECT state, COUNT(*) FROM messages WHERE company_id = $1 AND created_at >= $2 \
         AND created_at < $3 GROUP BY state",
    )
    .bind(c.0)
    .bind(4 * QUARTER)
    .bind(8 * QUARTER)
    .fetch_all(raw)
    .await
    .unwrap();
    let window = MessageState::ALL
        .iter()
        .filter_map(|s| Some((*s, window.iter().find(|(w, _)| w == s.as_str())?.1)))
        .collect();
    (all, campaign.into_iter().collect(), window)
}

async fn kept_counts_equal_counting_through_every_change(db: &TestDb) {
    let s = &db.store;
    let raw = db.raw().await;
    let c = company(s, CountryType::Tr).await.id;
    let other = company(s, CountryType::Tr).await.id;
    let k = draft(s, c).await.id;
    let k2 = draft(s, other).await.id;
    use MessageState::*;
    let states = [
        Queued, Scheduled, Submitted, Delivered, Failed, Expired, Skipped,
    ];
    // 240 messages over ten quarter hours, two companies, with and without a campaign.
    let mut x: i64 = 7;
    for i in 0..240_i64 {
        x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
        let (who, campaign) = match i % 4 {
            0 => (c, None),
            1 | 2 => (c, Some(k)),
            _ => (other, Some(k2)),
        };
        let state = states[usize::try_from(x % 7).unwrap()];
        let created = (x % 10) * QUARTER + i;
        let final_at = state.is_final().then_some(created + 61_000);
        message(&raw, who, campaign, None, state, created, final_at).await;
    }
    assert_eq!(
        kept(s, c, k).await,
        counted(&raw, c, k).await,
        "after inserts"
    );
    for sql in [
        // Sent, then delivered with a final time: both kinds of count move.
        "UPDATE messages SET state = 'submitted' WHERE state = 'queued' AND id % 2 = 0",
        "UPDATE messages SET state = 'delivered', final_at = created_at + 120000 \
         WHERE state = 'submitted' AND id % 3 = 0",
        // A new final time alone; an update that changes nothing counted.
        "UPDATE messages SET final_at = final_at + 600000 WHERE state = 'failed'",
        "UPDATE messages SET attempts = attempts + 1",
        // One statement changing many rows into and out of the same counts.
        "UPDATE messages SET state = CASE WHEN state = 'expired' THEN 'failed' \
         WHEN state = 'failed' THEN 'expired' ELSE state END",
        "DELETE FROM messages WHERE id % 5 = 0",
    ] {
        sqlx::query(sql).execute(&raw).await.unwrap();
        assert_eq!(
            kept(s, c, k).await,
            counted(&raw, c, k).await,
            "after {sql}"
        );
    }
    while s.fold_message_tallies().await.unwrap() > 0 {}
    assert_eq!(
        kept(s, c, k).await,
        counted(&raw, c, k).await,
        "after folding"
    );
    // The chart's counts, by final minute, agree with the messages too.
    let finals: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages WHERE company_id = $1 AND campaign_id = $2 \
         AND state IN ('delivered', 'failed', 'expired')",
    )
    .bind(c.0)
    .bind(k)
    .fetch_one(&raw)
    .await
    .unwrap();
    let chart = s.campaign_delivery(c, k, 0, 60 * QUARTER, 2).await.unwrap();
    let charted: i64 = chart.iter().map(|b| b.delivered + b.failed).sum();
    assert_eq!(charted, finals);
    raw.close().await;
}

async fn a_fold_moves_the_pending_changes_once(db: &TestDb) {
    let s = &db.store;
    let raw = db.raw().await;
    let c = company(s, CountryType::Tr).await.id;
    let k = draft(s, c).await.id;
    for i in 0..30 {
        message(
            &raw,
            c,
            Some(k),
            None,
            MessageState::Queued,
            5 * QUARTER + i,
            None,
        )
        .await;
    }
    sqlx::query("UPDATE messages SET state = 'sending' WHERE id % 2 = 0")
        .execute(&raw)
        .await
        .unwrap();
    let before = s.campaign_counts(c, k).await.unwrap();
    let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM message_tally_deltas")
        .fetch_one(&raw)
        .await
        .unwrap();
    let moved = s.fold_message_tallies().await.unwrap();
    if s.backend() == Backend::Postgres {
        // One pending change per statement and count it moved (30 inserts, one update).
        assert!(pending >= 31, "{pending}");
        assert_eq!(i64::try_from(moved).unwrap(), pending);
    } else {
        assert_eq!((pending, moved), (0, 0), "SQLite's triggers count directly");
    }
    assert_eq!(s.fold_message_tallies().await.unwrap(), 0, "nothing left");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM message_tally_deltas")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert_eq!(s.campaign_counts(c, k).await.unwrap(), before);
    assert_eq!(before.values().sum::<i64>(), 30);
    raw.close().await;
}
