//! Encoding choice by policy and segmentation with the real User Data Header costs
//! (TS 23.040 9.2.3.24): concatenation IE of 5 (8-bit reference) or 6 (16-bit) octets, national
//! language shift IE of 3 octets in every segment, one UDHL octet when any IE is present.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use crate::TextError;
use crate::alphabet::{Alphabet, packed_costs};

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
        usize::from((packed_costs(c) >> self.cost_shift()) & 0b11)
    }

    /// Position of this encoding's 2-bit field in a packed cost byte.
    #[inline]
    pub(crate) fn cost_shift(self) -> u32 {
        match self {
            Encoding::Gsm7 => 0,
            Encoding::Gsm7TurkishSingleShift => 2,
            Encoding::Gsm7TurkishLockingShift => 4,
            Encoding::Ucs2 => 6,
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
