//! Webhooks: a company's endpoints (the signing secret encrypted like operator passwords),
//! the durable outbox of events, and the deliveries the engine claims, signs and sends.
//!
//! An event is written by [`emit_event`] in the transaction of the state change it announces,
//! so it exists exactly when the change does: a crash before the commit loses both, one after
//! it keeps both. Each event gets one delivery row per subscribed, enabled endpoint of the
//! company; the engine claims due rows under a lease (`next_attempt_at` moved forward, on
//! PostgreSQL `FOR UPDATE SKIP LOCKED`), sends them, and records each try.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use ulak_core::model::{
    CompanyId, ListQuery, MessageId, NewWebhookEndpoint, Page, Secret, WebhookAttempt,
    WebhookAttemptLog, WebhookDeliveryState, WebhookEndpoint, WebhookEndpointId,
    WebhookEndpointPatch, WebhookEventType, encode_cursor,
};

use crate::db::{ListSql, col, now_ms, parse};
use crate::exec::Exec;
use crate::secret::SecretBox;
use crate::{Backend, Result, Store, StoreError};

/// Columns of [`endpoint`].
const COLS: &str = "id, company_id, url, description, event_types, enabled, created_at, updated_at";

/// Random bytes in a signing secret (the specification asks for 24 to 64).
const SECRET_BYTES: usize = 24;

/// The type name of the event [`Store::emit_test_event`] sends.
pub const TEST_EVENT_TYPE: &str = "webhook.test";

/// Longest error text kept per try.
const MAX_ERROR_CHARS: usize = 500;

/// The associated data of an endpoint's secret.
fn aad(company: CompanyId, id: i64) -> String {
    SecretBox::aad(
        "webhook_endpoints",
        &format!("{}:{id}", company.0),
        "secret",
    )
}

/// `n` random bytes.
fn random<const N: usize>() -> Result<[u8; N]> {
    let mut raw = [0u8; N];
    getrandom::fill(&mut raw).map_err(|_| StoreError::Config("no randomness".into()))?;
    Ok(raw)
}

/// A fresh signing secret: `whsec_` + base64 of 24 random bytes.
fn new_secret() -> Result<String> {
    Ok(format!(
        "whsec_{}",
        STANDARD.encode(random::<SECRET_BYTES>()?)
    ))
}

/// A fresh `webhook-id`: `msg_` + 32 hex digits.
fn new_msg_id() -> Result<String> {
    let raw = random::<16>()?;
    let mut s = String::with_capacity(36);
    s.push_str("msg_");
    for b in raw {
        s.push_str(&format!("{b:02x}"));
    }
    Ok(s)
}

/// Unix milliseconds as RFC 3339 in UTC with millisecond precision
/// (`2026-11-26T10:15:30.123Z`).
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Reads the stored event type list.
fn event_types(s: &str) -> Result<Vec<WebhookEventType>> {
    let names: Vec<String> = serde_json::from_str(s).map_err(|_| StoreError::Corrupt {
        what: "webhook_endpoints.event_types",
    })?;
    names
        .iter()
        .map(|n| parse(n, "webhook_endpoints.event_types"))
        .collect()
}

/// The stored form of an event type list.
fn event_types_text(types: &[WebhookEventType]) -> String {
    let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    serde_json::to_string(&names).unwrap_or_else(|_| "[]".to_owned())
}

/// Maps a row (without the secret).
fn endpoint(r: &AnyRow) -> Result<WebhookEndpoint> {
    Ok(WebhookEndpoint {
        id: WebhookEndpointId(col(r, "id")?),
        company_id: CompanyId(col(r, "company_id")?),
        url: col(r, "url")?,
        description: col(r, "description")?,
        event_types: event_types(&col::<String>(r, "event_types")?)?,
        enabled: col::<i64>(r, "enabled")? != 0,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
    })
}

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

/// The enabled endpoints of `company` that get events of `event_type`.
async fn subscribers<E: Exec>(
    tx: &mut E,
    company: CompanyId,
    event_type: WebhookEventType,
) -> Result<Vec<i64>> {
    let rows: Vec<(i64, String)> = tx
        .rows(
            "SELECT id, event_types FROM webhook_endpoints WHERE company_id = $1 \
             AND enabled = 1 ORDER BY id"
                .into(),
            &[company.0.into()],
        )
        .await?;
    wanting(rows, event_type)
}

/// The ids of the endpoints (id, stored event types) that get events of `event_type`.
fn wanting(rows: Vec<(i64, String)>, event_type: WebhookEventType) -> Result<Vec<i64>> {
    let mut out = Vec::new();
    for (id, types) in rows {
        let types = event_types(&types)?;
        if types.is_empty() || types.contains(&event_type) {
            out.push(id);
        }
    }
    Ok(out)
}

/// Writes an event to the outbox with a pending delivery for each of `endpoints`. Returns
/// its `webhook-id`.
async fn enqueue<E: Exec>(
    tx: &mut E,
    company: CompanyId,
    event_type: &str,
    data: Value,
    endpoints: &[i64],
) -> Result<String> {
    let now = now_ms();
    let msg_id = new_msg_id()?;
    let body = json!({"type": event_type, "timestamp": rfc3339(now), "data": data});
    let payload = serde_json::to_string(&body).map_err(|_| StoreError::Corrupt {
        what: "webhook payload",
    })?;
    let id: Option<(i64,)> = tx
        .row(
            "INSERT INTO webhook_messages (company_id, event_type, payload, msg_id, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id"
                .into(),
            &[
                company.0.into(),
                event_type.into(),
                payload.as_str().into(),
                msg_id.as_str().into(),
                now.into(),
            ],
        )
        .await?;
    let (id,) = id.ok_or(StoreError::Corrupt {
        what: "webhook_messages",
    })?;
    for e in endpoints {
        tx.exec(
            "INSERT INTO webhook_attempts (message_id, endpoint_id, state, attempts, \
             next_attempt_at, created_at) VALUES ($1, $2, 'pending', 0, $3, $3)"
                .into(),
            &[id.into(), (*e).into(), now.into()],
        )
        .await?;
    }
    Ok(msg_id)
}

/// Announces an event of `company` to every enabled endpoint of the company that subscribes
/// to `event_type`, in the caller's transaction: the event is stored exactly when the change
/// it announces is. `data` becomes the body's `data`. Returns the `webhook-id`, or `None`
/// when no endpoint wants it (nothing is stored then).
pub(crate) async fn emit_event<E: Exec>(
    tx: &mut E,
    company: CompanyId,
    event_type: WebhookEventType,
    data: Value,
) -> Result<Option<String>> {
    let endpoints = subscribers(tx, company, event_type).await?;
    if endpoints.is_empty() {
        return Ok(None);
    }
    enqueue(tx, company, event_type.as_str(), data, &endpoints)
        .await
        .map(Some)
}

/// [`emit_message_event`] for many messages at once: one read finds whether any of their
/// companies has an endpoint that wants `event_type`, so a batch from companies without
/// webhooks costs a single query; otherwise each message is announced with `extra(id)`.
pub(crate) async fn emit_message_events<E: Exec>(
    tx: &mut E,
    ids: &[i64],
    event_type: WebhookEventType,
    extra: impl Fn(i64) -> Value,
) -> Result<()> {
    for chunk in ids.chunks(1000) {
        let (sql, args) = crate::exec::over_ids(
            tx.on_postgres(),
            "SELECT id, event_types FROM webhook_endpoints WHERE enabled = 1 \
             AND company_id IN (SELECT DISTINCT company_id FROM messages \
             WHERE id IN ({list}))",
            chunk,
            &[],
        );
        let rows: Vec<(i64, String)> = tx.rows(sql, &args).await?;
        if wanting(rows, event_type)?.is_empty() {
            continue;
        }
        for id in chunk {
            emit_message_event(tx, MessageId(*id), event_type, extra(*id)).await?;
        }
    }
    Ok(())
}

/// A message's columns for its webhook events.
type Announced = (
    i64,
    Option<i64>,
    String,
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
);

/// [`emit_event`] for a message's state change: the data is the message as it now stands
/// (id, recipient, sender, segments, state, reason, error code) plus the fields of `extra`
/// (an object, e.g. the operator's ids). Costs one indexed read when nobody subscribes, so
/// the sending path pays next to nothing for companies without webhooks.
pub(crate) async fn emit_message_event<E: Exec>(
    tx: &mut E,
    id: MessageId,
    event_type: WebhookEventType,
    extra: Value,
) -> Result<()> {
    let rows: Vec<(i64, String)> = tx
        .rows(
            "SELECT id, event_types FROM webhook_endpoints WHERE enabled = 1 \
             AND company_id = (SELECT company_id FROM messages WHERE id = $1) ORDER BY id"
                .into(),
            &[id.0.into()],
        )
        .await?;
    let endpoints = wanting(rows, event_type)?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let row: Option<Announced> = tx
        .row(
            "SELECT company_id, campaign_id, recipient_kind, recipient, sender, segments, \
             state, state_reason, error_code FROM messages WHERE id = $1"
                .into(),
            &[id.0.into()],
        )
        .await?;
    let Some((company, campaign, kind, recipient, sender, segments, state, reason, code)) = row
    else {
        return Ok(());
    };
    let mut data = json!({
        "id": id.0,
        "campaign_id": campaign,
        "recipient_kind": kind,
        "recipient": recipient,
        "sender": sender,
        "segments": segments,
        "state": state,
        "reason": reason,
        "error_code": code,
    });
    if let (Some(d), Value::Object(extra)) = (data.as_object_mut(), extra) {
        d.extend(extra);
    }
    enqueue(
        tx,
        CompanyId(company),
        event_type.as_str(),
        data,
        &endpoints,
    )
    .await?;
    Ok(())
}

/// `(…)` list of integers for an `IN` clause.
fn in_list(ids: &[i64]) -> String {
    let items: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!("({})", items.join(", "))
}

impl Store {
    /// Creates an endpoint with a fresh signing secret (`whsec_` + base64 of 24 random
    /// bytes), stored encrypted. The secret is returned in clear here, once; afterwards only
    /// [`Store::get_webhook_secret`] reads it (for the signer).
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn create_webhook_endpoint(
        &self,
        company: CompanyId,
        new: NewWebhookEndpoint,
    ) -> Result<(WebhookEndpoint, Secret)> {
        let secret = new_secret()?;
        let mut tx = self.begin_write().await?;
        let now = now_ms();
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO webhook_endpoints (company_id, url, description, event_types, enabled, \
             created_at, updated_at) SELECT $1, $2, $3, $4, $5, $6, $6 FROM companies \
             WHERE id = $1 RETURNING id",
        )
        .bind(company.0)
        .bind(&new.url)
        .bind(&new.description)
        .bind(event_types_text(&new.event_types))
        .bind(i64::from(new.enabled))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let id = id.ok_or(StoreError::NotFound)?;
        let sealed = self.secrets.seal(&secret, &aad(company, id))?;
        sqlx::query("UPDATE webhook_endpoints SET secret = $2 WHERE id = $1")
            .bind(id)
            .bind(sealed)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let e = self
            .get_webhook_endpoint(company, WebhookEndpointId(id))
            .await?
            .ok_or(StoreError::NotFound)?;
        let secret = Secret::parse(&secret).map_err(|_| StoreError::Corrupt {
            what: "webhook_endpoints.secret",
        })?;
        Ok((e, secret))
    }

    /// An endpoint by id.
    #[tracing::instrument(skip(self))]
    pub async fn get_webhook_endpoint(
        &self,
        company: CompanyId,
        id: WebhookEndpointId,
    ) -> Result<Option<WebhookEndpoint>> {
        let row = sqlx::query(sql!(
            "SELECT {COLS} FROM webhook_endpoints WHERE company_id = $1 AND id = $2"
        ))
        .bind(company.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(endpoint).transpose()
    }

    /// Lists the company's endpoints.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn list_webhook_endpoints(
        &self,
        company: CompanyId,
        q: &ListQuery,
    ) -> Result<Page<WebhookEndpoint>> {
        let sql = ListSql {
            select: format!("SELECT {COLS} FROM webhook_endpoints"),
            company: Some(company.0),
            filters: Vec::new(),
        };
        self.list_page(sql, q, endpoint, |e| e.id.0).await
    }

    /// Changes an endpoint's URL, description, event types or enabled flag.
    #[tracing::instrument(skip(self, patch))]
    pub async fn update_webhook_endpoint(
        &self,
        company: CompanyId,
        id: WebhookEndpointId,
        patch: WebhookEndpointPatch,
    ) -> Result<WebhookEndpoint> {
        let (set_description, description) = match patch.description {
            None => (0i64, None),
            Some(d) => (1, d),
        };
        let row = sqlx::query(sql!(
            "UPDATE webhook_endpoints SET url = COALESCE($3, url), \
             description = CASE WHEN $4 = 1 THEN $5 ELSE description END, \
             event_types = COALESCE($6, event_types), enabled = COALESCE($7, enabled), \
             updated_at = $8 WHERE company_id = $1 AND id = $2 RETURNING {COLS}"
        ))
        .bind(company.0)
        .bind(id.0)
        .bind(patch.url)
        .bind(set_description)
        .bind(description)
        .bind(patch.event_types.as_deref().map(event_types_text))
        .bind(patch.enabled.map(i64::from))
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(endpoint)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// Deletes an endpoint with its deliveries.
    #[tracing::instrument(skip(self))]
    pub async fn delete_webhook_endpoint(
        &self,
        company: CompanyId,
        id: WebhookEndpointId,
    ) -> Result<()> {
        let r = sqlx::query("DELETE FROM webhook_endpoints WHERE company_id = $1 AND id = $2")
            .bind(company.0)
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The endpoint's signing secret in clear — for the signer only, never for an API
    /// answer.
    #[tracing::instrument(skip(self))]
    pub async fn get_webhook_secret(
        &self,
        company: CompanyId,
        id: WebhookEndpointId,
    ) -> Result<Secret> {
        let stored: Option<Option<String>> = sqlx::query_scalar(
            "SELECT secret FROM webhook_endpoints WHERE company_id = $1 AND id = $2",
        )
        .bind(company.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        let stored = stored.flatten().ok_or(StoreError::NotFound)?;
        let plain = self.secrets.open(&stored, &aad(company, id.0))?;
        Secret::parse(&plain).map_err(|_| StoreError::Corrupt {
            what: "webhook_endpoints.secret",
        })
    }

    /// [`emit_event`] in a transaction of its own, for events that change nothing else.
    #[tracing::instrument(skip(self, data))]
    pub async fn emit_event_now(
        &self,
        company: CompanyId,
        event_type: WebhookEventType,
        data: Value,
    ) -> Result<Option<String>> {
        let mut tx = self.begin_write().await?;
        let id = emit_event(&mut tx, company, event_type, data).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Queues a `webhook.test` event for one endpoint of the company, whatever it subscribes
    /// to. Returns its `webhook-id`.
    #[tracing::instrument(skip(self))]
    pub async fn emit_test_event(
        &self,
        company: CompanyId,
        endpoint: WebhookEndpointId,
    ) -> Result<String> {
        let mut tx = self.begin_write().await?;
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM webhook_endpoints WHERE company_id = $1 AND id = $2",
        )
        .bind(company.0)
        .bind(endpoint.0)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = found else {
            tx.rollback().await?;
            return Err(StoreError::NotFound);
        };
        let data = json!({"endpoint_id": id, "message": "Ulak webhook test"});
        let msg_id = enqueue(&mut tx, company, TEST_EVENT_TYPE, data, &[id]).await?;
        tx.commit().await?;
        Ok(msg_id)
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(1_674_087_231_123), "2023-01-19T00:13:51.123Z");
        assert_eq!(rfc3339(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn secrets_and_ids_have_the_specified_shape() {
        let s = new_secret().unwrap_or_default();
        let raw = STANDARD
            .decode(s.strip_prefix("whsec_").unwrap_or_default())
            .unwrap_or_default();
        assert_eq!(raw.len(), SECRET_BYTES);
        let id = new_msg_id().unwrap_or_default();
        assert!(id.starts_with("msg_") && id.len() == 36, "{id}");
        assert_ne!(id, new_msg_id().unwrap_or_default());
    }
}
