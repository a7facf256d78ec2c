//! The wire form of each segment (TP-DCS, UDH, TP-UD, TP-UDL) and decoding it back.

use crate::TextError;
use crate::alphabet::{LockingTable, Septets, ShiftTable, decode_septets};
use crate::count::{count, layout};
use crate::pack::{header_septets, pack, unpack};
use crate::segment::{ConcatRef, Count, Encoding, Options};
use crate::udh::{Concat, LANGUAGE_TURKISH, Udh};

/// One segment ready for the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedSegment {
    /// TP-Data-Coding-Scheme (and SMPP data_coding): 0x00 GSM 7-bit, 0x08 UCS-2.
    pub dcs: u8,
    /// The User Data Header with its UDHL octet; empty when the segment has none.
    pub udh: Vec<u8>,
    /// The text alone: septets one per octet (GSM 7-bit), or UTF-16 big-endian octets (UCS-2).
    pub payload: Vec<u8>,
    /// TP-User-Data as sent over the air: UDH, fill bits and packed septets, or UDH and UCS-2.
    pub user_data: Vec<u8>,
    /// TP-User-Data-Length: septets (UDH and fill included) for GSM 7-bit, octets for UCS-2.
    pub udl: u8,
}

impl EncodedSegment {
    /// Whether TP-UDHI (SMPP esm_class 0x40) must be set.
    pub fn udhi(&self) -> bool {
        !self.udh.is_empty()
    }

    /// SMPP `short_message` for SMSCs that take unpacked septets: UDH followed by the payload.
    pub fn short_message(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.udh.len() + self.payload.len());
        out.extend_from_slice(&self.udh);
        out.extend_from_slice(&self.payload);
        out
    }
}

/// A text encoded for sending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// How the text was counted and split.
    pub count: Count,
    /// The segments in order.
    pub segments: Vec<EncodedSegment>,
}

/// Encodes `text` as `opts` asks; `reference` is the concatenation reference (its low 8 bits
/// with an 8-bit reference).
pub fn encode(text: &str, opts: &Options, reference: u16) -> Result<Encoded, TextError> {
    let count = count(text, opts)?;
    Ok(encode_counted(text, count, reference))
}

/// Encodes `text` in a given encoding, for callers that fixed it (an account setting, a test).
pub fn encode_as(
    text: &str,
    encoding: Encoding,
    concat: ConcatRef,
    reference: u16,
) -> Result<Encoded, TextError> {
    let count = layout(text, encoding, concat)?;
    Ok(encode_counted(text, count, reference))
}

fn encode_counted(text: &str, count: Count, reference: u16) -> Encoded {
    let encoding = count.encoding;
    let total = count.segments;
    let mut segments = Vec::with_capacity(total);
    let mut chars = text.chars();
    for (i, &n) in count.per_segment_chars.iter().enumerate() {
        let udh = segment_udh(encoding, count.concat_ref, reference, total, i);
        let part = chars.by_ref().take(n);
        let segment = match encoding.alphabet() {
            Some(alphabet) => {
                let mut septets = Vec::with_capacity(count.per_segment_units[i]);
                for c in part {
                    // `layout` already proved every character encodable.
                    match alphabet.encode_char(c) {
                        Some(Septets::One(s)) => septets.push(s),
                        Some(Septets::Escaped(s)) => septets.extend_from_slice(&[0x1B, s]),
                        None => {}
                    }
                }
                let udl = header_septets(udh.len()) + septets.len();
                EncodedSegment {
                    dcs: encoding.dcs(),
                    user_data: pack(&udh, &septets),
                    udl: udl as u8,
                    payload: septets,
                    udh,
                }
            }
            None => {
                let mut payload = Vec::with_capacity(count.per_segment_units[i] * 2);
                let mut buf = [0u16; 2];
                for c in part {
                    for unit in c.encode_utf16(&mut buf) {
                        payload.extend_from_slice(&unit.to_be_bytes());
                    }
                }
                let mut user_data = udh.clone();
                user_data.extend_from_slice(&payload);
                EncodedSegment {
                    dcs: encoding.dcs(),
                    udl: user_data.len() as u8,
                    user_data,
                    payload,
                    udh,
                }
            }
        };
        segments.push(segment);
    }
    Encoded { count, segments }
}

fn segment_udh(
    encoding: Encoding,
    concat: ConcatRef,
    reference: u16,
    total: usize,
    index: usize,
) -> Vec<u8> {
    let mut udh = Udh::default();
    if total > 1 {
        udh.concat = Some(Concat {
            reference: match concat {
                ConcatRef::Eight => reference & 0xFF,
                ConcatRef::Sixteen => reference,
            },
            sixteen_bit: concat == ConcatRef::Sixteen,
            total: total as u8,
            seq: (index + 1) as u8,
        });
    }
    match encoding {
        Encoding::Gsm7TurkishSingleShift => udh.single_shift = Some(LANGUAGE_TURKISH),
        Encoding::Gsm7TurkishLockingShift => udh.locking_shift = Some(LANGUAGE_TURKISH),
        Encoding::Gsm7 | Encoding::Ucs2 => {}
    }
    udh.to_bytes()
}

/// The character set a data coding scheme announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DcsAlphabet {
    /// GSM 7-bit (national tables chosen by the UDH).
    Gsm7,
    /// 8-bit data: binary, not text.
    EightBit,
    /// UCS-2 / UTF-16 big-endian.
    Ucs2,
}

impl DcsAlphabet {
    /// Reads TP-DCS per TS 23.038 section 4; reserved and compressed codings read as their
    /// nearest form (compressed data as 8-bit, reserved alphabets as GSM 7-bit).
    pub fn from_tp_dcs(dcs: u8) -> DcsAlphabet {
        match dcs >> 4 {
            // General data coding and automatic deletion groups.
            0x0..=0x7 => {
                if dcs & 0x20 != 0 {
                    return DcsAlphabet::EightBit;
                }
                match (dcs >> 2) & 0x03 {
                    0b01 => DcsAlphabet::EightBit,
                    0b10 => DcsAlphabet::Ucs2,
                    _ => DcsAlphabet::Gsm7,
                }
            }
            0xE => DcsAlphabet::Ucs2,
            0xF if dcs & 0x04 != 0 => DcsAlphabet::EightBit,
            _ => DcsAlphabet::Gsm7,
        }
    }
}

/// Text (or data) read back from one segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// The User Data Header, when UDHI was set.
    pub udh: Option<Udh>,
    /// The text; `None` for 8-bit data.
    pub text: Option<String>,
    /// The payload after the UDH: septets one per octet, UCS-2 octets, or 8-bit data.
    pub payload: Vec<u8>,
}

/// Decodes TP-User-Data as received over the air (packed septets; `udl` from TP-UDL).
pub fn decode_user_data(
    dcs: u8,
    udhi: bool,
    user_data: &[u8],
    udl: usize,
) -> Result<Decoded, TextError> {
    let alphabet = DcsAlphabet::from_tp_dcs(dcs);
    if alphabet != DcsAlphabet::Gsm7 {
        let data = user_data.get(..udl).ok_or(TextError::TruncatedUserData {
            needed: udl,
            got: user_data.len(),
        })?;
        return decode_unpacked(alphabet, udhi, data);
    }
    let (udh, header_len) = match udhi {
        true => {
            let (udh, len) = Udh::parse(user_data)?;
            (Some(udh), len)
        }
        false => (None, 0),
    };
    let start = header_septets(header_len);
    if start > udl {
        return Err(TextError::BadUdh("UDH longer than TP-UDL"));
    }
    let septets = unpack(user_data, start, udl)?;
    let text = septets_to_text(&septets, udh.as_ref())?;
    Ok(Decoded {
        udh,
        text: Some(text),
        payload: septets,
    })
}

/// Decodes user data where GSM septets travel one per octet (SMPP `short_message`).
pub fn decode_unpacked(
    alphabet: DcsAlphabet,
    udhi: bool,
    data: &[u8],
) -> Result<Decoded, TextError> {
    let (udh, header_len) = match udhi {
        true => {
            let (udh, len) = Udh::parse(data)?;
            (Some(udh), len)
        }
        false => (None, 0),
    };
    let payload = data[header_len..].to_vec();
    let text = match alphabet {
        DcsAlphabet::Gsm7 => Some(septets_to_text(&payload, udh.as_ref())?),
        DcsAlphabet::Ucs2 => Some(ucs2_to_text(&payload)?),
        DcsAlphabet::EightBit => None,
    };
    Ok(Decoded { udh, text, payload })
}

/// UTF-16 big-endian octets to text; an odd length or an unpaired surrogate is an error.
pub fn ucs2_to_text(octets: &[u8]) -> Result<String, TextError> {
    if !octets.len().is_multiple_of(2) {
        return Err(TextError::OddUcs2Length(octets.len()));
    }
    let units: Vec<u16> = octets
        .chunks_exact(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
        .collect();
    String::from_utf16(&units).map_err(|_| TextError::InvalidUtf16)
}

fn septets_to_text(septets: &[u8], udh: Option<&Udh>) -> Result<String, TextError> {
    // Unknown national languages fall back to the default tables rather than losing the text.
    let locking = match udh.and_then(|u| u.locking_shift) {
        Some(LANGUAGE_TURKISH) => LockingTable::Turkish,
        _ => LockingTable::Default,
    };
    let shift = match udh.and_then(|u| u.single_shift) {
        Some(LANGUAGE_TURKISH) => ShiftTable::Turkish,
        _ => ShiftTable::Default,
    };
    decode_septets(septets, locking, shift)
}
