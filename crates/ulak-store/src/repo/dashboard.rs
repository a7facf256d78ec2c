//! Figures for the web UI's dashboard and campaign screens: bounded aggregates, read from the
//! counts the database keeps (`tallies`) or through an index of one account's rows.

use ulak_core::model::{
    CampaignState, CompanyId, ListQuery, MessageState, Page, ProviderAccountId,
};

use super::campaigns::{LEAN_COLS, campaign};
use super::tallies::{MINUTE_MS, QUARTER_MS, Tally, tally_rows};
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
    /// How many of the company's messages created in `[from, to)` (unix ms, rounded down to
    /// quarter hours, as every zone's midnight is) are in each state now; states with none
    /// are left out. Read from the counts the database keeps ([`super::tallies`]): a few
    /// rows per quarter hour, whatever the number of messages.
    #[tracing::instrument(skip(self))]
    pub async fn message_state_counts(
        &self,
        company: CompanyId,
        from: i64,
        to: i64,
    ) -> Result<Vec<(MessageState, i64)>> {
        let sql = format!(
            "SELECT state, CAST(SUM(n) AS BIGINT) FROM {} GROUP BY state HAVING SUM(n) <> 0",
            tally_rows(
                Tally::Created,
                "company_id = $1 AND bucket >= $2 AND bucket < $3"
            )
        );
        let rows: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(company.0)
            .bind(from / QUARTER_MS)
            .bind(to / QUARTER_MS)
            .fetch_all(&self.pool)
            .await?;
        // In the order of `MessageState::ALL`, as before.
        Ok(MessageState::ALL
            .iter()
            .filter_map(|s| {
                let n = rows.iter().find(|(r, _)| r == s.as_str())?.1;
                Some((*s, n))
            })
            .collect())
    }

    /// The company's messages per day, `bounds` being the days' starts (unix ms, ascending,
    /// rounded down to quarter hours as midnights are) and the end of the last:
    /// `bounds.len() - 1` days (at most 31). One grouped sum of the kept counts
    /// ([`super::tallies`]); the days are cut in SQL by the given bounds so that a day of a
    /// zone with summer time is still its own 23 or 25 hours.
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
        // `CASE WHEN bucket < $4 THEN 0 WHEN bucket < $5 THEN 1 …`: the day's index.
        let mut case = String::from("CASE");
        for d in 0..days {
            case.push_str(&format!(" WHEN bucket < ${} THEN {d}", d + 4));
        }
        // BIGINT: PostgreSQL would type the literals' CASE as a 4-byte integer.
        case.push_str(" ELSE -1 END");
        let case = format!("CAST({case} AS BIGINT)");
        let rows = tally_rows(
            Tally::Created,
            "company_id = $1 AND bucket >= $2 AND bucket < $3",
        );
        let sql =
            format!("SELECT {case} AS d, state, CAST(SUM(n) AS BIGINT) FROM {rows} GROUP BY 1, 2");
        // Cut toward zero, as the triggers' integer division.
        let quarter = |ms: i64| ms / QUARTER_MS;
        let mut q = sqlx::query_as::<_, (i64, String, i64)>(sqlx::AssertSqlSafe(sql))
            .bind(company.0)
            .bind(quarter(bounds[0]))
            .bind(quarter(bounds[days]));
        for b in &bounds[1..=days] {
            q = q.bind(quarter(*b));
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
    /// Read from the counts kept per minute of the final time ([`super::tallies`]): exact
    /// when `from` and `bucket_ms` are whole minutes (a final time counts in the bucket its
    /// minute starts in).
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
        let rows = tally_rows(
            Tally::Final,
            &format!(
                "company_id = $1 AND campaign_id = $2 AND bucket >= $3 AND state IN ({ended})"
            ),
        );
        let sql = format!(
            "SELECT (bucket * {MINUTE_MS} - $4) / $5 AS b, \
             CAST(SUM(CASE WHEN state = '{delivered}' THEN n ELSE 0 END) AS BIGINT), \
             CAST(SUM(n) AS BIGINT) FROM {rows} GROUP BY 1"
        );
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(company.0)
            .bind(campaign)
            .bind(from / MINUTE_MS)
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
