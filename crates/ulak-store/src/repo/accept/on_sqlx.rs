//! A group commit in a sqlx transaction: PostgreSQL, and SQLite held in memory (which has no
//! file for the writer thread to open).

use std::collections::HashSet;

use sqlx::{Any, Transaction};
use ulak_core::model::{CompanyId, LedgerKind, Message, MessageId, NewMessage};

use super::super::batch::{due_state, insert_messages, record_schedules};
use super::super::idempotency::{self, Idempotency, Seen, StoredAnswer};
use super::group::{AcceptTx, TAKE_FROM_BALANCE, accept_all};
use super::{Accepted, Item};
use crate::db::now_ms;
use crate::{Backend, Result, Store};

/// Accepts `items` in one transaction of the store's writer; answers and the accounts that
/// got messages, announced to other nodes in the same commit.
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
    crate::signal::announce_all(&mut tx, store.backend, &accounts).await?;
    tx.commit().await?;
    Ok((results, accounts))
}

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

    async fn opted_out_among(
        &mut self,
        company: CompanyId,
        phones: &[&str],
    ) -> Result<HashSet<String>> {
        if self.backend == Backend::Sqlite {
            return super::super::opt_outs::opted_out_among(self.tx, company, phones).await;
        }
        // One prepared statement whatever the numbers (an `IN` list of literals was parsed
        // and planned anew for every group).
        let list: Vec<String> = phones.iter().map(|p| text_array_item(p)).collect();
        let found: Vec<String> = sqlx::query_scalar(
            "SELECT phone FROM opt_outs WHERE company_id = $1 AND phone = ANY($2::text[])",
        )
        .bind(company.0)
        .bind(format!("{{{}}}", list.join(",")))
        .fetch_all(&mut **self.tx)
        .await?;
        Ok(found.into_iter().collect())
    }

    async fn balance(&mut self, company: CompanyId) -> Result<Option<i64>> {
        // The row is the company's lock on PostgreSQL; SQLite's writer already holds its own.
        let sql = match self.backend {
            Backend::Sqlite => "SELECT credit_balance FROM companies WHERE id = $1",
            Backend::Postgres => "SELECT credit_balance FROM companies WHERE id = $1 FOR UPDATE",
        };
        Ok(sqlx::query_scalar(sql)
            .bind(company.0)
            .fetch_optional(&mut **self.tx)
            .await?)
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
        if self.backend == Backend::Postgres {
            // One prepared statement whatever the count: integer arrays in PostgreSQL's text
            // form (the Any driver binds no arrays).
            let list = |f: fn(&(i64, i64)) -> i64| {
                let items: Vec<String> = entries.iter().map(|e| f(e).to_string()).collect();
                format!("{{{}}}", items.join(","))
            };
            sqlx::query(
                "INSERT INTO credit_ledger (company_id, kind, amount, balance_after, created_at) \
                 SELECT $1, $2, a, b, $3 \
                 FROM unnest($4::bigint[], $5::bigint[]) WITH ORDINALITY AS e(a, b, n) \
                 ORDER BY n",
            )
            .bind(company.0)
            .bind(kind)
            .bind(now)
            .bind(list(|e| e.0))
            .bind(list(|e| e.1))
            .execute(&mut **self.tx)
            .await?;
            return Ok(());
        }
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
        match self.backend {
            Backend::Postgres => insert_on_postgres(self.tx, company, news, now).await,
            Backend::Sqlite => insert_messages(self.tx, company, None, news, now).await,
        }
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
}

/// The messages in one prepared statement, their rows as one JSON parameter: the multi-row
/// insert's text changed with every group, so PostgreSQL parsed and planned each one anew —
/// most of its CPU per accepted message, on the lane's one backend. Ids come back in the
/// rows' order (`WITH ORDINALITY`, identity values drawn in that order).
async fn insert_on_postgres(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    news: &[NewMessage],
    now: i64,
) -> Result<Vec<MessageId>> {
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
    let mut ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO messages (company_id, campaign_id, provider_account_id, route_id, \
         recipient_kind, recipient, sender, body, encoding, segments, cost, state, state_at, \
         attempts, next_attempt_at, valid_until, created_at, priority) \
         SELECT $1, NULL, r.p, r.r, r.k, r.a, r.s, r.b, r.e, r.g, r.c, r.t, $2, 0, r.d, r.v, $2, \
         r.y FROM ROWS FROM (json_to_recordset($3::json) AS (p bigint, r bigint, k text, \
         a text, s text, b text, e text, g bigint, c bigint, t text, d bigint, v bigint, \
         y bigint)) WITH ORDINALITY AS r(p, r, k, a, s, b, e, g, c, t, d, v, y, n) \
         ORDER BY r.n RETURNING id",
    )
    .bind(company.0)
    .bind(now)
    .bind(serde_json::Value::Array(rows).to_string())
    .fetch_all(&mut **tx)
    .await?;
    // Identity values are drawn in insertion order; sorting makes the pairing certain.
    ids.sort_unstable();
    record_schedules(tx, &ids, news, now).await?;
    Ok(ids.into_iter().map(MessageId).collect())
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
