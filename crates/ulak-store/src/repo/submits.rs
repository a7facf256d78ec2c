//! Recording submit outcomes in batches: segments the operator took (with their ids, for
//! receipts), messages submitted, retried or failed, and the credit that follows. A long
//! message can go through in pieces: the segments an attempt got through are recorded even
//! when others failed, and a later attempt sends only the rest ([`Store::taken_parts`]).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use ulak_core::model::{
    CompanyId, LedgerKind, MessageId, MessageState, ProviderAccountId, WebhookEventType as Hook,
};

use super::credit::{add_cost, write_entry};
use super::messages::{event, id_keys};
use super::receipts::{NewSegment, apply_pending_receipts, lock_receipts};
use super::webhooks::{emit_message_event, emit_message_events};
use crate::db::{int_list, literal_or_bind, now_ms};
use crate::exec::{Arg, Exec, OnThread, over_ids};
use crate::sqlite_writer::on_thread;
use crate::{Result, Store, StoreError};

/// What became of one submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitResult {
    /// The operator took every segment in this attempt; its ids in segment order.
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
    /// Part of a long message's segments went through in this attempt (the others failed,
    /// or were taken by earlier attempts). The `taken` ones are recorded whatever `rest`
    /// says, so no later attempt sends them again and their receipts find the message.
    Segments {
        /// (segment number from 1, the operator's id) of each segment taken in this attempt.
        taken: Vec<(u32, String)>,
        /// What becomes of the message.
        rest: Rest,
    },
}

/// What becomes of a message after an attempt that got some of its segments through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rest {
    /// No segment is left: the message is submitted.
    Submitted,
    /// The segments left are tried again at `at` (unix ms).
    Retry {
        /// Why.
        reason: String,
        /// When.
        at: i64,
    },
    /// The message fails (a segment refused for good, or the attempts ran out); its
    /// reservation is released as for any failure.
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

/// Segments to insert: (message, part, provider, operator id).
type NewPart = (i64, i64, Option<i64>, String);

impl Store {
    /// The segments of these messages that the operator has taken already, by message (part
    /// numbers in order; messages with none are left out). A message retried after an
    /// attempt that got only some of its segments through sends only the others.
    #[tracing::instrument(skip_all, fields(messages = ids.len()))]
    pub async fn taken_parts(&self, ids: &[MessageId]) -> Result<BTreeMap<MessageId, Vec<u32>>> {
        let mut out: BTreeMap<MessageId, Vec<u32>> = BTreeMap::new();
        for chunk in ids.chunks(1000) {
            // Ids come from the database: safe to inline.
            let list = int_list(chunk.iter().map(|m| m.0));
            let rows: Vec<(i64, i64)> = sqlx::query_as(sql!(
                "SELECT message_id, part_no FROM message_parts WHERE message_id IN ({list}) \
                 ORDER BY message_id, part_no"
            ))
            .persistent(false)
            .fetch_all(&self.pool)
            .await?;
            for (m, part) in rows {
                if let Ok(part) = u32::try_from(part) {
                    out.entry(MessageId(m)).or_default().push(part);
                }
            }
        }
        Ok(out)
    }

    /// Records a batch of submit outcomes in one transaction: segments taken get their rows
    /// with the operator's ids; submitted messages' reservation becomes a charge (one release
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
        if let Some(writer) = &self.sqlite_writer {
            return writer
                .transaction(move |tx| on_thread(record(&mut OnThread(tx), outcomes, now)))
                .await;
        }
        let mut tx = self.begin_write().await?;
        record(&mut tx, outcomes, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The rules of [`Store::record_submits`], in the caller's transaction.
async fn record<E: Exec>(tx: &mut E, outcomes: Vec<SubmitOutcome>, now: i64) -> Result<()> {
    let ids: Vec<i64> = outcomes.iter().map(|o| o.id.0).collect();
    let (sql, args) = over_ids(
        tx.on_postgres(),
        "SELECT DISTINCT provider_account_id FROM messages WHERE id IN ({list}) \
         ORDER BY provider_account_id",
        &ids,
        &[],
    );
    let providers: Vec<(Option<i64>,)> = tx.rows(sql, &args).await?;
    for (p,) in providers {
        if let Some(p) = p {
            lock_receipts(tx, ProviderAccountId(p)).await?;
        }
    }
    let mut released: BTreeMap<i64, i64> = BTreeMap::new();
    // Segments taken in this batch, by message: (part, operator id).
    let mut taken: BTreeMap<i64, Vec<(u32, String)>> = BTreeMap::new();
    // Messages now submitted whose earlier attempts took some of their segments.
    let mut completed: BTreeSet<i64> = BTreeSet::new();
    let mut new_parts: Vec<NewPart> = Vec::new();
    for o in outcomes {
        let (parts, rest) = match o.result {
            SubmitResult::Submitted { operator_ids } => {
                let parts = (1..).zip(operator_ids).collect();
                (parts, Rest::Submitted)
            }
            SubmitResult::Retry { reason, at } => (Vec::new(), Rest::Retry { reason, at }),
            SubmitResult::Failed { reason, code } => (Vec::new(), Rest::Failed { reason, code }),
            SubmitResult::Segments { taken: parts, rest } => {
                if rest == Rest::Submitted {
                    completed.insert(o.id.0);
                }
                (parts, rest)
            }
        };
        match rest {
            // Submitted: one statement for the whole batch, below.
            Rest::Submitted => {
                taken.insert(o.id.0, parts);
            }
            fault => {
                let parts = TakenNow { id: o.id, parts };
                record_fault(tx, parts, fault, now, &mut released, &mut new_parts).await?;
            }
        }
    }
    let (sent, charged) = mark_submitted(tx, &mut taken, &mut new_parts, now).await?;
    new_parts.sort_by_key(|p| (p.0, p.1));
    let pending = insert_parts(tx, &new_parts, now).await?;
    announce_sent(tx, &sent, &completed, &new_parts).await?;
    // Receipts that overtook their submit record.
    apply_pending_receipts(tx, &pending).await?;
    for (company, amount) in charged.into_iter().filter(|(_, a)| *a > 0) {
        let c = CompanyId(company);
        write_entry(tx, c, LedgerKind::Release, amount, Some("submitted")).await?;
        write_entry(tx, c, LedgerKind::Charge, -amount, Some("submitted")).await?;
    }
    for (company, amount) in released.into_iter().filter(|(_, a)| *a > 0) {
        let c = CompanyId(company);
        write_entry(tx, c, LedgerKind::Release, amount, Some("failed")).await?;
    }
    Ok(())
}

/// Segments of message `id` taken in this attempt: (part, operator id).
struct TakenNow {
    id: MessageId,
    parts: Vec<(u32, String)>,
}

/// A retry or a failure (rare: one statement each is fine): the message back in the queue,
/// or failed with its reservation added to `released`. The segments taken in this attempt
/// are kept either way. A message no longer `sending`/`queued` is left as it is.
async fn record_fault<E: Exec>(
    tx: &mut E,
    taken: TakenNow,
    rest: Rest,
    now: i64,
    released: &mut BTreeMap<i64, i64>,
    new_parts: &mut Vec<NewPart>,
) -> Result<()> {
    let TakenNow { id, parts } = taken;
    let provider = match rest {
        // The caller records submitted messages together.
        Rest::Submitted => return Ok(()),
        Rest::Retry { reason, at } => {
            let changed: Option<(Option<i64>,)> = tx
                .row(
                    "UPDATE messages SET state = 'queued', state_at = $2, \
                     state_reason = $3, next_attempt_at = $4, lease_owner = NULL, \
                     lease_until = NULL WHERE id = $1 AND state IN ('sending', 'queued') \
                     RETURNING provider_account_id"
                        .into(),
                    &[id.0.into(), now.into(), reason.as_str().into(), at.into()],
                )
                .await?;
            let Some((provider,)) = changed else {
                return Ok(());
            };
            event(tx, id, MessageState::Queued, Some(&reason), now).await?;
            provider
        }
        Rest::Failed { reason, code } => {
            let row: Option<(i64, i64, Option<i64>)> = tx
                .row(
                    "UPDATE messages SET state = 'failed', state_at = $2, final_at = $2, \
                     state_reason = $3, error_code = $4, lease_owner = NULL, \
                     lease_until = NULL WHERE id = $1 AND state IN ('sending', 'queued') \
                     RETURNING company_id, cost, provider_account_id"
                        .into(),
                    &[
                        id.0.into(),
                        now.into(),
                        reason.as_str().into(),
                        (&code).into(),
                    ],
                )
                .await?;
            let Some((company, cost, provider)) = row else {
                return Ok(());
            };
            event(tx, id, MessageState::Failed, Some(&reason), now).await?;
            emit_message_event(tx, id, Hook::MessageFailed, json!({})).await?;
            add_cost(released, company, cost)?;
            provider
        }
    };
    new_parts.extend(parts.into_iter().map(|(k, op)| part(id, k, provider, op)));
    Ok(())
}

/// Marks the messages of `taken` submitted (one update per thousand) and adds their
/// segments to `new_parts`. Returns the ids changed, in order, and the credit to charge by
/// company.
async fn mark_submitted<E: Exec>(
    tx: &mut E,
    taken: &mut BTreeMap<i64, Vec<(u32, String)>>,
    new_parts: &mut Vec<NewPart>,
    now: i64,
) -> Result<(Vec<i64>, BTreeMap<i64, i64>)> {
    let keys: Vec<i64> = taken.keys().copied().collect();
    let mut sent: Vec<i64> = Vec::new();
    let mut charged: BTreeMap<i64, i64> = BTreeMap::new();
    for chunk in keys.chunks(1000) {
        let (sql, args) = over_ids(
            tx.on_postgres(),
            "UPDATE messages SET state = 'submitted', state_at = $1, submitted_at = $1, \
             state_reason = NULL, lease_owner = NULL, lease_until = NULL \
             WHERE id IN ({list}) AND state IN ('sending', 'queued') \
             RETURNING id, company_id, cost, provider_account_id",
            chunk,
            &[now.into()],
        );
        let rows: Vec<(i64, i64, i64, Option<i64>)> = tx.rows(sql, &args).await?;
        for (id, company, cost, provider) in rows {
            add_cost(&mut charged, company, cost)?;
            sent.push(id);
            if let Some(parts) = taken.remove(&id) {
                new_parts.extend(
                    parts
                        .into_iter()
                        .map(|(k, op)| part(MessageId(id), k, provider, op)),
                );
            }
        }
    }
    sent.sort_unstable();
    Ok((sent, charged))
}

/// Announces the messages just submitted. The submitted step of the history is
/// `submitted_at` with the segments (see `messages::history`): no event rows. The webhook
/// names every segment's id, those of earlier attempts (`completed`) too.
async fn announce_sent<E: Exec>(
    tx: &mut E,
    sent: &[i64],
    completed: &BTreeSet<i64>,
    new_parts: &[NewPart],
) -> Result<()> {
    let mut operator_ids: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for (id, _, _, op) in new_parts {
        operator_ids.entry(*id).or_default().push(op.clone());
    }
    let earlier: Vec<i64> = sent
        .iter()
        .copied()
        .filter(|id| completed.contains(id))
        .collect();
    if !earlier.is_empty() {
        let (sql, args) = over_ids(
            tx.on_postgres(),
            "SELECT message_id, operator_id FROM message_parts \
             WHERE message_id IN ({list}) ORDER BY message_id, part_no",
            &earlier,
            &[],
        );
        let rows: Vec<(i64, String)> = tx.rows(sql, &args).await?;
        for id in &earlier {
            operator_ids.remove(id);
        }
        for (id, op) in rows {
            operator_ids.entry(id).or_default().push(op);
        }
    }
    emit_message_events(
        tx,
        sent,
        Hook::MessageSent,
        |id| json!({"operator_ids": operator_ids.get(&id).cloned().unwrap_or_default()}),
    )
    .await
}

/// A segment row to insert.
fn part(id: MessageId, part: u32, provider: Option<i64>, operator_id: String) -> NewPart {
    (id.0, i64::from(part), provider, operator_id)
}

/// Inserts segment rows (on PostgreSQL one multi-row statement per 200, on SQLite one for
/// all; a segment already recorded is kept as it was). Returns each one's keys, for the
/// receipts that may be waiting for them.
async fn insert_parts<E: Exec>(tx: &mut E, parts: &[NewPart], now: i64) -> Result<Vec<NewSegment>> {
    let mut pending = Vec::new();
    // (message, part, provider, operator id, key, alt) for the insert.
    type PartRow<'a> = (i64, i64, Option<i64>, &'a str, String, Option<String>);
    let mut rows: Vec<PartRow> = Vec::with_capacity(parts.len());
    for (id, part, provider, op) in parts {
        let (key, alt) = id_keys(op);
        if let Some(p) = provider {
            pending.push((*id, *part, *p, key.clone(), alt.clone()));
        }
        rows.push((*id, *part, *provider, op.as_str(), key, alt));
    }
    if !tx.on_postgres() {
        // One text for every batch, kept prepared: the rows as one JSON array, read as JSONB
        // (each `->>` then finds its value in place; on a JSON text each row is written out
        // again as text and parsed once per column).
        let json = serde_json::to_string(&rows)
            .map_err(|e| StoreError::Config(format!("segments as JSON: {e}")))?;
        tx.exec(
            "INSERT INTO message_parts (message_id, part_no, provider_account_id, \
             operator_id, id_key, id_alt, state, submitted_at) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, \
             value ->> 5, 'submitted', $1 FROM jsonb_each($2) WHERE true \
             ON CONFLICT (message_id, part_no) DO NOTHING"
                .into(),
            &[now.into(), Arg::Text(&json)],
        )
        .await?;
        return Ok(pending);
    }
    for chunk in rows.chunks(200) {
        // Integers inline, plain text inline, anything else bound.
        let mut binds: Vec<&str> = Vec::new();
        let mut values = Vec::with_capacity(chunk.len());
        for (id, part, provider, op, key, alt) in chunk {
            let p = provider.map_or("NULL".to_owned(), |p| p.to_string());
            let op_sql = literal_or_bind(op, &mut binds, 1);
            let key_sql = literal_or_bind(key, &mut binds, 1);
            let alt_sql = match alt {
                None => "NULL".to_owned(),
                Some(a) => literal_or_bind(a, &mut binds, 1),
            };
            values.push(format!(
                "({id}, {part}, {p}, {op_sql}, {key_sql}, {alt_sql}, 'submitted', $1)"
            ));
        }
        let values = values.join(",");
        let mut args: Vec<Arg> = vec![now.into()];
        args.extend(binds.into_iter().map(Arg::from));
        tx.exec(
            format!(
                "INSERT INTO message_parts (message_id, part_no, provider_account_id, \
                 operator_id, id_key, id_alt, state, submitted_at) VALUES {values} \
                 ON CONFLICT (message_id, part_no) DO NOTHING"
            )
            .into(),
            &args,
        )
        .await?;
    }
    Ok(pending)
}
