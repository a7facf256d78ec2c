//! Accepting many messages at once (bulk sends): one transaction, one credit reservation for
//! the lot, multi-row inserts. Campaign chunks share the inserts ([`insert_messages`]) with
//! their own credit handling (repo/campaigns.rs).

use sqlx::{Any, Transaction};
use ulak_core::model::{CompanyId, LedgerKind, MessageId, MessageState, NewMessage};

use super::credit::write_entry;
use crate::db::now_ms;
use crate::{Backend, Result, Store, StoreError};

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
        let total = messages
            .iter()
            .try_fold(0i64, |a, m| a.checked_add(m.cost))
            .ok_or(StoreError::InsufficientCredit {
                balance: 0,
                amount: i64::MIN,
            })?;
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        if let Err(e) = write_entry(&mut tx, company, LedgerKind::Reservation, -total, None).await {
            tx.rollback().await?;
            return Err(e);
        }
        let ids = insert_messages(&mut tx, self.backend, company, campaign, messages, now).await?;
        tx.commit().await?;
        Ok(ids)
    }
}

/// Inserts `messages` (queued, or scheduled when their time is ahead) with their first event,
/// inside `tx`, in multi-row statements; no credit is touched. Returns their ids in order.
pub(crate) async fn insert_messages(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    company: CompanyId,
    campaign: Option<i64>,
    messages: &[NewMessage],
    now: i64,
) -> Result<Vec<MessageId>> {
    let chunk = match backend {
        Backend::Sqlite => 40,
        Backend::Postgres => 1000,
    };
    let mut ids = Vec::with_capacity(messages.len());
    for part in messages.chunks(chunk) {
        let mut text = String::from(
            "INSERT INTO messages (company_id, campaign_id, provider_account_id, \
             recipient_kind, recipient, sender, body, encoding, segments, cost, state, \
             state_at, attempts, next_attempt_at, valid_until, created_at) VALUES ",
        );
        const PER_ROW: usize = 11;
        for k in 0..part.len() {
            let b = k * PER_ROW + 4;
            if k > 0 {
                text.push(',');
            }
            text.push_str(&format!(
                "($1, $2, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, $3, 0, ${}, ${}, $3)",
                b,
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9,
                b + 10
            ));
        }
        text.push_str(" RETURNING id");
        let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(text))
            .bind(company.0)
            .bind(campaign)
            .bind(now);
        for m in part {
            let (state, due) = match m.scheduled_at {
                Some(at) if at > now => (MessageState::Scheduled, at),
                _ => (MessageState::Queued, now),
            };
            q = q
                .bind(m.provider.map(|p| p.0))
                .bind(m.recipient.kind())
                .bind(m.recipient.address())
                .bind(m.sender.as_str().to_owned())
                .bind(m.body.clone())
                .bind(m.encoding.clone())
                .bind(i64::from(m.segments))
                .bind(m.cost)
                .bind(state.as_str())
                .bind(due)
                .bind(m.valid_until);
        }
        let mut got = q.fetch_all(&mut **tx).await?;
        // RETURNING order follows VALUES order in both databases for a plain insert, but
        // sorting makes it certain: ids are assigned in insertion order.
        got.sort_unstable();
        let values = got
            .iter()
            .zip(part)
            .map(|(id, m)| {
                let state = match m.scheduled_at {
                    Some(at) if at > now => MessageState::Scheduled,
                    _ => MessageState::Queued,
                };
                format!("({id}, '{}', {now})", state.as_str())
            })
            .collect::<Vec<_>>()
            .join(",");
        // Ids and states come from the database and a fixed enum: safe to inline. The text is
        // new every time, so it is not kept as a prepared statement: a connection's cache of
        // them (100 each) would hold megabytes for nothing.
        sqlx::query(sql!(
            "INSERT INTO message_events (message_id, state, at) VALUES {values}"
        ))
        .persistent(false)
        .execute(&mut **tx)
        .await?;
        ids.extend(got.into_iter().map(MessageId));
    }
    Ok(ids)
}
