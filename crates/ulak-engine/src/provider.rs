//! Providers: where a message goes to reach an operator. One trait; the SMPP implementation
//! (also used for the built-in simulator) lives in [`crate::smpp`].

use std::future::Future;
use std::time::Duration;

use ulak_core::model::Message;

/// What one submit attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The operator took every segment; its message ids in segment order.
    Accepted(Vec<String>),
    /// Worth trying again later (throttling, a link down, no answer in time).
    Transient(String),
    /// Will never work as it is (refused destination, text that cannot be encoded).
    Permanent {
        /// Why.
        reason: String,
        /// The operator's error code, if any.
        code: Option<String>,
    },
}

/// Something that can submit messages to an operator.
pub trait Provider: Send + Sync {
    /// Submits one message (all its segments).
    fn submit(&self, message: &Message) -> impl Future<Output = Attempt> + Send;
}

/// When to try again after `attempts` failed attempts: exponential from `base`, capped at
/// `max`, with ±20% jitter so a burst of failures does not come back as a burst.
pub fn backoff(attempts: u32, base: Duration, max: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
    let d = exp.min(max);
    let jitter = rand::random_range(0.8..1.2);
    d.mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_secs(2);
        let max = Duration::from_secs(600);
        let b1 = backoff(1, base, max);
        assert!(b1 >= Duration::from_millis(1600) && b1 <= Duration::from_millis(2400));
        let b4 = backoff(4, base, max);
        assert!(b4 >= Duration::from_millis(12_800) && b4 <= Duration::from_millis(19_200));
        let b30 = backoff(30, base, max);
        assert!(b30 <= Duration::from_secs(720) && b30 >= Duration::from_secs(480));
    }
}
