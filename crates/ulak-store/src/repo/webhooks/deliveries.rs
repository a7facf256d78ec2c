//! Webhook deliveries: the engine claims due ones under a lease, records each try and what
//! follows, and the API lists an endpoint's deliveries with their tries.

use ulak_core::model::{
    CompanyId, ListQuery, Page, WebhookAttempt, WebhookAttemptLog, WebhookDeliveryState,
    WebhookEndpointId, encode_cursor,
};

use crate::db::{col, now_ms, parse};
use crate::{Backend, Result, Store, StoreError};

/// Longest error text kept per try.
const MAX_ERROR_CHARS: usize = 500;

/// A delivery the engine claimed: everything needed to sign and send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedWebhook {
    /// The delivery row (for [`Store::record_webhook_attempt`]).
    pub attempt_id: i64,
    /// The endpoint's company (to read its secret).
    pub company_id: CompanyId,
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// Where to POST.
    pub url: String,
    /// The `webhook-id`, the same on every try.
    pub msg_id: String,
    /// The event type.
    pub event_type: String,
    /// The exact body to send and sign.
    pub payload: String,
    /// Tries made before this one.
    pub attempts: u32,
}

/// What a try leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookResult {
    /// The endpoint answered 2xx: done.
    Delivered,
    /// Try again at this time (unix ms).
    Retry {
        /// When.
        at: i64,
    },
    /// No more tries.
    Failed,
}

/// One try, for [`Store::record_webhook_attempt`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOutcome {
    /// What follows.
    pub result: WebhookResult,
    /// The HTTP status answered, if any.
    pub status: Option<u16>,
    /// Why it did not count (never a secret or personal data).
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}

/// `(…)` list of integers for an `IN` clause.
fn in_list(ids: &[i64]) -> String {
    let items: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!("({})", items.join(", "))
}

impl Store {
    /// Claims up to `limit` due pending deliveries of enabled endpoints: each is leased for
    /// `lease_ms` (its next try moves that far ahead, so another worker leaves it alone; if
    /// this one dies, it is due again afterwards — same `webhook-id`, so receivers can tell
    /// the repeat). On PostgreSQL concurrent claimers skip each other's rows (`FOR UPDATE
    /// SKIP LOCKED`); on SQLite the write transaction serialises them.
    #[tracing::instrument(skip(self))]
    pub async fn claim_webhook_attempts(
        &self,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<ClaimedWebhook>> {
        let now = now_ms();
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        // The worker polls: look without the write lock first (on SQLite a write
        // transaction every poll would queue behind the sending engine's writes).
        let due: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM webhook_attempts WHERE state = 'pending' AND next_attempt_at <= $1 \
             LIMIT 1",
        )
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let ids: Vec<i64> = sqlx::query_scalar(sql!(
            "UPDATE webhook_attempts SET next_attempt_at = $2 \
             WHERE id IN (SELECT id FROM webhook_attempts WHERE state = 'pending' \
               AND next_attempt_at <= $1 \
               AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE enabled = 1) \
               ORDER BY next_attempt_at, id LIMIT $3 {lock}) \
             RETURNING id"
        ))
        .bind(now)
        .bind(now.saturating_add(lease_ms))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let rows = sqlx::query(sql!(
            "SELECT a.id, a.attempts, a.endpoint_id, e.company_id, e.url, m.msg_id, \
             m.event_type, m.payload FROM webhook_attempts a \
             JOIN webhook_endpoints e ON e.id = a.endpoint_id \
             JOIN webhook_messages m ON m.id = a.message_id \
             WHERE a.id IN {} ORDER BY a.next_attempt_at, a.id",
            in_list(&ids)
        ))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                Ok(ClaimedWebhook {
                    attempt_id: col(r, "id")?,
                    company_id: CompanyId(col(r, "company_id")?),
                    endpoint_id: WebhookEndpointId(col(r, "endpoint_id")?),
                    url: col(r, "url")?,
                    msg_id: col(r, "msg_id")?,
                    event_type: col(r, "event_type")?,
                    payload: col(r, "payload")?,
                    attempts: u32::try_from(col::<i64>(r, "attempts")?).map_err(|_| {
                        StoreError::Corrupt {
                            what: "webhook_attempts.attempts",
                        }
                    })?,
                })
            })
            .collect()
    }

    /// Records one try of a claimed delivery and what follows (delivered, retry at a time,
    /// or failed), with the try in its history. Returns `false` (and changes nothing) when
    /// the delivery is no longer pending or no longer exists.
    #[tracing::instrument(skip(self, outcome))]
    pub async fn record_webhook_attempt(
        &self,
        attempt_id: i64,
        outcome: WebhookOutcome,
    ) -> Result<bool> {
        let now = now_ms();
        let (state, next, delivered) = match outcome.result {
            WebhookResult::Delivered => (WebhookDeliveryState::Delivered, now, Some(now)),
            WebhookResult::Retry { at } => (WebhookDeliveryState::Pending, at, None),
            WebhookResult::Failed => (WebhookDeliveryState::Failed, now, None),
        };
        let error = outcome
            .error
            .map(|e| e.chars().take(MAX_ERROR_CHARS).collect::<String>());
        let status = outcome.status.map(i64::from);
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE webhook_attempts SET state = $2, attempts = attempts + 1, \
             next_attempt_at = $3, last_status = $4, last_error = $5, last_attempt_at = $6, \
             delivered_at = $7 WHERE id = $1 AND state = 'pending'",
        )
        .bind(attempt_id)
        .bind(state.as_str())
        .bind(next)
        .bind(status)
        .bind(&error)
        .bind(now)
        .bind(delivered)
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO webhook_attempt_log (attempt_id, at, status, error, duration_ms) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(attempt_id)
        .bind(now)
        .bind(status)
        .bind(&error)
        .bind(outcome.duration_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The deliveries of one endpoint of the company, oldest first, each with every try.
    /// `NotFound` for an endpoint of another company.
    #[tracing::instrument(skip(self, q))]
    pub async fn list_webhook_attempts(
        &self,
        company: CompanyId,
        endpoint: WebhookEndpointId,
        q: &ListQuery,
    ) -> Result<Page<WebhookAttempt>> {
        if self
            .get_webhook_endpoint(company, endpoint)
            .await?
            .is_none()
        {
            return Err(StoreError::NotFound);
        }
        let after = q.after_id()?.unwrap_or(0);
        let limit = i64::from(q.effective_limit());
        let rows = sqlx::query(
            "SELECT a.id, a.endpoint_id, m.msg_id, m.event_type, a.state, a.attempts, \
             a.next_attempt_at, a.last_status, a.last_error, a.last_attempt_at, \
             a.delivered_at, a.created_at FROM webhook_attempts a \
             JOIN webhook_messages m ON m.id = a.message_id \
             WHERE m.company_id = $1 AND a.endpoint_id = $2 AND a.id > $3 \
             ORDER BY a.id LIMIT $4",
        )
        .bind(company.0)
        .bind(endpoint.0)
        .bind(after)
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        let status = |v: Option<i64>| -> Result<Option<u16>> {
            v.map(|s| {
                u16::try_from(s).map_err(|_| StoreError::Corrupt {
                    what: "webhook status",
                })
            })
            .transpose()
        };
        let mut items = rows
            .iter()
            .map(|r| {
                let state: WebhookDeliveryState =
                    parse(&col::<String>(r, "state")?, "webhook_attempts.state")?;
                Ok(WebhookAttempt {
                    id: col(r, "id")?,
                    endpoint_id: WebhookEndpointId(col(r, "endpoint_id")?),
                    msg_id: col(r, "msg_id")?,
                    event_type: col(r, "event_type")?,
                    state,
                    attempts: u32::try_from(col::<i64>(r, "attempts")?).map_err(|_| {
                        StoreError::Corrupt {
                            what: "webhook_attempts.attempts",
                        }
                    })?,
                    next_attempt_at: (state == WebhookDeliveryState::Pending)
                        .then(|| col(r, "next_attempt_at"))
                        .transpose()?,
                    last_status: status(col(r, "last_status")?)?,
                    last_error: col(r, "last_error")?,
                    last_attempt_at: col(r, "last_attempt_at")?,
                    delivered_at: col(r, "delivered_at")?,
                    created_at: col(r, "created_at")?,
                    history: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let max = usize::try_from(limit).unwrap_or(usize::MAX);
        let next_cursor = if items.len() > max {
            items.truncate(max);
            items.last().map(|a| encode_cursor(a.id))
        } else {
            None
        };
        if !items.is_empty() {
            let ids: Vec<i64> = items.iter().map(|a| a.id).collect();
            let logs = sqlx::query(sql!(
                "SELECT attempt_id, at, status, error, duration_ms FROM webhook_attempt_log \
                 WHERE attempt_id IN {} ORDER BY id",
                in_list(&ids)
            ))
            .fetch_all(&self.pool)
            .await?;
            for r in &logs {
                let attempt: i64 = col(r, "attempt_id")?;
                let entry = WebhookAttemptLog {
                    at: col(r, "at")?,
                    status: status(col(r, "status")?)?,
                    error: col(r, "error")?,
                    duration_ms: col(r, "duration_ms")?,
                };
                if let Some(a) = items.iter_mut().find(|a| a.id == attempt) {
                    a.history.push(entry);
                }
            }
        }
        Ok(Page { items, next_cursor })
    }
}
