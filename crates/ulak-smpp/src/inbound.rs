//! Inbound (mobile-originated) messages: decoding by data_coding and reassembling parts.
//!
//! A part is concatenated when its UDH has IE 0x00/0x08 or it carries the SAR TLVs. Parts are
//! keyed by (source, destination, reference, total) and a message is released when every
//! sequence number has arrived; parts whose message stays incomplete past the timeout are
//! released as an incomplete message rather than dropped, so nothing vanishes silently.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ulak_text::{DcsAlphabet, Udh};

use crate::pdu::ShortMessage;

/// A decoded inbound message (whole, or what arrived of it).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct InboundMessage {
    /// Originator (the handset).
    pub source: String,
    /// Destination (the short code or number).
    pub dest: String,
    /// The text, parts joined; `None` for 8-bit data.
    pub text: Option<String>,
    /// The raw payload of every part, in order, without UDH.
    #[serde(skip)]
    pub payload: Vec<u8>,
    /// data_coding of the first part.
    pub data_coding: u8,
    /// Number of parts expected (1 when not concatenated).
    pub parts: u8,
    /// Whether every part arrived (false when released by timeout).
    pub complete: bool,
}

/// One inbound part, decoded.
#[derive(Debug)]
pub struct Part {
    source: String,
    dest: String,
    data_coding: u8,
    concat: Option<(u16, u8, u8)>,
    text: Option<String>,
    payload: Vec<u8>,
}

/// Decodes a deliver_sm's user data by its data_coding and UDH.
pub fn decode_part(sm: &ShortMessage) -> Part {
    let data = sm.user_data();
    let alphabet = match sm.data_coding {
        // SMPP data_coding 1 (IA5) and 3 (Latin-1) are not TP-DCS values; read them as octets.
        1 | 3 => None,
        dcs => Some(DcsAlphabet::from_tp_dcs(dcs)),
    };
    let (udh, body) = match sm.udhi() {
        true => match Udh::parse(data) {
            Ok((u, len)) => (Some(u), data.get(len..).unwrap_or(&[])),
            Err(e) => {
                tracing::debug!(error = %e, "bad UDH in inbound message; reading it as text");
                (None, &data[..])
            }
        },
        false => (None, &data[..]),
    };
    let latin1 = |b: &[u8]| Some(b.iter().map(|&c| char::from(c)).collect::<String>());
    let text = match alphabet {
        None => latin1(body),
        // Decoded with its UDH so national language shift tables (IE 0x24/0x25) apply.
        Some(a) => match ulak_text::decode_unpacked(a, udh.is_some(), data) {
            Ok(d) => d.text,
            // Some SMSCs send Latin-1 under data_coding 0; keep the text rather than lose it.
            Err(_) => latin1(body),
        },
    };
    let concat = match (udh.as_ref().and_then(|u| u.concat), sm.tlvs.sar()) {
        (Some(c), _) => Some((c.reference, c.total, c.seq)),
        (None, Some(s)) => Some((s.reference, s.total, s.seq)),
        _ => None,
    };
    Part {
        source: sm.source.addr.clone(),
        dest: sm.dest.addr.clone(),
        data_coding: sm.data_coding,
        concat,
        text,
        payload: body.to_vec(),
    }
}

impl Part {
    /// The decoded text of this part alone (`None` for 8-bit data).
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// Where it stands in a concatenated message, from its UDH or SAR TLVs: (reference,
    /// total, sequence number from 1).
    pub fn concat(&self) -> Option<(u16, u8, u8)> {
        self.concat
    }
}

type Key = (String, String, u16, u8);

struct Pending<T> {
    first_seen: Instant,
    parts: Vec<Option<Part>>,
    /// One tag per part received, repeats included (each may need its own answer).
    tags: Vec<T>,
}

/// Most messages waiting for parts at once; beyond it the oldest is released incomplete, so a
/// peer sending endless first parts cannot grow memory without bound.
pub const MAX_PENDING: usize = 10_000;

/// Collects concatenated parts into whole messages.
///
/// Each part may carry a tag `T` (the client keeps the acknowledgement of the deliver_sm it
/// came in); a released message comes with the tags of every part that went into it,
/// repeats included, so none is left unanswered.
pub struct Reassembler<T = ()> {
    timeout: Duration,
    pending: HashMap<Key, Pending<T>>,
    evicted: Vec<(InboundMessage, Vec<T>)>,
}

impl Reassembler {
    /// A reassembler that gives up on a message `timeout` after its first part.
    pub fn new(timeout: Duration) -> Self {
        Reassembler::tagged(timeout)
    }

    /// Adds a part; returns the message when it is complete (at once for a single part).
    pub fn push(&mut self, part: Part, now: Instant) -> Option<InboundMessage> {
        self.push_tagged(part, (), now).map(|(m, _)| m)
    }

    /// Releases messages whose parts did not all arrive in time (or were evicted by the cap).
    pub fn expire(&mut self, now: Instant) -> Vec<InboundMessage> {
        self.expire_tagged(now)
            .into_iter()
            .map(|(m, _)| m)
            .collect()
    }
}

impl<T> Reassembler<T> {
    /// A reassembler whose parts carry a tag; gives up on a message `timeout` after its
    /// first part.
    pub fn tagged(timeout: Duration) -> Self {
        Reassembler {
            timeout,
            pending: HashMap::new(),
            evicted: Vec::new(),
        }
    }

    /// Adds a part with its tag; returns the message when it is complete (at once for a
    /// single part), with the tags of all its parts.
    pub fn push_tagged(
        &mut self,
        part: Part,
        tag: T,
        now: Instant,
    ) -> Option<(InboundMessage, Vec<T>)> {
        let Some((reference, total, seq)) = part.concat.filter(|c| c.1 > 1) else {
            return Some((join(vec![part], 1, true), vec![tag]));
        };
        if seq == 0 || seq > total {
            // A sequence outside 1..=total cannot be placed; deliver it alone.
            return Some((join(vec![part], 1, false), vec![tag]));
        }
        let key = (part.source.clone(), part.dest.clone(), reference, total);
        if self.pending.len() >= MAX_PENDING && !self.pending.contains_key(&key) {
            self.evict_oldest();
        }
        let entry = self.pending.entry(key.clone()).or_insert_with(|| Pending {
            first_seen: now,
            parts: vec![None; usize::from(total)],
            tags: Vec::with_capacity(usize::from(total)),
        });
        // A repeated part (SMSC redelivery) replaces the earlier copy instead of duplicating;
        // both tags stay, as both deliveries need an answer.
        entry.parts[usize::from(seq - 1)] = Some(part);
        entry.tags.push(tag);
        if entry.parts.iter().all(Option::is_some) {
            let done = self.pending.remove(&key)?;
            return Some((
                join(done.parts.into_iter().flatten().collect(), total, true),
                done.tags,
            ));
        }
        None
    }

    fn evict_oldest(&mut self) {
        let oldest = self
            .pending
            .iter()
            .min_by_key(|(_, p)| p.first_seen)
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest
            && let Some(p) = self.pending.remove(&k)
        {
            self.evicted.push((
                join(p.parts.into_iter().flatten().collect(), k.3, false),
                p.tags,
            ));
        }
    }

    /// Releases messages whose parts did not all arrive in time (or were evicted by the cap),
    /// each with the tags of its parts.
    pub fn expire_tagged(&mut self, now: Instant) -> Vec<(InboundMessage, Vec<T>)> {
        let timeout = self.timeout;
        let mut out = std::mem::take(&mut self.evicted);
        let late: Vec<Key> = self
            .pending
            .iter()
            .filter(|(_, p)| now.duration_since(p.first_seen) >= timeout)
            .map(|(k, _)| k.clone())
            .collect();
        out.extend(
            late.into_iter()
                .filter_map(|k| self.pending.remove(&k).map(|p| (k.3, p)))
                .map(|(total, p)| {
                    (
                        join(p.parts.into_iter().flatten().collect(), total, false),
                        p.tags,
                    )
                }),
        );
        out
    }

    /// Messages still waiting for parts.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

impl Clone for Part {
    fn clone(&self) -> Self {
        Part {
            source: self.source.clone(),
            dest: self.dest.clone(),
            data_coding: self.data_coding,
            concat: self.concat,
            text: self.text.clone(),
            payload: self.payload.clone(),
        }
    }
}

fn join(parts: Vec<Part>, total: u8, complete: bool) -> InboundMessage {
    let first = parts.first();
    let source = first.map(|p| p.source.clone()).unwrap_or_default();
    let dest = first.map(|p| p.dest.clone()).unwrap_or_default();
    let data_coding = first.map_or(0, |p| p.data_coding);
    let payload: Vec<u8> = parts
        .iter()
        .flat_map(|p| p.payload.iter().copied())
        .collect();
    // UCS-2 is joined before decoding so a surrogate pair split across parts survives.
    let ucs2 = matches!(DcsAlphabet::from_tp_dcs(data_coding), DcsAlphabet::Ucs2)
        && !matches!(data_coding, 1 | 3);
    let text = if ucs2 {
        ulak_text::ucs2_to_text(&payload).ok().or_else(|| {
            parts
                .iter()
                .map(|p| p.text.clone())
                .collect::<Option<String>>()
        })
    } else {
        parts
            .iter()
            .map(|p| p.text.clone())
            .collect::<Option<String>>()
    };
    InboundMessage {
        source,
        dest,
        text,
        payload,
        data_coding,
        parts: total,
        complete,
    }
}
