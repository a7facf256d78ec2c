//! The credit ledger. Every change is an entry, and `companies.credit_balance` is kept equal to
//! the sum of the entries inside the transaction that writes each one: the balance check is one
//! conditional update, so the balance never goes negative under concurrency and costs the same
//! however long the ledger is (docs/decisions/0005-sending-engine.md).

use sqlx::any::AnyRow;
use ulak_core::Code;
use ulak_core::model::{
    CompanyId, CreditEntry, CreditEntryId, LedgerKind, ListQuery, NewCreditEntry, Page,
};

use crate::db::{ListSql, col, now_ms, parse};
use crate::exec::Exec;
use crate::{Result, Store, StoreError};

/// Columns of [`entry`].
const COLS: &str = "id, company_id, kind, amount, note, balance_after, created_at";

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

/// Writes one ledger entry inside `tx`: moves the running balance by `amount` unless that
/// would make it negative (`InsufficientCredit`, nothing written), then records the entry
/// with the balance after it. The conditional update takes the company row's lock, so
/// concurrent changes are serialised on PostgreSQL; SQLite's write transaction already is.
pub(crate) async fn write_entry<E: Exec>(
    tx: &mut E,
    company: CompanyId,
    kind: LedgerKind,
    amount: i64,
    note: Option<&str>,
) -> Result<CreditEntry> {
    // The bounds are worked out here so the database never computes an overflowing sum
    // (SQLite would turn it into a float, PostgreSQL into an error): a credit may not pass
    // i64::MAX, a debit may not pass zero.
    // A debit of i64::MIN has no negation, and no balance covers it: it is refused below
    // with the real balance.
    let bounds = if amount >= 0 {
        Some((i64::MIN, i64::MAX - amount))
    } else {
        amount.checked_neg().map(|need| (need, i64::MAX))
    };
    let after: Option<(i64,)> = match bounds {
        None => None,
        Some((lowest, highest)) => {
            tx.row(
                "UPDATE companies SET credit_balance = credit_balance + $2 \
                 WHERE id = $1 AND credit_balance >= $3 AND credit_balance <= $4 \
                 RETURNING credit_balance"
                    .into(),
                &[
                    company.0.into(),
                    amount.into(),
                    lowest.into(),
                    highest.into(),
                ],
            )
            .await?
        }
    };
    let Some((after,)) = after else {
        let balance: Option<(i64,)> = tx
            .row(
                "SELECT credit_balance FROM companies WHERE id = $1".into(),
                &[company.0.into()],
            )
            .await?;
        return match balance {
            None => Err(StoreError::NotFound),
            Some(_) if amount >= 0 => Err(StoreError::Validation(
                ulak_core::model::ValidationErrors::single(
                    "amount",
                    Code::ValueOutOfRange,
                    "the balance would pass the largest possible value",
                ),
            )),
            Some((balance,)) => Err(StoreError::InsufficientCredit { balance, amount }),
        };
    };
    let created_at = now_ms();
    let id: Option<(i64,)> = tx
        .row(
            "INSERT INTO credit_ledger (company_id, kind, amount, note, balance_after, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"
                .into(),
            &[
                company.0.into(),
                kind.as_str().into(),
                amount.into(),
                note.into(),
                after.into(),
                created_at.into(),
            ],
        )
        .await?;
    let (id,) = id.ok_or(StoreError::Corrupt {
        what: "credit_ledger",
    })?;
    Ok(CreditEntry {
        id: CreditEntryId(id),
        company_id: company,
        kind,
        amount,
        note: note.map(str::to_owned),
        balance_after: after,
        created_at,
    })
}

/// Adds `cost` to `company`'s total in `totals` (credit to release or charge). Costs were
/// reserved from a balance that fits in i64, so a sum past it means corrupt rows.
pub(crate) fn add_cost(
    totals: &mut std::collections::BTreeMap<i64, i64>,
    company: i64,
    cost: i64,
) -> Result<()> {
    let t = totals.entry(company).or_default();
    *t = t.checked_add(cost).ok_or(StoreError::Corrupt {
        what: "messages.cost",
    })?;
    Ok(())
}

impl Store {
    /// Writes a ledger entry; `InsufficientCredit` if the balance would go negative.
    #[tracing::instrument(skip(self, new), fields(kind = new.kind.as_str(), amount = new.amount))]
    pub async fn add_credit_entry(
        &self,
        company: CompanyId,
        new: NewCreditEntry,
    ) -> Result<CreditEntry> {
        let mut tx = self.begin_write().await?;
        match write_entry(&mut tx, company, new.kind, new.amount, new.note.as_deref()).await {
            Ok(e) => {
                tx.commit().await?;
                Ok(e)
            }
            Err(e) => {
                // Roll back now, not on drop, so the lock is released before the caller retries.
                tx.rollback().await?;
                Err(e)
            }
        }
    }

    /// The balance (the sum of the company's ledger, kept as a running total).
    #[tracing::instrument(skip(self))]
    pub async fn credit_balance(&self, company: CompanyId) -> Result<i64> {
        let b: Option<i64> =
            sqlx::query_scalar("SELECT credit_balance FROM companies WHERE id = $1")
                .bind(company.0)
                .fetch_optional(&self.pool)
                .await?;
        b.ok_or(StoreError::NotFound)
    }

    /// The sum of the company's ledger entries, computed afresh (for checks: it must equal
    /// [`Store::credit_balance`] at every commit).
    #[tracing::instrument(skip(self))]
    pub async fn credit_ledger_sum(&self, company: CompanyId) -> Result<i64> {
        // CAST because PostgreSQL's SUM of BIGINT is NUMERIC.
        Ok(sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM credit_ledger \
             WHERE company_id = $1",
        )
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
