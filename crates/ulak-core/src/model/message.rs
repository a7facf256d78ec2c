//! Outgoing messages: who gets what, from which header, at what cost, and the states a
//! message moves through (docs/decisions/0005-sending-engine.md).

use crate::Code;

use serde::{Deserialize, Serialize};

use super::validation::{Lines, RuleError, ValidationErrors, check_controls};
use super::{CompanyId, MessageId, ProviderAccountId, RouteId, SenderName};
use crate::{Msisdn, Tckn};

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// Accepted, waiting for its send time.
    Scheduled,
    /// Waiting for a worker.
    Queued,
    /// Claimed by a worker and being submitted.
    Sending,
    /// The operator took it; waiting for the delivery report.
    Submitted,
    /// The handset got it.
    Delivered,
    /// The operator could not deliver it.
    Undeliverable,
    /// Its validity ran out before delivery.
    Expired,
    /// The operator refused it.
    Rejected,
    /// The operator does not know what became of it.
    Unknown,
    /// It could not be submitted (a permanent error, or retries used up).
    Failed,
    /// Cancelled before it was submitted.
    Cancelled,
    /// Never sent: opted out or invalid (campaign recipients), with the reason.
    Skipped,
}

impl MessageState {
    /// Every state.
    pub const ALL: [MessageState; 12] = [
        Self::Scheduled,
        Self::Queued,
        Self::Sending,
        Self::Submitted,
        Self::Delivered,
        Self::Undeliverable,
        Self::Expired,
        Self::Rejected,
        Self::Unknown,
        Self::Failed,
        Self::Cancelled,
        Self::Skipped,
    ];

    /// Whether a message in this state may move to `next`: the one table of message
    /// transitions. A message enters as `scheduled`, `queued` or (a campaign recipient left
    /// out) `skipped`. Waiting ones become due, expire, are cancelled with their campaign or
    /// skipped when the number opts out; a worker claims a queued one; a claimed one is taken
    /// by the operator, refused for good, or goes back to the queue (a retry, a lost lease, a
    /// stop); the operator's report settles a submitted one.
    pub fn may_become(self, next: MessageState) -> bool {
        use MessageState as S;
        match self {
            S::Scheduled => matches!(next, S::Queued | S::Expired | S::Cancelled | S::Skipped),
            S::Queued => matches!(next, S::Sending | S::Expired | S::Cancelled | S::Skipped),
            S::Sending => matches!(next, S::Submitted | S::Queued | S::Failed),
            S::Submitted => matches!(
                next,
                S::Delivered | S::Undeliverable | S::Expired | S::Rejected | S::Unknown
            ),
            _ => false,
        }
    }

    /// Whether nothing more will happen to it.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            Self::Scheduled | Self::Queued | Self::Sending | Self::Submitted
        )
    }

    /// Whether it ended without reaching the handset (neither delivered nor withdrawn by
    /// the company: cancelled and left-out messages are not failures).
    pub fn is_failure(self) -> bool {
        self.is_final() && !matches!(self, Self::Delivered | Self::Cancelled | Self::Skipped)
    }
}

stable_names!(MessageState {
    Scheduled => "scheduled",
    Queued => "queued",
    Sending => "sending",
    Submitted => "submitted",
    Delivered => "delivered",
    Undeliverable => "undeliverable",
    Expired => "expired",
    Rejected => "rejected",
    Unknown => "unknown",
    Failed => "failed",
    Cancelled => "cancelled",
    Skipped => "skipped"
});

/// What kind of traffic a message is: its lane. A worker hands out the lower priority first,
/// so an OTP code overtakes a single send, and both overtake a running campaign on the same
/// account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrafficClass {
    /// One-time codes: the most urgent.
    Otp,
    /// Single sends (the API's `POST /messages`, alerts, replies).
    Transactional,
    /// A campaign's messages.
    Campaign,
}

impl TrafficClass {
    /// Every class, most urgent first.
    pub const ALL: [TrafficClass; 3] = [Self::Otp, Self::Transactional, Self::Campaign];

    /// The stored priority: 0 is handed out first.
    pub fn priority(self) -> i64 {
        match self {
            Self::Otp => 0,
            Self::Transactional => 1,
            Self::Campaign => 2,
        }
    }

    /// The class of a stored priority (anything unknown counts as a campaign's: last).
    pub fn from_priority(p: i64) -> TrafficClass {
        match p {
            0 => Self::Otp,
            1 => Self::Transactional,
            _ => Self::Campaign,
        }
    }
}

stable_names!(TrafficClass {
    Otp => "otp",
    Transactional => "transactional",
    Campaign => "campaign"
});

/// Whom a message goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// A mobile number.
    Msisdn(Msisdn),
    /// A TC ID number: the operator delivers to the line registered to it (needs the
    /// company's TC-ID subscription and header).
    Tckn(Tckn),
}

impl Recipient {
    /// `msisdn` or `tckn`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Msisdn(_) => "msisdn",
            Self::Tckn(_) => "tckn",
        }
    }

    /// Reads a recipient as a request gives it: an 11-digit TC ID number (not starting with
    /// 0), or else a mobile number in any common form, a national one read by `country`.
    pub fn parse(to: &str, country: crate::CountryType) -> Result<Self, RuleError> {
        let t = to.trim();
        if t.len() == 11 && t.bytes().all(|b| b.is_ascii_digit()) && !t.starts_with('0') {
            return super::validation::tckn(to)
                .map(Recipient::Tckn)
                .map_err(|e| RuleError::new(e.code, format!("not a valid TC ID number: {e}")));
        }
        super::validation::phone(to, country).map(Recipient::Msisdn)
    }

    /// The address as stored: E.164, or the 11 digits.
    pub fn address(&self) -> String {
        match self {
            Self::Msisdn(m) => m.e164().to_owned(),
            Self::Tckn(t) => t.as_string(),
        }
    }
}

/// Furthest ahead a send may be scheduled: one year (366 days, for leap years).
pub const MAX_SCHEDULE_AHEAD_MS: i64 = 366 * 24 * 3600 * 1000;
/// How far in the past a schedule may lie (clocks differ); earlier is a mistake, not "now".
pub const SCHEDULE_SKEW_MS: i64 = 60_000;
/// Shortest validity, seconds.
pub const MIN_VALIDITY_S: u64 = 60;
/// Longest validity, seconds: 72 hours (operators keep messages about that long).
pub const MAX_VALIDITY_S: u64 = 72 * 3600;
/// Validity when none is given, seconds: 24 hours.
pub const DEFAULT_VALIDITY_S: u64 = 24 * 3600;

/// Checks a send time (unix ms) against `now`: from a minute ago to one year ahead.
pub fn check_schedule(at: i64, now: i64) -> Result<i64, RuleError> {
    let earliest = now.saturating_sub(SCHEDULE_SKEW_MS);
    let latest = now.saturating_add(MAX_SCHEDULE_AHEAD_MS);
    if (earliest..=latest).contains(&at) {
        Ok(at)
    } else {
        Err(RuleError::new(
            Code::ScheduleOutOfRange,
            "must be from now to one year ahead (unix milliseconds)",
        ))
    }
}

/// Checks a validity in seconds ([`MIN_VALIDITY_S`] to [`MAX_VALIDITY_S`]; the default when
/// absent).
pub fn check_validity(seconds: Option<u64>) -> Result<u64, RuleError> {
    let v = seconds.unwrap_or(DEFAULT_VALIDITY_S);
    if (MIN_VALIDITY_S..=MAX_VALIDITY_S).contains(&v) {
        Ok(v)
    } else {
        Err(RuleError::new(
            Code::ValidityOutOfRange,
            format!("must be {MIN_VALIDITY_S} to {MAX_VALIDITY_S} seconds"),
        ))
    }
}

/// When a message sent from `scheduled_at` (or `now`, whichever is later) with
/// `validity_s` seconds of validity expires (unix ms); `None` if that is past what a
/// timestamp holds or the validity is negative (stored values are not trusted to be sane).
pub fn valid_until(scheduled_at: Option<i64>, now: i64, validity_s: i64) -> Option<i64> {
    if validity_s < 0 {
        return None;
    }
    scheduled_at
        .unwrap_or(now)
        .max(now)
        .checked_add(validity_s.checked_mul(1000)?)
}

/// Most segments one message may have (a demanding limit well under the 255 the protocol
/// allows: beyond this a text is almost surely a mistake that would cost a fortune in bulk).
pub const MAX_MESSAGE_SEGMENTS: usize = 10;

/// A text counted the way sending counts it: the text engine's count, and whether it is over
/// the [`MAX_MESSAGE_SEGMENTS`] a message may have (sending refuses those).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextCount {
    /// The text engine's count.
    #[serde(flatten)]
    pub count: ulak_text::Count,
    /// Most segments one message may have: [`MAX_MESSAGE_SEGMENTS`].
    pub max_segments: usize,
    /// More segments than that: sending this text is refused.
    pub too_long: bool,
}

impl TextCount {
    /// Counts `text` under `opts`; fails only where the text engine does (over 255 segments).
    pub fn new(text: &str, opts: &ulak_text::Options) -> Result<Self, ulak_text::TextError> {
        let count = ulak_text::count(text, opts)?;
        Ok(Self {
            too_long: count.segments > MAX_MESSAGE_SEGMENTS,
            max_segments: MAX_MESSAGE_SEGMENTS,
            count,
        })
    }
}

/// A checked message, ready to be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Recipient.
    pub recipient: Recipient,
    /// Sender header.
    pub sender: SenderName,
    /// The text as it will be sent.
    pub body: String,
    /// Encoding name from the text engine (`gsm7`, `ucs2`…).
    pub encoding: String,
    /// SMS segments.
    pub segments: u32,
    /// Credits it costs (segments × the company's price per segment).
    pub cost: i64,
    /// The account that will send it.
    pub provider: Option<ProviderAccountId>,
    /// The route that chose the account (`None`: the company's first enabled account).
    pub route: Option<RouteId>,
    /// Not before this time (unix ms); `None` = now.
    pub scheduled_at: Option<i64>,
    /// Give up (state `expired`) if not submitted by then (unix ms).
    pub valid_until: i64,
    /// Its lane ([`NewMessage::new`] makes a transactional one).
    pub class: TrafficClass,
    /// Refuse it (`phone.opted_out`) if its number is on the company's opt-out list when it
    /// is committed: checked in the accepting transaction, so an opt-out that lands while it
    /// is being decided still counts. Campaigns leave it off (they skip opted-out
    /// recipients before).
    pub unless_opted_out: bool,
}

impl NewMessage {
    /// This message, refused if its number opted out (see [`NewMessage::unless_opted_out`]).
    #[must_use]
    pub fn unless_opted_out(mut self) -> Self {
        self.unless_opted_out = matches!(self.recipient, Recipient::Msisdn(_));
        self
    }

    /// This message, its account chosen by `route`.
    #[must_use]
    pub fn routed(mut self, route: Option<RouteId>) -> Self {
        self.route = route;
        self
    }

    /// This message in lane `class`.
    #[must_use]
    pub fn in_class(mut self, class: TrafficClass) -> Self {
        self.class = class;
        self
    }

    /// Counts `body` under `policy` and prices it; refuses empty texts and texts over
    /// [`MAX_MESSAGE_SEGMENTS`].
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        recipient: Recipient,
        sender: SenderName,
        body: &str,
        policy: ulak_text::Policy,
        price_per_segment: i64,
        provider: Option<ProviderAccountId>,
        scheduled_at: Option<i64>,
        valid_until: i64,
    ) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        if body.trim().is_empty() {
            e.push("text", Code::TextEmpty, "must not be empty");
        }
        // Rendered texts too: a template field's value may carry one.
        if let Err(err) = check_controls(body, Lines::Many) {
            e.push("text", err.code, err.message);
        }
        let count = TextCount::new(
            body,
            &ulak_text::Options {
                policy,
                ..ulak_text::Options::default()
            },
        );
        let segments = match count {
            Ok(c) if c.too_long => {
                e.push(
                    "text",
                    Code::TextTooLong,
                    format!(
                        "{} segments; at most {MAX_MESSAGE_SEGMENTS} per message",
                        c.count.segments
                    ),
                );
                None
            }
            Ok(c) => Some(c.count),
            Err(err) => {
                e.push("text", Code::TextUnencodable, err.to_string());
                None
            }
        };
        e.finish(|| {
            let c = segments?;
            let n = u32::try_from(c.segments).ok()?;
            Some(Self {
                recipient,
                sender,
                body: body.to_owned(),
                encoding: c.encoding.as_str().to_owned(),
                segments: n,
                cost: i64::from(n).checked_mul(price_per_segment)?,
                provider,
                route: None,
                scheduled_at,
                valid_until,
                class: TrafficClass::Transactional,
                unless_opted_out: false,
            })
        })
    }
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// Id.
    pub id: MessageId,
    /// Owning company.
    pub company_id: CompanyId,
    /// Campaign it belongs to, if any.
    pub campaign_id: Option<i64>,
    /// Sending account.
    pub provider_account_id: Option<ProviderAccountId>,
    /// The route that chose the account (`None`: no route, the company's first account).
    pub route_id: Option<RouteId>,
    /// `msisdn` or `tckn`.
    pub recipient_kind: String,
    /// E.164 or TC ID number.
    pub recipient: String,
    /// Sender header.
    pub sender: String,
    /// Text.
    pub body: String,
    /// Encoding.
    pub encoding: String,
    /// Segments.
    pub segments: u32,
    /// Credits reserved or charged.
    pub cost: i64,
    /// State.
    pub state: MessageState,
    /// Why it is in that state (error, retry reason), if anything is to say.
    pub state_reason: Option<String>,
    /// Since when (unix ms).
    pub state_at: i64,
    /// Submit attempts so far.
    pub attempts: u32,
    /// Next attempt (unix ms), for queued messages.
    pub next_attempt_at: i64,
    /// Validity end (unix ms).
    pub valid_until: i64,
    /// The operator's error code, if it gave one.
    pub error_code: Option<String>,
    /// Accepted (unix ms).
    pub created_at: i64,
    /// Submitted (unix ms).
    pub submitted_at: Option<i64>,
    /// Reached a final state (unix ms).
    pub final_at: Option<i64>,
    /// Its lane.
    pub class: TrafficClass,
}

/// One segment as the operator took it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessagePart {
    /// 1-based segment number.
    pub part_no: u32,
    /// The operator's message id, as written in its submit response.
    pub operator_id: String,
    /// This segment's state (from its receipt).
    pub state: MessageState,
    /// The operator's error code from the receipt.
    pub error_code: Option<String>,
    /// Submitted (unix ms).
    pub submitted_at: i64,
    /// Receipt received (unix ms).
    pub receipt_at: Option<i64>,
}

/// One step in a message's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageEvent {
    /// The state entered.
    pub state: MessageState,
    /// Details (error, attempt, operator id).
    pub detail: Option<String>,
    /// When (unix ms).
    pub at: i64,
}
