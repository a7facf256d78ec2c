//! Accepting messages with group commit. One transaction per message through SQLite's single
//! writer (or one PostgreSQL commit, one WAL flush, each) capped single sends at about a
//! thousand a second whatever the concurrency. So accepts queue to a committer task that takes
//! everything waiting (up to [`GROUP_MAX`] messages, any companies) and writes it in one
//! transaction: per message the checks of a lone accept in the same order — its idempotency
//! key, then the balance left — and then, per company, one balance update, one reservation
//! entry per message and the messages in multi-row statements; one commit answers them all.
//! Nobody is answered before the commit that holds their message, so durability is what it
//! was.
//!
//! A message refused on its own (a key used for another request, a balance that no longer
//! covers it) is decided before anything is written, so its group goes on without it. Any
//! other failure rolls the group back and each of its messages is then tried in a transaction
//! of its own, so one bad message never fails its neighbours.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use sqlx::{Any, Transaction};
use tokio::sync::{Semaphore, mpsc, oneshot};
use ulak_core::Code;
use ulak_core::model::{
    CompanyId, LedgerKind, Message, MessageId, MessageState, NewMessage, ValidationErrors,
};

use super::batch::insert_messages;
use super::idempotency::{self, Idempotency, StoredAnswer};
use super::messages::Enqueued;
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
    /// One transaction for all of `items`, company by company in id order (so parallel
    /// groups take the companies' rows in the same order); answers in `items`' order. `Err`
    /// when the group as a whole failed and nothing of it was written.
    async fn commit_group(&self, items: &[&Item]) -> Result<Vec<Result<Accepted>>> {
        let mut by_company: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            by_company.entry(item.company.0).or_default().push(i);
        }
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let mut results: Vec<Option<Result<Accepted>>> = (0..items.len()).map(|_| None).collect();
        let mut accounts = BTreeSet::new();
        for (company, mine) in by_company {
            let group = CompanyGroup {
                backend: self.backend,
                company: CompanyId(company),
                items,
                mine: &mine,
                now,
            };
            if let Err(e) = group.accept(&mut tx, &mut results).await {
                tx.rollback().await?;
                return Err(e);
            }
        }
        for (r, item) in results.iter().zip(items) {
            if let (Some(Ok(Accepted::New(_))), Some(p)) = (r, item.new.provider) {
                accounts.insert(p.0);
            }
        }
        let accounts: Vec<i64> = accounts.into_iter().collect();
        crate::signal::announce_all(&mut tx, self.backend, &accounts).await?;
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

/// What happens to one message of a group, decided before anything is written.
enum Plan {
    /// Queue it.
    Queue,
    /// An earlier message of the group has the same new key and request: its replay.
    SameAs(usize),
}

/// The messages of one company in a group.
struct CompanyGroup<'a> {
    backend: Backend,
    company: CompanyId,
    items: &'a [&'a Item],
    /// Indexes into `items`, in order.
    mine: &'a [usize],
    now: i64,
}

impl CompanyGroup<'_> {
    /// Decides and writes this company's messages, filling their `results`: per message the
    /// same checks in the same order as a lone accept (its key, then the balance left), then
    /// one balance update, the ledger's entries (one reservation per message, as ever) and
    /// the messages in multi-row statements.
    async fn accept(
        &self,
        tx: &mut Transaction<'static, Any>,
        results: &mut [Option<Result<Accepted>>],
    ) -> Result<()> {
        let mut plans: Vec<(usize, Plan)> = Vec::new();
        let mut new_keys: HashMap<&str, (&str, usize)> = HashMap::new();
        for &i in self.mine {
            let Some(key) = &self.items[i].key else {
                plans.push((i, Plan::Queue));
                continue;
            };
            if let Some(&(hash, first)) = new_keys.get(key.key.as_str()) {
                if hash == key.request_hash {
                    plans.push((i, Plan::SameAs(first)));
                } else {
                    results[i] = Some(Err(StoreError::IdempotencyConflict));
                }
                continue;
            }
            match idempotency::seen(tx, self.company, &key.borrowed(), self.now).await {
                Ok(Some((id, answer))) => results[i] = Some(Ok(Accepted::Seen(id, answer))),
                Ok(None) => {
                    new_keys.insert(&key.key, (&key.request_hash, i));
                    plans.push((i, Plan::Queue));
                }
                Err(e @ StoreError::IdempotencyConflict) => results[i] = Some(Err(e)),
                Err(e) => return Err(e),
            }
        }
        self.refuse_opted_out(tx, &mut plans, results).await?;
        let taken = self.reserve(tx, &plans, results).await?;
        if taken.is_empty() {
            return self.copy_to_repeats(&plans, results);
        }
        let news: Vec<NewMessage> = taken.iter().map(|&i| self.items[i].new.clone()).collect();
        let ids = insert_messages(tx, self.company, None, &news, self.now).await?;
        for (&i, id) in taken.iter().zip(ids) {
            let message = accepted_message(id, self.company, &self.items[i].new, self.now);
            let answer = match &self.items[i].key {
                Some(k) => Some(
                    idempotency::remember(tx, self.company, &k.borrowed(), &message, self.now)
                        .await?,
                ),
                None => None,
            };
            results[i] = Some(Ok(Accepted::New(Enqueued {
                message,
                replayed: false,
                answer,
            })));
        }
        self.copy_to_repeats(&plans, results)
    }

    /// Refuses the messages to be queued whose number is on the opt-out list now (one read
    /// for the company's part of the group).
    async fn refuse_opted_out(
        &self,
        tx: &mut Transaction<'static, Any>,
        plans: &mut Vec<(usize, Plan)>,
        results: &mut [Option<Result<Accepted>>],
    ) -> Result<()> {
        let asked: Vec<String> = plans
            .iter()
            .filter(|(i, p)| matches!(p, Plan::Queue) && self.items[*i].new.unless_opted_out)
            .map(|(i, _)| self.items[*i].new.recipient.address())
            .collect();
        if asked.is_empty() {
            return Ok(());
        }
        let asked: Vec<&str> = asked.iter().map(String::as_str).collect();
        let out = super::opt_outs::opted_out_among(tx, self.company, &asked).await?;
        if out.is_empty() {
            return Ok(());
        }
        plans.retain(|(i, p)| {
            let new = &self.items[*i].new;
            let refused = matches!(p, Plan::Queue)
                && new.unless_opted_out
                && out.contains(&new.recipient.address());
            if refused {
                results[*i] = Some(Err(StoreError::Validation(ValidationErrors::single(
                    "to",
                    Code::PhoneOptedOut,
                    "the number is on the opt-out list",
                ))));
            }
            !refused
        });
        Ok(())
    }

    /// Takes each queued message's cost from the balance in order, refusing the ones it no
    /// longer covers; writes the new balance and one ledger entry per message taken. Returns
    /// the messages taken.
    async fn reserve(
        &self,
        tx: &mut Transaction<'static, Any>,
        plans: &[(usize, Plan)],
        results: &mut [Option<Result<Accepted>>],
    ) -> Result<Vec<usize>> {
        // The row is the company's lock on PostgreSQL; SQLite's writer already holds its own.
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        };
        let balance: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT credit_balance FROM companies WHERE id = $1{lock}"
        )))
        .bind(self.company.0)
        .fetch_optional(&mut **tx)
        .await?;
        let mut left = balance.ok_or(StoreError::NotFound)?;
        let mut taken = Vec::new();
        let mut entries: Vec<(i64, i64)> = Vec::new();
        for (i, plan) in plans {
            if !matches!(plan, Plan::Queue) {
                continue;
            }
            let cost = self.items[*i].new.cost;
            if cost < 0 || cost > left {
                results[*i] = Some(Err(StoreError::InsufficientCredit {
                    balance: left,
                    amount: -cost,
                }));
                continue;
            }
            left -= cost;
            entries.push((-cost, left));
            taken.push(*i);
        }
        if !taken.is_empty() {
            write_reservations(tx, self.company, &entries, self.now).await?;
        }
        Ok(taken)
    }

    /// A repeat of a new key within the group answers what its first got (a refusal too).
    fn copy_to_repeats(
        &self,
        plans: &[(usize, Plan)],
        results: &mut [Option<Result<Accepted>>],
    ) -> Result<()> {
        for (i, plan) in plans {
            let Plan::SameAs(first) = plan else { continue };
            results[*i] = Some(match &results[*first] {
                Some(Ok(Accepted::New(e))) => Ok(Accepted::Seen(e.message.id.0, e.answer.clone())),
                Some(Err(StoreError::InsufficientCredit { balance, amount })) => {
                    Err(StoreError::InsufficientCredit {
                        balance: *balance,
                        amount: *amount,
                    })
                }
                Some(Err(StoreError::Validation(v))) => Err(StoreError::Validation(v.clone())),
                _ => Err(StoreError::IdempotencyConflict),
            });
        }
        Ok(())
    }
}

/// Moves the balance by the entries' sum and writes them (amount, balance after), in one
/// update and multi-row inserts. The caller checked the balance under the company's lock;
/// the update checks again, so a mistake there cannot make it negative.
async fn write_reservations(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    entries: &[(i64, i64)],
    now: i64,
) -> Result<()> {
    let total: i64 = entries.iter().map(|(a, _)| -a).sum();
    let moved = sqlx::query(
        "UPDATE companies SET credit_balance = credit_balance - $2 \
         WHERE id = $1 AND credit_balance >= $2",
    )
    .bind(company.0)
    .bind(total)
    .execute(&mut **tx)
    .await?;
    if moved.rows_affected() != 1 {
        return Err(StoreError::Corrupt {
            what: "companies.credit_balance",
        });
    }
    let kind = LedgerKind::Reservation.as_str();
    for chunk in entries.chunks(500) {
        // Integers and a fixed kind name only: inlined.
        let values: Vec<String> = chunk
            .iter()
            .map(|(amount, after)| format!("({}, '{kind}', {amount}, {after}, {now})", company.0))
            .collect();
        let values = values.join(",");
        sqlx::query(sql!(
            "INSERT INTO credit_ledger (company_id, kind, amount, balance_after, created_at) \
             VALUES {values}"
        ))
        .persistent(false)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The message as its row was just written.
fn accepted_message(id: MessageId, company: CompanyId, new: &NewMessage, now: i64) -> Message {
    let (state, due) = match new.scheduled_at {
        Some(at) if at > now => (MessageState::Scheduled, at),
        _ => (MessageState::Queued, now),
    };
    Message {
        id,
        company_id: company,
        campaign_id: None,
        provider_account_id: new.provider,
        route_id: new.route,
        recipient_kind: new.recipient.kind().to_owned(),
        recipient: new.recipient.address(),
        sender: new.sender.as_str().to_owned(),
        body: new.body.clone(),
        encoding: new.encoding.clone(),
        segments: new.segments,
        cost: new.cost,
        state,
        state_reason: None,
        state_at: now,
        attempts: 0,
        next_attempt_at: due,
        valid_until: new.valid_until,
        error_code: None,
        created_at: now,
        submitted_at: None,
        final_at: None,
        class: new.class,
    }
}
