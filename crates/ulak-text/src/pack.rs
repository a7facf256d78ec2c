//! GSM 7-bit packing (TS 23.038 6.1.2.1.1): septets laid LSB first into octets, starting on the
//! septet boundary that follows a User Data Header (the fill bits are zero).

use crate::TextError;

/// Septets a UDH of `udh_octets` octets (UDHL included) occupies, fill bits included.
pub fn header_septets(udh_octets: usize) -> usize {
    (udh_octets * 8).div_ceil(7)
}

/// Builds TP-User-Data: the UDH octets, fill bits, then the packed septets.
pub fn pack(udh: &[u8], septets: &[u8]) -> Vec<u8> {
    let start = header_septets(udh.len());
    let total_bits = (start + septets.len()) * 7;
    let mut out = vec![0u8; total_bits.div_ceil(8)];
    out[..udh.len()].copy_from_slice(udh);
    for (k, &s) in septets.iter().enumerate() {
        let bit = (start + k) * 7;
        let (byte, shift) = (bit / 8, bit % 8);
        let s = u16::from(s & 0x7F) << shift;
        out[byte] |= s as u8;
        if shift > 1 {
            out[byte + 1] |= (s >> 8) as u8;
        }
    }
    out
}

/// Reads septets `from..septet_count` out of packed user data.
pub fn unpack(data: &[u8], from: usize, septet_count: usize) -> Result<Vec<u8>, TextError> {
    let needed = (septet_count * 7).div_ceil(8);
    if data.len() < needed {
        return Err(TextError::TruncatedUserData {
            needed,
            got: data.len(),
        });
    }
    let mut out = Vec::with_capacity(septet_count.saturating_sub(from));
    for k in from..septet_count {
        let bit = k * 7;
        let (byte, shift) = (bit / 8, bit % 8);
        let mut v = u16::from(data[byte]) >> shift;
        if shift > 1 {
            v |= u16::from(data[byte + 1]) << (8 - shift);
        }
        out.push((v & 0x7F) as u8);
    }
    Ok(out)
}
