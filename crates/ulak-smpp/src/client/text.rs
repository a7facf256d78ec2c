//! Turning a text into submit_sm bodies with the text engine.

use bytes::Bytes;
use ulak_text::{Options, Policy};

use super::{ClientConfig, LongText};
use crate::pdu::{Body, Sar, ShortMessage, tag};
use crate::sim::address;

/// A text to send.
#[derive(Clone, Debug)]
pub struct TextMessage {
    /// Sender: a number or an alphanumeric header.
    pub from: String,
    /// Recipient number.
    pub to: String,
    /// The text (any Unicode; the engine picks GSM 7-bit, Turkish shift or UCS-2).
    pub text: String,
    /// Ask for a delivery receipt for every segment.
    pub receipt: bool,
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
        source: address(&msg.from),
        dest: address(&msg.to),
        registered_delivery: u8::from(msg.receipt),
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
