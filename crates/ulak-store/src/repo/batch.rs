//! Accepting many messages at once (bulk sends): one transaction, one credit reservation for
//! the lot, multi-row inserts. Campaign chunks share the inserts ([`insert_messages`]) with
//! their own credit handling (repo/campaigns.rs).

use sqlx::{Any, Transaction};
use ulak_core::Code;
use ulak_core::model::{CompanyId, LedgerKind, MessageId, MessageState, NewMessage};

use super::credit::write_entry;
use crate::db::{Interned, now_ms};
use crate::{Result, Store, StoreError};

impl Store {
    /// Queues `messages` in one transaction with one reservation of their total cost
    /// (`InsufficientCredit` if the balance cannot cover it: nothing is stored). Returns
    /// their ids in order.
    #[tracing::instrument(skip_all, fields(company = company.0, messages = messages.len()))]
    pub async fn enqueue_batch(
        &self,
        company: CompanyId,
        campaign: Option<i64>,
        messages: &[NewMessage],
    ) -> Result<Vec<MessageId>> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let total = total_cost(messages)?;
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        if let Err(e) = write_entry(&mut tx, company, LedgerKind::Reservation, -total, None).await {
            tx.rollback().await?;
            return Err(e);
        }
        let ids = insert_messages(&mut tx, company, campaign, messages, now).await?;
        let accounts = accounts_of(messages);
        crate::signal::announce_all(&mut tx, self.backend, &accounts).await?;
        tx.commit().await?;
        for a in accounts {
            self.queued_for(Some(a));
        }
        Ok(ids)
    }
}

/// The accounts `messages` go through, each once.
pub(crate) fn accounts_of(messages: &[NewMessage]) -> Vec<i64> {
    let mut a: Vec<i64> = messages
        .iter()
        .filter_map(|m| m.provider.map(|p| p.0))
        .collect();
    a.sort_unstable();
    a.dedup();
    a
}

/// What `messages` cost together; a sum past `i64` is refused (no balance covers it, and
/// there is no balance to name in the answer).
pub(crate) fn total_cost(messages: &[NewMessage]) -> Result<i64> {
    messages
        .iter()
        .try_fold(0i64, |a, m| a.checked_add(m.cost))
        .ok_or_else(|| {
            StoreError::Validation(ulak_core::model::ValidationErrors::single(
                "cost",
                Code::ValueOutOfRange,
                "the total cost passes the largest possible amount",
            ))
        })
}

/// Rows per multi-row insert, at most.
const ROWS_PER_INSERT: usize = 500;

/// Distinct bound texts per multi-row insert, at most (SQLite looks bound parameters up by
/// name, so many of them cost with their square).
const BINDS_PER_INSERT: usize = 64;

/// Inserts `messages` (queued, or scheduled when their time is ahead) inside `tx`, in
/// multi-row statements; no credit is touched. Returns their ids in order. Being accepted
/// is the message's `created_at` (`messages::history`); only a schedule gets an event row.
pub(crate) async fn insert_messages(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    campaign: Option<i64>,
    messages: &[NewMessage],
    now: i64,
) -> Result<Vec<MessageId>> {
    let mut ids = Vec::with_capacity(messages.len());
    let campaign = campaign.map_or("NULL".to_owned(), |c| c.to_string());
    let mut rest = messages;
    while !rest.is_empty() {
        // Integers, enum names and plain texts (E.164 numbers, most headers) are inlined;
        // other texts (a Turkish body) are bound once per statement.
        let addresses: Vec<String> = rest
            .iter()
            .take(ROWS_PER_INSERT)
            .map(|m| m.recipient.address())
            .collect();
        let mut texts = Interned::new(0);
        let mut values = String::new();
        let mut rows = 0;
        for (m, address) in rest.iter().zip(&addresses) {
            if rows == ROWS_PER_INSERT || texts.len() >= BINDS_PER_INSERT {
                break;
            }
            let (state, due) = due_state(m, now);
            let provider = m.provider.map_or("NULL".to_owned(), |p| p.0.to_string());
            let route = m.route.map_or("NULL".to_owned(), |r| r.0.to_string());
            if rows > 0 {
                values.push(',');
            }
            values.push_str(&format!(
                "({}, {campaign}, {provider}, {route}, {}, {}, {}, {}, {}, {}, {}, '{}', {now}, 0, {due}, {}, {now}, {})",
                company.0,
                texts.sql(m.recipient.kind()),
                texts.sql(address),
                texts.sql(m.sender.as_str()),
                texts.sql(&m.body),
                texts.sql(&m.encoding),
                m.segments,
                m.cost,
                state.as_str(),
                m.valid_until,
                m.class.priority(),
            ));
            rows += 1;
        }
        let (part, next) = rest.split_at(rows);
        rest = next;
        let mut q = sqlx::query_scalar::<_, i64>(sql!(
            "INSERT INTO messages (company_id, campaign_id, provider_account_id, route_id, \
             recipient_kind, recipient, sender, body, encoding, segments, cost, state, \
             state_at, attempts, next_attempt_at, valid_until, created_at, priority) VALUES {values} \
             RETURNING id"
        ))
        .persistent(false);
        for v in texts.values() {
            q = q.bind(*v);
        }
        let mut got = q.fetch_all(&mut **tx).await?;
        // RETURNING order follows VALUES order in both databases for a plain insert, but
        // sorting makes it certain: ids are assigned in insertion order.
        got.sort_unstable();
        record_schedules(tx, &got, part, now).await?;
        ids.extend(got.into_iter().map(MessageId));
    }
    Ok(ids)
}

/// Gives each of `messages` (just inserted as `ids`, in order) that starts scheduled its
/// `scheduled` event.
pub(crate) async fn record_schedules(
    tx: &mut Transaction<'static, Any>,
    ids: &[i64],
    messages: &[NewMessage],
    now: i64,
) -> Result<()> {
    let scheduled: Vec<String> = ids
        .iter()
        .zip(messages)
        .filter(|(_, m)| due_state(m, now).0 == MessageState::Scheduled)
        .map(|(id, _)| format!("({id}, 'scheduled', {now})"))
        .collect();
    if scheduled.is_empty() {
        return Ok(());
    }
    // Ids come from the database: safe to inline.
    let values = scheduled.join(",");
    sqlx::query(sql!(
        "INSERT INTO message_events (message_id, state, at) VALUES {values}"
    ))
    .persistent(false)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The state a new message starts in and when it is due.
pub(crate) fn due_state(m: &NewMessage, now: i64) -> (MessageState, i64) {
    match m.scheduled_at {
        Some(at) if at > now => (MessageState::Scheduled, at),
        _ => (MessageState::Queued, now),
    }
}
