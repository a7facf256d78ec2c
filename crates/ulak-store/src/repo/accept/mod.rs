//! Accepting messages with group commit. One transaction per message through SQLite's single
//! writer (or one PostgreSQL commit, one WAL flush, each) capped single sends at about a
//! thousand a second whatever the concurrency. So accepts queue to a committer task (one per
//! lane, [`lanes`]) that takes everything waiting (up to [`GROUP_MAX`] messages) and writes it
//! in one transaction: per message the checks of a lone accept in the same order — its
//! idempotency key, then the balance left — and then, per company, one balance update, one
//! reservation entry per message and the messages; one commit answers them all. Nobody is
//! answered before the commit that holds their message, so durability is what it was.
//!
//! The rules are written once ([`group`]); a SQLite file runs them on its writer thread in
//! cached one-row statements ([`on_sqlite`], decision 0010), anything else in a sqlx
//! transaction with multi-row statements ([`on_sqlx`]).
//!
//! Companies sharing a lane take turns in its groups, a request each ([`turns`]), and each
//! has at most [`COMPANY_WAITING_MAX`] requests in the lane, so one company's flood does not
//! queue another's single send behind it.
//!
//! A message refused on its own (a key used for another request, a balance that no longer
//! covers it) is decided before anything is written, so its group goes on without it. Any
//! other failure rolls the group back and each of its messages is then tried in a transaction
//! of its own, so one bad message never fails its neighbours.

mod group;
mod on_sqlite;
mod on_sqlx;
mod turns;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use ulak_core::model::{CompanyId, Message, NewMessage};

use super::idempotency::{Idempotency, StoredAnswer};
use super::messages::Enqueued;
use crate::{Backend, Result, Store, StoreError};
use turns::Turns;

/// Messages one group commit takes at most (a batch request larger than this is its own
/// group). Four batches of 1,000 rather than two: each commit writes the pages its messages
/// dirtied, and random recipients dirty a page of their index each, so a larger group shares
/// more of them (batches 48.5-48.9k -> 52.3k messages/s, docs/benchmarks.md). The price: a
/// single send that arrives behind such a group waits for it (tens of milliseconds).
pub const GROUP_MAX: usize = 4_000;

/// Requests waiting for the committer's turns at most, and as many again in its channel;
/// more wait to be queued (back-pressure, not memory).
const WAITING_MAX: usize = 4_096;

/// Requests of one company waiting in its lane at most. Its further requests wait for a
/// place before they are queued, so one company cannot fill the channel that the companies
/// sharing its lane queue in (it takes eight flooding companies to fill a lane's turns).
const COMPANY_WAITING_MAX: usize = 512;

/// Committer lanes: SQLite has one writer. On PostgreSQL a company's accepts always go to
/// the same lane, so its groups never wait on each other for its balance row (four groups of
/// one company at once took a quarter of the throughput of one: they queued on the row lock,
/// each with a quarter of the messages), while other companies commit beside it.
fn lanes(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 1,
        Backend::Postgres => 4,
    }
}

/// An idempotency key owned, to travel to the committer.
#[derive(Clone)]
pub(crate) struct Key {
    key: String,
    request_hash: String,
    answer: fn(&Message) -> StoredAnswer,
}

impl Key {
    fn borrowed(&self) -> Idempotency<'_> {
        Idempotency {
            key: &self.key,
            request_hash: &self.request_hash,
            answer: self.answer,
        }
    }
}

impl From<Idempotency<'_>> for Key {
    fn from(i: Idempotency<'_>) -> Self {
        Key {
            key: i.key.to_owned(),
            request_hash: i.request_hash.to_owned(),
            answer: i.answer,
        }
    }
}

/// One message to accept.
#[derive(Clone)]
pub(crate) struct Item {
    company: CompanyId,
    new: NewMessage,
    key: Option<Key>,
}

/// What accepting one message did inside the group.
#[allow(clippy::large_enum_variant)] // Built once per message and moved, never stored in bulk.
enum Accepted {
    /// Queued (or scheduled).
    New(Enqueued),
    /// Its key was seen with the same request: the first message's id and answer.
    Seen(i64, Option<StoredAnswer>),
}

/// A request of one or more messages of one company, answered in its order.
struct Job {
    company: CompanyId,
    /// The company's place in the lane, given back when the job is answered or dropped (not
    /// when its caller stops waiting: a job outlives a request that timed out).
    _place: Option<OwnedSemaphorePermit>,
    items: Vec<Item>,
    answer: oneshot::Sender<Vec<Result<Accepted>>>,
}

/// The way to the committer, started on first use.
#[derive(Default)]
pub(crate) struct Accepts {
    lanes: OnceLock<Vec<mpsc::Sender<Job>>>,
    counts: Arc<Counts>,
    /// Each company's places in its lane ([`COMPANY_WAITING_MAX`]); one entry per company
    /// that ever sent, as the companies table holds.
    places: Mutex<HashMap<i64, Arc<Semaphore>>>,
}

impl Accepts {
    /// A place for one request of `company` in its lane, waited for while the company has
    /// [`COMPANY_WAITING_MAX`] requests there. `None` only if the map's lock was poisoned
    /// (a panic while it was held): the request then goes without one.
    async fn place(&self, company: CompanyId) -> Option<OwnedSemaphorePermit> {
        let places = {
            let mut all = self.places.lock().ok()?;
            all.entry(company.0)
                .or_insert_with(|| Arc::new(Semaphore::new(COMPANY_WAITING_MAX)))
                .clone()
        };
        places.acquire_owned().await.ok()
    }
}

/// Commits and the messages they held, since the store was opened.
#[derive(Debug, Default)]
struct Counts {
    groups: AtomicU64,
    messages: AtomicU64,
}

/// How accepts were committed since the store was opened ([`Store::accept_stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptStats {
    /// Transactions that committed accepted messages.
    pub commits: u64,
    /// Messages they queued.
    pub messages: u64,
}

impl std::fmt::Debug for Accepts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accepts").finish_non_exhaustive()
    }
}

impl Store {
    /// Accepts a message: reserves its cost (`InsufficientCredit` if the balance cannot cover
    /// it, nothing stored) and queues it, committed before this returns. With an idempotency
    /// key, a key seen in the last 24 hours returns the first message and answer (`replayed`)
    /// when the request hash matches and `IdempotencyConflict` when it does not; a new key is
    /// stored with the answer `idempotency.answer` builds, in the same transaction. Concurrent
    /// accepts share transactions (see the module documentation).
    #[tracing::instrument(skip_all, fields(company = company.0, segments = new.segments))]
    pub async fn enqueue_message(
        &self,
        company: CompanyId,
        new: NewMessage,
        idempotency: Option<Idempotency<'_>>,
    ) -> Result<Enqueued> {
        let mut all = self
            .enqueue_messages(company, vec![(new, idempotency)])
            .await;
        all.pop().unwrap_or(Err(StoreError::Closed))
    }

    /// Accepts several messages of `company`, each on its own as [`Store::enqueue_message`]
    /// would (one refused does not refuse the others), answered in their order.
    #[tracing::instrument(skip_all, fields(company = company.0, messages = messages.len()))]
    pub async fn enqueue_messages(
        &self,
        company: CompanyId,
        messages: Vec<(NewMessage, Option<Idempotency<'_>>)>,
    ) -> Vec<Result<Enqueued>> {
        let n = messages.len();
        // One company's flood waits here, not in the shared lane.
        let place = self.accepts.place(company).await;
        let items = messages
            .into_iter()
            .map(|(new, key)| Item {
                company,
                new,
                key: key.map(Key::from),
            })
            .collect();
        let answers = match self
            .committer(company)
            .send_and_wait(company, place, items)
            .await
        {
            Ok(a) if a.len() == n => a,
            Ok(_) | Err(_) => return (0..n).map(|_| Err(StoreError::Closed)).collect(),
        };
        let mut out = Vec::with_capacity(n);
        for a in answers {
            out.push(match a {
                Ok(Accepted::New(e)) => Ok(e),
                Ok(Accepted::Seen(id, answer)) => self.replayed(company, (id, answer)).await,
                Err(e) => Err(e),
            });
        }
        out
    }

    /// The queue of `company`'s committer lane ([`lanes`]), the lanes started by the first
    /// accept. Each task holds a handle of its own without the queues, so it ends when the
    /// last handle of this store is dropped.
    fn committer(&self, company: CompanyId) -> Committer<'_> {
        let lanes = self.accepts.lanes.get_or_init(|| {
            (0..lanes(self.backend))
                .map(|_| {
                    let (tx, rx) = mpsc::channel(WAITING_MAX);
                    let own = Store {
                        accepts: Arc::default(),
                        ..self.clone()
                    };
                    tokio::spawn(commit_loop(own, rx, self.accepts.counts.clone()));
                    tx
                })
                .collect()
        });
        let lane = usize::try_from(company.0.unsigned_abs()).unwrap_or(0) % lanes.len().max(1);
        Committer(&lanes[lane])
    }

    /// How many commits the accepts took so far, and how many messages they queued: fewer
    /// commits than messages means accepts shared transactions.
    pub fn accept_stats(&self) -> AcceptStats {
        let c = &self.accepts.counts;
        AcceptStats {
            commits: c.groups.load(Ordering::Relaxed),
            messages: c.messages.load(Ordering::Relaxed),
        }
    }
}

struct Committer<'a>(&'a mpsc::Sender<Job>);

impl Committer<'_> {
    async fn send_and_wait(
        &self,
        company: CompanyId,
        place: Option<OwnedSemaphorePermit>,
        items: Vec<Item>,
    ) -> Result<Vec<Result<Accepted>>> {
        let (answer, answered) = oneshot::channel();
        self.0
            .send(Job {
                company,
                _place: place,
                items,
                answer,
            })
            .await
            .map_err(|_| StoreError::Closed)?;
        answered.await.map_err(|_| StoreError::Closed)
    }
}

/// One lane: takes what is waiting into the companies' turns ([`Turns`]), up to
/// [`WAITING_MAX`] requests, and commits the next group of at most [`GROUP_MAX`] messages;
/// what arrives meanwhile waits for the next.
async fn commit_loop(store: Store, mut rx: mpsc::Receiver<Job>, counts: Arc<Counts>) {
    let mut turns: Turns<Job> = Turns::default();
    let take = |turns: &mut Turns<Job>, job: Job| {
        turns.push(job.company.0, job.items.len(), job);
    };
    loop {
        if turns.is_empty() {
            match rx.recv().await {
                Some(j) => take(&mut turns, j),
                None => return,
            }
        }
        while turns.len() < WAITING_MAX {
            match rx.try_recv() {
                Ok(j) => take(&mut turns, j),
                Err(_) => break,
            }
        }
        let jobs = turns.next_group(GROUP_MAX);
        // A task of its own, awaited: a panic in one group drops that group's answers (its
        // callers see `Closed`) and the lane goes on.
        let (store, counts) = (store.clone(), counts.clone());
        let group = tokio::spawn(async move { run_group(&store, jobs, &counts).await });
        if group.await.is_err() {
            tracing::error!("an accept group panicked; its requests were not answered");
        }
    }
}

/// Commits `jobs` as one group (or, if the group fails, each message alone) and answers them.
async fn run_group(store: &Store, jobs: Vec<Job>, counts: &Counts) {
    let items: Vec<&Item> = jobs.iter().flat_map(|j| j.items.iter()).collect();
    let results = match store.commit_group(&items).await {
        Ok(r) => {
            counts.groups.fetch_add(1, Ordering::Relaxed);
            r
        }
        Err(e) => {
            if items.len() > 1 {
                tracing::debug!(error = %e, messages = items.len(), "group commit failed; accepting one by one");
            }
            let mut r = Vec::with_capacity(items.len());
            for item in &items {
                r.push(store.accept_alone(item).await);
            }
            counts
                .groups
                .fetch_add(items.len() as u64, Ordering::Relaxed);
            r
        }
    };
    let queued = results
        .iter()
        .filter(|r| matches!(r, Ok(Accepted::New(_))))
        .count();
    counts.messages.fetch_add(queued as u64, Ordering::Relaxed);
    let mut results = results.into_iter();
    for job in jobs {
        let mine: Vec<_> = results.by_ref().take(job.items.len()).collect();
        // The caller may have gone (its request was dropped): the message stays accepted, as
        // it would had the answer been lost on the wire.
        let _ = job.answer.send(mine);
    }
}

impl Store {
    /// One transaction for all of `items` ([`group::accept_all`]): on the SQLite writer
    /// thread when the database is a file, else in a sqlx transaction. `Err` when the group
    /// as a whole failed and nothing of it was written.
    async fn commit_group(&self, items: &[&Item]) -> Result<Vec<Result<Accepted>>> {
        let (results, accounts) = match &self.sqlite_writer {
            Some(w) => on_sqlite::commit(w, items).await?,
            None => on_sqlx::commit(self, items).await?,
        };
        for a in accounts {
            self.queued_for(Some(a));
        }
        Ok(results)
    }

    /// `item` in a transaction of its own. Two requests with the same new key race: the
    /// loser's key insert conflicts, and its second pass finds the winner's message.
    async fn accept_alone(&self, item: &Item) -> Result<Accepted> {
        for _ in 0..2 {
            match self.commit_group(&[item]).await {
                Ok(mut r) => return r.pop().unwrap_or(Err(StoreError::Closed)),
                // SQLite names the column, PostgreSQL the primary key constraint.
                Err(StoreError::Conflict { field }) if field.contains("idem") => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::IdempotencyConflict)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use futures_util::FutureExt;
    use ulak_core::model::CompanyId;

    use super::{Accepts, COMPANY_WAITING_MAX};

    #[tokio::test]
    async fn a_company_with_every_place_taken_waits_and_the_others_do_not() {
        let accepts = Accepts::default();
        let (a, b) = (CompanyId(1), CompanyId(5));
        let mut held = Vec::new();
        for _ in 0..COMPANY_WAITING_MAX {
            held.push(accepts.place(a).await.unwrap());
        }
        // Unconstrained: tokio's cooperative budget, spent by the loop above, would make even
        // a free place answer `Pending` once.
        let now = |c| tokio::task::unconstrained(accepts.place(c)).now_or_never();
        assert!(now(a).is_none(), "a has no place left");
        assert!(
            now(b).flatten().is_some(),
            "b, sharing a's lane, still gets one"
        );
        held.pop();
        assert!(
            now(a).flatten().is_some(),
            "a place given back is a's again"
        );
    }
}
