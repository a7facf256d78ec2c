//! Wake-ups for the sending workers: a message queued for an account wakes that account's
//! worker at once instead of at its next poll. In this process through a [`Notify`] per
//! account; on PostgreSQL also through `NOTIFY ulak_queue` sent with the enqueue's commit, so
//! the workers of other nodes wake too ([`Store::listen_for_queued`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use ulak_core::model::ProviderAccountId;

use crate::{Backend, Store};

/// The PostgreSQL channel a commit that queued messages notifies, with the account id.
pub(crate) const CHANNEL: &str = "ulak_queue";

/// One [`Notify`] per account that has a worker waiting on it.
#[derive(Debug, Default)]
pub(crate) struct QueueSignal {
    waiters: Mutex<HashMap<i64, Arc<Notify>>>,
}

impl QueueSignal {
    fn waiter(&self, account: ProviderAccountId) -> Arc<Notify> {
        let mut w = self.waiters.lock().unwrap_or_else(PoisonError::into_inner);
        w.entry(account.0).or_default().clone()
    }

    fn wake(&self, account: i64) {
        let w = self.waiters.lock().unwrap_or_else(PoisonError::into_inner);
        // `notify_one` keeps a permit when the worker is busy: the wake is never lost.
        if let Some(n) = w.get(&account) {
            n.notify_one();
        }
    }
}

impl Store {
    /// What wakes the worker of `account` when messages are queued for it (one worker per
    /// account and process waits on it).
    pub fn queue_waiter(&self, account: ProviderAccountId) -> Arc<Notify> {
        self.signal.waiter(account)
    }

    /// Wakes this process's worker of `account`: called after a commit that queued messages
    /// for it.
    pub(crate) fn queued_for(&self, account: Option<i64>) {
        if let Some(a) = account {
            self.signal.wake(a);
        }
    }

    /// On PostgreSQL, wakes this process's workers when another node queues messages for
    /// their accounts, until `stop`; reconnects when the connection drops. Nothing to do on
    /// SQLite (one process owns the file).
    pub fn listen_for_queued(
        &self,
        stop: CancellationToken,
    ) -> Option<tokio::task::JoinHandle<()>> {
        if self.backend != Backend::Postgres {
            return None;
        }
        let url = self.url.clone();
        let signal = self.signal.clone();
        Some(tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    r = listen(&url, &signal) => {
                        if let Err(e) = r {
                            tracing::warn!(error = %e, "listening for queued messages failed; retrying");
                        }
                    }
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                }
            }
        }))
    }
}

/// Tells the other nodes, with the commit of `tx`, that messages were queued for `accounts`
/// (PostgreSQL delivers a notification when, and only if, its transaction commits).
pub(crate) async fn announce_all(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
    accounts: &[i64],
) -> crate::Result<()> {
    if backend != Backend::Postgres {
        return Ok(());
    }
    for a in accounts {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(a.to_string())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Listens on [`CHANNEL`] until the connection fails.
async fn listen(url: &str, signal: &QueueSignal) -> Result<(), sqlx::Error> {
    let mut l = sqlx::postgres::PgListener::connect(url).await?;
    l.listen(CHANNEL).await?;
    loop {
        let n = l.recv().await?;
        if let Ok(account) = n.payload().parse::<i64>() {
            signal.wake(account);
        }
    }
}
