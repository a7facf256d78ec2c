//! A group commit in a sqlx transaction: PostgreSQL, and SQLite held in memory (which has no
//! file for the writer thread to open).

use std::collections::HashSet;

use sqlx::{Any, Transaction};
use ulak_core::model::{CompanyId, LedgerKind, Message, MessageId, NewMessage};

use super::super::batch::insert_messages;
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
        super::super::opt_outs::opted_out_among(self.tx, company, phones).await
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
