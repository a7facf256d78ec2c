//! Figures for the web UI's dashboard and campaign screens: bounded aggregates, each read
//! through an index of one company's (or one campaign's, or one account's) rows.

use ulak_core::model::{
    CampaignState, CompanyId, ListQuery, MessageState, Page, ProviderAccountId,
};

use super::campaigns::{LEAN_COLS, campaign};
use crate::db::{ListSql, Param};
use crate::{Campaign, Result, Store};

/// One time bucket of a campaign's delivery chart: messages that reached a final state in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryBucket {
    /// Delivered to the handset.
    pub delivered: i64,
    /// Ended without reaching it ([`MessageState::is_failure`]).
    pub failed: i64,
}

/// One day's messages, by when they were accepted, as they stand now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayCounts {
    /// Accepted (left-out recipients not counted).
    pub accepted: i64,
    /// Delivered since.
    pub delivered: i64,
    /// Failed since ([`MessageState::is_failure`]).
    pub failed: i64,
}

/// The states a message ends in, as a SQL list of literals (stable names, no quoting needed).
fn state_list(pick: fn(MessageState) -> bool) -> String {
    MessageState::ALL
        .iter()
        .filter(|s| pick(**s))
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

/// The most buckets a chart asks for.
pub const MAX_BUCKETS: usize = 400;

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

    /// The company's messages per day, `bounds` being the days' starts (unix ms, ascending)
    /// and the end of the last: `bounds.len() - 1` days (at most 31). One grouped count over
    /// the `(company, state, created_at)` index; the days are cut in SQL by the given bounds
    /// so that a day of a zone with summer time is still its own 23 or 25 hours.
    #[tracing::instrument(skip(self))]
    pub async fn daily_message_counts(
        &self,
        company: CompanyId,
        bounds: &[i64],
    ) -> Result<Vec<DayCounts>> {
        let days = bounds.len().saturating_sub(1).min(31);
        let mut out = vec![DayCounts::default(); days];
        if days == 0 {
            return Ok(out);
        }
        // `CASE WHEN created_at < $4 THEN 0 WHEN created_at < $5 THEN 1 …`: the day's index.
        let mut case = String::from("CASE");
        for d in 0..days {
            case.push_str(&format!(" WHEN created_at < ${} THEN {d}", d + 4));
        }
        // BIGINT: PostgreSQL would type the literals' CASE as a 4-byte integer.
        case.push_str(" ELSE -1 END");
        let case = format!("CAST({case} AS BIGINT)");
        let sql = format!(
            "SELECT {case} AS d, state, COUNT(*) FROM messages \
             WHERE company_id = $1 AND created_at >= $2 AND created_at < $3 GROUP BY 1, 2"
        );
        let mut q = sqlx::query_as::<_, (i64, String, i64)>(sqlx::AssertSqlSafe(sql))
            .bind(company.0)
            .bind(bounds[0])
            .bind(bounds[days]);
        for b in &bounds[1..=days] {
            q = q.bind(*b);
        }
        for (d, state, n) in q.fetch_all(&self.pool).await? {
            let (Ok(d), Ok(state)) = (usize::try_from(d), state.parse::<MessageState>()) else {
                continue;
            };
            let Some(day) = out.get_mut(d) else { continue };
            if state != MessageState::Skipped {
                day.accepted += n;
            }
            if state == MessageState::Delivered {
                day.delivered += n;
            } else if state.is_failure() {
                day.failed += n;
            }
        }
        Ok(out)
    }

    /// A campaign's messages that reached a final state from `from` (unix ms) on, in
    /// `buckets` (at most [`MAX_BUCKETS`]) of `bucket_ms` each; later ones count in the last.
    /// Grouped in SQL over the campaign's `(campaign_id, state)` index: the rows read are
    /// the campaign's final messages, the answer is one row per bucket.
    #[tracing::instrument(skip(self))]
    pub async fn campaign_delivery(
        &self,
        company: CompanyId,
        campaign: i64,
        from: i64,
        bucket_ms: i64,
        buckets: usize,
    ) -> Result<Vec<DeliveryBucket>> {
        let buckets = buckets.clamp(1, MAX_BUCKETS);
        let mut out = vec![DeliveryBucket::default(); buckets];
        let bucket_ms = bucket_ms.max(1);
        let delivered = MessageState::Delivered.as_str();
        let ended = state_list(|s| s == MessageState::Delivered || s.is_failure());
        // `company_id + 0`: as in `campaign_counts`, the campaign's index is the one to read.
        let sql = format!(
            "SELECT (final_at - $3) / $4 AS b, \
             CAST(SUM(CASE WHEN state = '{delivered}' THEN 1 ELSE 0 END) AS BIGINT), COUNT(*) \
             FROM messages WHERE company_id + 0 = $1 AND campaign_id = $2 \
             AND state IN ({ended}) AND final_at >= $3 GROUP BY 1"
        );
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(company.0)
            .bind(campaign)
            .bind(from)
            .bind(bucket_ms)
            .fetch_all(&self.pool)
            .await?;
        for (b, d, all) in rows {
            let i = usize::try_from(b).unwrap_or(0).min(buckets - 1);
            out[i].delivered += d;
            out[i].failed += all - d;
        }
        Ok(out)
    }

    /// The company's campaigns newest first, only those in `state` if given, without their
    /// audiences; the cursor pages towards older ones.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn list_campaigns_newest(
        &self,
        company: CompanyId,
        q: &ListQuery,
        state: Option<CampaignState>,
    ) -> Result<Page<Campaign>> {
        let filters = state
            .map(|s| ("state = $?", Param::S(s.as_str().to_owned())))
            .into_iter()
            .collect();
        let sql = ListSql {
            select: format!("SELECT {LEAN_COLS} FROM campaigns"),
            company: Some(company.0),
            filters,
        };
        self.list_page_newest(sql, q, campaign, |c| c.id).await
    }

    /// Messages queued for a provider account of the company (read from the queue's
    /// partial index of that account, so the cost follows its queue); 0 for another
    /// company's account.
    #[tracing::instrument(skip(self))]
    pub async fn queued_for_account(
        &self,
        company: CompanyId,
        account: ProviderAccountId,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages WHERE provider_account_id = $1 \
             AND state = 'queued' \
             AND EXISTS (SELECT 1 FROM provider_accounts WHERE id = $1 AND company_id = $2)",
        )
        .bind(account.0)
        .bind(company.0)
        .fetch_one(&self.pool)
        .await?)
    }
}
