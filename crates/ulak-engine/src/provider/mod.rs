//! Providers: where a message goes to reach an operator. One trait, [`Provider`], covers what
//! the engine asks of any of them (submit, failover facts, balance, stop); what they report
//! back arrives as neutral [`ProviderEvent`]s, each with an [`Ack`] owed once it is stored.
//! Nothing outside a provider's own file knows its protocol: the worker and failover see only
//! these types, and [`registry`] is the one place that maps an account's kind to a provider.
//!
//! Adding a provider is a new file here (its type implementing [`Provider`], and a start
//! function) plus its `mod` line below and its arm in [`registry::start`].

pub mod probe;
pub mod registry;
pub mod smpp;

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, watch};
use ulak_core::model::Message;
use ulak_store::{InboundIn, ReceiptIn};

pub use probe::{ProbeFailure, ProbeGate, ProbeOutcome, ProbeTurn, test_connection};
pub use registry::{StartContext, StartError, Started};

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

/// An operator account the engine sends through. Object safe: the engine holds a
/// `Box<dyn Provider>` per account, whatever its kind.
pub trait Provider: Send + Sync {
    /// Submits one message: every segment but the `taken` ones (numbers from 1), which an
    /// earlier attempt got through. The segments sent again carry the same concatenation
    /// reference and numbers as the first attempt, so the handset joins them with the others.
    fn submit<'a>(&'a self, message: &'a Message, taken: &'a [u32]) -> BoxFuture<'a, Attempt>;

    /// Whether the account is down: its submit loop claims nothing and gives back what it
    /// holds until it is up ([`crate::failover`]).
    fn paused(&self) -> bool;

    /// Marks the account down (submits not yet on their way are withdrawn, and
    /// [`Provider::paused`] holds the loop back) or up again.
    fn set_down(&self, down: bool);

    /// What failover judges the account by, looked at a few times a second.
    fn health(&self) -> LinkHealth;

    /// Starts counting failing submits afresh (the account is up again).
    fn reset_streak(&self);

    /// The credit left with the operator, when it has a way to tell (`None`: it has not;
    /// SMPP has none).
    fn balance(&self) -> BoxFuture<'_, Option<Result<Balance, BalanceError>>> {
        Box::pin(std::future::ready(None))
    }

    /// Stops: lets what is on its way drain, then closes the links. Its event channel closes
    /// once the last event is handed over.
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// An account's link as failover sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkHealth {
    /// Links that can submit, up now (SMPP: sessions bound; an HTTP API: 1 while it answers).
    pub bound: usize,
    /// Links the account asks for.
    pub wanted: usize,
    /// The last failed connect, said without personal data.
    pub last_error: Option<String>,
    /// Submits in a row that went unanswered or stayed throttled past the retry budget.
    pub failing_streak: u32,
}

/// Credit left with an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Balance {
    /// Messages (credits) the operator will still take.
    Credits(i64),
    /// Money, in the currency's minor unit (kuruş for TRY).
    Money {
        /// Amount in minor units.
        minor: i64,
        /// ISO 4217 code.
        currency: String,
    },
}

/// Why the balance could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BalanceError {
    /// The operator did not answer, or not in a form that could be read.
    #[error("the operator could not be asked: {0}")]
    Unreachable(String),
    /// The operator answered with an error.
    #[error("the operator refused: {0}")]
    Refused(String),
}

/// What a provider reports: a delivery report or an inbound message, each with the [`Ack`]
/// owed for it once it is stored. Intermediate reports (SMPP's en route, accepted) never
/// come this far: the provider answers them itself.
#[derive(Debug)]
pub enum ProviderEvent {
    /// A delivery report with a final (or unknown) state.
    Receipt(ReceiptIn, Ack),
    /// A message from a handset.
    Inbound(InboundIn, Ack),
}

/// Where a provider's events arrive.
pub type Events = mpsc::UnboundedReceiver<ProviderEvent>;

/// The acknowledgement of one event, owed to the operator once the event is stored.
///
/// [`Ack::accept`] runs what the provider gave it (SMPP: answer ESME_ROK to every PDU of the
/// event). Dropping an `Ack` unanswered drops that unrun, and with it what it holds: the
/// provider must make that a "deliver it again" (SMPP's own ack answers ESME_RX_T_APPN when
/// dropped), so an event the store did not take is never lost.
#[must_use = "dropping an Ack unanswered makes the operator deliver the event again"]
pub struct Ack(Option<Box<dyn FnOnce() + Send>>);

impl Ack {
    /// An ack that runs `accept` when accepted, and drops it unrun otherwise.
    pub fn new(accept: impl FnOnce() + Send + 'static) -> Ack {
        Ack(Some(Box::new(accept)))
    }

    /// An ack that answers nothing, for events no one waits on (replays, tests).
    pub fn detached() -> Ack {
        Ack(None)
    }

    /// The event is stored: acknowledge it.
    pub fn accept(mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

impl fmt::Debug for Ack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ack")
            .field("owed", &self.0.is_some())
            .finish()
    }
}

/// What any provider keeps for failover: whether the account is down, and how many submits
/// in a row failed. A provider holds one and answers [`Provider::paused`],
/// [`Provider::set_down`] and [`Provider::reset_streak`] from it.
#[derive(Debug)]
pub struct DownState {
    down: watch::Sender<bool>,
    streak: AtomicU32,
}

impl Default for DownState {
    fn default() -> Self {
        DownState {
            down: watch::channel(false).0,
            streak: AtomicU32::new(0),
        }
    }
}

impl DownState {
    /// Whether the account is down.
    pub fn is_down(&self) -> bool {
        *self.down.borrow()
    }

    /// Marks it down or up.
    pub fn set_down(&self, down: bool) {
        self.down.send_replace(down);
    }

    /// Resolves once the account is down (to withdraw what has not gone out yet).
    pub async fn until_down(&self) {
        let mut rx = self.down.subscribe();
        // The sender lives as long as `self`.
        let _ = rx.wait_for(|d| *d).await;
    }

    /// Submits in a row that failed.
    pub fn streak(&self) -> u32 {
        self.streak.load(Ordering::Relaxed)
    }

    /// The operator answered (yes or no): the streak is broken.
    pub fn answered(&self) {
        self.streak.store(0, Ordering::Relaxed);
    }

    /// A submit went unanswered or stayed throttled.
    pub fn failed(&self) {
        self.streak.fetch_add(1, Ordering::Relaxed);
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
    #![allow(clippy::expect_used)]

    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use super::*;

    /// An ack whose acceptance and whose drop are both seen: (ack, accepted, dropped).
    fn watched() -> (Ack, Arc<AtomicBool>, Arc<AtomicBool>) {
        struct OnDrop(Arc<AtomicBool>);
        impl Drop for OnDrop {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let (accepted, dropped) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let guard = OnDrop(dropped.clone());
        let seen = accepted.clone();
        let ack = Ack::new(move || {
            // Answered before what it holds goes: a provider's "deliver again" on drop must
            // not fire for an accepted event.
            if !guard.0.load(Ordering::SeqCst) {
                seen.store(true, Ordering::SeqCst);
            }
        });
        (ack, accepted, dropped)
    }

    #[test]
    fn an_accepted_ack_runs_its_answer_once() {
        let (ack, accepted, dropped) = watched();
        assert!(!accepted.load(Ordering::SeqCst));
        ack.accept();
        assert!(accepted.load(Ordering::SeqCst));
        // What it held is gone with it, after the answer.
        assert!(dropped.load(Ordering::SeqCst));
    }

    #[test]
    fn a_dropped_ack_never_answers_yes_and_lets_go_of_what_it_held() {
        let (ack, accepted, dropped) = watched();
        drop(ack);
        assert!(!accepted.load(Ordering::SeqCst));
        // The provider's own guard saw the drop: that is where "deliver it again" happens.
        assert!(dropped.load(Ordering::SeqCst));
        Ack::detached().accept();
    }

    #[tokio::test]
    async fn down_state_pauses_and_counts() {
        let d = DownState::default();
        assert!(!d.is_down());
        d.failed();
        d.failed();
        assert_eq!(d.streak(), 2);
        d.answered();
        assert_eq!(d.streak(), 0);
        d.set_down(true);
        assert!(d.is_down());
        // Already down: resolves at once.
        tokio::time::timeout(Duration::from_secs(1), d.until_down())
            .await
            .expect("resolves once down");
    }

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
