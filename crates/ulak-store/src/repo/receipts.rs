//! Delivery reports: matching a batch of them to submitted segments in a few set-based
//! statements (not a handful per report), moving segments and messages to their final
//! states, and keeping the ones that match nothing until their submit is recorded.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::json;
use ulak_core::model::{CompanyId, MessageState, ProviderAccountId, WebhookEventType as Hook};

use super::messages::id_keys;
use crate::db::{int_list, now_ms, parse, string_lists};
use crate::exec::{Arg, Exec, OnThread, over_ids, over_list};
use crate::sqlite_writer::on_thread;
use crate::{Result, Store};

/// Rows per multi-row insert of unmatched receipts (6 bound values each): SQLite looks
/// parameters up by name, so many per statement cost more than they save.
const BIND_CHUNK: usize = 8;

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

/// A segment's new receipt state: (message id, part number, state, operator error code).
pub(crate) type PartUpdate = (i64, i64, MessageState, Option<String>);

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

/// A submitted segment found by one of its keys.
#[derive(Debug, Clone, Copy)]
struct Found {
    message_id: i64,
    part_no: i64,
}

/// Reads segments of `provider` whose `column` is one of `values`, keyed by that value;
/// where two segments share a value the newest message wins (ids are reused by operators
/// over time).
async fn parts_by<E: Exec>(
    tx: &mut E,
    provider: ProviderAccountId,
    column: &str,
    values: &BTreeSet<&str>,
    states: &mut HashMap<(i64, i64), MessageState>,
) -> Result<HashMap<String, Found>> {
    let mut out: HashMap<String, Found> = HashMap::new();
    let values: Vec<&str> = values.iter().copied().collect();
    let sql = format!(
        "SELECT message_id, part_no, state, {column} FROM message_parts \
         WHERE provider_account_id = $1 AND {column} IN ({{list}})"
    );
    // PostgreSQL's lists come in pieces (plain values inlined, others bound); SQLite's
    // one is whole.
    let pieces = if tx.on_postgres() {
        string_lists(&values, 2)
    } else {
        vec![(String::new(), Vec::new())]
    };
    for (list, binds) in pieces {
        let (sql, args) = over_list(
            tx.on_postgres(),
            &sql,
            Arg::Texts(&values),
            &[provider.0.into()],
            || (list, binds.into_iter().map(Arg::from).collect()),
        );
        let rows: Vec<(i64, i64, String, String)> = tx.rows(sql, &args).await?;
        for (message_id, part_no, state, value) in rows {
            let state: MessageState = parse(&state, "message_parts.state")?;
            states.insert((message_id, part_no), state);
            let f = Found {
                message_id,
                part_no,
            };
            out.entry(value)
                .and_modify(|e| {
                    if message_id > e.message_id {
                        *e = f;
                    }
                })
                .or_insert(f);
        }
    }
    Ok(out)
}

/// Serialises, per provider account, recording submits with applying receipts. Without it
/// PostgreSQL (read committed, concurrent writers) can let a receipt miss its part: the
/// receipt's transaction does not see the uncommitted part and files the receipt as
/// unmatched, while the submit's transaction looked for unmatched receipts before that was
/// committed. The lock is held to the end of the transaction. SQLite's single writer
/// already serialises them.
pub(crate) async fn lock_receipts<E: Exec>(tx: &mut E, provider: ProviderAccountId) -> Result<()> {
    if tx.on_postgres() {
        // A namespace in the high bits keeps these keys apart from other advisory locks.
        let key = (0x756c_616b_i64 << 32) | (provider.0 & 0xffff_ffff);
        tx.exec(
            "SELECT 1 FROM pg_advisory_xact_lock($1) AS l".into(),
            &[key.into()],
        )
        .await?;
    }
    Ok(())
}

/// Messages whose segments are now all final, by (state name, operator code of the first
/// failed segment).
type Finals = BTreeMap<(&'static str, Option<String>), (MessageState, Vec<i64>)>;

/// The messages of `updates` whose segments are now all final ([`overall`]).
async fn finals_of<E: Exec>(tx: &mut E, updates: &[PartUpdate]) -> Result<Finals> {
    let mids: BTreeSet<i64> = updates.iter().map(|u| u.0).collect();
    let mids: Vec<i64> = mids.into_iter().collect();
    let mut finals: Finals = BTreeMap::new();
    for chunk in mids.chunks(1000) {
        let (sql, args) = over_ids(
            tx.on_postgres(),
            "SELECT message_id, state, error_code FROM message_parts \
             WHERE message_id IN ({list}) ORDER BY message_id, part_no",
            chunk,
            &[],
        );
        let rows: Vec<(i64, String, Option<String>)> = tx.rows(sql, &args).await?;
        let mut i = 0;
        while i < rows.len() {
            let mid = rows[i].0;
            let mut states = Vec::new();
            let mut code = None;
            while i < rows.len() && rows[i].0 == mid {
                let s: MessageState = parse(&rows[i].1, "message_parts.state")?;
                if code.is_none() && s != MessageState::Delivered {
                    code = Some(rows[i].2.clone());
                }
                states.push(s);
                i += 1;
            }
            if let Some(done) = overall(&states) {
                finals
                    .entry((done.as_str(), code.flatten()))
                    .or_insert_with(|| (done, Vec::new()))
                    .1
                    .push(mid);
            }
        }
    }
    Ok(finals)
}

/// Sets segments' receipt states and, for each message whose segments are now all final,
/// the message's final state (and a webhook), in a few statements for the whole batch.
pub(crate) async fn apply_part_states<E: Exec>(tx: &mut E, updates: &[PartUpdate]) -> Result<()> {
    if updates.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    // One UPDATE per (state, code, part number) group: in practice one per batch.
    let mut groups: BTreeMap<(&'static str, Option<&str>, i64), Vec<i64>> = BTreeMap::new();
    for (mid, part, state, code) in updates {
        groups
            .entry((state.as_str(), code.as_deref(), *part))
            .or_default()
            .push(*mid);
    }
    for ((state, code, part), mids) in &groups {
        for chunk in mids.chunks(1000) {
            let (sql, args) = over_ids(
                tx.on_postgres(),
                "UPDATE message_parts SET state = $1, error_code = $2, receipt_at = $3 \
                 WHERE part_no = $4 AND message_id IN ({list})",
                chunk,
                &[(*state).into(), (*code).into(), now.into(), (*part).into()],
            );
            tx.exec(sql, &args).await?;
        }
    }
    // The messages whose segments are now all final.
    let finals = finals_of(tx, updates).await?;
    for ((_, code), (done, mids)) in finals {
        let reason = code.as_ref().map(|c| format!("operator error {c}"));
        for chunk in mids.chunks(1000) {
            let (sql, args) = over_ids(
                tx.on_postgres(),
                "UPDATE messages SET state = $1, state_at = $2, final_at = $2, \
                 error_code = $3, state_reason = $4 \
                 WHERE state = 'submitted' AND id IN ({list}) RETURNING id",
                chunk,
                &[
                    done.as_str().into(),
                    now.into(),
                    (&code).into(),
                    (&reason).into(),
                ],
            );
            let changed: Vec<(i64,)> = tx.rows(sql, &args).await?;
            if changed.is_empty() {
                continue;
            }
            let changed: Vec<i64> = changed.into_iter().map(|(id,)| id).collect();
            // The final step of the history is `final_at` with the code (see
            // `messages::history`): no event rows.
            let hook = match done {
                MessageState::Delivered => Hook::MessageDelivered,
                _ => Hook::MessageFailed,
            };
            super::webhooks::emit_message_events(tx, &changed, hook, |_| json!({})).await?;
        }
    }
    Ok(())
}

/// A segment just recorded: (message id, part number, provider account, id key,
/// alternative key).
pub(crate) type NewSegment = (i64, i64, i64, String, Option<String>);

/// Applies receipts kept unmatched that belong to segments just recorded.
pub(crate) async fn apply_pending_receipts<E: Exec>(
    tx: &mut E,
    parts: &[NewSegment],
) -> Result<()> {
    if parts.is_empty() {
        return Ok(());
    }
    let providers: BTreeSet<i64> = parts.iter().map(|p| p.2).collect();
    let plist = int_list(providers.iter().copied());
    let providers: Vec<i64> = providers.into_iter().collect();
    // Usually there are none: one cheap read decides.
    let (sql, args) = over_ids(
        tx.on_postgres(),
        "SELECT id FROM receipts_unmatched WHERE provider_account_id IN ({list}) LIMIT 1",
        &providers,
        &[],
    );
    let any: Option<(i64,)> = tx.row(sql, &args).await?;
    if any.is_none() {
        return Ok(());
    }
    let mut keys: BTreeSet<&str> = BTreeSet::new();
    for (_, _, _, key, alt) in parts {
        keys.insert(key);
        if let Some(a) = alt {
            keys.insert(a);
        }
    }
    type Row = (i64, i64, String, Option<String>, String, Option<String>);
    let mut rows: Vec<Row> = Vec::new();
    let keys: Vec<&str> = keys.into_iter().collect();
    for (list, binds) in string_lists(&keys, 1) {
        let args: Vec<Arg> = binds.into_iter().map(Arg::from).collect();
        rows.extend(
            tx.rows::<Row>(
                format!(
                    "SELECT id, provider_account_id, id_key, id_alt, state, error_code \
                     FROM receipts_unmatched WHERE provider_account_id IN ({plist}) \
                     AND (id_key IN ({list}) OR id_alt IN ({list}))"
                )
                .into(),
                &args,
            )
            .await?,
        );
    }
    rows.sort_by_key(|r| r.0);
    rows.dedup_by_key(|r| r.0);
    let mut used: BTreeSet<i64> = BTreeSet::new();
    let mut updates: Vec<PartUpdate> = Vec::new();
    for (mid, part, provider, key, alt) in parts {
        // The oldest kept report for this segment, by any of its forms.
        let hit = rows.iter().find(|r| {
            !used.contains(&r.0)
                && r.1 == *provider
                && (r.2 == *key
                    || alt.as_deref() == Some(r.2.as_str())
                    || r.3.as_ref() == Some(key))
        });
        if let Some(r) = hit {
            used.insert(r.0);
            let state: MessageState = parse(&r.4, "receipts_unmatched.state")?;
            updates.push((*mid, *part, state, r.5.clone()));
        }
    }
    apply_part_states(tx, &updates).await?;
    if !used.is_empty() {
        let list = int_list(used.iter().copied());
        tx.exec(
            format!("DELETE FROM receipts_unmatched WHERE id IN ({list})").into(),
            &[],
        )
        .await?;
    }
    Ok(())
}

/// A batch of reports to apply: the reports, and whether each may be kept unmatched.
struct Batch {
    company: CompanyId,
    provider: ProviderAccountId,
    receipts: Vec<(ReceiptIn, bool)>,
    now: i64,
}

/// The rules of [`Store::apply_receipts_or_hold`], in the caller's transaction.
async fn apply_in<E: Exec>(tx: &mut E, b: &Batch) -> Result<(ReceiptStats, Vec<usize>)> {
    let mut stats = ReceiptStats::default();
    let mut held = Vec::new();
    lock_receipts(tx, b.provider).await?;
    let keys: Vec<Vec<(String, Option<String>)>> = b
        .receipts
        .iter()
        .map(|(r, _)| r.operator_ids.iter().map(|i| id_keys(i)).collect())
        .collect();
    let mut by_key_values: BTreeSet<&str> = BTreeSet::new();
    let mut by_alt_values: BTreeSet<&str> = BTreeSet::new();
    for (key, alt) in keys.iter().flatten() {
        by_key_values.insert(key);
        by_alt_values.insert(key);
        if let Some(a) = alt {
            by_key_values.insert(a);
        }
    }
    let mut states: HashMap<(i64, i64), MessageState> = HashMap::new();
    let by_key = parts_by(tx, b.provider, "id_key", &by_key_values, &mut states).await?;
    let by_alt = parts_by(tx, b.provider, "id_alt", &by_alt_values, &mut states).await?;
    let mut updates: Vec<PartUpdate> = Vec::new();
    let mut unmatched: Vec<usize> = Vec::new();
    for (i, (r, may_keep)) in b.receipts.iter().enumerate() {
        // Exact forms first, then a decimal id against a hex one, then the reverse.
        let found = (0..3).find_map(|pass| {
            keys[i].iter().find_map(|(key, alt)| match pass {
                0 => by_key.get(key),
                1 => alt.as_ref().and_then(|a| by_key.get(a)),
                _ => by_alt.get(key),
            })
        });
        match found {
            Some(f) => {
                let slot = (f.message_id, f.part_no);
                let current = states
                    .get(&slot)
                    .copied()
                    .unwrap_or(MessageState::Submitted);
                if current.is_final() {
                    stats.duplicates += 1;
                } else {
                    // A second report for the same segment in this batch is a repeat.
                    states.insert(slot, r.state);
                    updates.push((f.message_id, f.part_no, r.state, r.error_code.clone()));
                    stats.applied += 1;
                }
            }
            None if *may_keep => unmatched.push(i),
            None => held.push(i),
        }
    }
    apply_part_states(tx, &updates).await?;
    keep_unmatched(tx, b, &keys, &unmatched, &mut stats).await?;
    Ok((stats, held))
}

/// Keeps the reports `unmatched` (indexes into the batch) in `receipts_unmatched`, once
/// each, for the submit records they overtook; `keys` are each report's id keys.
async fn keep_unmatched<E: Exec>(
    tx: &mut E,
    b: &Batch,
    keys: &[Vec<(String, Option<String>)>],
    unmatched: &[usize],
    stats: &mut ReceiptStats,
) -> Result<()> {
    for chunk in unmatched.chunks(BIND_CHUNK) {
        let mut text = String::from(
            "INSERT INTO receipts_unmatched (provider_account_id, company_id, operator_id, \
             id_key, id_alt, state, error_code, raw, received_at) VALUES ",
        );
        let mut args: Vec<Arg> = vec![b.provider.0.into(), b.company.0.into(), b.now.into()];
        for (k, &i) in chunk.iter().enumerate() {
            let n = k * 6 + 4;
            if k > 0 {
                text.push(',');
            }
            text.push_str(&format!(
                "($1, $2, ${}, ${}, ${}, ${}, ${}, ${}, $3)",
                n,
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5
            ));
            let r = &b.receipts[i].0;
            let (key, alt) = keys[i]
                .first()
                .map_or(("", None), |(k, a)| (k.as_str(), a.as_deref()));
            args.extend([
                Arg::Text(r.operator_ids.first().map_or("", String::as_str)),
                Arg::Text(key),
                alt.into(),
                r.state.as_str().into(),
                (&r.error_code).into(),
                r.raw.as_str().into(),
            ]);
        }
        text.push_str(" ON CONFLICT (provider_account_id, id_key, state) DO NOTHING");
        let stored = tx.exec(text.into(), &args).await?;
        stats.unmatched += stored;
        stats.duplicates += chunk.len() as u64 - stored;
    }
    Ok(())
}

impl Store {
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
        let all = receipts.into_iter().map(|r| (r, true)).collect();
        Ok(self.apply_receipts_or_hold(company, provider, all).await?.0)
    }

    /// [`Store::apply_receipts`] where a report marked `false` that matches nothing is
    /// neither kept nor counted but handed back (its index): the caller holds it briefly
    /// and offers it again, since it most likely overtook a submit record that is about to
    /// be written. That saves keeping and then fetching it back for nearly every message
    /// when the operator answers fast.
    #[tracing::instrument(skip_all, fields(provider = provider.0, receipts = receipts.len()))]
    pub async fn apply_receipts_or_hold(
        &self,
        company: CompanyId,
        provider: ProviderAccountId,
        receipts: Vec<(ReceiptIn, bool)>,
    ) -> Result<(ReceiptStats, Vec<usize>)> {
        let batch = Batch {
            company,
            provider,
            receipts,
            now: now_ms(),
        };
        if let Some(writer) = &self.sqlite_writer {
            return writer
                .transaction(move |tx| on_thread(apply_in(&mut OnThread(tx), &batch)))
                .await;
        }
        let mut tx = self.begin_write().await?;
        let done = apply_in(&mut tx, &batch).await?;
        tx.commit().await?;
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_final_when_all_its_parts_are() {
        use MessageState::*;
        assert_eq!(overall(&[Delivered, Delivered]), Some(Delivered));
        assert_eq!(overall(&[Delivered, Undeliverable]), Some(Undeliverable));
        assert_eq!(overall(&[Delivered, Submitted]), None);
        assert_eq!(overall(&[]), None);
    }
}
