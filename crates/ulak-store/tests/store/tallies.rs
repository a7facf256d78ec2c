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
    a_fold_moves_the_pending_changes_once,
    folds_at_once_move_every_change_once,
    the_migrations_backfill_counts_what_was_there
);

const QUARTER: i64 = 900_000;

/// Messages per state: of the whole database, of campaign `k`, and of company `c` created in
/// quarter hours 4 to 7.
type Figures = (
    Vec<(String, i64)>,
    BTreeMap<String, i64>,
    Vec<(MessageState, i64)>,
);

/// Every figure read from the kept counts, as one comparable value.
async fn kept(s: &Store, c: CompanyId, k: i64) -> Figures {
    (
        s.count_messages_by_state().await.unwrap(),
        s.campaign_counts(c, k).await.unwrap(),
        s.message_state_counts(c, 4 * QUARTER, 8 * QUARTER)
            .await
            .unwrap(),
    )
}

/// The same figures, counted from the messages.
async fn counted(raw: &AnyPool, c: CompanyId, k: i64) -> Figures {
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

/// The campaign's delivery chart in one-minute buckets from 0 (every final time of these
/// tests falls in its first 400 minutes), as (minute, delivered, failed), empty ones left out.
async fn charted(s: &Store, c: CompanyId, k: i64) -> Vec<(i64, i64, i64)> {
    let chart = s.campaign_delivery(c, k, 0, 60_000, 400).await.unwrap();
    (0_i64..)
        .zip(chart)
        .filter(|(_, b)| b.delivered + b.failed > 0)
        .map(|(m, b)| (m, b.delivered, b.failed))
        .collect()
}

/// The same, counted from the messages.
async fn chart_counted(raw: &AnyPool, c: CompanyId, k: i64) -> Vec<(i64, i64, i64)> {
    let failures = MessageState::ALL
        .iter()
        .filter(|s| s.is_failure())
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(",");
    let sql = format!(
        "SELECT final_at / 60000, \
         CAST(SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN state IN ({failures}) THEN 1 ELSE 0 END) AS BIGINT) \
         FROM messages WHERE company_id = $1 AND campaign_id = $2 AND final_at IS NOT NULL \
         AND state IN ('delivered', {failures}) GROUP BY 1 ORDER BY 1"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(c.0)
        .bind(k)
        .fetch_all(raw)
        .await
        .unwrap()
}

/// 240 messages over ten quarter hours, two companies (`c` and `other`), with and without
/// a campaign (`k` of `c`, `k2` of `other`), in assorted states, final ones with a time.
async fn assorted(raw: &AnyPool, c: CompanyId, other: CompanyId, k: i64, k2: i64) {
    use MessageState::*;
    let states = [
        Queued, Scheduled, Submitted, Delivered, Failed, Expired, Skipped,
    ];
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
        message(raw, who, campaign, None, state, created, final_at).await;
    }
}

/// Two companies with a campaign each, and the assorted messages.
async fn seeded(db: &TestDb) -> (AnyPool, CompanyId, i64) {
    let s = &db.store;
    let raw = db.raw().await;
    let c = company(s, CountryType::Tr).await.id;
    let other = company(s, CountryType::Tr).await.id;
    let k = draft(s, c).await.id;
    let k2 = draft(s, other).await.id;
    assorted(&raw, c, other, k, k2).await;
    (raw, c, k)
}

/// Every figure and the chart, kept against counted.
async fn agree(s: &Store, raw: &AnyPool, c: CompanyId, k: i64, when: &str) {
    assert_eq!(kept(s, c, k).await, counted(raw, c, k).await, "{when}");
    assert_eq!(
        charted(s, c, k).await,
        chart_counted(raw, c, k).await,
        "chart {when}"
    );
}

async fn kept_counts_equal_counting_through_every_change(db: &TestDb) {
    let s = &db.store;
    let (raw, c, k) = seeded(db).await;
    agree(s, &raw, c, k, "after inserts").await;
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
        // Moved to another quarter hour, out of a campaign, then deleted.
        "UPDATE messages SET created_at = created_at + 900000 WHERE id % 7 = 0",
        "UPDATE messages SET campaign_id = NULL WHERE id % 11 = 0",
        "DELETE FROM messages WHERE id % 5 = 0",
    ] {
        sqlx::query(sql).execute(&raw).await.unwrap();
        agree(s, &raw, c, k, &format!("after {sql}")).await;
    }
    while s.fold_message_tallies().await.unwrap() > 0 {}
    agree(s, &raw, c, k, "after folding").await;
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

async fn folds_at_once_move_every_change_once(db: &TestDb) {
    let s = &db.store;
    let (raw, c, k) = seeded(db).await;
    // One statement per message: as many pending changes as PostgreSQL makes (none on SQLite).
    for id in 1..=240 {
        sqlx::query(
            "UPDATE messages SET state = 'delivered', final_at = created_at + 300000 \
             WHERE id = $1 AND state IN ('queued', 'scheduled', 'submitted')",
        )
        .bind(id)
        .execute(&raw)
        .await
        .unwrap();
    }
    let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM message_tally_deltas")
        .fetch_one(&raw)
        .await
        .unwrap();
    let mut moved = 0;
    loop {
        let (a, b) = tokio::join!(s.fold_message_tallies(), s.fold_message_tallies());
        let both = a.unwrap() + b.unwrap();
        moved += both;
        if both == 0 {
            break;
        }
    }
    assert_eq!(i64::try_from(moved).unwrap(), pending);
    agree(s, &raw, c, k, "after two folds at once").await;
    raw.close().await;
}

/// The counting part of migration 0023, as written in the tree of `backend`.
fn backfill(backend: Backend) -> Vec<String> {
    let file = match backend {
        Backend::Sqlite => include_str!("../../migrations/sqlite/0023_message_tallies.sql"),
        Backend::Postgres => include_str!("../../migrations/postgres/0023_message_tallies.sql"),
    };
    let start = file.find("-- backfill: start").expect("start marker");
    let end = file.find("-- backfill: end").expect("end marker");
    let part = &file[start..end];
    let part = &part[part.find('\n').expect("marker line") + 1..];
    part.split(';')
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn the_migrations_backfill_counts_what_was_there(db: &TestDb) {
    let s = &db.store;
    let (raw, c, k) = seeded(db).await;
    // As before the migration: messages, no counts.
    for q in [
        "DELETE FROM message_tallies",
        "DELETE FROM message_tally_deltas",
    ] {
        sqlx::query(q).execute(&raw).await.unwrap();
    }
    assert!(s.count_messages_by_state().await.unwrap().is_empty());
    let statements = backfill(s.backend());
    assert_eq!(statements.len(), 2, "{statements:?}");
    for q in statements {
        sqlx::query(sqlx::AssertSqlSafe(q))
            .execute(&raw)
            .await
            .unwrap();
    }
    agree(s, &raw, c, k, "after the backfill").await;
    raw.close().await;
}
