//! The simulator's counters.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters the simulator keeps; printed as JSON by `ulak smsc-sim` on exit.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// TCP connections accepted.
    pub connections: u64,
    /// Successful binds.
    pub binds: u64,
    /// Binds refused (bad credentials, already bound).
    pub bind_failures: u64,
    /// unbind requests answered.
    pub unbinds: u64,
    /// submit_sm / data_sm / submit_multi accepted (one per PDU, i.e. per segment).
    pub submits: u64,
    /// Submits answered with ESME_RTHROTTLED.
    pub throttled: u64,
    /// Segments refused with ESME_RSYSERR by [`super::RefuseSegment`].
    pub refused_segments: u64,
    /// Delivery receipts sent (first deliveries; repeats are in `redelivered`).
    pub receipts_sent: u64,
    /// Inbound (MO) deliver_sm sent (first deliveries; repeats are in `redelivered`).
    pub inbound_sent: u64,
    /// deliver_sm sent again (receipts and inbound) after an error answer or a lost link.
    pub redelivered: u64,
    /// deliver_sm answered with ESME_ROK (each delivery at most once).
    pub deliver_acked: u64,
    /// deliver_sm answered with an error status (generic_nack included).
    pub deliver_nacked: u64,
    /// enquire_link received.
    pub enquire_links: u64,
    /// Malformed PDUs, unknown commands, PDUs in the wrong bind state.
    pub errors: u64,
    /// Links closed by fault injection.
    pub dropped_links: u64,
    /// Most submits seen waiting for their response on one link at once.
    pub max_outstanding: u64,
}

#[derive(Default)]
pub(super) struct AtomicCounts {
    pub(super) connections: AtomicU64,
    pub(super) binds: AtomicU64,
    pub(super) bind_failures: AtomicU64,
    pub(super) unbinds: AtomicU64,
    pub(super) submits: AtomicU64,
    pub(super) throttled: AtomicU64,
    pub(super) refused_segments: AtomicU64,
    pub(super) receipts_sent: AtomicU64,
    pub(super) inbound_sent: AtomicU64,
    pub(super) redelivered: AtomicU64,
    pub(super) deliver_acked: AtomicU64,
    pub(super) deliver_nacked: AtomicU64,
    pub(super) enquire_links: AtomicU64,
    pub(super) errors: AtomicU64,
    pub(super) dropped_links: AtomicU64,
    pub(super) max_outstanding: AtomicU64,
}

impl AtomicCounts {
    pub(super) fn snapshot(&self) -> Counts {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counts {
            connections: g(&self.connections),
            binds: g(&self.binds),
            bind_failures: g(&self.bind_failures),
            unbinds: g(&self.unbinds),
            submits: g(&self.submits),
            throttled: g(&self.throttled),
            refused_segments: g(&self.refused_segments),
            receipts_sent: g(&self.receipts_sent),
            inbound_sent: g(&self.inbound_sent),
            redelivered: g(&self.redelivered),
            deliver_acked: g(&self.deliver_acked),
            deliver_nacked: g(&self.deliver_nacked),
            enquire_links: g(&self.enquire_links),
            errors: g(&self.errors),
            dropped_links: g(&self.dropped_links),
            max_outstanding: g(&self.max_outstanding),
        }
    }
}
