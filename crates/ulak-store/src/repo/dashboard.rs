//! Figures for the web UI's dashboard.

use ulak_core::model::{CompanyId, MessageState};

use crate::{Result, Store};

impl Store {
    /// How many of the company's messages created in `[from, to)` (unix ms) are in each state
    /// now; states with none are left out. One count per state, each read from the
    /// `(company, state, created_at)` index alone, so the cost follows the day's messages of
    /// one company, never the table.
    #[tracing::instrument(skip(self))]
    pub async fn message_state_counts(
        &self,
        company: CompanyId,
        from: i64,
        to: i64,
    ) -> Result<Vec<(MessageState, i64)>> {
        let mut out = Vec::new();
        for state in MessageState::ALL {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM messages WHERE company_id = $1 AND state = $2 \
                 AND created_at >= $3 AND created_at < $4",
            )
            .bind(company.0)
            .bind(state.as_str())
            .bind(from)
            .bind(to)
            .fetch_one(&self.pool)
            .await?;
            if n > 0 {
                out.push((state, n));
            }
        }
        Ok(out)
    }
}
