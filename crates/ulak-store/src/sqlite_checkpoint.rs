//! WAL checkpoints of a SQLite file off the commit path. SQLite checkpoints by default in the
//! commit that takes the log past a thousand pages, on the committing connection: the pages
//! are copied into the database file and the file is synced before that commit returns. On
//! the accept path that commit answers a whole group, so every few thousand messages a group
//! waited for a sync (p99 of single sends around 50 ms against a p50 of 4 ms). Here the
//! store's connections do not checkpoint on commit (`wal_autocheckpoint = 0`) and a thread of
//! its own checkpoints the log whenever it has grown ([`EVERY`]), beside the writers: a
//! passive checkpoint never waits for them, nor they for it.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::{Result, StoreError};

/// How often the log is checkpointed.
const EVERY: Duration = Duration::from_millis(100);

/// The pragma that stops a connection checkpointing in its commits.
pub(crate) const NO_AUTOCHECKPOINT: &str = "PRAGMA wal_autocheckpoint = 0;";

/// The checkpointing thread; it ends when this is dropped.
pub(crate) struct Checkpointer {
    _alive: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Starts checkpointing `path` (a WAL database the store's migrations made).
    pub(crate) fn start(path: &Path) -> Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.execute_batch(NO_AUTOCHECKPOINT)?;
        let (alive, gone) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("ulak-sqlite-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = gone.recv_timeout(EVERY) {
                    if let Err(e) = checkpoint(&conn) {
                        tracing::warn!(error = %e, "checkpointing the SQLite log failed");
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

    #[test]
    fn the_log_is_checkpointed_by_the_thread_and_not_by_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let w = Connection::open(&path).unwrap();
        w.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v BLOB);")
            .unwrap();
        w.execute_batch(NO_AUTOCHECKPOINT).unwrap();
        // Well past the default thousand pages: commits alone leave it all in the log.
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
}
