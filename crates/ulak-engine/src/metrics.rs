//! The engine's counters and latency histograms, written in the Prometheus text format
//! (version 0.0.4) by [`Metrics::render`]. Plain atomics: no registry crate needed for a
//! handful of series, and nothing here can block a worker.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the submit latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Reads one counter of an account.
type Field = fn(&Account) -> &AtomicU64;

/// A latency histogram.
#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// Sum in microseconds.
    sum_us: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

/// One provider account's series.
#[derive(Default)]
struct Account {
    submitted: AtomicU64,
    retried: AtomicU64,
    failed: AtomicU64,
    receipts: AtomicU64,
    receipts_unmatched: AtomicU64,
    store_errors: AtomicU64,
    /// 1 while the account is down ([`crate::failover`]), else 0.
    down: AtomicU64,
    latency: Histogram,
    /// Submits handed to the provider and not answered yet: the window in use.
    in_flight: AtomicU64,
    /// Messages the operator took per second, the last [`RATE_SLOTS`] seconds, as (unix
    /// second, count) per slot: a slot stamped with an older second counts as 0.
    taken: [(AtomicU64, AtomicU64); RATE_SLOTS],
}

/// Seconds kept for the recent submit rate.
const RATE_SLOTS: usize = 16;
/// The whole seconds the recent rate is averaged over (the current one is still filling).
pub const RATE_SECONDS: u64 = 10;

/// What one account is doing now, read from its counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AccountLoad {
    /// Submits waiting for the operator's answer.
    pub in_flight: u64,
    /// Messages the operator took per second over the last [`RATE_SECONDS`] whole seconds.
    pub per_second: f64,
}

impl Account {
    fn took_one(&self, second: u64) {
        let (stamp, n) = &self.taken[slot(second)];
        // A racing writer of the same new second may lose a count: a rate shown on a
        // dashboard, never billing, so no lock.
        if stamp.swap(second, Ordering::Relaxed) != second {
            n.store(0, Ordering::Relaxed);
        }
        n.fetch_add(1, Ordering::Relaxed);
    }

    fn per_second(&self, now: u64) -> f64 {
        let since = now.saturating_sub(RATE_SECONDS);
        let sum: u64 = self
            .taken
            .iter()
            .filter(|(stamp, _)| {
                let s = stamp.load(Ordering::Relaxed);
                s >= since && s < now
            })
            .map(|(_, n)| n.load(Ordering::Relaxed))
            .sum();
        sum as f64 / RATE_SECONDS as f64
    }
}

fn slot(second: u64) -> usize {
    usize::try_from(second % RATE_SLOTS as u64).unwrap_or(0)
}

fn unix_second() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The engine's metrics, shared by its workers and read by `/metrics`.
#[derive(Default, Clone)]
pub struct Metrics {
    accounts: Arc<Mutex<BTreeMap<i64, Arc<Account>>>>,
}

/// What one submit attempt came to, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitKind {
    /// Taken by the operator.
    Submitted,
    /// Will be tried again.
    Retried,
    /// Failed for good.
    Failed,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    fn account(&self, id: i64) -> Arc<Account> {
        let mut map = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(id).or_default().clone()
    }

    /// Counts a submit of `account` handed to the provider (answered: [`Metrics::submit`]).
    pub fn submit_started(&self, account: i64) {
        self.account(account)
            .in_flight
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a submit of `account` that took `latency`.
    pub fn submit(&self, account: i64, kind: SubmitKind, latency: Duration) {
        self.submit_at(account, kind, latency, unix_second());
    }

    fn submit_at(&self, account: i64, kind: SubmitKind, latency: Duration, second: u64) {
        let a = self.account(account);
        // Saturating: a submit counted here without `submit_started` must not wrap.
        let _ = a
            .in_flight
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            });
        if kind == SubmitKind::Submitted {
            a.took_one(second);
        }
        let c = match kind {
            SubmitKind::Submitted => &a.submitted,
            SubmitKind::Retried => &a.retried,
            SubmitKind::Failed => &a.failed,
        };
        c.fetch_add(1, Ordering::Relaxed);
        a.latency.observe(latency);
    }

    /// What `account` is doing now (zeros for one this node has not sent through).
    pub fn load(&self, account: i64) -> AccountLoad {
        self.load_at(account, unix_second())
    }

    fn load_at(&self, account: i64, now: u64) -> AccountLoad {
        let map = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&account)
            .map_or_else(AccountLoad::default, |a| AccountLoad {
                in_flight: a.in_flight.load(Ordering::Relaxed),
                per_second: a.per_second(now),
            })
    }

    /// Counts receipts applied (or kept unmatched).
    pub fn receipts(&self, account: i64, applied: u64, unmatched: u64) {
        let a = self.account(account);
        a.receipts.fetch_add(applied, Ordering::Relaxed);
        a.receipts_unmatched.fetch_add(unmatched, Ordering::Relaxed);
    }

    /// Records whether `account` is up ([`crate::failover`]).
    pub fn provider_up(&self, account: i64, up: bool) {
        self.account(account)
            .down
            .store(u64::from(!up), Ordering::Relaxed);
    }

    /// Counts a failed store write.
    pub fn store_error(&self, account: i64) {
        self.account(account)
            .store_errors
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text of the engine's series, plus `queue` (messages per state).
    pub fn render(&self, queue: &[(String, i64)]) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP ulak_messages Messages in the store by state.");
        let _ = writeln!(out, "# TYPE ulak_messages gauge");
        for (state, n) in queue {
            let _ = writeln!(out, "ulak_messages{{state=\"{state}\"}} {n}");
        }
        let accounts: Vec<(i64, Arc<Account>)> = self
            .accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        let counters: [(&str, &str, Field); 6] = [
            ("ulak_submits_total", "Messages the operator took.", |a| {
                &a.submitted
            }),
            (
                "ulak_submit_retries_total",
                "Submit attempts that will be retried.",
                |a| &a.retried,
            ),
            (
                "ulak_submit_failures_total",
                "Messages that failed for good at submit.",
                |a| &a.failed,
            ),
            ("ulak_receipts_total", "Delivery reports applied.", |a| {
                &a.receipts
            }),
            (
                "ulak_receipts_unmatched_total",
                "Delivery reports that matched no message (kept).",
                |a| &a.receipts_unmatched,
            ),
            (
                "ulak_store_errors_total",
                "Failed store writes of the engine.",
                |a| &a.store_errors,
            ),
        ];
        for (name, help, get) in counters {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            for (id, a) in &accounts {
                let _ = writeln!(
                    out,
                    "{name}{{provider=\"{id}\"}} {}",
                    get(a).load(Ordering::Relaxed)
                );
            }
        }
        let name = "ulak_provider_up";
        let _ = writeln!(
            out,
            "# HELP {name} 1 while the account takes messages, 0 while it is down (its routes' messages move on)."
        );
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (id, a) in &accounts {
            let up = 1 - a.down.load(Ordering::Relaxed).min(1);
            let _ = writeln!(out, "{name}{{provider=\"{id}\"}} {up}");
        }
        let name = "ulak_submit_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from handing a message to the provider to its outcome."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (id, a) in &accounts {
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{name}_bucket{{provider=\"{id}\",le=\"{b}\"}} {}",
                    a.latency.buckets[i].load(Ordering::Relaxed)
                );
            }
            let count = a.latency.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{provider=\"{id}\",le=\"+Inf\"}} {count}"
            );
            let sum = a.latency.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(out, "{name}_sum{{provider=\"{id}\"}} {sum}");
            let _ = writeln!(out, "{name}_count{{provider=\"{id}\"}} {count}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_in_use_and_the_recent_rate_follow_the_submits() {
        let m = Metrics::default();
        assert_eq!(m.load_at(9, 1000), AccountLoad::default());
        for _ in 0..3 {
            m.submit_started(9);
        }
        // 20 taken in second 995 and 30 in 999; one retried (not taken); one in 1000 (the
        // second still filling) and one long ago do not count.
        for (second, n) in [(995, 20), (999, 30), (1000, 1), (900, 5)] {
            for _ in 0..n {
                m.submit_at(9, SubmitKind::Submitted, Duration::ZERO, second);
            }
        }
        m.submit_at(9, SubmitKind::Retried, Duration::ZERO, 999);
        let load = m.load_at(9, 1000);
        assert_eq!(load.in_flight, 0, "more answers than starts never wrap");
        assert!((load.per_second - 5.0).abs() < 1e-9, "{load:?}");
        m.submit_started(9);
        m.submit_started(9);
        assert_eq!(m.load_at(9, 1000).in_flight, 2);
        assert!(
            m.load_at(9, 1020).per_second.abs() < 1e-9,
            "old seconds fade"
        );
    }

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.submit(3, SubmitKind::Submitted, Duration::from_millis(3));
        m.submit(3, SubmitKind::Submitted, Duration::from_millis(30));
        m.submit(3, SubmitKind::Retried, Duration::from_secs(20));
        m.receipts(3, 2, 1);
        m.provider_up(4, false);
        let text = m.render(&[("queued".into(), 5), ("delivered".into(), 2)]);
        for line in [
            "ulak_messages{state=\"queued\"} 5",
            "ulak_submits_total{provider=\"3\"} 2",
            "ulak_provider_up{provider=\"3\"} 1",
            "ulak_provider_up{provider=\"4\"} 0",
            "ulak_submit_retries_total{provider=\"3\"} 1",
            "ulak_receipts_total{provider=\"3\"} 2",
            "ulak_receipts_unmatched_total{provider=\"3\"} 1",
            "ulak_submit_seconds_bucket{provider=\"3\",le=\"0.005\"} 1",
            "ulak_submit_seconds_bucket{provider=\"3\",le=\"0.05\"} 2",
            "ulak_submit_seconds_bucket{provider=\"3\",le=\"10\"} 2",
            "ulak_submit_seconds_bucket{provider=\"3\",le=\"+Inf\"} 3",
            "ulak_submit_seconds_count{provider=\"3\"} 3",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }
}
