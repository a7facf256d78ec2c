//! Segments of concatenated messages: the fault that refuses one segment of some long
//! messages once, and the tally of which segments each handset got.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::SubmitRecord;
use crate::inbound::decode_part;
use crate::pdu::ShortMessage;

/// A transient fault of long messages: segment `seq` of every `every`-th concatenated message
/// (counted in the order the simulator first sees one of its segments) is answered
/// ESME_RSYSERR the first time it arrives; sent again with the same reference it is taken.
/// A message is known by its account, destination, reference and segment count, so the same
/// segment sent again under a new reference counts as a new message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefuseSegment {
    /// The segment refused (from 1).
    pub seq: u8,
    /// Which messages: the 1st, the `every + 1`-th, … (1 refuses it in every message).
    pub every: u64,
}

/// One segment as a handset receives it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentKey {
    /// The handset's number as submitted.
    pub dest: String,
    /// The concatenation reference.
    pub reference: u16,
    /// Segments in the message.
    pub total: u8,
    /// This segment's number, from 1.
    pub seq: u8,
}

/// (system_id, destination, reference, total) of a concatenated message.
type MessageKey = (String, String, u16, u8);

/// The concatenated messages seen while [`RefuseSegment`] is on.
#[derive(Default)]
pub(super) struct Refusals {
    seen: Mutex<Seen>,
}

/// How many messages were seen, and for each its place in the order of arrival (from 1) and
/// whether its segment was refused already.
#[derive(Default)]
struct Seen {
    count: u64,
    messages: HashMap<MessageKey, (u64, bool)>,
}

impl Refusals {
    /// Whether to refuse this submit under `rule`: true once for the chosen segment of each
    /// chosen message.
    pub(super) fn refuse(&self, rule: RefuseSegment, system_id: &str, sm: &ShortMessage) -> bool {
        let Some((reference, total, seq)) = decode_part(sm).concat() else {
            return false;
        };
        let key = (system_id.to_owned(), sm.dest.addr.clone(), reference, total);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let Seen { count, messages } = &mut *seen;
        let entry = messages.entry(key).or_insert_with(|| {
            *count += 1;
            (*count, false)
        });
        let chosen = (entry.0 - 1) % rule.every.max(1) == 0;
        if chosen && seq == rule.seq && !entry.1 {
            entry.1 = true;
            return true;
        }
        false
    }
}

/// How many times each handset got each segment of a concatenated message, from the
/// recorded submits (one-part messages and message_payload ones are not counted).
pub(super) fn tally(records: &[SubmitRecord]) -> BTreeMap<SegmentKey, u32> {
    let mut out = BTreeMap::new();
    for r in records {
        if let Some((reference, total, seq)) = decode_part(&r.sm).concat() {
            let key = SegmentKey {
                dest: r.sm.dest.addr.clone(),
                reference,
                total,
                seq,
            };
            *out.entry(key).or_insert(0) += 1;
        }
    }
    out
}
