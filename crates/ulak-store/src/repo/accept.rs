//! Accepting messages with group commit. One transaction per message through SQLite's single
//! writer (or one PostgreSQL commit, one WAL flush, each) capped single sends at about a
//! thousand a second whatever the concurrency. So accepts queue to a committer task that takes
//! everything waiting (up to [`GROUP_MAX`] messages, any companies), writes each message with
//! exactly the statements of a lone accept — the idempotency check, the credit reservation,
//! the insert, the key — in one transaction, commits once and answers them all. Nobody is
//! answered before the commit that holds their message, so durability is what it was.
//!
//! A message refused on its own (a key used for another request, a balance that cannot cover
//! it) is refused before it writes anything, so its group goes on without it. Any other
//! failure rolls the group back and each of its messages is then tried in a transaction of its
//! own, so one bad message never fails its neighbours.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use sqlx::{Any, Transaction};
use tokio::sync::{Semaphore, mpsc, oneshot};
use ulak_core::model::{CompanyId, LedgerKind, Message, MessageState, NewMessage};

use super::credit::write_entry;
use super::idempotency::{self, Idempotency, StoredAnswer};
use super::messages::{COLS, Enqueued, event, message};
use crate::db::now_ms;
use crate::{Backend, Result, Store, StoreError};

/// Messages one group commit takes at most (a batch request larger than this is its own
/// group).
pub const GROUP_MAX: usize = 2_000;

/// Requests waiting for the committer at most; more wait to be queued (back-pressure, not
/// memory).
const WAITING_MAX: usize = 4_096;

/// Groups committing at once: SQLite has one writer; PostgreSQL commits several in parallel
/// (they take the companies' rows in id order, so they cannot deadlock).
fn parallel(backend: Backend) -> usize {
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

/// A request of one or more messages, answered in its order.
struct Job {
    items: Vec<Item>,
    answer: oneshot::Sender<Vec<Result<Accepted>>>,
}

/// The way to the committer, started on first use.
#[derive(Default)]
pub(crate) struct Accepts {
    queue: OnceLock<mpsc::Sender<Job>>,
    counts: Arc<Counts>,
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
        let items = messages
            .into_iter()
            .map(|(new, key)| Item {
                company,
                new,
                key: key.map(Key::from),
            })
            .collect();
        let answers = match self.committer().send_and_wait(items).await {
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

    /// The committer's queue, started by the first accept. The task holds a handle of its
    /// own without the queue, so it ends when the last handle of this store is dropped.
    fn committer(&self) -> Committer<'_> {
        let queue = self.accepts.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(WAITING_MAX);
            let own = Store {
                accepts: Arc::default(),
                ..self.clone()
            };
            tokio::spawn(commit_loop(own, rx, self.accepts.counts.clone()));
            tx
        });
        Committer(queue)
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
    async fn send_and_wait(&self, items: Vec<Item>) -> Result<Vec<Result<Accepted>>> {
        let (answer, answered) = oneshot::channel();
        self.0
            .send(Job { items, answer })
            .await
            .map_err(|_| StoreError::Closed)?;
        answered.await.map_err(|_| StoreError::Closed)
    }
}

/// Takes what is waiting, up to [`GROUP_MAX`] messages, and commits it as one group while the
/// next group gathers.
async fn commit_loop(store: Store, mut rx: mpsc::Receiver<Job>, counts: Arc<Counts>) {
    let permits = Arc::new(Semaphore::new(parallel(store.backend)));
    let mut held: Option<Job> = None;
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let first = match held.take() {
            Some(j) => j,
            None => match rx.recv().await {
                Some(j) => j,
                None => return,
            },
        };
        let mut size = first.items.len();
        let mut jobs = vec![first];
        while size < GROUP_MAX {
            match rx.try_recv() {
                Ok(j) if size + j.items.len() <= GROUP_MAX => {
                    size += j.items.len();
                    jobs.push(j);
                }
                Ok(j) => {
                    held = Some(j);
                    break;
                }
                Err(_) => break,
            }
        }
        let (store, counts) = (store.clone(), counts.clone());
        tokio::spawn(async move {
            run_group(&store, jobs, &counts).await;
            drop(permit);
        });
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
    /// One transaction for all of `items`, in company order (so parallel groups take the
    /// companies' rows in the same order); answers in `items`' order. `Err` when the group as
    /// a whole failed and nothing of it was written.
    async fn commit_group(&self, items: &[&Item]) -> Result<Vec<Result<Accepted>>> {
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by_key(|&i| items[i].company.0);
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let mut results: Vec<Option<Result<Accepted>>> = (0..items.len()).map(|_| None).collect();
        let mut accounts = BTreeSet::new();
        for i in order {
            let r = match accept_in(&mut tx, items[i], now).await {
                Ok(a) => Ok(a),
                // Refused before writing anything: the group goes on without it.
                Err(
                    e @ (StoreError::IdempotencyConflict | StoreError::InsufficientCredit { .. }),
                ) => Err(e),
                Err(e) => {
                    tx.rollback().await?;
                    return Err(e);
                }
            };
            if let Ok(Accepted::New(_)) = &r
                && let Some(p) = items[i].new.provider
            {
                accounts.insert(p.0);
            }
            results[i] = Some(r);
        }
        for a in &accounts {
            crate::signal::announce(&mut tx, self.backend, Some(*a)).await?;
        }
        tx.commit().await?;
        for a in accounts {
            self.queued_for(Some(a));
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or(Err(StoreError::Closed)))
            .collect())
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

/// Accepts one message inside the group's transaction: exactly the statements of a lone
/// accept.
async fn accept_in(tx: &mut Transaction<'static, Any>, item: &Item, now: i64) -> Result<Accepted> {
    let (company, new) = (item.company, &item.new);
    let key = item.key.as_ref().map(Key::borrowed);
    if let Some(idem) = &key
        && let Some((id, answer)) = idempotency::seen(tx, company, idem, now).await?
    {
        return Ok(Accepted::Seen(id, answer));
    }
    write_entry(tx, company, LedgerKind::Reservation, -new.cost, None).await?;
    let (state, due) = match new.scheduled_at {
        Some(at) if at > now => (MessageState::Scheduled, at),
        _ => (MessageState::Queued, now),
    };
    let row = sqlx::query(sql!(
        "INSERT INTO messages (company_id, provider_account_id, recipient_kind, recipient, \
         sender, body, encoding, segments, cost, state, state_at, attempts, next_attempt_at, \
         valid_until, created_at, priority) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $13, $11, $14) \
         RETURNING {COLS}"
    ))
    .bind(company.0)
    .bind(new.provider.map(|p| p.0))
    .bind(new.recipient.kind())
    .bind(new.recipient.address())
    .bind(new.sender.as_str())
    .bind(&new.body)
    .bind(&new.encoding)
    .bind(i64::from(new.segments))
    .bind(new.cost)
    .bind(state.as_str())
    .bind(now)
    .bind(due)
    .bind(new.valid_until)
    .bind(new.class.priority())
    .fetch_one(&mut **tx)
    .await?;
    let message = message(&row)?;
    // Being accepted is in `created_at` (see `history`); a schedule is worth a row.
    if state == MessageState::Scheduled {
        event(tx, message.id, state, None, now).await?;
    }
    let answer = match &key {
        Some(idem) => Some(idempotency::remember(tx, company, idem, &message, now).await?),
        None => None,
    };
    Ok(Accepted::New(Enqueued {
        message,
        replayed: false,
        answer,
    }))
}
