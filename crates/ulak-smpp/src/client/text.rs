//! Turning a text into submit_sm bodies with the text engine.

use bytes::Bytes;
use ulak_text::{Options, Policy};

use super::{ClientConfig, LongText};
use crate::pdu::{Body, Sar, ShortMessage, tag};
use crate::sim::address;

/// A text to send.
#[derive(Clone, Debug, Default)]
pub struct TextMessage {
    /// Sender: a number or an alphanumeric header.
    pub from: String,
    /// Recipient number.
    pub to: String,
    /// The text (any Unicode; the engine picks GSM 7-bit, Turkish shift or UCS-2).
    pub text: String,
    /// Ask for a delivery receipt for every segment.
    pub receipt: bool,
    /// The sender's TON/NPI; `None`: from its form (alphanumeric 5/0, a number 1/1, a short
    /// code 0/1).
    pub source_ton_npi: Option<(u8, u8)>,
    /// The recipient's TON/NPI; `None`: from its form.
    pub dest_ton_npi: Option<(u8, u8)>,
    /// How long the SMSC may keep trying, in seconds from its receipt of the submit (a
    /// relative `validity_period`); `None`: the SMSC's default.
    pub validity_secs: Option<u64>,
}

/// An address with the TON/NPI given, or guessed from its form.
fn address_with(s: &str, ton_npi: Option<(u8, u8)>) -> crate::pdu::Address {
    let a = address(s);
    match ton_npi {
        Some((ton, npi)) => crate::pdu::Address::new(ton, npi, &a.addr),
        None => a,
    }
}

/// A relative SMPP time (`YYMMDDhhmmss000R`, SMPP 3.4 §7.1.1) of `secs` seconds, at most 99
/// days.
pub fn relative_time(secs: u64) -> String {
    let secs = secs.min(99 * 86_400);
    let (d, rest) = (secs / 86_400, secs % 86_400);
    let (h, rest) = (rest / 3600, rest % 3600);
    let (m, s) = (rest / 60, rest % 60);
    format!("0000{d:02}{h:02}{m:02}{s:02}000R")
}

/// The submit_sm bodies for `msg`, by the account's long-text setting.
pub(super) fn submits(
    cfg: &ClientConfig,
    msg: &TextMessage,
    reference: u16,
) -> Result<Vec<Body>, ulak_text::TextError> {
    let mut opts = cfg.text_options;
    if cfg.long_text != LongText::Udh {
        // Without a UDH the national language shift tables cannot be announced.
        opts = Options {
            policy: Policy::Gsm7OrUcs2,
            ..opts
        };
    }
    let enc = ulak_text::encode(&msg.text, &opts, reference)?;
    let base = ShortMessage {
        source: address_with(&msg.from, msg.source_ton_npi),
        dest: address_with(&msg.to, msg.dest_ton_npi),
        registered_delivery: u8::from(msg.receipt),
        validity_period: msg.validity_secs.map(relative_time).unwrap_or_default(),
        ..Default::default()
    };
    let total = enc.segments.len();
    let bodies = match cfg.long_text {
        LongText::Payload if total > 1 => {
            let payload: Vec<u8> = enc
                .segments
                .iter()
                .flat_map(|s| s.payload.clone())
                .collect();
            let mut sm = base;
            sm.data_coding = enc.segments.first().map_or(0, |s| s.dcs);
            sm.tlvs.set(tag::MESSAGE_PAYLOAD, payload);
            vec![Body::SubmitSm(sm)]
        }
        LongText::Sar if total > 1 => enc
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
                Body::SubmitSm(sm)
            })
            .collect(),
        _ => enc
            .segments
            .iter()
            .map(|s| {
                let mut sm = base.clone();
                sm.data_coding = s.dcs;
                if s.udhi() {
                    sm.esm_class |= 0x40;
                }
                sm.short_message = Bytes::from(s.short_message());
                Body::SubmitSm(sm)
            })
            .collect(),
    };
    Ok(bodies)
}
