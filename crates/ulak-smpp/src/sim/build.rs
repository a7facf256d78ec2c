//! What the simulator sends: receipts, inbound parts, addresses and dates.

use std::time::SystemTime;

use bytes::Bytes;

use super::{InboundConcat, Inject, Outcome, SimError};
use crate::pdu::{Address, Sar, ShortMessage, Tlvs, tag};
use crate::receipt::ReceiptState;

/// Builds the receipt deliver_sm for an accepted submit.
pub(super) fn receipt_for(sm: &ShortMessage, message_id: &str, outcome: Outcome) -> ShortMessage {
    let (state, err) = match outcome {
        Outcome::Delivered => (ReceiptState::Delivered, 0),
        Outcome::Undeliverable => (ReceiptState::Undeliverable, 1),
        Outcome::Expired => (ReceiptState::Expired, 0),
        Outcome::Rejected => (ReceiptState::Rejected, 11),
    };
    // Appendix B: the first 20 characters of the text, decoded like any inbound part.
    let part = crate::inbound::decode_part(sm);
    let text: String = part
        .text()
        .unwrap_or("")
        .chars()
        .take(20)
        // The receipt travels as data_coding 0 text; keep it ASCII so every parser reads it.
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '.'
            }
        })
        .collect();
    let date = smpp_date(SystemTime::now());
    let delivered = u8::from(outcome == Outcome::Delivered);
    let body = format!(
        "id:{message_id} sub:001 dlvrd:00{delivered} submit date:{date} done date:{date} stat:{} err:{err:03} text:{text}",
        state.as_stat()
    );
    let mut tlvs = Tlvs::default();
    let mut rid = message_id.as_bytes().to_vec();
    rid.push(0);
    tlvs.set(tag::RECEIPTED_MESSAGE_ID, rid);
    tlvs.set(tag::MESSAGE_STATE, vec![state.message_state()]);
    if err != 0 {
        tlvs.set(tag::NETWORK_ERROR_CODE, vec![3, 0, err]);
    }
    ShortMessage {
        source: sm.dest.clone(),
        dest: sm.source.clone(),
        esm_class: 0x04,
        short_message: Bytes::from(body.into_bytes()),
        tlvs,
        ..Default::default()
    }
}

/// The deliver_sm bodies for an injected inbound message.
pub(super) fn inbound_parts(msg: &Inject, reference: u16) -> Result<Vec<ShortMessage>, SimError> {
    use ulak_text::{ConcatRef, Options, Policy};
    let concat_ref = match msg.concat {
        InboundConcat::Udh16 => ConcatRef::Sixteen,
        _ => ConcatRef::Eight,
    };
    // Without a UDH there is no way to announce national shift tables.
    let policy = match msg.concat {
        InboundConcat::Udh8 | InboundConcat::Udh16 => Policy::default(),
        _ => Policy::Gsm7OrUcs2,
    };
    let enc = ulak_text::encode(&msg.text, &Options { policy, concat_ref }, reference)?;
    let base = ShortMessage {
        source: address(&msg.from),
        dest: address(&msg.to),
        ..Default::default()
    };
    let total = enc.segments.len();
    let mut out: Vec<ShortMessage> = match msg.concat {
        InboundConcat::Payload if total > 1 => {
            let payload: Vec<u8> = enc
                .segments
                .iter()
                .flat_map(|s| s.payload.clone())
                .collect();
            let mut sm = base.clone();
            sm.data_coding = enc.segments.first().map_or(0, |s| s.dcs);
            sm.tlvs.set(tag::MESSAGE_PAYLOAD, payload);
            vec![sm]
        }
        InboundConcat::Sar if total > 1 => enc
            .segments
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut sm = base.clone();
                sm.data_coding = s.dcs;
                sm.short_message = Bytes::from(s.payload.clone());
                sm.tlvs.set_sar(Sar {
                    reference,
                    total: total as u8,
                    seq: i as u8 + 1,
                });
                sm
            })
            .collect(),
        _ => enc
            .segments
            .iter()
            .map(|s| {
                let mut sm = base.clone();
                sm.data_coding = s.dcs;
                sm.esm_class = if s.udhi() { 0x40 } else { 0 };
                sm.short_message = Bytes::from(s.short_message());
                sm
            })
            .collect(),
    };
    if msg.reverse {
        out.reverse();
    }
    Ok(out)
}

/// An address with TON/NPI guessed from its form: `+` or 10+ digits is international
/// E.164, fewer digits a short code (TON unknown, NPI E.164), anything else alphanumeric.
pub fn address(s: &str) -> Address {
    let digits = s.trim_start_matches('+');
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if s.starts_with('+') || digits.len() >= 10 {
            Address::new(1, 1, digits)
        } else {
            Address::new(0, 1, digits)
        }
    } else {
        Address::new(5, 0, s)
    }
}

/// YYMMDDhhmm in UTC, the Appendix B date form.
pub(super) fn smpp_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (proleptic Gregorian), so no date crate is needed for one format.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{:02}{:02}{:02}{:02}{:02}",
        y % 100,
        m,
        d,
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// A cheap well-mixed hash (splitmix64) for outcome choice and jitter; not cryptographic.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
