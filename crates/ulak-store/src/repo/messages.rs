//! The sending queue (docs/decisions/0005-sending-engine.md): accepting a message with its
//! credit reservation and idempotency key, claiming due messages under a lease, recording
//! submit outcomes and delivery reports in batches, and reading a message's history.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use ulak_core::model::{
    CompanyId, LedgerKind, Message, MessageEvent, MessageId, MessagePart, MessageState, NewMessage,
    ProviderAccountId,
};

use serde_json::json;
use ulak_core::model::WebhookEventType as Hook;

use super::credit::write_entry;
use crate::db::{col, now_ms, parse};
use crate::{Backend, Result, Store, StoreError};

/// Columns of [`message`].
const COLS: &str = "id, company_id, campaign_id, provider_account_id, recipient_kind, recipient, \
    sender, body, encoding, segments, cost, state, state_reason, state_at, attempts, \
    next_attempt_at, valid_until, error_code, created_at, submitted_at, final_at";

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 3600 * 1000;

/// Maps a row.
fn message(r: &AnyRow) -> Result<Message> {
    let small = |name: &'static str| -> Result<u32> {
        u32::try_from(col::<i64>(r, name)?).map_err(|_| StoreError::Corrupt { what: "messages" })
    };
    Ok(Message {
        id: MessageId(col(r, "id")?),
        company_id: CompanyId(col(r, "company_id")?),
        campaign_id: col(r, "campaign_id")?,
        provider_account_id: col::<Option<i64>>(r, "provider_account_id")?.map(ProviderAccountId),
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

/// The outcome of accepting a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueued {
    /// The message (the first one, when `replayed`).
    pub message: Message,
    /// The idempotency key was seen before with the same request: nothing new was created.
    pub replayed: bool,
}

/// What became of one submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitResult {
    /// The operator took every segment; its ids in segment order.
    Submitted {
        /// Operator message ids.
        operator_ids: Vec<String>,
    },
    /// A transient failure: try again at `at` (unix ms).
    Retry {
        /// Why.
        reason: String,
        /// When.
        at: i64,
    },
    /// A permanent failure before the operator took it: the reservation is released.
    Failed {
        /// Why.
        reason: String,
        /// The operator's error code, if any.
        code: Option<String>,
    },
}

/// One submit's outcome, for [`Store::record_submits`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitOutcome {
    /// The message.
    pub id: MessageId,
    /// What happened.
    pub result: SubmitResult,
}

/// A delivery report as the engine hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptIn {
    /// Every id the report carries (message id, `receipted_message_id`, `id:` in the text).
    pub operator_ids: Vec<String>,
    /// The state it reports (`delivered`, `undeliverable`, `expired`, `rejected`, `unknown`).
    pub state: MessageState,
    /// The operator's error code.
    pub error_code: Option<String>,
    /// The report as received, kept for unmatched ones.
    pub raw: String,
}

/// What [`Store::apply_receipts`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiptStats {
    /// Reports that changed a segment's state.
    pub applied: u64,
    /// Reports for segments already final (a repeat): nothing changed.
    pub duplicates: u64,
    /// Reports that match no submitted segment (kept in `receipts_unmatched`).
    pub unmatched: u64,
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
async fn event(
    tx: &mut Transaction<'static, Any>,
    id: MessageId,
    state: MessageState,
    detail: Option<&str>,
    at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO message_events (message_id, state, detail, at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id.0)
    .bind(state.as_str())
    .bind(detail)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The final state of a message from its segments' states, once all are final: delivered
/// when every one is, else the first segment's failure.
fn overall(states: &[MessageState]) -> Option<MessageState> {
    if states.is_empty() || !states.iter().all(|s| s.is_final()) {
        return None;
    }
    Some(
        states
            .iter()
            .copied()
            .find(|s| *s != MessageState::Delivered)
            .unwrap_or(MessageState::Delivered),
    )
}

impl Store {
    /// Accepts a message: reserves its cost (`InsufficientCredit` if the balance cannot cover
    /// it, nothing stored) and queues it, in one transaction. With an idempotency key
    /// `(key, request hash)`, a key seen in the last 24 hours returns the first message
    /// (`replayed`) when the hash matches and `IdempotencyConflict` when it does not.
    #[tracing::instrument(skip_all, fields(company = company.0, segments = new.segments))]
    pub async fn enqueue_message(
        &self,
        company: CompanyId,
        new: NewMessage,
        idempotency: Option<(&str, &str)>,
    ) -> Result<Enqueued> {
        // Two requests with the same new key race: the loser's key insert conflicts, and its
        // second pass finds the winner's message.
        for _ in 0..2 {
            match self.try_enqueue(company, &new, idempotency).await {
                // SQLite names the column, PostgreSQL the primary key constraint.
                Err(StoreError::Conflict { field }) if field.contains("idem") => continue,
                other => return other,
            }
        }
        Err(StoreError::IdempotencyConflict)
    }

    async fn try_enqueue(
        &self,
        company: CompanyId,
        new: &NewMessage,
        idempotency: Option<(&str, &str)>,
    ) -> Result<Enqueued> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        if let Some((key, hash)) = idempotency {
            sqlx::query(
                "DELETE FROM idempotency_keys WHERE company_id = $1 AND idem_key = $2 \
                 AND created_at <= $3",
            )
            .bind(company.0)
            .bind(key)
            .bind(now - IDEMPOTENCY_TTL_MS)
            .execute(&mut *tx)
            .await?;
            let seen: Option<(String, i64)> = sqlx::query_as(
                "SELECT request_hash, message_id FROM idempotency_keys \
                 WHERE company_id = $1 AND idem_key = $2",
            )
            .bind(company.0)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((seen_hash, id)) = seen {
                tx.rollback().await?;
                if seen_hash != hash {
                    return Err(StoreError::IdempotencyConflict);
                }
                let message = self
                    .get_message(company, MessageId(id))
                    .await?
                    .ok_or(StoreError::NotFound)?
                    .message;
                return Ok(Enqueued {
                    message,
                    replayed: true,
                });
            }
        }
        if let Err(e) =
            write_entry(&mut tx, company, LedgerKind::Reservation, -new.cost, None).await
        {
            tx.rollback().await?;
            return Err(e);
        }
        let (state, due) = match new.scheduled_at {
            Some(at) if at > now => (MessageState::Scheduled, at),
            _ => (MessageState::Queued, now),
        };
        let row = sqlx::query(sql!(
            "INSERT INTO messages (company_id, provider_account_id, recipient_kind, recipient, \
             sender, body, encoding, segments, cost, state, state_at, attempts, next_attempt_at, \
             valid_until, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $13, $11) \
             RETURNING {COLS}"
        ))
        .bind(company.0)
        .bind(new.provider.map(|p| p.0))
        .bind(new.recipient.kind())
        .bind(new.recipient.address())
        .bind(new.sender.as_str())
        .bind(&new.body)
        .bind(&new.encoding)
        .bind(i64::from(new.segments))
        .bind(new.cost)
        .bind(state.as_str())
        .bind(now)
        .bind(due)
        .bind(new.valid_until)
        .fetch_one(&mut *tx)
        .await?;
        let message = message(&row)?;
        event(&mut tx, message.id, state, None, now).await?;
        if let Some((key, hash)) = idempotency {
            sqlx::query(
                "INSERT INTO idempotency_keys (company_id, idem_key, request_hash, message_id, \
                 created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(company.0)
            .bind(key)
            .bind(hash)
            .bind(message.id.0)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Enqueued {
            message,
            replayed: false,
        })
    }

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
        let events = sqlx::query(
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
        Ok(Some(MessageDetail {
            message,
            parts,
            events,
        }))
    }

    /// Claims up to `limit` due messages of one provider account for `owner`, under a lease
    /// of `lease_ms`: they move to `sending` and their attempt count goes up. On PostgreSQL
    /// concurrent claimers skip each other's rows (`FOR UPDATE SKIP LOCKED`); on SQLite the
    /// write transaction serialises them.
    #[tracing::instrument(skip(self))]
    pub async fn claim_messages(
        &self,
        provider: ProviderAccountId,
        owner: &str,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<Message>> {
        let now = now_ms();
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(sql!(
            "UPDATE messages SET state = 'sending', state_at = $2, lease_owner = $3, \
             lease_until = $4, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM messages WHERE provider_account_id = $1 \
               AND state IN ('queued', 'scheduled') AND next_attempt_at <= $2 \
               AND valid_until > $2 \
               AND NOT EXISTS (SELECT 1 FROM opt_outs o WHERE o.company_id = messages.company_id \
                               AND o.phone = messages.recipient) \
               AND (campaign_id IS NULL OR EXISTS (SELECT 1 FROM campaigns k \
                    WHERE k.id = messages.campaign_id AND k.state = 'running')) \
               ORDER BY next_attempt_at, id LIMIT $5 {lock}) \
             RETURNING {COLS}"
        ))
        .bind(provider.0)
        .bind(now)
        .bind(owner)
        .bind(now + lease_ms)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut out = rows.iter().map(message).collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|m| (m.next_attempt_at, m.id));
        Ok(out)
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
    /// submitted, releasing their credit. Returns how many.
    #[tracing::instrument(skip(self))]
    pub async fn expire_due(&self, provider: ProviderAccountId) -> Result<u64> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
            "UPDATE messages SET state = 'expired', state_at = $2, final_at = $2, \
             state_reason = 'validity ended before it could be submitted' \
             WHERE provider_account_id = $1 AND state IN ('queued', 'scheduled') \
             AND valid_until <= $2 RETURNING id, company_id, cost",
        )
        .bind(provider.0)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut release: BTreeMap<i64, i64> = BTreeMap::new();
        for (id, company, cost) in &rows {
            *release.entry(*company).or_default() += cost;
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

    /// Records a batch of submit outcomes in one transaction: submitted messages get their
    /// segments with the operator's ids and their reservation becomes a charge (one release
    /// and one charge entry per company and batch); retries go back to the queue; failures
    /// release their reservation. Receipts that arrived before their submit response are
    /// applied here. An outcome for a message that is no longer `sending`/`queued` (a
    /// duplicate worker after a lost lease) changes nothing.
    #[tracing::instrument(skip_all, fields(outcomes = outcomes.len()))]
    pub async fn record_submits(&self, outcomes: Vec<SubmitOutcome>) -> Result<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        // Ids are integers from the database: safe to inline.
        let ids = outcomes
            .iter()
            .map(|o| o.id.0.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let providers: Vec<Option<i64>> = sqlx::query_scalar(sql!(
            "SELECT DISTINCT provider_account_id FROM messages WHERE id IN ({ids}) \
             ORDER BY provider_account_id"
        ))
        .fetch_all(&mut *tx)
        .await?;
        for p in providers.into_iter().flatten() {
            self.lock_receipts(&mut tx, ProviderAccountId(p)).await?;
        }
        let mut charged: BTreeMap<i64, i64> = BTreeMap::new();
        let mut released: BTreeMap<i64, i64> = BTreeMap::new();
        for o in outcomes {
            let row: Option<(i64, i64, Option<i64>, String)> = sqlx::query_as(
                "SELECT company_id, cost, provider_account_id, state FROM messages WHERE id = $1",
            )
            .bind(o.id.0)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((company, cost, provider, state)) = row else {
                continue;
            };
            if state != "sending" && state != "queued" {
                continue;
            }
            match o.result {
                SubmitResult::Submitted { operator_ids } => {
                    sqlx::query(
                        "UPDATE messages SET state = 'submitted', state_at = $2, \
                         submitted_at = $2, state_reason = NULL, lease_owner = NULL, \
                         lease_until = NULL WHERE id = $1",
                    )
                    .bind(o.id.0)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    for (i, op) in operator_ids.iter().enumerate() {
                        let (key, alt) = id_keys(op);
                        sqlx::query(
                            "INSERT INTO message_parts (message_id, part_no, provider_account_id, \
                             operator_id, id_key, id_alt, state, submitted_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, 'submitted', $7) \
                             ON CONFLICT (message_id, part_no) DO NOTHING",
                        )
                        .bind(o.id.0)
                        .bind(i as i64 + 1)
                        .bind(provider)
                        .bind(op)
                        .bind(&key)
                        .bind(&alt)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    event(
                        &mut tx,
                        o.id,
                        MessageState::Submitted,
                        Some(&format!("operator ids: {}", operator_ids.join(", "))),
                        now,
                    )
                    .await?;
                    let ids = json!({"operator_ids": operator_ids});
                    super::webhooks::emit_message_event(&mut tx, o.id, Hook::MessageSent, ids)
                        .await?;
                    *charged.entry(company).or_default() += cost;
                    if let Some(p) = provider {
                        self.apply_pending_receipts(&mut tx, ProviderAccountId(p), o.id)
                            .await?;
                    }
                }
                SubmitResult::Retry { reason, at } => {
                    sqlx::query(
                        "UPDATE messages SET state = 'queued', state_at = $2, state_reason = $3, \
                         next_attempt_at = $4, lease_owner = NULL, lease_until = NULL \
                         WHERE id = $1",
                    )
                    .bind(o.id.0)
                    .bind(now)
                    .bind(&reason)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                    event(&mut tx, o.id, MessageState::Queued, Some(&reason), now).await?;
                }
                SubmitResult::Failed { reason, code } => {
                    sqlx::query(
                        "UPDATE messages SET state = 'failed', state_at = $2, final_at = $2, \
                         state_reason = $3, error_code = $4, lease_owner = NULL, \
                         lease_until = NULL WHERE id = $1",
                    )
                    .bind(o.id.0)
                    .bind(now)
                    .bind(&reason)
                    .bind(&code)
                    .execute(&mut *tx)
                    .await?;
                    event(&mut tx, o.id, MessageState::Failed, Some(&reason), now).await?;
                    super::webhooks::emit_message_event(
                        &mut tx,
                        o.id,
                        Hook::MessageFailed,
                        json!({}),
                    )
                    .await?;
                    *released.entry(company).or_default() += cost;
                }
            }
        }
        for (company, amount) in charged.into_iter().filter(|(_, a)| *a > 0) {
            let c = CompanyId(company);
            write_entry(&mut tx, c, LedgerKind::Release, amount, Some("submitted")).await?;
            write_entry(&mut tx, c, LedgerKind::Charge, -amount, Some("submitted")).await?;
        }
        for (company, amount) in released.into_iter().filter(|(_, a)| *a > 0) {
            write_entry(
                &mut tx,
                CompanyId(company),
                LedgerKind::Release,
                amount,
                Some("failed"),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Serialises, per provider account, recording submits with applying receipts. Without
    /// it PostgreSQL (read committed, concurrent writers) can let a receipt miss its part: the
    /// receipt's transaction does not see the uncommitted part and files the receipt as
    /// unmatched, while the submit's transaction looked for unmatched receipts before that
    /// was committed. The lock is held to the end of the transaction. SQLite's single writer
    /// already serialises them.
    async fn lock_receipts(
        &self,
        tx: &mut Transaction<'static, Any>,
        provider: ProviderAccountId,
    ) -> Result<()> {
        if self.backend == Backend::Postgres {
            // A namespace in the high bits keeps these keys apart from other advisory locks.
            let key = (0x756c_616b_i64 << 32) | (provider.0 & 0xffff_ffff);
            sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1) AS l")
                .bind(key)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Applies receipts kept unmatched that belong to a message's just-recorded segments.
    async fn apply_pending_receipts(
        &self,
        tx: &mut Transaction<'static, Any>,
        provider: ProviderAccountId,
        id: MessageId,
    ) -> Result<()> {
        let parts: Vec<(i64, String, Option<String>)> = sqlx::query_as(
            "SELECT part_no, id_key, id_alt FROM message_parts WHERE message_id = $1",
        )
        .bind(id.0)
        .fetch_all(&mut **tx)
        .await?;
        for (part_no, key, alt) in parts {
            let found: Option<(i64, String, Option<String>)> = sqlx::query_as(
                "SELECT id, state, error_code FROM receipts_unmatched \
                 WHERE provider_account_id = $1 AND (id_key = $2 OR id_key = $3 OR id_alt = $2) \
                 ORDER BY id LIMIT 1",
            )
            .bind(provider.0)
            .bind(&key)
            .bind(alt.as_deref().unwrap_or(""))
            .fetch_optional(&mut **tx)
            .await?;
            if let Some((rid, state, code)) = found {
                let state: MessageState = parse(&state, "receipts_unmatched.state")?;
                self.set_part_state(tx, id, part_no, state, code.as_deref())
                    .await?;
                sqlx::query("DELETE FROM receipts_unmatched WHERE id = $1")
                    .bind(rid)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(())
    }

    /// Sets one segment's receipt state and, once every segment is final, the message's.
    async fn set_part_state(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: MessageId,
        part_no: i64,
        state: MessageState,
        code: Option<&str>,
    ) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "UPDATE message_parts SET state = $3, error_code = $4, receipt_at = $5 \
             WHERE message_id = $1 AND part_no = $2",
        )
        .bind(id.0)
        .bind(part_no)
        .bind(state.as_str())
        .bind(code)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        let states: Vec<String> = sqlx::query_scalar(
            "SELECT state FROM message_parts WHERE message_id = $1 ORDER BY part_no",
        )
        .bind(id.0)
        .fetch_all(&mut **tx)
        .await?;
        let states = states
            .iter()
            .map(|s| parse::<MessageState>(s, "message_parts.state"))
            .collect::<Result<Vec<_>>>()?;
        if let Some(done) = overall(&states) {
            let changed = sqlx::query(
                "UPDATE messages SET state = $2, state_at = $3, final_at = $3, error_code = $4, \
                 state_reason = $5 WHERE id = $1 AND state = 'submitted'",
            )
            .bind(id.0)
            .bind(done.as_str())
            .bind(now)
            .bind(code)
            .bind(code.map(|c| format!("operator error {c}")))
            .execute(&mut **tx)
            .await?;
            if changed.rows_affected() > 0 {
                event(tx, id, done, code, now).await?;
                let hook = match done {
                    MessageState::Delivered => Hook::MessageDelivered,
                    _ => Hook::MessageFailed,
                };
                super::webhooks::emit_message_event(tx, id, hook, json!({})).await?;
            }
        }
        Ok(())
    }

    /// Applies a batch of delivery reports from one provider account (of `company`) in one
    /// transaction: each is matched to a submitted segment by any of its ids in any of the
    /// forms operators use; a repeat of a final report changes nothing; a report that
    /// matches nothing is kept (once) in `receipts_unmatched` — it may have overtaken its
    /// submit response, which picks it up when recorded.
    #[tracing::instrument(skip_all, fields(provider = provider.0, receipts = receipts.len()))]
    pub async fn apply_receipts(
        &self,
        company: CompanyId,
        provider: ProviderAccountId,
        receipts: Vec<ReceiptIn>,
    ) -> Result<ReceiptStats> {
        let now = now_ms();
        let mut stats = ReceiptStats::default();
        let mut tx = self.begin_write().await?;
        self.lock_receipts(&mut tx, provider).await?;
        for r in receipts {
            let keys: Vec<(String, Option<String>)> =
                r.operator_ids.iter().map(|i| id_keys(i)).collect();
            let mut found: Option<(i64, i64, String)> = None;
            // Exact forms first, then a decimal id against a hex one, then the reverse.
            'search: for pass in 0..3 {
                for (key, alt) in &keys {
                    let (column, value) = match pass {
                        0 => ("id_key", Some(key)),
                        1 => ("id_key", alt.as_ref()),
                        _ => ("id_alt", Some(key)),
                    };
                    let Some(value) = value else { continue };
                    found = sqlx::query_as(sql!(
                        "SELECT message_id, part_no, state FROM message_parts \
                         WHERE provider_account_id = $1 AND {column} = $2 \
                         ORDER BY message_id DESC LIMIT 1"
                    ))
                    .bind(provider.0)
                    .bind(value)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if found.is_some() {
                        break 'search;
                    }
                }
            }
            match found {
                Some((_, _, state))
                    if parse::<MessageState>(&state, "message_parts.state")?.is_final() =>
                {
                    stats.duplicates += 1;
                }
                Some((message_id, part_no, _)) => {
                    self.set_part_state(
                        &mut tx,
                        MessageId(message_id),
                        part_no,
                        r.state,
                        r.error_code.as_deref(),
                    )
                    .await?;
                    stats.applied += 1;
                }
                None => {
                    let (key, alt) = keys.first().cloned().unwrap_or_default();
                    let stored = sqlx::query(
                        "INSERT INTO receipts_unmatched (provider_account_id, company_id, \
                         operator_id, id_key, id_alt, state, error_code, raw, received_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                         ON CONFLICT (provider_account_id, id_key, state) DO NOTHING",
                    )
                    .bind(provider.0)
                    .bind(company.0)
                    .bind(r.operator_ids.first().cloned().unwrap_or_default())
                    .bind(&key)
                    .bind(&alt)
                    .bind(r.state.as_str())
                    .bind(&r.error_code)
                    .bind(&r.raw)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    if stored.rows_affected() > 0 {
                        stats.unmatched += 1;
                    } else {
                        stats.duplicates += 1;
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(stats)
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

    #[test]
    fn a_message_is_final_when_all_its_parts_are() {
        use MessageState::*;
        assert_eq!(overall(&[Delivered, Delivered]), Some(Delivered));
        assert_eq!(overall(&[Delivered, Undeliverable]), Some(Undeliverable));
        assert_eq!(overall(&[Delivered, Submitted]), None);
        assert_eq!(overall(&[]), None);
    }
}
