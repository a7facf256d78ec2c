//! Folds the message counts' pending changes (PostgreSQL's triggers append them; see
//! `ulak_store`'s `tallies`) into the counts, so that readers add a few rows, not a backlog.
//! SQLite's triggers keep the counts themselves: there the fold returns at once.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use ulak_store::{Store, TALLY_FOLD_LIMIT};

/// The pause between folds when the last one emptied the backlog.
pub const FOLD_EVERY: Duration = Duration::from_secs(1);
/// The pause after a failed fold (the database away): the changes wait in their table.
pub const FOLD_RETRY: Duration = Duration::from_secs(5);

/// How long to wait before the next fold, after one that moved `moved` changes (`None`: it
/// failed). A full fold means more are waiting: the next follows at once.
pub fn next_fold(moved: Option<u64>) -> Duration {
    match moved {
        Some(n) if i64::try_from(n).unwrap_or(i64::MAX) >= TALLY_FOLD_LIMIT => Duration::ZERO,
        Some(_) => FOLD_EVERY,
        None => FOLD_RETRY,
    }
}

/// Folds until `stop`.
pub async fn run(store: Store, stop: CancellationToken) {
    while !stop.is_cancelled() {
        let moved = match store.fold_message_tallies().await {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!(error = %e, "folding message counts failed");
                None
            }
        };
        let wait = next_fold(moved);
        if wait.is_zero() {
            tokio::task::yield_now().await;
            continue;
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_fold_is_followed_at_once_a_failed_one_later() {
        let full = TALLY_FOLD_LIMIT as u64;
        assert_eq!(next_fold(Some(full)), Duration::ZERO);
        assert_eq!(next_fold(Some(full - 1)), FOLD_EVERY);
        assert_eq!(next_fold(Some(0)), FOLD_EVERY);
        assert_eq!(next_fold(None), FOLD_RETRY);
    }
}
