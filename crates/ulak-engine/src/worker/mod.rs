//! The two loops of an account: submitting ([`submit`]: claim due messages, submit each as a
//! slot of the window frees up, record outcomes as they arrive) and receipts ([`receipts`]:
//! apply a batch of delivery reports and inbound messages in one write).

pub mod receipts;
pub mod submit;

use std::time::Duration;

use ulak_core::model::{Message, ProviderAccountId};
use ulak_store::{StoreError, SubmitOutcome, SubmitResult};

pub use receipts::{HeldReceipt, RECEIPT_HOLD, receipt_step};
pub use submit::{Flight, submit_loop};

use crate::provider::{Attempt, backoff};

/// How the submit loop behaves.
#[derive(Debug, Clone)]
pub struct SubmitSettings {
    /// Who holds the leases (unique per process).
    pub owner: String,
    /// Most messages claimed at a time.
    pub batch: usize,
    /// How long a claim lasts before another worker may take the message again.
    pub lease: Duration,
    /// Attempts before a message fails for good.
    pub max_attempts: u32,
    /// First retry delay.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// Where submits are counted.
    pub metrics: crate::metrics::Metrics,
}

/// The outcome of one attempt, as the store records it.
pub fn outcome(m: &Message, attempt: Attempt, s: &SubmitSettings, now_ms: i64) -> SubmitOutcome {
    let result = match attempt {
        Attempt::Accepted(operator_ids) => SubmitResult::Submitted { operator_ids },
        Attempt::Permanent { reason, code } => SubmitResult::Failed { reason, code },
        Attempt::Transient(reason) if m.attempts >= s.max_attempts => SubmitResult::Failed {
            reason: format!("gave up after {} attempts: {reason}", m.attempts),
            code: None,
        },
        Attempt::Transient(reason) => {
            let wait = backoff(m.attempts, s.retry_base, s.retry_max);
            SubmitResult::Retry {
                reason: format!("attempt {} failed: {reason}; retrying", m.attempts),
                at: now_ms.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2)),
            }
        }
    };
    SubmitOutcome { id: m.id, result }
}

/// Runs a store write, retrying it with a growing pause for about 50 seconds.
async fn retrying<T, F, Fut>(account: ProviderAccountId, what: &str, f: F) -> Result<T, StoreError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut delay = Duration::from_millis(100);
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if delay < Duration::from_secs(30) => {
                tracing::warn!(account = account.0, error = %e, "storing {what} failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
