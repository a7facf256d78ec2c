//! Ulak's SMS text engine, from 3GPP TS 23.038 and TS 23.040: the GSM 7-bit default alphabet
//! and extension table, the Turkish national language single and locking shift tables, UCS-2,
//! the three encoding policies, segmentation with real UDH costs, and the wire form of each
//! segment. Pure: no I/O, no domain.

mod alphabet;
mod codec;
mod count;
mod pack;
mod segment;
mod tables;
mod udh;

pub use alphabet::{Alphabet, LockingTable, Septets, ShiftTable, decode_septets};
pub use codec::{
    DcsAlphabet, Decoded, Encoded, EncodedSegment, decode_unpacked, decode_user_data, encode,
    encode_as, ucs2_to_text,
};
pub use count::{choose, count, layout};
pub use pack::{header_septets, pack, unpack};
pub use segment::{ConcatRef, Count, Encoding, MAX_SEGMENTS, Options, Policy, Unit};
pub use tables::{DEFAULT_BASIC, DEFAULT_EXTENSION, TURKISH_LOCKING, TURKISH_SINGLE_SHIFT};
pub use udh::{Concat, LANGUAGE_TURKISH, Udh};

/// Everything the text engine can refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// The policy name is not one of the three.
    #[error("unknown policy {0:?}: expected gsm7-or-ucs2, turkish-single-shift or turkish-shift")]
    UnknownPolicy(String),
    /// The text needs more segments than a concatenated SMS can have.
    #[error("text needs {segments} segments in {encoding}; at most 255 are possible")]
    TooManySegments {
        /// Encoding the text was split in.
        encoding: Encoding,
        /// Segments it would need.
        segments: usize,
    },
    /// A character the requested encoding cannot carry.
    #[error("character {character:?} at position {position} cannot be encoded in {encoding}")]
    Unencodable {
        /// The character.
        character: char,
        /// Its code-point offset.
        position: usize,
        /// The encoding.
        encoding: Encoding,
    },
    /// A septet value above 0x7F in unpacked GSM 7-bit data.
    #[error("invalid septet 0x{value:02X} at octet {position}")]
    InvalidSeptet {
        /// Octet offset.
        position: usize,
        /// The value.
        value: u8,
    },
    /// User data shorter than its length field says.
    #[error("user data truncated: {needed} octets needed, {got} present")]
    TruncatedUserData {
        /// Octets the length implies.
        needed: usize,
        /// Octets present.
        got: usize,
    },
    /// A malformed User Data Header.
    #[error("malformed user data header: {0}")]
    BadUdh(&'static str),
    /// UCS-2 data with an odd number of octets.
    #[error("UCS-2 data has an odd length ({0} octets)")]
    OddUcs2Length(usize),
    /// UCS-2 data with an unpaired surrogate.
    #[error("UCS-2 data contains an unpaired surrogate")]
    InvalidUtf16,
}
