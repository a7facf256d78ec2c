//! Message counts kept by the database as messages change (migration 0023, decision 0008):
//! what the dashboard, a campaign's progress and the metrics show is read from a few rows of
//! `message_tallies` (plus, on PostgreSQL, the changes not folded in yet) instead of counting
//! a million messages on every view.

use crate::{Backend, Result, Store};

/// What a count is keyed by, besides company, campaign and state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tally {
    /// Every message, by the quarter hour of its creation ([`QUARTER_MS`]).
    Created = 0,
    /// A campaign's messages with a final time, by its minute ([`MINUTE_MS`]).
    Final = 1,
}

/// The width of a [`Tally::Created`] bucket: any time zone's midnight falls on one's edge.
pub const QUARTER_MS: i64 = 900_000;
/// The width of a [`Tally::Final`] bucket.
pub const MINUTE_MS: i64 = 60_000;

/// The most changes one fold moves (PostgreSQL), so that one fold stays a short statement.
pub const FOLD_LIMIT: i64 = 20_000;

/// A derived table `t (campaign_id, bucket, state, n)` of the `kind` counts that match
/// `filter` (SQL on those columns and `company_id`; its parameters may appear twice):
/// the folded counts and the changes not folded yet, read in one statement, so one snapshot.
pub(crate) fn tally_rows(kind: Tally, filter: &str) -> String {
    let k = kind as i64;
    format!(
        "(SELECT campaign_id, bucket, state, n FROM message_tallies \
          WHERE kind = {k} AND {filter} \
          UNION ALL SELECT campaign_id, bucket, state, n FROM message_tally_deltas \
          WHERE kind = {k} AND {filter}) t"
    )
}

/// A campaign's messages per state (`$1` its company, `$2` its id), states with none left out.
pub(crate) fn campaign_counts_sql() -> String {
    format!(
        "SELECT state, CAST(SUM(n) AS BIGINT) FROM {} GROUP BY state HAVING SUM(n) <> 0",
        tally_rows(Tally::Created, "company_id = $1 AND campaign_id = $2")
    )
}

impl Store {
    /// Folds up to [`FOLD_LIMIT`] of the changes PostgreSQL's triggers appended into the
    /// counts; returns how many it moved (fewer than the limit: nothing is left for now).
    /// Nodes may fold at once: a change is deleted by exactly one of them. Nothing to do on
    /// SQLite, whose triggers add to the counts themselves.
    #[tracing::instrument(skip(self))]
    pub async fn fold_message_tallies(&self) -> Result<u64> {
        if self.backend != Backend::Postgres {
            return Ok(0);
        }
        // Folds on two nodes take different changes (SKIP LOCKED) and the count rows in one
        // order (sorted upserts): neither waits long for the other, neither deadlocks.
        let moved: i64 = sqlx::query_scalar(
            "WITH moved AS (DELETE FROM message_tally_deltas WHERE id IN \
               (SELECT id FROM message_tally_deltas ORDER BY id LIMIT $1 \
                FOR UPDATE SKIP LOCKED) \
               RETURNING company_id, kind, campaign_id, bucket, state, n), \
             folded AS (INSERT INTO message_tallies (company_id, kind, campaign_id, bucket, state, n) \
               SELECT company_id, kind, campaign_id, bucket, state, SUM(n) FROM moved \
               GROUP BY company_id, kind, campaign_id, bucket, state \
               ORDER BY company_id, kind, campaign_id, bucket, state \
               ON CONFLICT (company_id, kind, campaign_id, bucket, state) \
               DO UPDATE SET n = message_tallies.n + EXCLUDED.n) \
             SELECT COUNT(*) FROM moved",
        )
        .bind(FOLD_LIMIT)
        .fetch_one(&self.writer)
        .await?;
        Ok(u64::try_from(moved).unwrap_or(0))
    }

    /// How many messages are in each state, of every company (for metrics and tests).
    #[tracing::instrument(skip(self))]
    pub async fn count_messages_by_state(&self) -> Result<Vec<(String, i64)>> {
        let sql = format!(
            "SELECT state, CAST(SUM(n) AS BIGINT) FROM {} GROUP BY state \
             HAVING SUM(n) <> 0 ORDER BY state",
            tally_rows(Tally::Created, "1 = 1")
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?)
    }
}
