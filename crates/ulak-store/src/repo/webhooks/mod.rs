//! Webhooks: a company's endpoints (the signing secret encrypted like operator passwords),
//! the durable outbox of events, and the deliveries the engine claims, signs and sends.
//!
//! An event is written by [`emit_event`] in the transaction of the state change it announces,
//! so it exists exactly when the change does: a crash before the commit loses both, one after
//! it keeps both. Each event gets one delivery row per subscribed, enabled endpoint of the
//! company; the engine claims due rows under a lease (`next_attempt_at` moved forward, on
//! PostgreSQL `FOR UPDATE SKIP LOCKED`), sends them, and records each try.
//!
//! The endpoints and their secrets are in [`endpoints`], the claiming, recording and listing
//! of deliveries in [`deliveries`]; the outbox itself is here.

mod deliveries;
mod endpoints;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use ulak_core::model::{CompanyId, MessageId, WebhookEndpointId, WebhookEventType};

pub use deliveries::{ClaimedWebhook, WebhookOutcome, WebhookResult};

use crate::db::{now_ms, parse};
use crate::exec::Exec;
use crate::{Result, Store, StoreError};

/// Random bytes in a signing secret (the specification asks for 24 to 64).
const SECRET_BYTES: usize = 24;

/// The type name of the event [`Store::emit_test_event`] sends.
pub const TEST_EVENT_TYPE: &str = "webhook.test";

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

impl Store {
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
