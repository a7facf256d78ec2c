//! A group commit on the SQLite writer thread ([`crate::sqlite_writer`]): the same rules
//! ([`accept_all`]), each step a cached prepared statement run in place, the whole group one
//! hop to the thread and back.

use std::collections::HashSet;

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use ulak_core::model::{CompanyId, LedgerKind, Message, MessageId, MessageState, NewMessage};

use super::super::batch::due_state;
use super::super::idempotency::{self, IDEMPOTENCY_TTL_MS, Idempotency, Seen, StoredAnswer};
use super::group::{
    AcceptSteps, AcceptTx, TAKE_FROM_BALANCE, accept_all, balance_and_opt_outs_apart,
    write_group_apart,
};
use super::{Accepted, Item};
use crate::db::now_ms;
use crate::sqlite_writer::{SqliteWriter, ready};
use crate::{Result, StoreError};

/// A group's messages in one statement, each row a JSON array (as the sqlx path's multi-row
/// insert writes them, batch.rs) read as JSONB (each `->>` finds its value in place: over a
/// JSON text, every row was written out as text again and parsed once per column, which made
/// this slower than a statement per row), with the ids given: `$1` + its place. One
/// statement instead of one per message: SQLite keeps a statement journal for each statement
/// that fires triggers, copying every page the statement touches first, so per-row inserts
/// copied the table's last page, four indexes' last pages and the tally row again for every
/// message. The ids are what SQLite would have given in order (the largest id + 1), decided
/// up front so that each row's id is known without trusting the order of `RETURNING`.
const INSERT_MESSAGES: &str = "INSERT INTO messages (id, company_id, campaign_id, \
     provider_account_id, route_id, recipient_kind, recipient, sender, body, encoding, \
     segments, cost, state, state_at, attempts, next_attempt_at, valid_until, created_at, \
     priority) SELECT $1 + key, $2, NULL, value ->> 0, value ->> 1, value ->> 2, \
     value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8, \
     value ->> 9, $3, 0, value ->> 10, value ->> 11, $3, value ->> 12 FROM jsonb_each($4)";

/// The next id SQLite would give a message.
const NEXT_MESSAGE_ID: &str = "SELECT COALESCE(max(id), 0) + 1 FROM messages";

/// A group's reservations in one statement, each row `[amount, balance after]`, written in
/// the rows' order (their ids then follow the balance down).
const INSERT_RESERVATIONS: &str = "INSERT INTO credit_ledger (company_id, kind, amount, \
     balance_after, created_at) SELECT $1, $2, value ->> 0, value ->> 1, $3 FROM jsonb_each($4) \
     ORDER BY key";

/// Accepts `items` in one transaction on the writer thread, in the file's one line of
/// writes (the thread's queue, [`crate::sqlite_writer::Turns`]), ahead of the sending side's
/// work ([`crate::sqlite_line`]).
pub(super) async fn commit(
    writer: &SqliteWriter,
    items: &[&Item],
) -> Result<(Vec<Result<Accepted>>, Vec<i64>)> {
    let owned: Vec<Item> = items.iter().map(|i| (*i).clone()).collect();
    let now = now_ms();
    let done = writer
        .run_first(move |conn| {
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

/// One row of [`INSERT_MESSAGES`], written as a JSON array in its columns' order.
#[derive(serde::Serialize)]
struct MessageRow<'a>(
    Option<i64>,
    Option<i64>,
    &'static str,
    String,
    &'a str,
    &'a str,
    &'a str,
    u32,
    i64,
    &'static str,
    i64,
    i64,
    i64,
);

fn json_failed(e: serde_json::Error) -> StoreError {
    StoreError::Config(format!("a group's rows could not be written as JSON: {e}"))
}

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

    async fn balance_and_opt_outs(
        &mut self,
        company: CompanyId,
        phones: &[&str],
    ) -> Result<(Option<i64>, HashSet<String>)> {
        balance_and_opt_outs_apart(self, company, phones).await
    }

    async fn write_group(
        &mut self,
        company: CompanyId,
        entries: &[(i64, i64)],
        news: &[NewMessage],
        now: i64,
    ) -> Result<Vec<MessageId>> {
        write_group_apart(self, company, entries, news, now).await
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

impl AcceptSteps for OnSqlite<'_> {
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
        let rows = serde_json::to_string(entries).map_err(json_failed)?;
        let kind = LedgerKind::Reservation.as_str();
        self.0
            .prepare_cached(INSERT_RESERVATIONS)?
            .execute(params![company.0, kind, now, rows])?;
        Ok(())
    }

    async fn insert_messages(
        &mut self,
        company: CompanyId,
        news: &[NewMessage],
        now: i64,
    ) -> Result<Vec<MessageId>> {
        let first: i64 = self
            .0
            .prepare_cached(NEXT_MESSAGE_ID)?
            .query_row([], |r| r.get(0))?;
        let mut rows = Vec::with_capacity(news.len());
        let mut scheduled = Vec::new();
        for (at, m) in (first..).zip(news) {
            let (state, due) = due_state(m, now);
            if state == MessageState::Scheduled {
                scheduled.push(at);
            }
            rows.push(MessageRow(
                m.provider.map(|p| p.0),
                m.route.map(|r| r.0),
                m.recipient.kind(),
                m.recipient.address(),
                m.sender.as_str(),
                &m.body,
                &m.encoding,
                m.segments,
                m.cost,
                state.as_str(),
                due,
                m.valid_until,
                m.class.priority(),
            ));
        }
        let rows = serde_json::to_string(&rows).map_err(json_failed)?;
        let written = self
            .0
            .prepare_cached(INSERT_MESSAGES)?
            .execute(params![first, company.0, now, rows])?;
        if written != news.len() {
            return Err(StoreError::Corrupt {
                what: "messages (a group's insert)",
            });
        }
        // Being accepted is the message's `created_at`; only a schedule gets an event.
        let mut event = self.0.prepare_cached(
            "INSERT INTO message_events (message_id, state, at) VALUES (?1, ?2, ?3)",
        )?;
        for id in scheduled {
            event.execute(params![id, MessageState::Scheduled.as_str(), now])?;
        }
        Ok((first..).take(news.len()).map(MessageId).collect())
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
        conn.execute_batch(
            "CREATE TABLE messages (id INTEGER PRIMARY KEY, company_id, campaign_id, \
             provider_account_id, route_id, recipient_kind, recipient, sender, body, encoding, \
             segments, cost, state, state_at, attempts, next_attempt_at, valid_until, \
             created_at, priority); \
             CREATE TABLE credit_ledger (company_id, kind, amount, balance_after, created_at);",
        )
        .unwrap();
        for sql in [
            TAKE_FROM_BALANCE,
            idempotency::LOOKUP,
            idempotency::FORGET_EXPIRED,
            idempotency::REMEMBER,
            INSERT_MESSAGES,
            INSERT_RESERVATIONS,
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
