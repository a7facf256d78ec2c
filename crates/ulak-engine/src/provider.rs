//! Providers: where a message goes to reach an operator. One trait; the SMPP implementation
//! (also used for the built-in simulator) lives in [`crate::smpp`].

use std::future::Future;
use std::time::Duration;

use ulak_core::model::Message;

/// What one submit attempt came to: the segments the operator took, and why the others
/// did not go through, if some did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The segments taken in this attempt, in segment order.
    pub taken: Vec<Taken>,
    /// Why the segments left were not taken; `None` when every segment sent was.
    pub failure: Option<Failure>,
}

/// A segment the operator took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    /// The segment's number in the message, from 1.
    pub part: u32,
    /// The operator's message id for it (receipts refer to it).
    pub operator_id: String,
}

/// Why segments were not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
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

impl Failure {
    /// The worse of two: a permanent failure outweighs a transient one.
    pub fn worst(self, other: Option<Failure>) -> Failure {
        match (self, other) {
            (Failure::Transient(_), Some(p @ Failure::Permanent { .. })) => p,
            (f, _) => f,
        }
    }
}

impl Attempt {
    /// Every segment sent was taken.
    pub fn accepted(taken: Vec<Taken>) -> Attempt {
        Attempt {
            taken,
            failure: None,
        }
    }

    /// Nothing was taken; worth trying again.
    pub fn transient(reason: impl Into<String>) -> Attempt {
        Attempt {
            taken: Vec::new(),
            failure: Some(Failure::Transient(reason.into())),
        }
    }

    /// Nothing was taken, and never will be as it is.
    pub fn permanent(reason: impl Into<String>, code: Option<String>) -> Attempt {
        Attempt {
            taken: Vec::new(),
            failure: Some(Failure::Permanent {
                reason: reason.into(),
                code,
            }),
        }
    }
}

/// Something that can submit messages to an operator.
pub trait Provider: Send + Sync {
    /// Submits one message: every segment but the `taken` ones (numbers from 1), which an
    /// earlier attempt got through. The segments sent again carry the same concatenation
    /// reference and numbers as the first attempt, so the handset joins them with the others.
    fn submit(&self, message: &Message, taken: &[u32]) -> impl Future<Output = Attempt> + Send;

    /// Whether the account is down: its submit loop claims nothing and gives back what it
    /// holds until it is up ([`crate::failover`]).
    fn paused(&self) -> bool {
        false
    }
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
