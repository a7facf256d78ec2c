//! A group commit in a sqlx transaction: PostgreSQL, and SQLite held in memory (which has no
//! file for the writer thread to open).

use std::collections::{BTreeSet, HashSet};

use sqlx::{Any, Transaction};
use ulak_core::model::{CompanyId, LedgerKind, Message, MessageId, NewMessage};

use super::super::batch::{due_state, insert_messages, record_schedules};
use super::super::idempotency::{self, Idempotency, Seen, StoredAnswer};
use super::group::{
    AcceptSteps, AcceptTx, TAKE_FROM_BALANCE, accept_all, balance_and_opt_outs_apart,
    balance_moved, write_group_apart,
};
use super::{Accepted, Item};
use crate::db::now_ms;
use crate::{Backend, Result, Store, StoreError};

/// Accepts `items` in one transaction of the store's writer; answers and the accounts that
/// got messages, announced to other nodes in the same commit (on PostgreSQL).
pub(super) async fn commit(
    store: &Store,
    items: &[&Item],
) -> Result<(Vec<Result<Accepted>>, Vec<i64>)> {
    let now = now_ms();
    let mut tx = store.begin_write().await?;
    let done = accept_all(
        &mut OnSqlx {
            tx: &mut tx,
            backend: store.backend,
        },
        items,
        now,
    )
    .await;
    let (results, accounts) = match done {
        Ok(d) => d,
        Err(e) => {
            tx.rollback().await?;
            return Err(e);
        }
    };
    // PostgreSQL announced the accounts in each company's writes (`WRITE_GROUP`); SQLite in
    // memory has no other node to tell.
    tx.commit().await?;
    Ok((results, accounts))
}

/// A group's writes for one company on PostgreSQL in one round trip: the balance taken (`b`
/// counts 1 when it had room, else the caller rolls back), the reservations, the messages
/// (their ids returned) and the announcement of their accounts to other nodes. One prepared
/// statement whatever the group: the lists are arrays in text form (the Any driver binds no
/// arrays) and the messages one JSON parameter; a multi-row insert's text changed with every
/// group, and PostgreSQL parsed and planned each anew. Identity values are drawn in the rows'
/// order (`WITH ORDINALITY … ORDER BY`).
const WRITE_GROUP: &str = "WITH b AS (UPDATE companies SET credit_balance = credit_balance - $1 \
     WHERE id = $2 AND credit_balance >= $1 RETURNING 1), \
     l AS (INSERT INTO credit_ledger (company_id, kind, amount, balance_after, created_at) \
     SELECT $2, $3, amt, aft, $4 FROM unnest($5::bigint[], $6::bigint[]) WITH ORDINALITY \
     AS e(amt, aft, n) ORDER BY n), \
     m AS (INSERT INTO messages (company_id, campaign_id, provider_account_id, route_id, \
     recipient_kind, recipient, sender, body, encoding, segments, cost, state, state_at, \
     attempts, next_attempt_at, valid_until, created_at, priority) \
     SELECT $2, NULL, r.p, r.r, r.k, r.a, r.s, r.b, r.e, r.g, r.c, r.t, $4, 0, r.d, r.v, $4, \
     r.y FROM ROWS FROM (json_to_recordset($7::json) AS (p bigint, r bigint, k text, \
     a text, s text, b text, e text, g bigint, c bigint, t text, d bigint, v bigint, \
     y bigint)) WITH ORDINALITY AS r(p, r, k, a, s, b, e, g, c, t, d, v, y, n) \
     ORDER BY r.n RETURNING id), \
     w AS (SELECT pg_notify($8, x) FROM unnest($9::text[]) AS x) \
     SELECT id, (SELECT count(*) FROM b), (SELECT count(*) FROM w) FROM m";

struct OnSqlx<'t> {
    tx: &'t mut Transaction<'static, Any>,
    backend: Backend,
}

impl AcceptTx for OnSqlx<'_> {
    async fn seen(
        &mut self,
        company: CompanyId,
        key: &Idempotency<'_>,
        now: i64,
    ) -> Result<Option<Seen>> {
        idempotency::seen(self.tx, company, key, now).await
    }

    async fn remember(
        &mut self,
        company: CompanyId,
        key: &Idempotency<'_>,
        message: &Message,
        now: i64,
    ) -> Result<StoredAnswer> {
        idempotency::remember(self.tx, company, key, message, now).await
    }

    async fn balance_and_opt_outs(
        &mut self,
        company: CompanyId,
        phones: &[&str],
    ) -> Result<(Option<i64>, HashSet<String>)> {
        if self.backend != Backend::Postgres {
            return balance_and_opt_outs_apart(self, company, phones).await;
        }
        // The row is the company's lock (as `balance`); the opted-out numbers come as one
        // JSON text (the Any driver reads no arrays).
        let list: Vec<String> = phones.iter().map(|p| text_array_item(p)).collect();
        let row: Option<(i64, Option<String>)> = sqlx::query_as(
            "SELECT credit_balance, (SELECT json_agg(phone)::text FROM opt_outs \
             WHERE company_id = $1 AND phone = ANY($2::text[])) \
             FROM companies WHERE id = $1 FOR UPDATE",
        )
        .bind(company.0)
        .bind(format!("{{{}}}", list.join(",")))
        .fetch_optional(&mut **self.tx)
        .await?;
        let Some((balance, out)) = row else {
            return Ok((None, HashSet::new()));
        };
        let out: HashSet<String> = match out {
            None => HashSet::new(),
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| StoreError::Config(format!("opted-out numbers as JSON: {e}")))?,
        };
        Ok((Some(balance), out))
    }

    async fn write_group(
        &mut self,
        company: CompanyId,
        entries: &[(i64, i64)],
        news: &[NewMessage],
        now: i64,
    ) -> Result<Vec<MessageId>> {
        if self.backend != Backend::Postgres {
            return write_group_apart(self, company, entries, news, now).await;
        }
        let total: i64 = entries.iter().map(|(a, _)| -a).sum();
        let accounts: BTreeSet<i64> = news
            .iter()
            .filter_map(|m| m.provider.map(|p| p.0))
            .collect();
        let accounts: Vec<String> = accounts.iter().map(|a| format!("\"{a}\"")).collect();
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(WRITE_GROUP)
            .bind(total)
            .bind(company.0)
            .bind(LedgerKind::Reservation.as_str())
            .bind(now)
            .bind(int_array(entries.iter().map(|e| e.0)))
            .bind(int_array(entries.iter().map(|e| e.1)))
            .bind(rows_json(news, now))
            .bind(crate::signal::CHANNEL)
            .bind(format!("{{{}}}", accounts.join(",")))
            .fetch_all(&mut **self.tx)
            .await?;
        if rows.len() != news.len() || rows.iter().any(|r| r.1 != 1) {
            return Err(balance_moved());
        }
        // Identity values are drawn in insertion order; sorting makes the pairing certain.
        let mut ids: Vec<i64> = rows.into_iter().map(|r| r.0).collect();
        ids.sort_unstable();
        record_schedules(self.tx, &ids, news, now).await?;
        Ok(ids.into_iter().map(MessageId).collect())
    }
}

/// The steps one at a time, for SQLite in memory; PostgreSQL runs [`AcceptTx`]'s combined
/// statements instead.
impl AcceptSteps for OnSqlx<'_> {
    async fn opted_out_among(
        &mut self,
        company: CompanyId,
        phones: &[&str],
    ) -> Result<HashSet<String>> {
        super::super::opt_outs::opted_out_among(self.tx, company, phones).await
    }

    async fn balance(&mut self, company: CompanyId) -> Result<Option<i64>> {
        // SQLite's write transaction is the company's lock.
        Ok(
            sqlx::query_scalar("SELECT credit_balance FROM companies WHERE id = $1")
                .bind(company.0)
                .fetch_optional(&mut **self.tx)
                .await?,
        )
    }

    async fn take_from_balance(&mut self, company: CompanyId, total: i64) -> Result<u64> {
        let done = sqlx::query(TAKE_FROM_BALANCE)
            .bind(total)
            .bind(company.0)
            .execute(&mut **self.tx)
            .await?;
        Ok(done.rows_affected())
    }

    async fn add_reservations(
        &mut self,
        company: CompanyId,
        entries: &[(i64, i64)],
        now: i64,
    ) -> Result<()> {
        let kind = LedgerKind::Reservation.as_str();
        for chunk in entries.chunks(500) {
            // Integers and a fixed kind name only: inlined.
            let values: Vec<String> = chunk
                .iter()
                .map(|(amount, after)| {
                    format!("({}, '{kind}', {amount}, {after}, {now})", company.0)
                })
                .collect();
            let values = values.join(",");
            sqlx::query(sql!(
                "INSERT INTO credit_ledger (company_id, kind, amount, balance_after, created_at) \
                 VALUES {values}"
            ))
            .persistent(false)
            .execute(&mut **self.tx)
            .await?;
        }
        Ok(())
    }

    async fn insert_messages(
        &mut self,
        company: CompanyId,
        news: &[NewMessage],
        now: i64,
    ) -> Result<Vec<MessageId>> {
        insert_messages(self.tx, company, None, news, now).await
    }
}

/// Integers as a PostgreSQL array in text form (the Any driver binds no arrays).
fn int_array(items: impl Iterator<Item = i64>) -> String {
    let items: Vec<String> = items.map(|i| i.to_string()).collect();
    format!("{{{}}}", items.join(","))
}

/// The messages as [`WRITE_GROUP`] reads them.
fn rows_json(news: &[NewMessage], now: i64) -> String {
    let rows: Vec<serde_json::Value> = news
        .iter()
        .map(|m| {
            let (state, due) = due_state(m, now);
            serde_json::json!({
                "p": m.provider.map(|p| p.0), "r": m.route.map(|r| r.0),
                "k": m.recipient.kind(), "a": m.recipient.address(), "s": m.sender.as_str(),
                "b": m.body, "e": m.encoding, "g": m.segments, "c": m.cost,
                "t": state.as_str(), "d": due, "v": m.valid_until, "y": m.class.priority(),
            })
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

/// `v` as an element of a PostgreSQL array in text form: quoted, `\` and `"` escaped.
fn text_array_item(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for ch in v.chars() {
        if ch == '"' || ch == '\\' {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn array_items_are_quoted_and_escaped() {
        assert_eq!(
            super::text_array_item("+905321234567"),
            r#""+905321234567""#
        );
        assert_eq!(super::text_array_item(r#"a"b\c,{}"#), r#""a\"b\\c,{}""#);
    }
}
