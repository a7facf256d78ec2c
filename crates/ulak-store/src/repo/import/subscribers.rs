//! Subscriber imports: unique by phone; with a group, subscribers that already exist join it.

use std::collections::{HashMap, HashSet};

use sqlx::{Any, Transaction};
use ulak_core::model::{CompanyId, GroupId, NewSubscriber};

use super::{
    CHECK_CHUNK, Chunks, ImportMode, ImportReport, ImportSession, Session, UNDO_CHUNK, existing,
    values, write_rows,
};
use crate::db::{int_list, search_key};
use crate::repo::subscribers::attrs_json;
use crate::{Result, Store, StoreError};

/// The digits of an E.164 number as an integer: a compact key for the duplicate check (at
/// most 15 digits, so it fits).
fn phone_key(e164: &str) -> u64 {
    e164.bytes().filter(u8::is_ascii_digit).fold(0u64, |n, d| {
        n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))
    })
}

/// A subscriber import in progress (see [`Store::begin_subscriber_import`]).
pub struct SubscriberImport {
    s: Session,
    group: Option<GroupId>,
    /// Phone → index of the row that brought it first.
    seen: HashMap<u64, usize>,
    /// Subscribers that already existed and that this import added to the group.
    grouped: Vec<i64>,
}

impl Store {
    /// Starts a subscriber import after checking the company and the group (`NotFound` when
    /// either is not this company's); nothing is locked. Feed every row to
    /// [`SubscriberImport::check`], then again to [`SubscriberImport::write`], then
    /// [`SubscriberImport::finish`] (see [`ImportSession`]).
    #[tracing::instrument(skip(self), fields(company = company.0))]
    pub async fn begin_subscriber_import(
        &self,
        company: CompanyId,
        group: Option<GroupId>,
    ) -> Result<SubscriberImport> {
        let s = Session::begin(self, company).await?;
        if let Some(g) = group {
            let found: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM subscriber_groups WHERE company_id = $1 AND id = $2",
            )
            .bind(company.0)
            .bind(g.0)
            .fetch_optional(&self.pool)
            .await?;
            if found.is_none() {
                return Err(StoreError::NotFound);
            }
        }
        Ok(SubscriberImport {
            s,
            group,
            seen: HashMap::new(),
            grouped: Vec::new(),
        })
    }

    /// Imports subscribers (a session fed at once; row indexes are positions in `rows`).
    /// See [`SubscriberImport`] for the rules.
    #[tracing::instrument(skip(self, rows), fields(company = company.0, rows = rows.len()))]
    pub async fn import_subscribers(
        &self,
        company: CompanyId,
        rows: Vec<NewSubscriber>,
        mode: ImportMode,
        group: Option<GroupId>,
    ) -> Result<ImportReport> {
        let session = self.begin_subscriber_import(company, group).await?;
        super::run_whole(session, rows, mode).await
    }
}

impl SubscriberImport {
    /// First pass, reads only. A phone repeated in the import is refused after its first row
    /// (`duplicate_in_batch`); without a group, a phone already in the company is refused
    /// (`exists`). With a group it is not: `write` adds that subscriber to the group.
    #[tracing::instrument(name = "subscriber_import_check", skip_all, fields(rows = rows.len()))]
    pub async fn check(&mut self, rows: Vec<(usize, NewSubscriber)>) -> Result<()> {
        let mut fresh = Vec::with_capacity(rows.len());
        for (i, r) in &rows {
            let key = phone_key(r.phone.e164());
            match self.seen.get(&key) {
                Some(&f) => self.s.reject(*i, "duplicate_in_batch", Some(f)),
                None => {
                    self.seen.insert(key, *i);
                    fresh.push((*i, r.phone.e164()));
                }
            }
        }
        if self.group.is_some() {
            return Ok(());
        }
        for chunk in fresh.chunks(CHECK_CHUNK) {
            let phones: Vec<&str> = chunk.iter().map(|(_, p)| *p).collect();
            let found = existing(&self.s, "subscribers", "phone", &phones).await?;
            for (i, p) in chunk {
                if found.contains(*p) {
                    self.s.reject(*i, "exists", None);
                }
            }
        }
        Ok(())
    }

    /// Second pass: stores the rows `check` did not refuse, in short transactions. Every
    /// stored subscriber joins the group; a phone stored by someone else since `check` is
    /// added to the group as it is (counted in `grouped_existing`), or without a group
    /// refused as `exists` (in all-or-nothing mode writing then stops).
    #[tracing::instrument(name = "subscriber_import_write", skip_all, fields(rows = rows.len()))]
    pub async fn write(
        &mut self,
        rows: Vec<(usize, NewSubscriber)>,
        mode: ImportMode,
    ) -> Result<()> {
        write_rows(self, rows, mode).await
    }

    /// Inserts one chunk in `tx`.
    async fn insert_chunk(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        chunk: &[(usize, NewSubscriber)],
    ) -> Result<()> {
        let text = format!(
            "INSERT INTO subscribers (company_id, name, phone, tckn, attributes, consent, \
             search_key, created_at, updated_at) VALUES {} \
             ON CONFLICT (company_id, phone) DO NOTHING RETURNING id, phone",
            values(chunk.len(), 7, true)
        );
        let mut q =
            sqlx::query_as::<_, (i64, String)>(sqlx::AssertSqlSafe(text)).bind(self.s.company.0);
        for (_, r) in chunk {
            q = q
                .bind(r.name.clone())
                .bind(r.phone.e164().to_owned())
                .bind(r.tckn.map(|t| t.as_string()))
                .bind(attrs_json(&r.attributes))
                .bind(r.consent.as_str())
                .bind(search_key(&r.name, &[&r.phone]))
                .bind(self.s.now);
        }
        let returned = q.fetch_all(&mut **tx).await?;
        self.s.inserted.extend(returned.iter().map(|(id, _)| *id));
        if let Some(g) = self.group
            && !returned.is_empty()
        {
            // Ids come from the database as integers, so inlining them is safe and saves
            // a bind parameter per row. Undoing deletes these subscribers, and with them
            // (ON DELETE CASCADE) these memberships.
            let values = returned
                .iter()
                .map(|(id, _)| format!("({}, {id})", g.0))
                .collect::<Vec<_>>()
                .join(",");
            sqlx::query(sql!(
                "INSERT INTO group_members (group_id, subscriber_id) VALUES {values} \
                 ON CONFLICT DO NOTHING"
            ))
            .execute(&mut **tx)
            .await?;
        }
        let stored: HashSet<String> = returned.into_iter().map(|(_, phone)| phone).collect();
        self.s.report.inserted += stored.len() as u64;
        let existing: Vec<&(usize, NewSubscriber)> = chunk
            .iter()
            .filter(|(_, r)| !stored.contains(r.phone.e164()))
            .collect();
        match self.group {
            Some(g) if !existing.is_empty() => {
                let marks = (0..existing.len())
                    .map(|k| format!("${}", k + 3))
                    .collect::<Vec<_>>()
                    .join(",");
                let text = format!(
                    "INSERT INTO group_members (group_id, subscriber_id) \
                     SELECT $1, id FROM subscribers WHERE company_id = $2 AND phone IN ({marks}) \
                     ON CONFLICT DO NOTHING RETURNING subscriber_id"
                );
                let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(text))
                    .bind(g.0)
                    .bind(self.s.company.0);
                for (_, r) in &existing {
                    q = q.bind(r.phone.e164().to_owned());
                }
                // Only memberships this import added are undone.
                self.grouped.extend(q.fetch_all(&mut **tx).await?);
                // A subscriber already in the group counts too: it is in it.
                self.s.report.grouped_existing += existing.len() as u64;
            }
            _ => {
                for (i, _) in existing {
                    self.s.reject_late(*i, "exists");
                }
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
    pub async fn finish(mut self, mode: ImportMode) -> Result<ImportReport> {
        self.queue_membership_undo();
        self.s.finish(mode, "subscribers").await
    }

    /// Undoes what the import wrote (the file turned out broken, or the import was stopped)
    /// and returns the report so far.
    pub async fn abort(mut self) -> Result<ImportReport> {
        self.queue_membership_undo();
        self.s.abort("subscribers").await
    }

    /// Queues the removal of the memberships this import added to subscribers that already
    /// existed, in case the session is undone.
    fn queue_membership_undo(&mut self) {
        let Some(g) = self.group else { return };
        for ids in self.grouped.chunks(UNDO_CHUNK) {
            self.s.undo_extra.push(format!(
                "DELETE FROM group_members WHERE group_id = {} AND subscriber_id IN ({})",
                g.0,
                int_list(ids.iter().copied())
            ));
        }
    }
}

impl Chunks<NewSubscriber> for SubscriberImport {
    fn session(&mut self) -> &mut Session {
        &mut self.s
    }

    fn insert<'a>(
        &'a mut self,
        tx: &'a mut Transaction<'static, Any>,
        chunk: &'a [(usize, NewSubscriber)],
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        self.insert_chunk(tx, chunk)
    }
}

impl ImportSession<NewSubscriber> for SubscriberImport {
    fn check(
        &mut self,
        rows: Vec<(usize, NewSubscriber)>,
    ) -> impl Future<Output = Result<()>> + Send {
        SubscriberImport::check(self, rows)
    }

    fn write(
        &mut self,
        rows: Vec<(usize, NewSubscriber)>,
        mode: ImportMode,
    ) -> impl Future<Output = Result<()>> + Send {
        SubscriberImport::write(self, rows, mode)
    }

    fn rejected(&self) -> usize {
        SubscriberImport::rejected(self)
    }

    fn finish(self, mode: ImportMode) -> impl Future<Output = Result<ImportReport>> + Send {
        SubscriberImport::finish(self, mode)
    }

    fn abort(self) -> impl Future<Output = Result<ImportReport>> + Send {
        SubscriberImport::abort(self)
    }
}
