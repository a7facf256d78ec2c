//! User Data Header (TS 23.040 9.2.3.24): the information elements Ulak writes and reads.

use crate::TextError;

/// IEI: concatenated short message, 8-bit reference.
pub const IEI_CONCAT_8: u8 = 0x00;
/// IEI: concatenated short message, 16-bit reference.
pub const IEI_CONCAT_16: u8 = 0x08;
/// IEI: national language single shift.
pub const IEI_SINGLE_SHIFT: u8 = 0x24;
/// IEI: national language locking shift.
pub const IEI_LOCKING_SHIFT: u8 = 0x25;
/// National language identifier of Turkish (TS 23.038 6.2.1.2.4).
pub const LANGUAGE_TURKISH: u8 = 0x01;

/// Where a segment stands in a concatenated message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Concat {
    /// Reference shared by all segments of one message.
    pub reference: u16,
    /// Whether the reference was carried in 16 bits.
    pub sixteen_bit: bool,
    /// Total segments.
    pub total: u8,
    /// This segment's sequence number, from 1.
    pub seq: u8,
}

/// A parsed User Data Header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Udh {
    /// Concatenation information, if present.
    pub concat: Option<Concat>,
    /// National language single shift language id, if present.
    pub single_shift: Option<u8>,
    /// National language locking shift language id, if present.
    pub locking_shift: Option<u8>,
    /// Every other IE as (IEI, data), kept so nothing is lost.
    pub other: Vec<(u8, Vec<u8>)>,
}

impl Udh {
    /// Serialises the header with its UDHL octet; empty when there is no IE.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut ies: Vec<u8> = Vec::with_capacity(12);
        if let Some(c) = self.concat {
            if c.sixteen_bit {
                let [hi, lo] = c.reference.to_be_bytes();
                ies.extend_from_slice(&[IEI_CONCAT_16, 4, hi, lo, c.total, c.seq]);
            } else {
                ies.extend_from_slice(&[IEI_CONCAT_8, 3, c.reference as u8, c.total, c.seq]);
            }
        }
        if let Some(l) = self.single_shift {
            ies.extend_from_slice(&[IEI_SINGLE_SHIFT, 1, l]);
        }
        if let Some(l) = self.locking_shift {
            ies.extend_from_slice(&[IEI_LOCKING_SHIFT, 1, l]);
        }
        for (iei, data) in &self.other {
            ies.push(*iei);
            ies.push(data.len() as u8);
            ies.extend_from_slice(data);
        }
        if ies.is_empty() {
            return ies;
        }
        let mut out = Vec::with_capacity(ies.len() + 1);
        out.push(ies.len() as u8);
        out.extend_from_slice(&ies);
        out
    }

    /// Parses a header that starts with its UDHL octet; returns it and its length in octets.
    pub fn parse(data: &[u8]) -> Result<(Udh, usize), TextError> {
        let Some(&udhl) = data.first() else {
            return Err(TextError::BadUdh("empty user data with UDHI set"));
        };
        let end = 1 + udhl as usize;
        let body = data
            .get(1..end)
            .ok_or(TextError::BadUdh("UDHL longer than the user data"))?;
        let mut udh = Udh::default();
        let mut i = 0;
        while i < body.len() {
            let iei = body[i];
            let len = *body
                .get(i + 1)
                .ok_or(TextError::BadUdh("IE without a length"))? as usize;
            let ie = body
                .get(i + 2..i + 2 + len)
                .ok_or(TextError::BadUdh("IE longer than the header"))?;
            match (iei, ie) {
                (IEI_CONCAT_8, &[r, total, seq]) => {
                    udh.concat = Some(Concat {
                        reference: u16::from(r),
                        sixteen_bit: false,
                        total,
                        seq,
                    });
                }
                (IEI_CONCAT_16, &[hi, lo, total, seq]) => {
                    udh.concat = Some(Concat {
                        reference: u16::from_be_bytes([hi, lo]),
                        sixteen_bit: true,
                        total,
                        seq,
                    });
                }
                (IEI_SINGLE_SHIFT, &[l]) => udh.single_shift = Some(l),
                (IEI_LOCKING_SHIFT, &[l]) => udh.locking_shift = Some(l),
                _ => udh.other.push((iei, ie.to_vec())),
            }
            i += 2 + len;
        }
        Ok((udh, end))
    }
}
