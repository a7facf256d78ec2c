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

    /// Counts a submit of `account` that took `latency`.
    pub fn submit(&self, account: i64, kind: SubmitKind, latency: Duration) {
        let a = self.account(account);
        let c = match kind {
            SubmitKind::Submitted => &a.submitted,
            SubmitKind::Retried => &a.retried,
            SubmitKind::Failed => &a.failed,
        };
        c.fetch_add(1, Ordering::Relaxed);
        a.latency.observe(latency);
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
