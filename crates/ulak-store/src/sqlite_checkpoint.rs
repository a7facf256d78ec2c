//! WAL checkpoints of a SQLite file off the commit path. SQLite checkpoints by default in the
//! commit that takes the log past a thousand pages, on the committing connection: the pages
//! are copied into the database file and the file is synced before that commit returns. On
//! the accept path that commit answers a whole group, so every few thousand messages a group
//! waited for the copy and a sync. Here a thread of its own runs a passive checkpoint every
//! [`EVERY`], beside the writers: it never waits for them, nor they for it.
//!
//! A passive checkpoint copies pages but cannot start the log over while a writer keeps
//! appending (the log restarts only once everything in it was copied): with this thread alone,
//! a steady stream of batches grew the log past a gigabyte in fifteen seconds. So commits
//! still checkpoint, but only past 16,384 pages ([`COMMIT_CHECKPOINT`]: 64 MiB, not
//! SQLite's 1,000): that commit copies what this thread has not yet (about a tick's worth),
//! syncs, and the next write starts the log from the beginning. One commit in 64 MiB of log
//! pays a short stall, where one in 4 MiB paid the whole copy.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use crate::{Result, StoreError};

/// How often the log is checkpointed. At 100 ms a tick's worth of log was up to some
/// thousands of pages under full load, and the commit that passed the limit copied them:
/// an accept group's commit took 13–39 ms, most of single sends' p99 (decision 0010,
/// point 18). At 25 ms that copy is a quarter as long, for about 2% more CPU in a campaign.
const EVERY: Duration = Duration::from_millis(25);

/// The pragmas that make a connection's commits checkpoint only past 16,384 pages of log
/// (64 MiB of 4 KiB pages), and cut a log that grew larger (a reader kept it from starting
/// over) back to that size once it does.
pub(crate) const COMMIT_CHECKPOINT: &str =
    "PRAGMA wal_autocheckpoint = 16384; PRAGMA journal_size_limit = 67108864;";

/// How often a failing checkpoint is told in the log at most.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The checkpointing thread; it ends when this is dropped.
pub(crate) struct Checkpointer {
    _alive: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Starts checkpointing `path` (a WAL database the store's migrations made).
    pub(crate) fn start(path: &Path) -> Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        let (alive, gone) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("ulak-sqlite-checkpoint".into())
            .spawn(move || {
                let mut warned: Option<Instant> = None;
                while let Err(mpsc::RecvTimeoutError::Timeout) = gone.recv_timeout(EVERY) {
                    match checkpoint(&conn) {
                        Ok(()) => warned = None,
                        // A full disk fails every tick: told once a minute, not ten times a
                        // second.
                        Err(e) if warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) => {
                            tracing::warn!(error = %e, "checkpointing the SQLite log failed");
                            warned = Some(Instant::now());
                        }
                        Err(_) => {}
                    }
                }
                // The last connection to close checkpoints what is left.
            })
            .map_err(|e| {
                StoreError::Config(format!("cannot start the SQLite checkpointer: {e}"))
            })?;
        Ok(Self { _alive: alive })
    }
}

/// One passive checkpoint: copies what no reader still needs, waits for nobody.
fn checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn wal_db(dir: &Path) -> (std::path::PathBuf, Connection) {
        let path = dir.join("c.db");
        let w = Connection::open(&path).unwrap();
        w.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v BLOB);")
            .unwrap();
        (path, w)
    }

    #[test]
    fn the_log_is_checkpointed_by_the_thread_below_the_commit_limit() {
        let dir = tempfile::tempdir().unwrap();
        let (path, w) = wal_db(dir.path());
        w.execute_batch(COMMIT_CHECKPOINT).unwrap();
        // Well past SQLite's thousand pages, below ours: commits leave it all in the log.
        for _ in 0..300 {
            w.execute("INSERT INTO t VALUES (zeroblob(16000))", [])
                .unwrap();
        }
        let size = || std::fs::metadata(&path).unwrap().len();
        let before = size();
        let c = Checkpointer::start(&path).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while size() < 300 * 16_000 {
            assert!(std::time::Instant::now() < deadline, "never checkpointed");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            before < 300 * 16_000,
            "commits checkpointed: {before} bytes"
        );
        drop(c);
    }

    /// A writer that never pauses still gets its log started over, by the commit past the
    /// limit (here 256 pages; the store's is 16,384): passive checkpoints alone let the log
    /// grow with everything written (48 MiB here).
    #[test]
    fn the_log_of_a_writer_that_never_pauses_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let (path, w) = wal_db(dir.path());
        w.execute_batch("PRAGMA wal_autocheckpoint = 256;").unwrap();
        let c = Checkpointer::start(&path).unwrap();
        let wal = dir.path().join("c.db-wal");
        let mut largest = 0;
        for _ in 0..3_000 {
            w.execute("INSERT INTO t VALUES (zeroblob(16000))", [])
                .unwrap();
            largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        }
        drop(c);
        // Without the commit's checkpoint it reaches about 75 MB; the margin is wide, as
        // the thread may be descheduled on a loaded machine.
        assert!(largest < 24 << 20, "the log grew to {largest} bytes");
    }

    #[test]
    fn the_log_is_cut_to_the_size_that_starts_a_checkpoint() {
        let number = |name: &str| -> u64 {
            let rest = COMMIT_CHECKPOINT.split(name).nth(1).unwrap();
            rest.trim_start_matches(" = ")
                .split(';')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        let pages = number("wal_autocheckpoint");
        assert_eq!(pages, 16_384);
        assert_eq!(number("journal_size_limit"), pages * 4096);
    }
}
