//! Delivery receipts: the SMPP 3.4 Appendix B text and the receipt TLVs.
//!
//! Operators vary the text: upper-case keys, `Text:` or `text:`, missing fields, dates of
//! 10 or 12 digits, hex or decimal ids, extra fields. The parser reads `key:value` pairs by
//! the known key names rather than by position, so order and gaps do not matter.

use crate::pdu::ShortMessage;

/// A receipt's final (or intermediate) state.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptState {
    /// DELIVRD: delivered to the handset.
    Delivered,
    /// EXPIRED: validity period passed.
    Expired,
    /// DELETED: deleted by the SMSC.
    Deleted,
    /// UNDELIV: undeliverable.
    Undeliverable,
    /// ACCEPTD: accepted (manually read on behalf of the subscriber).
    Accepted,
    /// UNKNOWN: state unknown.
    Unknown,
    /// REJECTD: rejected.
    Rejected,
    /// ENROUTE: still in transit (intermediate notification).
    Enroute,
    /// Any other word an SMSC uses.
    Other(String),
}

impl ReceiptState {
    /// Reads a `stat:` value (case-insensitive, common long forms included).
    pub fn parse(s: &str) -> ReceiptState {
        match s.to_ascii_uppercase().as_str() {
            "DELIVRD" | "DELIVERED" => ReceiptState::Delivered,
            "EXPIRED" => ReceiptState::Expired,
            "DELETED" => ReceiptState::Deleted,
            "UNDELIV" | "UNDELIVERABLE" | "FAILED" => ReceiptState::Undeliverable,
            "ACCEPTD" | "ACCEPTED" => ReceiptState::Accepted,
            "UNKNOWN" => ReceiptState::Unknown,
            "REJECTD" | "REJECTED" => ReceiptState::Rejected,
            "ENROUTE" => ReceiptState::Enroute,
            other => ReceiptState::Other(other.to_owned()),
        }
    }

    /// From the message_state TLV (section 5.2.28).
    pub fn from_message_state(v: u8) -> ReceiptState {
        match v {
            1 => ReceiptState::Enroute,
            2 => ReceiptState::Delivered,
            3 => ReceiptState::Expired,
            4 => ReceiptState::Deleted,
            5 => ReceiptState::Undeliverable,
            6 => ReceiptState::Accepted,
            8 => ReceiptState::Rejected,
            _ => ReceiptState::Unknown,
        }
    }

    /// The Appendix B word for this state.
    pub fn as_stat(&self) -> &str {
        match self {
            ReceiptState::Delivered => "DELIVRD",
            ReceiptState::Expired => "EXPIRED",
            ReceiptState::Deleted => "DELETED",
            ReceiptState::Undeliverable => "UNDELIV",
            ReceiptState::Accepted => "ACCEPTD",
            ReceiptState::Unknown => "UNKNOWN",
            ReceiptState::Rejected => "REJECTD",
            ReceiptState::Enroute => "ENROUTE",
            ReceiptState::Other(s) => s,
        }
    }

    /// The message_state TLV value for this state.
    pub fn message_state(&self) -> u8 {
        match self {
            ReceiptState::Enroute => 1,
            ReceiptState::Delivered => 2,
            ReceiptState::Expired => 3,
            ReceiptState::Deleted => 4,
            ReceiptState::Undeliverable => 5,
            ReceiptState::Accepted => 6,
            ReceiptState::Unknown | ReceiptState::Other(_) => 7,
            ReceiptState::Rejected => 8,
        }
    }

    /// Whether no further receipt will follow.
    pub fn is_final(&self) -> bool {
        !matches!(self, ReceiptState::Enroute | ReceiptState::Accepted)
    }
}

/// A parsed delivery receipt.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Receipt {
    /// The SMSC message id: receipted_message_id TLV if present, else `id:` from the text.
    pub message_id: String,
    /// The `id:` from the text, when present (may differ in form from the TLV: hex vs decimal).
    pub text_id: Option<String>,
    /// The state: message_state TLV if present, else `stat:`.
    pub state: ReceiptState,
    /// `err:` as sent (often a 3-digit network error code).
    pub error: Option<String>,
    /// `sub:` submitted count.
    pub submitted: Option<u32>,
    /// `dlvrd:` delivered count.
    pub delivered: Option<u32>,
    /// `submit date:` digits (YYMMDDhhmm or YYMMDDhhmmss).
    pub submit_date: Option<String>,
    /// `done date:` digits.
    pub done_date: Option<String>,
    /// `text:` the first characters of the message.
    pub text: Option<String>,
    /// network_error_code TLV: (network type, code).
    pub network_error: Option<(u8, u16)>,
    /// Receipt originator (the handset).
    pub source: String,
    /// Receipt destination (the original sender).
    pub dest: String,
}

/// Why a deliver_sm could not be read as a receipt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// Neither the receipted_message_id TLV nor an `id:` field was found.
    #[error("receipt has no message id")]
    NoId,
    /// Neither message_state nor `stat:` was found.
    #[error("receipt has no state")]
    NoState,
}

/// The fields found in an Appendix B receipt text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReceiptText {
    /// `id:`
    pub id: Option<String>,
    /// `sub:`
    pub sub: Option<String>,
    /// `dlvrd:`
    pub dlvrd: Option<String>,
    /// `submit date:`
    pub submit_date: Option<String>,
    /// `done date:`
    pub done_date: Option<String>,
    /// `stat:`
    pub stat: Option<String>,
    /// `err:`
    pub err: Option<String>,
    /// `text:` (everything after it).
    pub text: Option<String>,
}

const KEYS: [&str; 8] = [
    "id:",
    "sub:",
    "dlvrd:",
    "submit date:",
    "done date:",
    "stat:",
    "err:",
    "text:",
];

/// Parses the text form, tolerating case, order, missing fields and odd spacing.
pub fn parse_text(s: &str) -> ReceiptText {
    let lower = s.to_ascii_lowercase();
    // Find where each known key starts (at the start or after whitespace), then each value
    // runs to the next key; `text:` runs to the end because it may contain anything.
    let mut found: Vec<(usize, usize, usize)> = Vec::new();
    for (k, key) in KEYS.iter().enumerate() {
        let mut from = 0;
        while let Some(pos) = lower[from..].find(key) {
            let at = from + pos;
            let boundary = at == 0 || lower.as_bytes()[at - 1].is_ascii_whitespace();
            // "submit date:" contains "date:"-like tails; "id:" can appear inside "msgid:".
            if boundary && !found.iter().any(|f| f.0 == k) {
                found.push((k, at, at + key.len()));
                break;
            }
            from = at + key.len();
        }
    }
    found.sort_by_key(|f| f.1);
    let text_key = 7;
    let mut out = ReceiptText::default();
    for (i, &(k, _, vstart)) in found.iter().enumerate() {
        let end = match (k == text_key, found.get(i + 1)) {
            (false, Some(next)) => next.1,
            _ => s.len(),
        };
        let raw = s.get(vstart..end).unwrap_or("");
        let v = if k == text_key {
            raw.strip_prefix(' ').unwrap_or(raw).to_owned()
        } else {
            raw.trim().to_owned()
        };
        let slot = match k {
            0 => &mut out.id,
            1 => &mut out.sub,
            2 => &mut out.dlvrd,
            3 => &mut out.submit_date,
            4 => &mut out.done_date,
            5 => &mut out.stat,
            6 => &mut out.err,
            _ => &mut out.text,
        };
        *slot = Some(v);
    }
    out
}

impl Receipt {
    /// Reads a receipt from a deliver_sm (or data_sm turned into one) with a receipt esm_class.
    pub fn from_deliver(sm: &ShortMessage) -> Result<Receipt, ReceiptError> {
        let body = String::from_utf8_lossy(sm.user_data());
        let t = parse_text(&body);
        let message_id = sm
            .tlvs
            .receipted_message_id()
            .filter(|s| !s.is_empty())
            .or_else(|| t.id.clone().filter(|s| !s.is_empty()))
            .ok_or(ReceiptError::NoId)?;
        let state = match (sm.tlvs.message_state(), &t.stat) {
            (Some(v), _) => ReceiptState::from_message_state(v),
            (None, Some(s)) => ReceiptState::parse(s),
            (None, None) => return Err(ReceiptError::NoState),
        };
        let num = |v: &Option<String>| v.as_deref().and_then(|s| s.parse::<u32>().ok());
        Ok(Receipt {
            message_id,
            text_id: t.id.clone(),
            state,
            error: t.err.clone(),
            submitted: num(&t.sub),
            delivered: num(&t.dlvrd),
            submit_date: t.submit_date.clone(),
            done_date: t.done_date.clone(),
            text: t.text.clone(),
            network_error: sm.tlvs.network_error_code(),
            source: sm.source.addr.clone(),
            dest: sm.dest.addr.clone(),
        })
    }

    /// Whether this receipt is about `submit_id` (the id from submit_sm_resp), allowing the
    /// forms SMSCs mix up: case, leading zeros, and hex in one place with decimal in another.
    pub fn matches(&self, submit_id: &str) -> bool {
        let ids = std::iter::once(self.message_id.as_str()).chain(self.text_id.as_deref());
        ids.into_iter().any(|id| ids_match(id, submit_id))
    }
}

/// Whether two SMSC message ids name the same message (see [`Receipt::matches`]).
pub fn ids_match(a: &str, b: &str) -> bool {
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    let dec = |s: &str| s.parse::<u128>().ok();
    let hex = |s: &str| u128::from_str_radix(s, 16).ok();
    match (dec(a), dec(b)) {
        (Some(x), Some(y)) if x == y => return true,
        _ => {}
    }
    // One side hex, the other decimal (either way round), or both hex with padding.
    [(hex(a), dec(b)), (dec(a), hex(b)), (hex(a), hex(b))]
        .iter()
        .any(|p| matches!(p, (Some(x), Some(y)) if x == y))
}
