//! Bulk imports of subscribers and customer accounts as sessions in two passes, so that no
//! import holds the database's writer for long (on SQLite there is one writer for every
//! company):
//!
//! 1. `check`: the rows as the file is read, with reads only: repeats inside the import, and
//!    (where that refuses a row) keys that already exist. Nothing is written, so an
//!    all-or-nothing import with any refused row ends here having written nothing.
//! 2. `write`: the rows again, those `check` did not refuse, as multi-row
//!    `INSERT … ON CONFLICT DO NOTHING RETURNING` statements in short transactions (each
//!    commits after [`HOLD`]). A key that appeared between the two passes is found by the
//!    insert itself; in all-or-nothing mode `finish` then undoes what the import wrote (the
//!    ids it inserted, the group memberships it added), as does `abort`.

mod customers;
mod subscribers;

use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::{Any, Transaction};
use ulak_core::model::CompanyId;

pub use customers::CustomerImport;
pub use subscribers::SubscriberImport;

use crate::db::{int_list, now_ms};
use crate::{Backend, ImportRowError, Result, Store, StoreError};

/// Rows per INSERT on PostgreSQL: 9,000 parameters, under its 65,535 limit; large statements
/// save round trips (100k rows: 3.6 s in release on the 2-core machine).
const CHUNK_PG: usize = 1000;
/// Rows per INSERT on SQLite: small, because the cost of one statement grows faster than its
/// parameter count in the driver (measured, 100k rows in release: 1,000 rows per statement
/// 12.5 s, 100 rows 3.1 s, 40 rows 2.6 s).
const CHUNK_SQLITE: usize = 40;
/// Keys looked up per statement when checking which exist.
const CHECK_CHUNK: usize = 500;
/// Ids per statement when undoing an import (inlined: they come from the database).
const UNDO_CHUNK: usize = 500;
/// An import commits its write transaction once it has held it this long (a statement
/// is not cut short: SQLite's 40-row insert takes a few ms, PostgreSQL's 1,000-row one tens).
pub const HOLD: Duration = Duration::from_millis(50);
/// Pause between an import's write transactions on SQLite. Writes through the store's
/// writer queue get their turn anyway; a write that waits in SQLite's busy handler instead
/// (polling every up to 100 ms) needs the lock to be free now and then to ever see it free.
const PAUSE: Duration = Duration::from_millis(20);

/// What to do when some rows cannot be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// Store nothing if any row fails (`StoreError::ImportRejected` lists them).
    AllOrNothing,
    /// Store the good rows and report the others.
    SkipInvalid,
}

/// Outcome of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Rows stored.
    pub inserted: u64,
    /// Rows whose subscriber already existed and was added to the import's group (only
    /// with a group; without one such rows are rejected as `exists`).
    pub grouped_existing: u64,
    /// Rows not stored, in input order.
    pub rejected: Vec<ImportRowError>,
}

/// The parts every import session shares: counts, refusals, and what was written.
struct Session {
    store: Store,
    company: CompanyId,
    chunk: usize,
    now: i64,
    report: ImportReport,
    /// Whether `report.rejected` is sorted by index (it is from the first `write` on).
    sorted: bool,
    /// Refusals found while writing (a key stored by someone else between the passes).
    late: Vec<ImportRowError>,
    /// Ids of the rows this import inserted, to undo it.
    inserted: Vec<i64>,
    /// Undo statements beside deleting `inserted` (group memberships it added).
    undo_extra: Vec<String>,
}

impl Session {
    /// Checks the company exists; nothing is locked.
    async fn begin(store: &Store, company: CompanyId) -> Result<Session> {
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM companies WHERE id = $1")
            .bind(company.0)
            .fetch_optional(&store.pool)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        Ok(Session {
            store: store.clone(),
            company,
            chunk: match store.backend {
                Backend::Sqlite => CHUNK_SQLITE,
                Backend::Postgres => CHUNK_PG,
            },
            now: now_ms(),
            report: ImportReport::default(),
            sorted: false,
            late: Vec::new(),
            inserted: Vec::new(),
            undo_extra: Vec::new(),
        })
    }

    fn reject(&mut self, index: usize, reason: &'static str, first_index: Option<usize>) {
        self.report.rejected.push(ImportRowError {
            index,
            reason,
            first_index,
        });
    }

    /// A refusal found while writing.
    fn reject_late(&mut self, index: usize, reason: &'static str) {
        self.late.push(ImportRowError {
            index,
            reason,
            first_index: None,
        });
    }

    /// Whether `check` refused the row at `index`.
    fn refused(&mut self, index: usize) -> bool {
        if !self.sorted {
            self.report.rejected.sort_by_key(|e| e.index);
            self.sorted = true;
        }
        self.report
            .rejected
            .binary_search_by_key(&index, |e| e.index)
            .is_ok()
    }

    /// Whether writing should stop: a refusal turned up while writing in all-or-nothing
    /// mode, so everything will be undone anyway.
    fn stopped(&self, mode: ImportMode) -> bool {
        mode == ImportMode::AllOrNothing && !self.late.is_empty()
    }

    /// Waits before the next write transaction (SQLite only, see [`PAUSE`]).
    async fn pause(&self) {
        if self.store.backend == Backend::Sqlite {
            tokio::time::sleep(PAUSE).await;
        }
    }

    /// Runs `statements` in short write transactions (each commits after [`HOLD`]).
    async fn execute_all(&self, statements: Vec<String>) -> Result<()> {
        let mut rest = &statements[..];
        while !rest.is_empty() {
            let mut tx = self.store.begin_write().await?;
            let started = Instant::now();
            while let Some((first, tail)) = rest.split_first() {
                sqlx::query(sqlx::AssertSqlSafe(first.clone()))
                    .execute(&mut *tx)
                    .await?;
                rest = tail;
                if started.elapsed() >= HOLD {
                    break;
                }
            }
            tx.commit().await?;
            if !rest.is_empty() {
                self.pause().await;
            }
        }
        Ok(())
    }

    /// Deletes what this import wrote, in short transactions.
    async fn undo(&mut self, table: &str) -> Result<()> {
        let mut statements = std::mem::take(&mut self.undo_extra);
        for ids in self.inserted.chunks(UNDO_CHUNK) {
            statements.push(format!(
                "DELETE FROM {table} WHERE company_id = {} AND id IN ({})",
                self.company.0,
                int_list(ids.iter().copied())
            ));
        }
        if !statements.is_empty() {
            tracing::info!(
                rows = self.inserted.len(),
                table,
                "undoing a refused or stopped import"
            );
        }
        self.execute_all(statements).await?;
        self.inserted.clear();
        Ok(())
    }

    /// Every refusal, in input order.
    fn all_rejected(&mut self) -> Vec<ImportRowError> {
        let mut rows = std::mem::take(&mut self.report.rejected);
        rows.append(&mut self.late);
        rows.sort_by_key(|e| e.index);
        rows
    }

    /// The report; in all-or-nothing mode with refusals, undoes the import and lists them.
    async fn finish(mut self, mode: ImportMode, table: &str) -> Result<ImportReport> {
        let rejected = self.all_rejected();
        if mode == ImportMode::AllOrNothing && !rejected.is_empty() {
            self.undo(table).await?;
            return Err(StoreError::ImportRejected { rows: rejected });
        }
        self.report.rejected = rejected;
        Ok(self.report)
    }

    /// Undoes the import and returns the report so far.
    async fn abort(mut self, table: &str) -> Result<ImportReport> {
        self.undo(table).await?;
        self.report.rejected = self.all_rejected();
        Ok(self.report)
    }
}

/// A session that stores rows a chunk at a time in a transaction it is given.
trait Chunks<T> {
    /// The shared parts.
    fn session(&mut self) -> &mut Session;
    /// Stores `chunk` (at most the session's rows per statement) in `tx`, recording the ids
    /// it inserted and the refusals it found.
    fn insert<'a>(
        &'a mut self,
        tx: &'a mut Transaction<'static, Any>,
        chunk: &'a [(usize, T)],
    ) -> impl Future<Output = Result<()>> + Send + 'a;
}

/// Stores the rows `check` did not refuse in short transactions: each commits once it has
/// been held for [`HOLD`], then (on SQLite) pauses, so other writers get their turn.
async fn write_rows<T, C>(this: &mut C, rows: Vec<(usize, T)>, mode: ImportMode) -> Result<()>
where
    T: Send + Sync,
    C: Chunks<T> + Send,
{
    let keep: Vec<(usize, T)> = rows
        .into_iter()
        .filter(|(i, _)| !this.session().refused(*i))
        .collect();
    let mut rest = &keep[..];
    while !rest.is_empty() && !this.session().stopped(mode) {
        let mut tx = this.session().store.begin_write().await?;
        let started = Instant::now();
        while !rest.is_empty() && !this.session().stopped(mode) {
            let n = rest.len().min(this.session().chunk);
            this.insert(&mut tx, &rest[..n]).await?;
            rest = &rest[n..];
            if started.elapsed() >= HOLD {
                break;
            }
        }
        tx.commit().await?;
        if !rest.is_empty() {
            this.session().pause().await;
        }
    }
    Ok(())
}

/// SQL giving the texts of the JSON array bound as `$2`, one row each: keys to check are
/// bound as one parameter, never written into the statement (statements are logged, and
/// phone numbers are personal data), and one parameter keeps SQLite's per-statement cost low.
fn json_texts(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SELECT value FROM json_each($2)",
        Backend::Postgres => "SELECT jsonb_array_elements_text($2::jsonb)",
    }
}

/// Which of `keys` are in `column` of `table` in the session's company.
async fn existing(
    s: &Session,
    table: &str,
    column: &str,
    keys: &[&str],
) -> Result<std::collections::HashSet<String>> {
    let text = format!(
        "SELECT {column} FROM {table} WHERE company_id = $1 AND {column} IN ({})",
        json_texts(s.store.backend)
    );
    // A list of strings always serialises; the fallback is only for the type system.
    let list = serde_json::to_string(keys).unwrap_or_else(|_| "[]".into());
    let found = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(text))
        .bind(s.company.0)
        .bind(list)
        .fetch_all(&s.store.pool)
        .await?;
    Ok(found.into_iter().collect())
}

/// `($1, $b, $b+1, …)` groups for `rows` rows of `per_row` parameters after `$1`; `repeat_last`
/// binds the last parameter twice (created_at = updated_at).
fn values(rows: usize, per_row: usize, repeat_last: bool) -> String {
    let mut text = String::new();
    for k in 0..rows {
        let b = k * per_row + 2;
        if k > 0 {
            text.push(',');
        }
        text.push_str("($1");
        for p in 0..per_row {
            text.push_str(&format!(", ${}", b + p));
        }
        if repeat_last {
            text.push_str(&format!(", ${}", b + per_row - 1));
        }
        text.push(')');
    }
    text
}

/// An import in progress, whatever it imports. Lets the server drive subscriber and customer
/// account imports with one piece of code: `check` every row, then (unless all-or-nothing
/// already failed) `write` every row again, then `finish` — or `abort` at any point.
pub trait ImportSession<T>: Send {
    /// First pass: refuses repeats and existing keys (reads only). Rows are (file row
    /// number, value).
    fn check(&mut self, rows: Vec<(usize, T)>) -> impl Future<Output = Result<()>> + Send;
    /// Second pass: stores the rows `check` did not refuse, in short transactions.
    fn write(
        &mut self,
        rows: Vec<(usize, T)>,
        mode: ImportMode,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Rows refused so far.
    fn rejected(&self) -> usize;
    /// The report; in all-or-nothing mode with refused rows, undoes the import and returns
    /// `StoreError::ImportRejected` listing them.
    fn finish(self, mode: ImportMode) -> impl Future<Output = Result<ImportReport>> + Send;
    /// Undoes what the import wrote and returns the report so far.
    fn abort(self) -> impl Future<Output = Result<ImportReport>> + Send;
}

/// Runs a whole import of `rows` (indexes are their positions) through a session: the
/// convenience form of the two passes for callers that hold every row.
async fn run_whole<T, S>(mut session: S, rows: Vec<T>, mode: ImportMode) -> Result<ImportReport>
where
    T: Clone + Send,
    S: ImportSession<T>,
{
    let indexed: Vec<(usize, T)> = rows.into_iter().enumerate().collect();
    session.check(indexed.clone()).await?;
    if mode == ImportMode::AllOrNothing && session.rejected() > 0 {
        return session.finish(mode).await;
    }
    session.write(indexed, mode).await?;
    session.finish(mode).await
}
