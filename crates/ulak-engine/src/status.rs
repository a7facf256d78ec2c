//! A provider account's status as a dashboard shows it: bound or not and since when, the
//! window in use, the recent submit rate, the queue and how long it takes to drain at that
//! rate, and the last error. Pure: the caller reads the node's [`Health`], [`Metrics`] and
//! the account's queue depth (for its own company's accounts only) and this puts them
//! together.

use serde::Serialize;
use ulak_core::model::ProviderAccountId;

use crate::{Health, Metrics};

/// One account's status on this node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderStatus {
    /// The account.
    pub account: i64,
    /// Whether it takes messages; `None` when this node does not run it (no engine here,
    /// the account disabled, or not started yet).
    pub up: Option<bool>,
    /// Since when it is up or down (unix ms).
    pub since: Option<i64>,
    /// Submits waiting for the operator's answer (the SMPP window in use, over its binds).
    pub window_in_use: u64,
    /// Messages the operator took per second, recently.
    pub per_second: f64,
    /// Messages queued for it.
    pub queued: i64,
    /// Seconds to send the queue at the recent rate; `None` while nothing is being taken.
    pub drain_seconds: Option<u64>,
    /// Why it went down last (no personal data).
    pub last_error: Option<String>,
}

/// The status of `account`, queued `queued` messages, from this node's health and counters.
pub fn provider_status(
    health: Option<&Health>,
    metrics: &Metrics,
    account: ProviderAccountId,
    queued: i64,
) -> ProviderStatus {
    let h = health.and_then(|h| h.get(account));
    let load = metrics.load(account.0);
    ProviderStatus {
        account: account.0,
        up: h.as_ref().map(|h| h.up),
        since: h.as_ref().map(|h| h.since),
        window_in_use: load.in_flight,
        per_second: load.per_second,
        queued,
        drain_seconds: drain_seconds(queued, load.per_second),
        last_error: h.and_then(|h| h.last_error),
    }
}

/// `queued` messages at `per_second`: whole seconds, rounded up; `None` at no rate.
pub fn drain_seconds(queued: i64, per_second: f64) -> Option<u64> {
    if queued <= 0 {
        return Some(0);
    }
    if !per_second.is_finite() || per_second <= 0.0 {
        return None;
    }
    let s = (queued as f64 / per_second).ceil();
    // Beyond u64 is "never" for a dashboard; `as` saturates.
    Some(s as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drain_estimate_is_the_queue_over_the_rate() {
        assert_eq!(drain_seconds(0, 0.0), Some(0));
        assert_eq!(drain_seconds(100, 0.0), None);
        assert_eq!(drain_seconds(100, f64::NAN), None);
        assert_eq!(drain_seconds(100, 30.0), Some(4));
        assert_eq!(drain_seconds(90, 30.0), Some(3));
    }

    #[test]
    fn an_account_this_node_does_not_run_has_no_bind_state() {
        let m = Metrics::default();
        let s = provider_status(None, &m, ProviderAccountId(7), 12);
        assert_eq!(s.up, None);
        assert_eq!(s.queued, 12);
        assert_eq!(s.drain_seconds, None);
        let h = Health::default();
        let s = provider_status(Some(&h), &m, ProviderAccountId(7), 0);
        assert_eq!((s.up, s.drain_seconds), (None, Some(0)));
        h.set(ProviderAccountId(7), false, Some("bind refused".into()));
        let s = provider_status(Some(&h), &m, ProviderAccountId(7), 0);
        assert_eq!(s.up, Some(false));
        assert!(s.since.is_some());
        assert_eq!(s.last_error.as_deref(), Some("bind refused"));
        let other = provider_status(Some(&h), &m, ProviderAccountId(8), 0);
        assert_eq!(other.up, None, "only the account asked about");
    }
}
