//! The submit loop's recorder: answered submits stored in groups, their window slots given
//! back only once stored.

use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio_util::sync::CancellationToken;
use ulak_core::model::ProviderAccountId;
use ulak_store::{Store, SubmitOutcome};

/// Longest pause between two tries of a failing outcome write.
const RECORD_RETRY_MAX: Duration = Duration::from_secs(5);

/// Most outcomes written in one transaction.
const GROUP_MAX: usize = 2000;

/// A submit that was answered: its outcome, and the slots it holds until that is stored.
pub(super) struct Done {
    pub(super) outcome: SubmitOutcome,
    pub(super) _slots: OwnedSemaphorePermit,
}

/// Writes outcomes as they arrive: waits for one, takes every other one already there, stores
/// them in one transaction, and only then drops their slots. A failing write is tried again
/// (the slots stay held meanwhile, so sending pauses rather than piling up unrecorded
/// submits) until it succeeds or `give_up` fires; then the messages stay leased to this node.
pub(super) async fn record_loop(
    store: Store,
    account: ProviderAccountId,
    metrics: crate::metrics::Metrics,
    mut rx: mpsc::UnboundedReceiver<Done>,
    give_up: CancellationToken,
) {
    let mut group: Vec<Done> = Vec::new();
    while let Some(first) = rx.recv().await {
        group.push(first);
        while group.len() < GROUP_MAX {
            match rx.try_recv() {
                Ok(d) => group.push(d),
                Err(_) => break,
            }
        }
        let outcomes: Vec<SubmitOutcome> = group.iter().map(|d| d.outcome.clone()).collect();
        let mut delay = Duration::from_millis(50);
        loop {
            match store.record_submits(outcomes.clone()).await {
                Ok(()) => break,
                Err(e) => {
                    metrics.store_error(account.0);
                    if give_up.is_cancelled() {
                        tracing::error!(account = account.0, error = %e, "submit outcomes could not be stored; the messages stay leased to this node");
                        break;
                    }
                    tracing::warn!(account = account.0, error = %e, "storing submit outcomes failed; retrying");
                    tokio::select! {
                        () = give_up.cancelled() => {}
                        () = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(RECORD_RETRY_MAX);
                }
            }
        }
        group.clear();
    }
}
