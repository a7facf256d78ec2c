//! Encoding choice by policy and segmentation with the real User Data Header costs
//! (TS 23.040 9.2.3.24): concatenation IE of 5 (8-bit reference) or 6 (16-bit) octets, national
//! language shift IE of 3 octets in every segment, one UDHL octet when any IE is present.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use crate::TextError;
use crate::alphabet::Alphabet;

/// Most segments a concatenated message can have (the sequence number is one octet).
pub const MAX_SEGMENTS: usize = 255;
/// Octets of TP-User-Data in one SMS.
const USER_DATA_OCTETS: usize = 140;

/// How a text is carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// GSM 7-bit default alphabet and extension table.
    Gsm7,
    /// GSM 7-bit default alphabet with the Turkish national single shift table.
    Gsm7TurkishSingleShift,
    /// GSM 7-bit Turkish national locking shift table with the default extension table.
    Gsm7TurkishLockingShift,
    /// UCS-2 (UTF-16 big-endian, surrogate pairs for characters outside the BMP).
    Ucs2,
}

impl Encoding {
    /// All encodings, in the tie-break order of the `turkish-shift` policy.
    pub const ALL: [Encoding; 4] = [
        Encoding::Gsm7,
        Encoding::Gsm7TurkishSingleShift,
        Encoding::Gsm7TurkishLockingShift,
        Encoding::Ucs2,
    ];

    /// The stable name used by the CLI and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "gsm7",
            Encoding::Gsm7TurkishSingleShift => "gsm7+turkish-single-shift",
            Encoding::Gsm7TurkishLockingShift => "gsm7+turkish-locking-shift",
            Encoding::Ucs2 => "ucs2",
        }
    }

    /// The GSM 7-bit alphabet, or `None` for UCS-2.
    pub fn alphabet(self) -> Option<Alphabet> {
        match self {
            Encoding::Gsm7 => Some(Alphabet::Default),
            Encoding::Gsm7TurkishSingleShift => Some(Alphabet::TurkishSingleShift),
            Encoding::Gsm7TurkishLockingShift => Some(Alphabet::TurkishLockingShift),
            Encoding::Ucs2 => None,
        }
    }

    /// The TP-Data-Coding-Scheme (general data coding, no class): 0x00 GSM 7-bit, 0x08 UCS-2.
    pub fn dcs(self) -> u8 {
        match self {
            Encoding::Ucs2 => 0x08,
            _ => 0x00,
        }
    }

    /// The unit `per_segment_units` counts in.
    pub fn unit(self) -> Unit {
        match self {
            Encoding::Ucs2 => Unit::Utf16,
            _ => Unit::Septet,
        }
    }

    /// Octets of national language IE this encoding puts in every segment's UDH.
    fn shift_ie_octets(self) -> usize {
        match self {
            Encoding::Gsm7TurkishSingleShift | Encoding::Gsm7TurkishLockingShift => 3,
            Encoding::Gsm7 | Encoding::Ucs2 => 0,
        }
    }

    /// Units one segment carries: `concat` is `None` for a single-segment message.
    pub fn capacity(self, concat: Option<ConcatRef>) -> usize {
        let ies = self.shift_ie_octets() + concat.map_or(0, ConcatRef::ie_octets);
        let udh = if ies == 0 { 0 } else { 1 + ies };
        let free = USER_DATA_OCTETS - udh;
        match self {
            Encoding::Ucs2 => free / 2,
            // Septets after the UDH start on a septet boundary (fill bits), hence the floor.
            _ => free * 8 / 7,
        }
    }

    /// Units the character costs in this encoding; 0 when it cannot be carried.
    #[inline]
    pub fn cost(self, c: char) -> usize {
        match self.alphabet() {
            Some(a) => a.cost(c),
            None => c.len_utf16(),
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Encoding {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What `per_segment_units` counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    /// GSM 7-bit septets (an escaped character counts 2).
    Septet,
    /// UTF-16 code units (a surrogate pair counts 2).
    Utf16,
}

/// How the encoding of a text is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Policy {
    /// GSM 7-bit when it carries the text, else UCS-2 (what most gateways do).
    Gsm7OrUcs2,
    /// GSM 7-bit, else GSM 7-bit + Turkish single shift, else UCS-2.
    TurkishSingleShift,
    /// The fewest segments among all four encodings; ties go to the earlier in [`Encoding::ALL`].
    #[default]
    TurkishShift,
}

impl Policy {
    /// All policies.
    pub const ALL: [Policy; 3] = [
        Policy::Gsm7OrUcs2,
        Policy::TurkishSingleShift,
        Policy::TurkishShift,
    ];

    /// The stable name used by the CLI and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Gsm7OrUcs2 => "gsm7-or-ucs2",
            Policy::TurkishSingleShift => "turkish-single-shift",
            Policy::TurkishShift => "turkish-shift",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Policy {
    type Err = TextError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Policy::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| TextError::UnknownPolicy(s.to_owned()))
    }
}

impl Serialize for Policy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Size of the concatenation reference number in the UDH.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ConcatRef {
    /// IE 0x00, 8-bit reference (5 octets with IEI and length): the default.
    #[default]
    Eight,
    /// IE 0x08, 16-bit reference (6 octets).
    Sixteen,
}

impl ConcatRef {
    fn ie_octets(self) -> usize {
        match self {
            ConcatRef::Eight => 5,
            ConcatRef::Sixteen => 6,
        }
    }

    /// Bits of the reference: 8 or 16.
    pub fn bits(self) -> u8 {
        match self {
            ConcatRef::Eight => 8,
            ConcatRef::Sixteen => 16,
        }
    }
}

impl Serialize for ConcatRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.bits())
    }
}

/// What a caller asks of the text engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Options {
    /// How the encoding is chosen.
    pub policy: Policy,
    /// Size of the concatenation reference.
    pub concat_ref: ConcatRef,
}

/// The cost and split of a text: what `ulak count --json` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Count {
    /// The chosen encoding.
    pub encoding: Encoding,
    /// Number of SMS segments.
    pub segments: usize,
    /// Unicode code points in each segment.
    pub per_segment_chars: Vec<usize>,
    /// Septets (GSM 7-bit) or UTF-16 units (UCS-2) in each segment.
    pub per_segment_units: Vec<usize>,
    /// Code-point offsets where segments 2..n start.
    pub split_points: Vec<usize>,
    /// Units one segment holds (single-segment capacity when `segments` is 1).
    pub capacity_per_segment: usize,
    /// Unicode code points in the text.
    pub total_chars: usize,
    /// Units in the text.
    pub total_units: usize,
    /// One-unit characters that still fit in the last segment before another is needed.
    pub remaining: usize,
    /// What the units are.
    pub unit: Unit,
    /// The data coding scheme (TP-DCS) of each segment.
    pub dcs: u8,
    /// The policy that chose the encoding.
    pub policy: Policy,
    /// The concatenation reference size, in bits.
    pub concat_ref: ConcatRef,
}

/// Counts and splits `text` as `opts` asks.
pub fn count(text: &str, opts: &Options) -> Result<Count, TextError> {
    let encoding = choose(text, opts)?;
    let mut count = layout(text, encoding, opts.concat_ref)?;
    count.policy = opts.policy;
    Ok(count)
}

/// Picks the encoding for `text` under `opts.policy`.
pub fn choose(text: &str, opts: &Options) -> Result<Encoding, TextError> {
    match opts.policy {
        Policy::Gsm7OrUcs2 => Ok(first_encodable(text, &[Encoding::Gsm7])),
        Policy::TurkishSingleShift => Ok(first_encodable(
            text,
            &[Encoding::Gsm7, Encoding::Gsm7TurkishSingleShift],
        )),
        Policy::TurkishShift => fewest_segments(text, opts.concat_ref),
    }
}

/// The first GSM alphabet of `order` that carries every character, else UCS-2.
fn first_encodable(text: &str, order: &[Encoding]) -> Encoding {
    order
        .iter()
        .copied()
        .find(|e| text.chars().all(|c| e.cost(c) != 0))
        .unwrap_or(Encoding::Ucs2)
}

/// Greedy segment tally of one candidate encoding, run for all four in one pass over the text.
#[derive(Clone, Copy)]
struct Tally {
    encodable: bool,
    total: usize,
    used: usize,
    segments: usize,
    multi_capacity: usize,
}

impl Tally {
    #[inline]
    fn push(&mut self, cost: usize) {
        if cost == 0 {
            self.encodable = false;
            return;
        }
        self.total += cost;
        // A character never straddles two segments (escape pairs, surrogate pairs).
        if self.used + cost > self.multi_capacity {
            self.segments += 1;
            self.used = cost;
        } else {
            self.used += cost;
        }
    }
}

fn fewest_segments(text: &str, concat: ConcatRef) -> Result<Encoding, TextError> {
    let mut tallies = Encoding::ALL.map(|e| Tally {
        encodable: true,
        total: 0,
        used: 0,
        segments: 1,
        multi_capacity: e.capacity(Some(concat)),
    });
    let alphabets = [
        Alphabet::Default,
        Alphabet::TurkishSingleShift,
        Alphabet::TurkishLockingShift,
    ];
    for c in text.chars() {
        for (t, a) in tallies.iter_mut().zip(alphabets) {
            if t.encodable {
                t.push(a.cost(c));
            }
        }
        tallies[3].push(c.len_utf16());
    }
    let mut best: Option<(Encoding, usize)> = None;
    for (e, t) in Encoding::ALL.into_iter().zip(tallies) {
        if !t.encodable {
            continue;
        }
        let segments = if t.total <= e.capacity(None) {
            1
        } else {
            t.segments
        };
        if best.is_none_or(|(_, s)| segments < s) {
            best = Some((e, segments));
        }
    }
    match best {
        Some((e, _)) => Ok(e),
        // UCS-2 carries any text, so this is unreachable; answer it rather than panic.
        None => Ok(Encoding::Ucs2),
    }
}

/// Splits `text` in `encoding`: per-segment counts and split points.
pub fn layout(text: &str, encoding: Encoding, concat: ConcatRef) -> Result<Count, TextError> {
    let single = encoding.capacity(None);
    let multi = encoding.capacity(Some(concat));
    let mut total_units = 0;
    let mut total_chars = 0;
    for c in text.chars() {
        let cost = encoding.cost(c);
        if cost == 0 {
            return Err(TextError::Unencodable {
                character: c,
                position: total_chars,
                encoding,
            });
        }
        total_units += cost;
        total_chars += 1;
    }
    let mut count = Count {
        encoding,
        segments: 1,
        per_segment_chars: vec![total_chars],
        per_segment_units: vec![total_units],
        split_points: Vec::new(),
        capacity_per_segment: single,
        total_chars,
        total_units,
        remaining: single - total_units.min(single),
        unit: encoding.unit(),
        dcs: encoding.dcs(),
        policy: Policy::default(),
        concat_ref: concat,
    };
    if total_units <= single {
        return Ok(count);
    }
    count.per_segment_chars.clear();
    count.per_segment_units.clear();
    count.capacity_per_segment = multi;
    let (mut chars, mut units) = (0, 0);
    for (i, c) in text.chars().enumerate() {
        let cost = encoding.cost(c);
        if units + cost > multi {
            count.per_segment_chars.push(chars);
            count.per_segment_units.push(units);
            count.split_points.push(i);
            chars = 0;
            units = 0;
        }
        chars += 1;
        units += cost;
    }
    count.per_segment_chars.push(chars);
    count.per_segment_units.push(units);
    count.segments = count.per_segment_chars.len();
    if count.segments > MAX_SEGMENTS {
        return Err(TextError::TooManySegments {
            encoding,
            segments: count.segments,
        });
    }
    count.remaining = multi - units;
    Ok(count)
}
