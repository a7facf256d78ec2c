//! The credit ledger. The balance is the sum of a company's entries; a change that would make
//! it negative is refused inside the same transaction that would write it.

use sqlx::any::AnyRow;
use ulak_core::model::{
    CompanyId, CreditEntry, CreditEntryId, LedgerKind, ListQuery, NewCreditEntry, Page,
};

use crate::db::{ListSql, col, now_ms, parse};
use crate::{Result, Store, StoreError};

/// Columns of [`entry`].
const COLS: &str = "id, company_id, kind, amount, note, balance_after, created_at";

/// The balance query; CAST because PostgreSQL's SUM of BIGINT is NUMERIC.
const BALANCE: &str =
    "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM credit_ledger WHERE company_id = $1";

/// Maps a row.
fn entry(r: &AnyRow) -> Result<CreditEntry> {
    Ok(CreditEntry {
        id: CreditEntryId(col(r, "id")?),
        company_id: CompanyId(col(r, "company_id")?),
        kind: parse::<LedgerKind>(&col::<String>(r, "kind")?, "credit_ledger.kind")?,
        amount: col(r, "amount")?,
        note: col(r, "note")?,
        balance_after: col(r, "balance_after")?,
        created_at: col(r, "created_at")?,
    })
}

impl Store {
    /// Writes a ledger entry; `InsufficientCredit` if the balance would go negative.
    ///
    /// Concurrent changes are serialised by first updating the company row: on PostgreSQL
    /// that takes a row lock (SQLite's `BEGIN IMMEDIATE` already holds the database write
    /// lock). Only then is the balance summed, so two debits never see the same balance.
    #[tracing::instrument(skip(self, new), fields(kind = new.kind.as_str(), amount = new.amount))]
    pub async fn add_credit_entry(
        &self,
        company: CompanyId,
        new: NewCreditEntry,
    ) -> Result<CreditEntry> {
        let mut tx = self.begin_write().await?;
        let locked =
            sqlx::query("UPDATE companies SET credit_lock = credit_lock + 1 WHERE id = $1")
                .bind(company.0)
                .execute(&mut *tx)
                .await?;
        if locked.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(StoreError::NotFound);
        }
        let balance: i64 = sqlx::query_scalar(BALANCE)
            .bind(company.0)
            .fetch_one(&mut *tx)
            .await?;
        let after = balance
            .checked_add(new.amount)
            .ok_or(StoreError::InsufficientCredit {
                balance,
                amount: new.amount,
            })?;
        if after < 0 {
            // Roll back now, not on drop, so the lock is released before the caller retries.
            tx.rollback().await?;
            return Err(StoreError::InsufficientCredit {
                balance,
                amount: new.amount,
            });
        }
        let row = sqlx::query(sql!(
            "INSERT INTO credit_ledger (company_id, kind, amount, note, balance_after, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLS}"
        ))
        .bind(company.0)
        .bind(new.kind.as_str())
        .bind(new.amount)
        .bind(new.note)
        .bind(after)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        entry(&row)
    }

    /// The balance: the sum of the company's ledger.
    #[tracing::instrument(skip(self))]
    pub async fn credit_balance(&self, company: CompanyId) -> Result<i64> {
        Ok(sqlx::query_scalar(BALANCE)
            .bind(company.0)
            .fetch_one(&self.pool)
            .await?)
    }

    /// Lists ledger entries, oldest first.
    #[tracing::instrument(skip_all, fields(company = company.0))]
    pub async fn list_credit_entries(
        &self,
        company: CompanyId,
        q: &ListQuery,
    ) -> Result<Page<CreditEntry>> {
        let sql = ListSql {
            select: format!("SELECT {COLS} FROM credit_ledger"),
            company: Some(company.0),
            filters: Vec::new(),
        };
        self.list_page(sql, q, entry, |e| e.id.0).await
    }
}
