//! The sending queue (docs/decisions/0005-sending-engine.md): accepting a message with its
//! credit reservation and idempotency key, claiming due messages under a lease, recording
//! submit outcomes and delivery reports in batches, and reading a message's history.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use ulak_core::model::{
    CompanyId, LedgerKind, Message, MessageEvent, MessageId, MessagePart, MessageState,
    ProviderAccountId, RouteId, TrafficClass,
};

use serde_json::json;
use ulak_core::model::WebhookEventType as Hook;

use super::credit::{add_cost, write_entry};
use super::idempotency::StoredAnswer;
use crate::db::{col, int_list, now_ms, parse};
use crate::exec::Exec;
use crate::{Backend, Result, Store, StoreError};

/// Messages one expiry pass takes at most.
const EXPIRE_MAX: usize = 10_000;

/// Columns of [`message`].
pub(crate) const COLS: &str = "id, company_id, campaign_id, provider_account_id, recipient_kind, recipient, \
    sender, body, encoding, segments, cost, state, state_reason, state_at, attempts, \
    next_attempt_at, valid_until, error_code, created_at, submitted_at, final_at, priority, route_id";

/// Maps a row.
pub(crate) fn message(r: &AnyRow) -> Result<Message> {
    let small = |name: &'static str| -> Result<u32> {
        u32::try_from(col::<i64>(r, name)?).map_err(|_| StoreError::Corrupt { what: "messages" })
    };
    Ok(Message {
        id: MessageId(col(r, "id")?),
        company_id: CompanyId(col(r, "company_id")?),
        campaign_id: col(r, "campaign_id")?,
        provider_account_id: col::<Option<i64>>(r, "provider_account_id")?.map(ProviderAccountId),
        route_id: col::<Option<i64>>(r, "route_id")?.map(RouteId),
        recipient_kind: col(r, "recipient_kind")?,
        recipient: col(r, "recipient")?,
        sender: col(r, "sender")?,
        body: col(r, "body")?,
        encoding: col(r, "encoding")?,
        segments: small("segments")?,
        cost: col(r, "cost")?,
        state: parse(&col::<String>(r, "state")?, "messages.state")?,
        state_reason: col(r, "state_reason")?,
        state_at: col(r, "state_at")?,
        attempts: small("attempts")?,
        next_attempt_at: col(r, "next_attempt_at")?,
        valid_until: col(r, "valid_until")?,
        error_code: col(r, "error_code")?,
        created_at: col(r, "created_at")?,
        submitted_at: col(r, "submitted_at")?,
        final_at: col(r, "final_at")?,
        class: TrafficClass::from_priority(col(r, "priority")?),
    })
}

/// The canonical key of an operator message id, and for an all-digit id the key of the same
/// digits read as hexadecimal. Operators write one id as hex in one place and decimal in
/// another, with or without leading zeros: numeric ids are keyed by their value.
pub fn id_keys(id: &str) -> (String, Option<String>) {
    let t = id.trim();
    let digits = !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let hex = !t.is_empty() && t.bytes().all(|b| b.is_ascii_hexdigit());
    let dec_value = digits.then(|| t.parse::<u128>().ok()).flatten();
    let hex_value = hex.then(|| u128::from_str_radix(t, 16).ok()).flatten();
    let primary = match (dec_value, hex_value) {
        (Some(v), _) => format!("n{v}"),
        (None, Some(v)) if !digits => format!("n{v}"),
        _ => format!("t{}", t.to_lowercase()),
    };
    let alt = if digits {
        hex_value.map(|v| format!("n{v}"))
    } else {
        None
    };
    (primary, alt)
}

/// A claim's question ([`Store::claim_messages`]).
#[derive(Clone)]
pub(super) struct Claim {
    pub(super) provider: ProviderAccountId,
    pub(super) owner: String,
    pub(super) limit: i64,
    pub(super) lease_ms: i64,
    pub(super) last: TrafficClass,
    pub(super) now: i64,
}

/// A claim's first step: scheduled messages whose time came join the queue ($1 the
/// account, $2 now).
pub(super) const DUE_NOW: &str = "UPDATE messages SET state = 'queued', state_at = $2 \
     WHERE provider_account_id = $1 AND state = 'scheduled' AND next_attempt_at <= $2 \
     RETURNING id";

/// The history's words for [`DUE_NOW`] (a literal in SQL: no quotes in it).
pub(super) const DUE_DETAIL: &str = "the scheduled time came";

/// The claim itself, with PostgreSQL's row `lock` or none: $1 the account, $2 now, $3 the
/// owner, $4 the lease's end, $5 the last lane, $6 the limit (the SQLite writer thread binds
/// them by these names).
pub(super) fn claim_statement(lock: &str) -> String {
    format!(
        "UPDATE messages SET state = 'sending', state_at = $2, lease_owner = $3, \
         lease_until = $4, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM messages WHERE provider_account_id = $1 \
           AND state = 'queued' AND priority <= $5 AND next_attempt_at <= $2 \
           AND valid_until > $2 \
           AND NOT EXISTS (SELECT 1 FROM opt_outs o WHERE o.company_id = messages.company_id \
                           AND o.phone = messages.recipient) \
           AND (campaign_id IS NULL OR EXISTS (SELECT 1 FROM campaigns k \
                WHERE k.id = messages.campaign_id AND k.state = 'running')) \
           ORDER BY priority, next_attempt_at, id LIMIT $6 {lock}) \
         RETURNING {COLS}"
    )
}

/// The outcome of accepting a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueued {
    /// The message (the first one, as it is now, when `replayed`).
    pub message: Message,
    /// The idempotency key was seen before with the same request: nothing new was created.
    pub replayed: bool,
    /// With an idempotency key: the first answer, stored with the key (`None` for keys
    /// written before answers were stored).
    pub answer: Option<StoredAnswer>,
}

/// A message and its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageDetail {
    /// The message.
    pub message: Message,
    /// Its segments as submitted.
    pub parts: Vec<MessagePart>,
    /// Its states in order.
    pub events: Vec<MessageEvent>,
}

/// Records a state in a message's history.
pub(crate) async fn event<E: Exec>(
    tx: &mut E,
    id: MessageId,
    state: MessageState,
    detail: Option<&str>,
    at: i64,
) -> Result<()> {
    tx.exec(
        "INSERT INTO message_events (message_id, state, detail, at) VALUES ($1, $2, $3, $4)".into(),
        &[id.0.into(), state.as_str().into(), detail.into(), at.into()],
    )
    .await?;
    Ok(())
}

/// A message's history: the events stored for the unusual turns (a schedule, retries,
/// requeues, failures, expiry, opt-outs) merged in time order with the usual ones, which
/// the message's own columns already record and so are not written as rows on the hot path
/// (three rows a message at a million messages was a large share of the store's work):
/// accepted (`created_at`), submitted (`submitted_at`, with the operator ids of its
/// segments) and the final state (`final_at`, with the operator's error code or the
/// reason). A usual step that is stored too (rows written before this was so) is not
/// repeated.
pub(crate) fn history(
    m: &Message,
    parts: &[MessagePart],
    stored: Vec<MessageEvent>,
) -> Vec<MessageEvent> {
    // (time, order at the same time, event): accepted first, then stored ones in the order
    // they were written, then submitted, then final.
    let mut all: Vec<(i64, u8, MessageEvent)> = Vec::with_capacity(stored.len() + 3);
    let has = |state: MessageState| stored.iter().any(|e| e.state == state);
    // Campaign recipients left out at once were never queued (no segments).
    let accepted_stored = stored.iter().any(|e| {
        matches!(e.state, MessageState::Queued | MessageState::Scheduled)
            && e.at == m.created_at
            && e.detail.is_none()
    });
    if m.segments > 0 && !accepted_stored {
        all.push((
            m.created_at,
            0,
            MessageEvent {
                state: MessageState::Queued,
                detail: None,
                at: m.created_at,
            },
        ));
    }
    if let Some(at) = m.submitted_at
        && !has(MessageState::Submitted)
    {
        let ids: Vec<&str> = parts.iter().map(|p| p.operator_id.as_str()).collect();
        all.push((
            at,
            2,
            MessageEvent {
                state: MessageState::Submitted,
                detail: Some(format!("operator ids: {}", ids.join(", "))),
                at,
            },
        ));
    }
    if let Some(at) = m.final_at
        && m.state.is_final()
        && !has(m.state)
    {
        // A receipt's final state carries the operator's code; others their reason.
        let detail = if m.submitted_at.is_some() {
            m.error_code.clone()
        } else {
            m.state_reason.clone()
        };
        all.push((
            at,
            3,
            MessageEvent {
                state: m.state,
                detail,
                at,
            },
        ));
    }
    all.extend(stored.into_iter().map(|e| (e.at, 1, e)));
    // Stable: stored events keep their written order within a millisecond.
    all.sort_by_key(|(at, order, _)| (*at, *order));
    all.into_iter().map(|(_, _, e)| e).collect()
}

impl Store {
    /// A message with its segments and history.
    #[tracing::instrument(skip(self))]
    pub async fn get_message(
        &self,
        company: CompanyId,
        id: MessageId,
    ) -> Result<Option<MessageDetail>> {
        let Some(row) = sqlx::query(sql!(
            "SELECT {COLS} FROM messages WHERE company_id = $1 AND id = $2"
        ))
        .bind(company.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let message = message(&row)?;
        let parts = sqlx::query(
            "SELECT part_no, operator_id, state, error_code, submitted_at, receipt_at \
             FROM message_parts WHERE message_id = $1 ORDER BY part_no",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(MessagePart {
                part_no: u32::try_from(col::<i64>(r, "part_no")?).map_err(|_| {
                    StoreError::Corrupt {
                        what: "message_parts",
                    }
                })?,
                operator_id: col(r, "operator_id")?,
                state: parse(&col::<String>(r, "state")?, "message_parts.state")?,
                error_code: col(r, "error_code")?,
                submitted_at: col(r, "submitted_at")?,
                receipt_at: col(r, "receipt_at")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let stored = sqlx::query(
            "SELECT state, detail, at FROM message_events WHERE message_id = $1 ORDER BY id",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(MessageEvent {
                state: parse(&col::<String>(r, "state")?, "message_events.state")?,
                detail: col(r, "detail")?,
                at: col(r, "at")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let events = history(&message, &parts, stored);
        Ok(Some(MessageDetail {
            message,
            parts,
            events,
        }))
    }

    /// Claims up to `limit` due messages of one provider account for `owner`, under a lease
    /// of `lease_ms`: they move to `sending` and their attempt count goes up. The most urgent
    /// lane first ([`TrafficClass`]), then by due time. On PostgreSQL concurrent claimers
    /// skip each other's rows (`FOR UPDATE SKIP LOCKED`); on SQLite the write transaction
    /// serialises them.
    #[tracing::instrument(skip(self))]
    pub async fn claim_messages(
        &self,
        provider: ProviderAccountId,
        owner: &str,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<Message>> {
        self.claim_lanes(provider, owner, limit, lease_ms, TrafficClass::Campaign)
            .await
    }

    /// Like [`Store::claim_messages`], but only the lanes up to `last` (inclusive): what a
    /// worker already holding less urgent messages claims when it is woken, to submit them
    /// first (single sends and OTP codes ahead of a campaign's batch: `Transactional`; OTP
    /// codes ahead of single sends: `Otp`).
    #[tracing::instrument(skip(self))]
    pub async fn claim_urgent_messages(
        &self,
        provider: ProviderAccountId,
        owner: &str,
        limit: usize,
        lease_ms: i64,
        last: TrafficClass,
    ) -> Result<Vec<Message>> {
        self.claim_lanes(provider, owner, limit, lease_ms, last)
            .await
    }

    /// Claims from the lanes up to `last` (inclusive): on a SQLite file as one closure on
    /// its writer thread ([`super::claim_on_sqlite`]), anywhere else in a sqlx transaction.
    async fn claim_lanes(
        &self,
        provider: ProviderAccountId,
        owner: &str,
        limit: usize,
        lease_ms: i64,
        last: TrafficClass,
    ) -> Result<Vec<Message>> {
        let claim = Claim {
            provider,
            owner: owner.to_owned(),
            limit: i64::try_from(limit).unwrap_or(i64::MAX),
            lease_ms,
            last,
            now: now_ms(),
        };
        let mut out = match &self.sqlite_writer {
            Some(w) => super::claim_on_sqlite::claim(self, w, claim).await?,
            None => self.claim_on_sqlx(&claim).await?,
        };
        out.sort_by_key(|m| (m.class, m.next_attempt_at, m.id));
        Ok(out)
    }

    async fn claim_on_sqlx(&self, c: &Claim) -> Result<Vec<Message>> {
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let now = c.now;
        let mut tx = self.begin_write().await?;
        // Scheduled messages whose time came join the queue first, so the claim reads one
        // state in index order (two states would make it sort every queued row).
        let due: Vec<i64> = sqlx::query_scalar(DUE_NOW)
            .bind(c.provider.0)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
        for chunk in due.chunks(1000) {
            let values = chunk
                .iter()
                .map(|id| format!("({id}, 'queued', '{DUE_DETAIL}', {now})"))
                .collect::<Vec<_>>()
                .join(",");
            sqlx::query(sql!(
                "INSERT INTO message_events (message_id, state, detail, at) VALUES {values}"
            ))
            .persistent(false)
            .execute(&mut *tx)
            .await?;
        }
        let rows = sqlx::query(sqlx::AssertSqlSafe(claim_statement(lock)))
            .bind(c.provider.0)
            .bind(now)
            .bind(&c.owner)
            .bind(now.saturating_add(c.lease_ms))
            .bind(c.last.priority())
            .bind(c.limit)
            .fetch_all(&mut *tx)
            .await?;
        // Read before the commit, as on the writer thread: a row that cannot be read rolls
        // the claim back instead of leaving its batch leased to nobody.
        let claimed = rows.iter().map(message).collect::<Result<Vec<_>>>()?;
        tx.commit().await?;
        Ok(claimed)
    }

    /// Puts messages whose lease ran out (their worker died mid-submit) back in the queue.
    /// They may reach the operator twice: that is the at-least-once price of a crash,
    /// bounded by what was in flight.
    #[tracing::instrument(skip(self))]
    pub async fn requeue_expired_leases(&self) -> Result<u64> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE messages SET state = 'queued', state_at = $1, lease_owner = NULL, \
             lease_until = NULL, state_reason = 'requeued: the worker holding it stopped' \
             WHERE state = 'sending' AND lease_until < $1 RETURNING id",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        for id in &ids {
            event(
                &mut tx,
                MessageId(*id),
                MessageState::Queued,
                Some("requeued: the worker holding it stopped"),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    /// Expires queued messages of a provider account whose validity ended before they were
    /// submitted, releasing their credit (at most [`EXPIRE_MAX`] a pass; the next pass takes
    /// more). Returns how many.
    #[tracing::instrument(skip(self))]
    pub async fn expire_due(&self, provider: ProviderAccountId) -> Result<u64> {
        let now = now_ms();
        // Found by a reader, outside the write lock: no index orders a queue by validity, so
        // this reads the whole queue of the account (a million-recipient campaign's: about
        // 0.2 s), and inside the write transaction every accept waited for it, every pass.
        // One state per statement, so each reads its partial index (migration 0007).
        let mut ids: Vec<i64> = Vec::new();
        for state in ["queued", "scheduled"] {
            let room = EXPIRE_MAX - ids.len();
            if room == 0 {
                break;
            }
            ids.extend(
                sqlx::query_scalar::<_, i64>(sql!(
                    "SELECT id FROM messages WHERE provider_account_id = $1 AND state = '{state}' \
                     AND valid_until <= $2 LIMIT {room}"
                ))
                .bind(provider.0)
                .bind(now)
                .fetch_all(&self.pool)
                .await?,
            );
        }
        if ids.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        // Checked again: a message claimed or sent meanwhile is not expired. Ids are integers
        // from the database: safe to inline.
        let list = int_list(ids);
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as::<_, (i64, i64, i64)>(sql!(
            "UPDATE messages SET state = 'expired', state_at = $2, final_at = $2, \
             state_reason = 'validity ended before it could be submitted' \
             WHERE id IN ({list}) AND provider_account_id = $1 \
             AND state IN ('queued', 'scheduled') AND valid_until <= $2 \
             RETURNING id, company_id, cost"
        ))
        .persistent(false)
        .bind(provider.0)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut release: BTreeMap<i64, i64> = BTreeMap::new();
        for (id, company, cost) in &rows {
            add_cost(&mut release, *company, *cost)?;
            event(
                &mut tx,
                MessageId(*id),
                MessageState::Expired,
                Some("validity ended before submit"),
                now,
            )
            .await?;
            super::webhooks::emit_message_event(
                &mut tx,
                MessageId(*id),
                Hook::MessageFailed,
                json!({}),
            )
            .await?;
        }
        for (company, amount) in release {
            if amount > 0 {
                write_entry(
                    &mut tx,
                    CompanyId(company),
                    LedgerKind::Release,
                    amount,
                    None,
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(rows.len() as u64)
    }

    /// How many delivery reports of the company match no message (yet).
    #[tracing::instrument(skip(self))]
    pub async fn count_unmatched_receipts(&self, company: CompanyId) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM receipts_unmatched WHERE company_id = $1")
                .bind(company.0)
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_ids_are_keyed_by_value() {
        assert_eq!(id_keys("00123"), ("n123".into(), Some("n291".into())));
        assert_eq!(id_keys("7B").0, "n123");
        assert_eq!(id_keys("7b").0, "n123");
        assert_eq!(id_keys(" 1A2B ").0, "n6699");
        assert_eq!(id_keys("6699").0, "n6699");
        assert_eq!(id_keys("msg-42"), ("tmsg-42".into(), None));
        assert_eq!(id_keys("ABC-def").0, "tabc-def");
        // Too long for a number: kept as text.
        let long = "1".repeat(60);
        assert_eq!(id_keys(&long).0, format!("t{long}"));
    }
}
