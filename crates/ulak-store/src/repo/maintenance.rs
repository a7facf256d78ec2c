//! Keeping PostgreSQL's planner informed while the queue tables grow by a million rows in a
//! minute. Its statistics come from ANALYZE, which autovacuum runs after about a tenth of a
//! table changed and only when it is on; with stale statistics the planner matched a batch
//! of receipts by scanning every segment of the account instead of looking each id up,
//! and a million-message campaign ran at a third of its speed (docs/decisions/0005).

use crate::{Backend, Result, Store};

/// The tables the sending engine changes fastest, whose plans matter most.
const BUSY_TABLES: [&str; 4] = [
    "messages",
    "message_parts",
    "message_events",
    "webhook_attempts",
];

impl Store {
    /// Analyzes those of the busy tables that changed a lot since their last analysis (by
    /// anyone: autovacuum, a DBA, another node) and not within the last 30 seconds. Returns
    /// the tables analyzed. Nothing to do on SQLite, whose plans here do not depend on
    /// statistics.
    pub async fn refresh_statistics(&self) -> Result<Vec<String>> {
        if self.backend != Backend::Postgres {
            return Ok(Vec::new());
        }
        let names = BUSY_TABLES
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let stale: Vec<String> = sqlx::query_scalar(sql!(
            "SELECT relname::text FROM pg_stat_user_tables \
             WHERE schemaname = current_schema() AND relname IN ({names}) \
             AND n_mod_since_analyze > GREATEST(10000, (n_live_tup + n_dead_tup) / 10) \
             AND COALESCE(GREATEST(last_analyze, last_autoanalyze), 'epoch') \
                 < now() - interval '30 seconds'"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut done = Vec::new();
        for table in stale {
            // Only names from the fixed list above reach the statement.
            if let Some(t) = BUSY_TABLES.iter().find(|t| **t == table) {
                sqlx::query(sql!("ANALYZE {t}"))
                    .persistent(false)
                    .execute(&self.pool)
                    .await?;
                done.push(table);
            }
        }
        Ok(done)
    }

    /// Whether PostgreSQL's autovacuum is off (`None` on SQLite): the queue's dead row
    /// versions then pile up until someone vacuums.
    pub async fn autovacuum_off(&self) -> Result<Option<bool>> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let v: String = sqlx::query_scalar("SELECT current_setting('autovacuum')")
            .fetch_one(&self.pool)
            .await?;
        Ok(Some(v == "off"))
    }
}
