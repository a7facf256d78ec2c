//! The thread that writes accept groups and the engine's claims to a SQLite file (decision
//! 0010). sqlx runs every statement, and hands over every row, through a channel to its
//! worker thread and back; on the accept path those hops were about half the server's CPU,
//! spent in futex wake-ups (decision 0009). Here a whole group commit (or claim) runs as one
//! closure on a thread that owns a plain connection with cached prepared statements: one hop
//! each.
//!
//! The connection writes the same file as the store's sqlx writer. A caller holds that
//! writer's one connection while its closure runs ([`crate::Store::commit_group`], and the
//! claim in `repo/claim_on_sqlite.rs`), so writes still queue in one line instead of racing
//! for SQLite's lock.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use sqlx::AnyPool;
use tokio::sync::oneshot;

use crate::sqlite_checkpoint::{COMMIT_CHECKPOINT, Checkpointer};
use crate::{Result, StoreError};

/// Work for the thread.
type Task = Box<dyn FnOnce(&mut Connection) + Send>;

/// Prepared statements the connection keeps: the accept path uses about a dozen, a claim
/// three.
const STATEMENT_CACHE: usize = 32;

/// The way to the writer thread; the thread ends when the last handle is dropped.
pub(crate) struct SqliteWriter {
    tasks: mpsc::Sender<Task>,
    /// Checkpoints the log beside the commits (decision 0010).
    _checkpoints: Checkpointer,
}

impl std::fmt::Debug for SqliteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteWriter").finish_non_exhaustive()
    }
}

impl SqliteWriter {
    /// Opens `path` (which the store's migrations already made) with the pragmas of the
    /// store's other connections and starts the thread.
    pub(crate) fn open(path: &Path) -> Result<Self> {
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
        if !counts_no_allocations(&conn) {
            tracing::warn!(
                "SQLite was built with allocation counts (a mutex for every allocation): \
                 build from the repository's root, whose .cargo/config.toml turns them off"
            );
        }
        let checkpoints = Checkpointer::start(path)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let (tasks, queue) = mpsc::channel::<Task>();
        std::thread::Builder::new()
            .name("ulak-sqlite-writer".into())
            .spawn(move || {
                let mut conn = conn;
                while let Ok(task) = queue.recv() {
                    // A panicking task drops its answer (its caller sees `Closed`); the
                    // thread goes on for the others. An open transaction rolls back when
                    // the panic drops it.
                    let run = std::panic::AssertUnwindSafe(|| task(&mut conn));
                    if std::panic::catch_unwind(run).is_err() {
                        tracing::error!("a task of the SQLite writer thread panicked");
                    }
                }
            })
            .map_err(|e| StoreError::Config(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Self {
            tasks,
            _checkpoints: checkpoints,
        })
    }

    /// Runs `f` on the writer thread and returns what it returned.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> T + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let task: Task = Box::new(move |conn| {
            let _ = answer.send(f(conn));
        });
        self.tasks.send(task).map_err(|_| StoreError::Closed)?;
        answered.await.map_err(|_| StoreError::Closed)
    }
}

impl SqliteWriter {
    /// Runs `work` in one immediate transaction on the writer thread and commits it,
    /// holding `line` (the store's sqlx writer, a pool of one connection) meanwhile, so
    /// writes still queue in one line. A task of its own holds the line: a caller that
    /// stops waiting (a worker stopping) does not let it go while `work` still writes; and
    /// work whose caller is gone before its commit rolls back (`Closed`), as a dropped sqlx
    /// transaction does, and does nothing if it has not begun.
    pub(crate) async fn transaction<T, F>(self: &Arc<Self>, line: &AnyPool, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let gone = Arc::new(AtomicBool::new(false));
        let _gone_on_drop = Gone(gone.clone());
        let line = line.clone();
        let writer = self.clone();
        let task = tokio::spawn(async move {
            let held = line.acquire().await?;
            if gone.load(Ordering::Acquire) {
                return Err(StoreError::Closed);
            }
            let done = writer
                .run(move |conn| {
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
                .await;
            drop(held);
            done?
        });
        match task.await {
            Ok(done) => done,
            // A panic is the caller's, as it would be without the task; a task cut off by
            // the runtime's end is a store closing.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(StoreError::Closed),
        }
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
        let w = SqliteWriter::open(&path).unwrap();
        let r: Result<()> = w.run(|_| panic!("on purpose")).await;
        assert!(matches!(r, Err(StoreError::Closed)));
        let mode: String = w
            .run(|c| {
                c.query_row("PRAGMA journal_mode", [], |r| r.get(0))
                    .unwrap()
            })
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }

    /// The SQLite built into the binary counts no allocations (`.cargo/config.toml`): the
    /// count took one process-wide mutex for every malloc and free of every connection.
    #[test]
    fn sqlite_is_built_without_allocation_counts() {
        let conn = Connection::open_in_memory().unwrap();
        assert!(counts_no_allocations(&conn));
    }
}
