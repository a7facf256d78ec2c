//! A group commit on the SQLite writer thread ([`crate::sqlite_writer`]): the same rules
//! ([`accept_all`]), each step a cached prepared statement run in place, the whole group one
//! hop to the thread and back.

use std::collections::HashSet;

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use ulak_core::model::{CompanyId, LedgerKind, Message, MessageId, MessageState, NewMessage};

use super::super::batch::due_state;
use super::super::idempotency::{self, IDEMPOTENCY_TTL_MS, Idempotency, Seen, StoredAnswer};
use super::group::{AcceptTx, TAKE_FROM_BALANCE, accept_all};
use super::{Accepted, Item};
use crate::db::now_ms;
use crate::sqlite_writer::{SqliteWriter, ready};
use crate::{Result, StoreError};

/// One message, as the sqlx path's multi-row insert writes it (batch.rs).
const INSERT_MESSAGE: &str = "INSERT INTO messages (company_id, campaign_id, \
     provider_account_id, route_id, recipient_kind, recipient, sender, body, encoding, \
     segments, cost, state, state_at, attempts, next_attempt_at, valid_until, created_at, \
     priority) VALUES (?1, NULL, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0, ?13, ?14, \
     ?12, ?15) RETURNING id";

/// Accepts `items` in one transaction on the writer thread, in the file's one line of
/// writes (the thread's queue, [`crate::sqlite_writer::Turns`]).
pub(super) async fn commit(
    writer: &SqliteWriter,
    items: &[&Item],
) -> Result<(Vec<Result<Accepted>>, Vec<i64>)> {
    let owned: Vec<Item> = items.iter().map(|i| (*i).clone()).collect();
    let now = now_ms();
    let done = writer
        .run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let items: Vec<&Item> = owned.iter().collect();
            let done = ready(accept_all(&mut OnSqlite(&tx), &items, now)).ok_or(
                StoreError::Config("an accept step waited on the SQLite writer thread".into()),
            )??;
            // Dropping `tx` on an error above rolls the group back.
            tx.commit()?;
            Ok(done)
        })
        .await;
    done?
}

struct OnSqlite<'c>(&'c rusqlite::Transaction<'c>);

impl AcceptTx for OnSqlite<'_> {
    async fn seen(
        &mut self,
        company: CompanyId,
        key: &Idempotency<'_>,
        now: i64,
    ) -> Result<Option<Seen>> {
        let oldest = now.saturating_sub(IDEMPOTENCY_TTL_MS);
        self.0
            .prepare_cached(idempotency::FORGET_EXPIRED)?
            .execute(params![company.0, key.key, oldest])?;
        let row = self
            .0
            .prepare_cached(idempotency::LOOKUP)?
            .query_row(params![company.0, key.key, oldest], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        idempotency::judge(row, key.request_hash)
    }

    async fn opted_out_among(
        &mut self,
        company: CompanyId,
        phones: &[&str],
    ) -> Result<HashSet<String>> {
        let mut one = self
            .0
            .prepare_cached("SELECT 1 FROM opt_outs WHERE company_id = ?1 AND phone = ?2")?;
        let mut out = HashSet::new();
        for p in phones {
            if one.exists(params![company.0, p])? {
                out.insert((*p).to_owned());
            }
        }
        Ok(out)
    }

    async fn balance(&mut self, company: CompanyId) -> Result<Option<i64>> {
        Ok(self
            .0
            .prepare_cached("SELECT credit_balance FROM companies WHERE id = ?1")?
            .query_row(params![company.0], |r| r.get(0))
            .optional()?)
    }

    async fn take_from_balance(&mut self, company: CompanyId, total: i64) -> Result<u64> {
        let n = self
            .0
            .prepare_cached(TAKE_FROM_BALANCE)?
            .execute(params![total, company.0])?;
        Ok(n as u64)
    }

    async fn add_reservations(
        &mut self,
        company: CompanyId,
        entries: &[(i64, i64)],
        now: i64,
    ) -> Result<()> {
        let mut one = self.0.prepare_cached(
            "INSERT INTO credit_ledger (company_id, kind, amount, balance_after, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let kind = LedgerKind::Reservation.as_str();
        for (amount, after) in entries {
            one.execute(params![company.0, kind, amount, after, now])?;
        }
        Ok(())
    }

    async fn insert_messages(
        &mut self,
        company: CompanyId,
        news: &[NewMessage],
        now: i64,
    ) -> Result<Vec<MessageId>> {
        let mut one = self.0.prepare_cached(INSERT_MESSAGE)?;
        let mut event = self.0.prepare_cached(
            "INSERT INTO message_events (message_id, state, at) VALUES (?1, ?2, ?3)",
        )?;
        let mut ids = Vec::with_capacity(news.len());
        for m in news {
            let (state, due) = due_state(m, now);
            let id: i64 = one.query_row(
                params![
                    company.0,
                    m.provider.map(|p| p.0),
                    m.route.map(|r| r.0),
                    m.recipient.kind(),
                    m.recipient.address(),
                    m.sender.as_str(),
                    m.body,
                    m.encoding,
                    m.segments,
                    m.cost,
                    state.as_str(),
                    now,
                    due,
                    m.valid_until,
                    m.class.priority(),
                ],
                |r| r.get(0),
            )?;
            // Being accepted is the message's `created_at`; only a schedule gets an event.
            if state == MessageState::Scheduled {
                event.execute(params![id, state.as_str(), now])?;
            }
            ids.push(MessageId(id));
        }
        Ok(ids)
    }

    async fn remember(
        &mut self,
        company: CompanyId,
        key: &Idempotency<'_>,
        message: &Message,
        now: i64,
    ) -> Result<StoredAnswer> {
        let answer = (key.answer)(message);
        self.0
            .prepare_cached(idempotency::REMEMBER)?
            .execute(params![
                company.0,
                key.key,
                key.request_hash,
                message.id.0,
                now,
                i64::from(answer.status),
                answer.body,
            ])?;
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// SQLite numbers `$n` parameters by first appearance and the writer thread binds by
    /// number, so a statement both paths share must name its parameters in order (`$2` before
    /// `$1` would bind the values crosswise, silently).
    #[test]
    fn shared_statements_name_their_parameters_in_order() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE companies (id INTEGER PRIMARY KEY, credit_balance INTEGER); \
             CREATE TABLE idempotency_keys (company_id INTEGER, idem_key TEXT, \
             request_hash TEXT, message_id INTEGER, created_at INTEGER, \
             answer_status INTEGER, answer_body TEXT);",
        )
        .unwrap();
        for sql in [
            TAKE_FROM_BALANCE,
            idempotency::LOOKUP,
            idempotency::FORGET_EXPIRED,
            idempotency::REMEMBER,
        ] {
            let st = conn.prepare(sql).unwrap();
            for i in 1..=st.parameter_count() {
                assert_eq!(
                    st.parameter_name(i),
                    Some(format!("${i}").as_str()),
                    "{sql}"
                );
            }
        }
    }
}
