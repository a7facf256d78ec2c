//! Customer account imports: unique by code; an existing code is refused, never overwritten.

use std::collections::{HashMap, HashSet};

use sqlx::{Any, Transaction};
use ulak_core::model::{CompanyId, NewCustomerAccount};

use super::{
    CHECK_CHUNK, Chunks, ImportMode, ImportReport, ImportSession, Session, existing, values,
    write_rows,
};
use crate::repo::customers::{key, phones_json};
use crate::repo::subscribers::attrs_json;
use crate::{Result, Store};

/// A customer account import in progress (see [`Store::begin_customer_import`]).
pub struct CustomerImport {
    s: Session,
    /// Code → index of the row that brought it first.
    seen: HashMap<String, usize>,
}

impl Store {
    /// Starts a customer account import after checking the company; nothing is locked.
    /// Feed every row to [`CustomerImport::check`], then again to [`CustomerImport::write`],
    /// then [`CustomerImport::finish`] (see [`ImportSession`]).
    #[tracing::instrument(skip(self), fields(company = company.0))]
    pub async fn begin_customer_import(&self, company: CompanyId) -> Result<CustomerImport> {
        Ok(CustomerImport {
            s: Session::begin(self, company).await?,
            seen: HashMap::new(),
        })
    }

    /// Imports customer accounts (a session fed at once; row indexes are positions in
    /// `rows`). See [`CustomerImport`] for the rules.
    #[tracing::instrument(skip(self, rows), fields(company = company.0, rows = rows.len()))]
    pub async fn import_customer_accounts(
        &self,
        company: CompanyId,
        rows: Vec<NewCustomerAccount>,
        mode: ImportMode,
    ) -> Result<ImportReport> {
        let session = self.begin_customer_import(company).await?;
        super::run_whole(session, rows, mode).await
    }
}

impl CustomerImport {
    /// First pass, reads only: codes repeated in the import are refused after their first
    /// row (`duplicate_in_batch`), codes already in the company as `exists`.
    #[tracing::instrument(name = "customer_import_check", skip_all, fields(rows = rows.len()))]
    pub async fn check(&mut self, rows: Vec<(usize, NewCustomerAccount)>) -> Result<()> {
        let mut fresh = Vec::with_capacity(rows.len());
        for (i, r) in &rows {
            match self.seen.get(&r.code) {
                Some(&f) => self.s.reject(*i, "duplicate_in_batch", Some(f)),
                None => {
                    self.seen.insert(r.code.clone(), *i);
                    fresh.push((*i, r.code.as_str()));
                }
            }
        }
        for chunk in fresh.chunks(CHECK_CHUNK) {
            let codes: Vec<&str> = chunk.iter().map(|(_, c)| *c).collect();
            let found = existing(&self.s, "customer_accounts", "code", &codes).await?;
            for (i, c) in chunk {
                if found.contains(*c) {
                    self.s.reject(*i, "exists", None);
                }
            }
        }
        Ok(())
    }

    /// Second pass: stores the rows `check` did not refuse, in short transactions. A code
    /// stored by someone else since `check` is refused as `exists` (in all-or-nothing mode
    /// writing then stops): an import never overwrites an account.
    #[tracing::instrument(name = "customer_import_write", skip_all, fields(rows = rows.len()))]
    pub async fn write(
        &mut self,
        rows: Vec<(usize, NewCustomerAccount)>,
        mode: ImportMode,
    ) -> Result<()> {
        write_rows(self, rows, mode).await
    }

    /// Inserts one chunk in `tx`.
    async fn insert_chunk(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        chunk: &[(usize, NewCustomerAccount)],
    ) -> Result<()> {
        let text = format!(
            "INSERT INTO customer_accounts (company_id, code, title, kind, phones, \
             balance_minor, attributes, search_key, created_at, updated_at) VALUES {} \
             ON CONFLICT (company_id, code) DO NOTHING RETURNING id, code",
            values(chunk.len(), 8, true)
        );
        let mut q =
            sqlx::query_as::<_, (i64, String)>(sqlx::AssertSqlSafe(text)).bind(self.s.company.0);
        for (_, r) in chunk {
            q = q
                .bind(r.code.clone())
                .bind(r.title.clone())
                .bind(r.kind.as_str())
                .bind(phones_json(&r.phones))
                .bind(r.balance_minor)
                .bind(attrs_json(&r.attributes))
                .bind(key(&r.code, &r.title, &r.phones))
                .bind(self.s.now);
        }
        let returned = q.fetch_all(&mut **tx).await?;
        self.s.inserted.extend(returned.iter().map(|(id, _)| *id));
        let stored: HashSet<String> = returned.into_iter().map(|(_, code)| code).collect();
        self.s.report.inserted += stored.len() as u64;
        for (i, r) in chunk {
            if !stored.contains(&r.code) {
                self.s.reject_late(*i, "exists");
            }
        }
        Ok(())
    }

    /// Rows refused so far.
    pub fn rejected(&self) -> usize {
        self.s.report.rejected.len() + self.s.late.len()
    }

    /// The report; in all-or-nothing mode with any refused row, undoes the import and
    /// returns `StoreError::ImportRejected` listing them.
    pub async fn finish(self, mode: ImportMode) -> Result<ImportReport> {
        self.s.finish(mode, "customer_accounts").await
    }

    /// Undoes what the import wrote and returns the report so far.
    pub async fn abort(self) -> Result<ImportReport> {
        self.s.abort("customer_accounts").await
    }
}

impl Chunks<NewCustomerAccount> for CustomerImport {
    fn session(&mut self) -> &mut Session {
        &mut self.s
    }

    fn insert<'a>(
        &'a mut self,
        tx: &'a mut Transaction<'static, Any>,
        chunk: &'a [(usize, NewCustomerAccount)],
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        self.insert_chunk(tx, chunk)
    }
}

impl ImportSession<NewCustomerAccount> for CustomerImport {
    fn check(
        &mut self,
        rows: Vec<(usize, NewCustomerAccount)>,
    ) -> impl Future<Output = Result<()>> + Send {
        CustomerImport::check(self, rows)
    }

    fn write(
        &mut self,
        rows: Vec<(usize, NewCustomerAccount)>,
        mode: ImportMode,
    ) -> impl Future<Output = Result<()>> + Send {
        CustomerImport::write(self, rows, mode)
    }

    fn rejected(&self) -> usize {
        CustomerImport::rejected(self)
    }

    fn finish(self, mode: ImportMode) -> impl Future<Output = Result<ImportReport>> + Send {
        CustomerImport::finish(self, mode)
    }

    fn abort(self) -> impl Future<Output = Result<ImportReport>> + Send {
        CustomerImport::abort(self)
    }
}
