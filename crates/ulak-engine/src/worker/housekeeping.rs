//! What an account's submit loop runs beside it: expiring messages whose validity ended and
//! skipping those to numbers that opted out.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use ulak_core::model::ProviderAccountId;
use ulak_store::Store;

/// Expires messages whose validity ended and skips those to numbers that opted out, every
/// few seconds, beside the loop (so a slow pass never holds up submits).
pub(super) async fn housekeeping(
    store: Store,
    account: ProviderAccountId,
    stop: CancellationToken,
) {
    let mut since_opt_out_pass = std::time::Instant::now();
    let mut opt_out_mark: Option<i64> = None;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
        if let Err(e) = store.expire_due(account).await {
            tracing::warn!(account = account.0, error = %e, "expiring messages failed");
        }
        // That pass reads every queued message: it runs when the opt-out list grew, and now
        // and then in any case (an entry removed and added again can keep the mark). Until
        // then the claim already leaves opted-out recipients out.
        let mark = store.opt_outs_mark().await.ok();
        if mark.is_none_or(|m| Some(m) != opt_out_mark)
            || since_opt_out_pass.elapsed() > OPT_OUT_PASS
        {
            since_opt_out_pass = std::time::Instant::now();
            match store.skip_opted_out(account).await {
                Ok(_) => opt_out_mark = mark,
                Err(e) => {
                    tracing::warn!(account = account.0, error = %e, "skipping opted-out recipients failed");
                }
            }
        }
    }
}

/// The longest wait between two passes that skip opted-out recipients still queued.
const OPT_OUT_PASS: Duration = Duration::from_secs(300);
