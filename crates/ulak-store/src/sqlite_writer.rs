//! The thread that writes accept groups and the engine's claims, submit records and receipt
//! batches to a SQLite file (decision 0010). sqlx runs every statement, and hands over every
//! row, through a channel to its worker thread and back; on the accept path those hops were
//! about half the server's CPU, spent in futex wake-ups (decision 0009). Here each of those
//! transactions runs as one closure on a thread that owns a plain connection with cached
//! prepared statements: one hop each.
//!
//! The connection writes the same file as the store's sqlx writer, which takes its turns in
//! the thread's queue ([`Turns`]), so those writes queue in one line instead of racing for
//! SQLite's lock. The line has two lanes ([`crate::sqlite_line`]): accept groups go ahead of
//! the rest (the sending side's work and the sqlx writer's turns not yet begun).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use tokio::sync::oneshot;

use crate::sqlite_checkpoint::{COMMIT_CHECKPOINT, Checkpointer};
use crate::sqlite_line::{self, Lane};
use crate::{Result, StoreError};

/// Work for the thread.
type Task = Box<dyn FnOnce(&mut Connection) + Send>;

/// Prepared statements the connection keeps: the accept path uses about a dozen, a claim
/// three, submit records and receipts about twenty (ledger, events, webhooks, and their
/// statements over lists, `exec::over_list`).
const STATEMENT_CACHE: usize = 64;

/// The way to the writer thread; the thread ends when the last handle is dropped.
pub(crate) struct SqliteWriter {
    /// The thread's queue; `None` once the store closed (no new work is taken).
    tasks: Mutex<Option<sqlite_line::Sender<Task>>>,
    /// The sqlx writer's turns on the thread.
    turns: Arc<Turns>,
    /// Checkpoints the log beside the commits (decision 0010).
    _checkpoints: Checkpointer,
}

impl std::fmt::Debug for SqliteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteWriter").finish_non_exhaustive()
    }
}

/// The writer's page cache: 64 MiB instead of SQLite's 2 MiB. A group of a thousand accepts
/// touches more pages than 2 MiB hold, so SQLite spilled them into the log in the middle of
/// the transaction and, at its commit, wrote them again and read the spilled frames back to
/// checksum them again (a batch's profile: 5.9% of it in the kernel copying those reads).
const WRITER_CACHE: &str = "PRAGMA cache_size = -65536;";

impl SqliteWriter {
    /// Opens `path` (which the store's migrations already made) with the pragmas of the
    /// store's other connections and starts the thread.
    pub(crate) fn open(path: &Path, turns: Arc<Turns>) -> Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        // As the sqlx connections (lib.rs): WAL, durable at every checkpoint, wait for
        // the lock instead of failing, foreign keys checked. And statement journals in
        // memory: each one-row insert (its triggers, its foreign keys) keeps one to undo
        // itself, and as temporary files they were most of this thread's time.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
             PRAGMA temp_store = MEMORY;",
        )?;
        conn.execute_batch(COMMIT_CHECKPOINT)?;
        conn.execute_batch(WRITER_CACHE)?;
        // One plan per statement whatever its values: otherwise SQLite makes the plan of a
        // statement with a bound `LIMIT` depend on it and prepares the statement again on
        // every new binding (the claim: 3.5% of this thread's time).
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        if !counts_no_allocations(&conn) {
            tracing::warn!(
                "SQLite was built with allocation counts (a mutex for every allocation): \
                 build from the repository's root, whose .cargo/config.toml turns them off"
            );
        }
        let checkpoints = Checkpointer::start(path)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let (tasks, mut queue) = sqlite_line::line::<Task>();
        std::thread::Builder::new()
            .name("ulak-sqlite-writer".into())
            .spawn(move || {
                let mut conn = conn;
                while let Some(task) = queue.take() {
                    // `run_in` answers its caller's panics itself; this keeps the thread
                    // going whatever a task does.
                    let run = std::panic::AssertUnwindSafe(|| task(&mut conn));
                    if std::panic::catch_unwind(run).is_err() {
                        tracing::error!("a task of the SQLite writer thread panicked");
                    }
                }
            })
            .map_err(|e| StoreError::Config(format!("cannot start the SQLite writer: {e}")))?;
        if let Ok(mut t) = turns.tasks.lock() {
            *t = Some(tasks.clone());
        }
        Ok(Self {
            tasks: Mutex::new(Some(tasks)),
            turns,
            _checkpoints: checkpoints,
        })
    }

    /// Takes no more work, as a closed pool does, and waits for the work already taken.
    /// The sqlx writer's pool is closed first: a turn whose connection it closed without
    /// its being handed back ends here.
    pub(crate) async fn close(&self) {
        // Taken under the lock that `run` sends under: nothing is sent after this.
        let tasks = self.tasks.lock().ok().and_then(|mut t| t.take());
        if let Ok(mut t) = self.turns.tasks.lock() {
            *t = None;
        }
        self.turns.end(None);
        let Some(tasks) = tasks else { return };
        let (done, finished) = oneshot::channel::<()>();
        let last: Task = Box::new(move |_| {
            let _ = done.send(());
        });
        if tasks.send(last, Lane::Rest).is_ok() {
            drop(tasks);
            let _ = finished.await;
        }
    }

    /// Runs `f` on the writer thread and returns what it returned; `Closed` once the store
    /// closed.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> T + Send + 'static,
    {
        self.run_in(Lane::Rest, f).await
    }

    /// As [`SqliteWriter::run`], ahead of what [`SqliteWriter::run`] queued before it (the
    /// sending side's work, and sqlx writer turns not yet begun, which have written nothing),
    /// [`crate::sqlite_line`]: for accept groups, whose callers wait for their answer.
    pub(crate) async fn run_first<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> T + Send + 'static,
    {
        self.run_in(Lane::First, f).await
    }

    async fn run_in<T, F>(&self, lane: Lane, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> T + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let task: Task = Box::new(move |conn| {
            // A panic is told apart from a shutdown: its caller sees `Panicked`, not
            // `Closed`. An open transaction rolled back when the unwinding dropped it.
            let run = std::panic::AssertUnwindSafe(|| f(conn));
            let got = std::panic::catch_unwind(run).map_err(|_| {
                tracing::error!("a task of the SQLite writer thread panicked");
                StoreError::Panicked
            });
            let _ = answer.send(got);
        });
        {
            let tasks = self.tasks.lock().map_err(|_| StoreError::Closed)?;
            let tasks = tasks.as_ref().ok_or(StoreError::Closed)?;
            tasks.send(task, lane).map_err(|_| StoreError::Closed)?;
        }
        answered.await.map_err(|_| StoreError::Closed)?
    }
}

impl SqliteWriter {
    /// Runs `work` in one immediate transaction on the writer thread and commits it. The
    /// thread's queue is the file's one line of writes (the sqlx writer takes its turns in
    /// it, [`Turns`]). Work whose caller is gone before its commit rolls back (`Closed`), as
    /// a dropped sqlx transaction does, and does nothing if it has not begun.
    pub(crate) async fn transaction<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let gone = Arc::new(AtomicBool::new(false));
        let _gone_on_drop = Gone(gone.clone());
        self.run(move |conn| {
            if gone.load(Ordering::Acquire) {
                return Err(StoreError::Closed);
            }
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = work(&tx)?;
            if gone.load(Ordering::Acquire) {
                // Dropping `tx` rolls the work back, as on any error above.
                return Err(StoreError::Closed);
            }
            tx.commit()?;
            Ok(out)
        })
        .await?
    }
}

impl Drop for SqliteWriter {
    fn drop(&mut self) {
        // The turns' copy of the queue would keep the thread alive.
        if let Ok(mut t) = self.turns.tasks.lock() {
            *t = None;
        }
        self.turns.end(None);
    }
}

/// How long the thread waits out one turn of the sqlx writer at most. Only a turn whose end
/// was never reported should last that long. Past it the thread goes on, and its writes wait
/// for SQLite's lock instead (busy_timeout, 10 s); a sqlx writer that still holds the lock
/// after that makes them fail (`database is locked`), as two writers racing would have.
const TURN_LIMIT: Duration = Duration::from_secs(30);

/// The sqlx writer's turns in the writer thread's line (decision 0010 point 15). The
/// store's other writes (settings, campaigns, leases: rare while sending) still go through
/// sqlx's one writer connection; each time that connection is taken from its pool
/// (`before_acquire`, or `after_connect` for a new connection) it waits for a turn on the
/// thread, and the thread waits, idle, until the connection is handed back
/// (`after_release`). So the writes of the thread and of the sqlx writer go in one line, and
/// the thread runs its closures back to back with no hand-off through the async runtime
/// between them. (A few rare writes use the store's reading pool, as before; they wait for
/// SQLite's lock.)
#[derive(Debug, Default)]
pub(crate) struct Turns {
    /// The thread's queue, once it runs.
    tasks: Mutex<Option<sqlite_line::Sender<Task>>>,
    /// The turn in progress: its number and what ends it (sent to or dropped).
    current: Mutex<Option<(u64, mpsc::Sender<()>)>>,
    /// Numbers turns.
    next: AtomicU64,
}

impl Turns {
    /// Waits until the thread gives the sqlx writer a turn, which lasts until [`Turns::end`].
    /// Without a thread (yet) there are no turns. Given up before its turn came (the
    /// acquire cancelled), the turn ends as soon as it begins.
    pub(crate) async fn take(&self) {
        let Some(tasks) = self.tasks.lock().ok().and_then(|t| t.clone()) else {
            return;
        };
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let (end, ended) = mpsc::channel::<()>();
        let (go, going) = oneshot::channel::<()>();
        // An earlier turn whose end was not reported ends here: its connection is back.
        self.end(None);
        if let Ok(mut c) = self.current.lock() {
            *c = Some((n, end));
        }
        let give_up = EndOnDrop(self, n);
        let turn: Task = Box::new(move |_| {
            if go.send(()).is_err() {
                return;
            }
            if let Err(mpsc::RecvTimeoutError::Timeout) = ended.recv_timeout(TURN_LIMIT) {
                tracing::warn!("a turn of the sqlx writer outlasted its limit; going on");
            }
        });
        if tasks.send(turn, Lane::Rest).is_ok() && going.await.is_ok() {
            std::mem::forget(give_up);
        }
    }

    /// Ends turn `n` (any turn when `None`) if it is the one in progress.
    pub(crate) fn end(&self, n: Option<u64>) {
        let Ok(mut c) = self.current.lock() else {
            return;
        };
        if c.as_ref().is_some_and(|(m, _)| n.is_none_or(|n| n == *m)) {
            // Dropping the sender ends the thread's wait.
            *c = None;
        }
    }
}

/// Ends turn `.1` when dropped: a wait for it given up.
struct EndOnDrop<'t>(&'t Turns, u64);

impl Drop for EndOnDrop<'_> {
    fn drop(&mut self) {
        self.0.end(Some(self.1));
    }
}

/// Sets its flag when dropped: the caller of [`SqliteWriter::transaction`] is gone.
struct Gone(Arc<AtomicBool>);

impl Drop for Gone {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// The value of rules written once as async code for both connections ([`crate::exec`]),
/// run on the writer thread, where none of their steps waits.
pub(crate) fn on_thread<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    ready(f)
        .ok_or_else(|| StoreError::Config("a step waited on the SQLite writer thread".into()))?
}

/// Whether the SQLite in this binary was built without allocation counts
/// (`.cargo/config.toml`).
fn counts_no_allocations(conn: &Connection) -> bool {
    let Ok(mut st) = conn.prepare("PRAGMA compile_options") else {
        return false;
    };
    let Ok(options) = st.query_map([], |r| r.get::<_, String>(0)) else {
        return false;
    };
    options.flatten().any(|o| o == "DEFAULT_MEMSTATUS=0")
}

/// The value of a future that never waits (its awaits are all synchronous work on the
/// writer thread), polled once; `None` if it did wait. Lets the accept rules, written once
/// as async code for sqlx, run unchanged on the writer thread.
pub(crate) fn ready<F: std::future::Future>(f: F) -> Option<F::Output> {
    let f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn ready_takes_a_future_that_never_waits_and_refuses_one_that_does() {
        assert_eq!(ready(async { 7 }), Some(7));
        assert_eq!(ready(std::future::pending::<i32>()), None);
    }

    #[tokio::test]
    async fn a_panicking_task_does_not_stop_the_thread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        drop(Connection::open(&path).unwrap());
        let w = SqliteWriter::open(&path, Arc::default()).unwrap();
        let r: Result<()> = w.run(|_| panic!("on purpose")).await;
        assert!(matches!(r, Err(StoreError::Panicked)), "{r:?}");
        let mode: String = w
            .run(|c| {
                c.query_row("PRAGMA journal_mode", [], |r| r.get(0))
                    .unwrap()
            })
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }

    /// A transaction whose work panics after writing keeps nothing, and its caller is told
    /// it failed, not that the store is shutting down.
    #[tokio::test]
    async fn a_panicking_transaction_keeps_nothing_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (v INTEGER)")
            .unwrap();
        let w = SqliteWriter::open(&path, Arc::default()).unwrap();
        let r: Result<()> = w
            .transaction(|tx| {
                tx.execute("INSERT INTO t (v) VALUES (1)", [])?;
                panic!("on purpose, after a write")
            })
            .await;
        assert!(matches!(r, Err(StoreError::Panicked)), "{r:?}");
        let kept: i64 = w
            .transaction(|tx| {
                tx.execute("INSERT INTO t (v) VALUES (2)", [])?;
                Ok(tx.query_row("SELECT COALESCE(SUM(v), 0) FROM t", [], |r| r.get(0))?)
            })
            .await
            .unwrap();
        assert_eq!(
            kept, 2,
            "the panicked write was rolled back, the next one kept"
        );
    }

    /// An accept group queued behind the sending side's work runs before it: its caller is
    /// waiting for an HTTP answer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_accept_group_goes_before_the_sending_sides_queued_work() {
        use std::future::Future;
        use std::task::Poll;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        drop(Connection::open(&path).unwrap());
        let w = Arc::new(SqliteWriter::open(&path, Arc::default()).unwrap());
        let (started, running) = mpsc::channel::<()>();
        let (open, gate) = mpsc::channel::<()>();
        let busy = spawn_run(&w, move |_| {
            let _ = started.send(());
            gate.recv().is_ok()
        });
        tokio::task::spawn_blocking(move || running.recv().unwrap())
            .await
            .unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let log = |what: &'static str| {
            let order = Arc::clone(&order);
            move |_: &mut Connection| order.lock().unwrap().push(what)
        };
        // Each is queued by its first poll, in this order, while the thread is busy.
        let mut claim = Box::pin(w.run(log("claim")));
        let mut record = Box::pin(w.run(log("record")));
        let mut accept = Box::pin(w.run_first(log("accept")));
        std::future::poll_fn(|cx| {
            assert!(claim.as_mut().poll(cx).is_pending());
            assert!(record.as_mut().poll(cx).is_pending());
            assert!(accept.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        open.send(()).unwrap();
        assert!(busy.await.unwrap().unwrap());
        let (a, b, c) = tokio::join!(claim, record, accept);
        for done in [a, b, c] {
            done.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["accept", "claim", "record"]);
    }

    /// The SQLite built into the binary counts no allocations (`.cargo/config.toml`): the
    /// count took one process-wide mutex for every malloc and free of every connection.
    #[test]
    fn sqlite_is_built_without_allocation_counts() {
        let conn = Connection::open_in_memory().unwrap();
        assert!(counts_no_allocations(&conn));
    }

    /// A store on a new file, its writer thread, and a scratch table.
    async fn store_with_table() -> (tempfile::TempDir, crate::Store, Arc<SqliteWriter>) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let store = crate::Store::connect(&url, [1; 32]).await.unwrap();
        let mut tx = store.begin_write().await.unwrap();
        sqlx::query("CREATE TABLE scratch (n INTEGER)")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let w = store.sqlite_writer.clone().unwrap();
        (dir, store, w)
    }

    /// `f` run on the thread, in a task of its own.
    fn spawn_run<T: Send + 'static>(
        w: &Arc<SqliteWriter>,
        f: impl FnOnce(&mut Connection) -> T + Send + 'static,
    ) -> tokio::task::JoinHandle<Result<T>> {
        let w = w.clone();
        tokio::spawn(async move { w.run(f).await })
    }

    /// `work` as a transaction on the thread, in a task of its own.
    fn spawn_transaction<T: Send + 'static>(
        w: &Arc<SqliteWriter>,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T> + Send + 'static,
    ) -> tokio::task::JoinHandle<Result<T>> {
        let w = w.clone();
        tokio::spawn(async move { w.transaction(work).await })
    }

    /// Whether `f` is done within `ms`.
    async fn done_within<T>(ms: u64, f: impl std::future::Future<Output = T>) -> Option<T> {
        tokio::time::timeout(Duration::from_millis(ms), f)
            .await
            .ok()
    }

    /// While the sqlx writer has the line, the thread waits out its turn, idle: even work
    /// that needs no lock waits (without turns it would run at once, and a write would
    /// wait in SQLite's busy handler). The thread's next writes come after the sqlx
    /// write's commit and see it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sqlx_writer_and_the_thread_take_turns() {
        let (_dir, store, w) = store_with_table().await;
        let mut tx = store.begin_write().await.unwrap();
        let nothing = spawn_run(&w, |_| 7);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!nothing.is_finished(), "the thread waits out the turn");
        let write = spawn_transaction(&w, |tx| {
            let seen: i64 = tx.query_row("SELECT count(*) FROM scratch", [], |r| r.get(0))?;
            tx.execute("INSERT INTO scratch (n) VALUES (2)", [])?;
            Ok(seen)
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!write.is_finished());
        sqlx::query("INSERT INTO scratch (n) VALUES (1)")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let nothing = done_within(5_000, nothing).await.expect("the turn ended");
        assert_eq!(nothing.unwrap().unwrap(), 7);
        let seen = done_within(5_000, write).await.expect("then the write");
        assert_eq!(seen.unwrap().unwrap(), 1, "after the sqlx write's commit");
        store.close().await;
    }

    /// A sqlx write that rolls back (its transaction dropped) ends its turn too, and the
    /// thread's next write finds the lock free.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rolled_back_sqlx_write_ends_its_turn() {
        let (_dir, store, w) = store_with_table().await;
        let mut tx = store.begin_write().await.unwrap();
        sqlx::query("INSERT INTO scratch (n) VALUES (1)")
            .execute(&mut *tx)
            .await
            .unwrap();
        drop(tx);
        let n = done_within(
            5_000,
            w.transaction(|tx| {
                tx.execute("INSERT INTO scratch (n) VALUES (2)", [])?;
                Ok(tx.query_row("SELECT sum(n) FROM scratch", [], |r| r.get::<_, i64>(0))?)
            }),
        )
        .await
        .expect("the thread goes on");
        assert_eq!(n.unwrap(), 2, "the dropped write left nothing");
        store.close().await;
    }

    /// A sqlx writer that stops waiting for its turn (a cancelled request) holds nothing:
    /// the thread goes on at once, and the next sqlx write gets its turn.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_turn_given_up_holds_nothing() {
        let (_dir, store, w) = store_with_table().await;
        let busy = spawn_run(&w, |_| std::thread::sleep(Duration::from_millis(300)));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            done_within(100, store.begin_write()).await.is_none(),
            "the turn comes after the thread's work"
        );
        busy.await.unwrap().unwrap();
        assert_eq!(done_within(2_000, w.run(|_| 7)).await.unwrap().unwrap(), 7);
        // The next sqlx write (on a new connection if the given-up wait closed the last
        // one) has a turn of its own: the thread waits it out.
        let tx = done_within(2_000, store.begin_write())
            .await
            .expect("the next sqlx write gets its turn")
            .unwrap();
        let after = spawn_run(&w, |_| 8);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!after.is_finished(), "the thread waits out the new turn");
        tx.commit().await.unwrap();
        assert_eq!(
            done_within(2_000, after).await.unwrap().unwrap().unwrap(),
            8
        );
        store.close().await;
    }

    /// Closing the store ends a turn whose connection it closed, and the thread takes no
    /// more writes, as a closed pool takes none.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closing_the_store_ends_the_turn() {
        let (_dir, store, w) = store_with_table().await;
        let tx = store.begin_write().await.unwrap();
        let closing = tokio::spawn({
            let store = store.clone();
            async move { store.close().await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(tx);
        done_within(5_000, closing).await.expect("closed").unwrap();
        // Nothing was left waiting on the thread, and it takes nothing more.
        let after = done_within(2_000, w.transaction(|_| Ok(7)))
            .await
            .expect("answered at once");
        assert!(matches!(after, Err(StoreError::Closed)), "{after:?}");
    }

    /// Closing waits for the work the thread already took, and takes none after.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closing_waits_for_the_work_taken() {
        let (dir, store, w) = store_with_table().await;
        let slow = spawn_transaction(&w, |tx| {
            std::thread::sleep(Duration::from_millis(300));
            tx.execute("INSERT INTO scratch (n) VALUES (5)", [])?;
            Ok(())
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        done_within(5_000, store.close()).await.expect("closed");
        // Read from outside the store: committed before the close returned.
        let outside = Connection::open(dir.path().join("t.db")).unwrap();
        let n: i64 = outside
            .query_row("SELECT count(*) FROM scratch WHERE n = 5", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1, "close waited for it");
        slow.await.unwrap().unwrap();
        let after = w.run(|_| 7).await;
        assert!(matches!(after, Err(StoreError::Closed)), "{after:?}");
    }
}
