//! The campaign queueing this process carries out, each in a task of its own: the pricing and
//! writing a start or a resume leaves behind, and what the supervisor takes over from writers
//! that stopped. One registry for both, so this process never runs two tasks for a campaign.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// This process's campaign queueing tasks. Cheap to clone (one registry).
#[derive(Clone, Default)]
pub struct Writers {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    stop: CancellationToken,
    tasks: Mutex<HashMap<i64, JoinHandle<()>>>,
}

impl std::fmt::Debug for Writers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writers")
            .field("stopped", &self.inner.stop.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl Writers {
    fn tasks(&self) -> std::sync::MutexGuard<'_, HashMap<i64, JoinHandle<()>>> {
        // A panic elsewhere cannot leave the map half-changed: every change is one call.
        self.inner
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `work` for campaign `id` in a task of its own, unless a task of this process still
    /// has that campaign (`false` then). The task ends early when the writers stop: a chunk
    /// being written is rolled back and the queueing is taken up again from its cursor.
    pub(crate) fn spawn<F>(&self, id: i64, work: F) -> bool
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mut tasks = self.tasks();
        tasks.retain(|_, t| !t.is_finished());
        if tasks.contains_key(&id) {
            return false;
        }
        let stop = self.inner.stop.clone();
        let task = tokio::spawn(async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = work => {}
            }
        });
        tasks.insert(id, task);
        true
    }

    /// Whether a task of this process is queueing campaign `id` now.
    pub fn busy(&self, id: i64) -> bool {
        self.tasks().get(&id).is_some_and(|t| !t.is_finished())
    }

    /// Waits until every task running now has ended (tests, and a stop).
    pub async fn join(&self) {
        let tasks: Vec<JoinHandle<()>> = self.tasks().drain().map(|(_, t)| t).collect();
        for t in tasks {
            let _ = t.await;
        }
    }

    /// Stops every task, at its next step, and waits for them; tasks asked for later end at
    /// once. What they leave is taken up again from the cursor (by this node when it starts
    /// again, the queueing being signed with its id).
    pub async fn shutdown(&self) {
        self.inner.stop.cancel();
        self.join().await;
    }
}
