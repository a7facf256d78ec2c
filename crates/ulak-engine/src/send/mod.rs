//! The send service: the one way a single message enters Ulak (the API's `POST /messages`
//! today; the web UI, OTP, alerts and inbox replies later). It decides the recipient kind, the
//! text (given, or a template rendered), the sender header and the TC ID rules, the provider
//! account, validity and schedule, the opt-out list, and takes the credit and the idempotency
//! key with the message in one transaction. Callers map the request in and the [`SendError`]
//! out; no rule lives in them. Campaigns apply the same rules per recipient ([`rules`]).

mod batch;
mod lookups;
pub mod rules;

use std::collections::BTreeMap;

use sha2::Digest;
use ulak_core::Code;
use ulak_core::model::{
    Attributes, CompanyId, DEFAULT_VALIDITY_S, Message, NewMessage, Recipient, RuleError,
    SenderName, SmsSettings, TrafficClass, ValidationErrors, check_schedule, check_validity,
    limits, valid_until, validation,
};
use ulak_store::{Idempotency, Store, StoreError, StoredAnswer};

pub use batch::{BATCH_MAX, BatchItem, send_batch};
use lookups::Lookups;
pub use rules::{
    PRICE_PER_SEGMENT, RecipientKind, SenderRefusal, SenderSetup, message_for, sender_for,
};

/// What a message says: a text, or a saved template with values for its placeholders.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Content {
    /// Neither was given (refused with `text.missing`).
    None,
    /// The text as given.
    Text(String),
    /// A template of the company, with values.
    Template {
        /// Its id.
        id: i64,
        /// Values for its placeholders.
        fields: BTreeMap<String, String>,
    },
    /// Both were given (refused with `text.ambiguous`).
    Both,
}

/// One message to send, as a caller gives it (unchecked).
#[derive(Debug, Clone)]
pub struct SendRequest {
    /// A mobile number in any common form, or an 11-digit TC ID number.
    pub to: String,
    /// What to say.
    pub content: Content,
    /// One of the company's sender headers (`None`: the default).
    pub sender: Option<String>,
    /// Seconds the operator may keep trying (`None`: the default).
    pub validity: Option<u64>,
    /// When to send (unix ms; `None`: now).
    pub scheduled_at: Option<i64>,
    /// Its lane: an OTP code overtakes a single send, both overtake campaigns.
    pub class: TrafficClass,
}

/// Makes a send safe to repeat: the key, and the answer the caller gives for the message it
/// creates (stored with the key, given back byte for byte on a repeat).
pub struct IdempotentBy<'a> {
    /// The client's key (already checked by the caller's own rules of form).
    pub key: &'a str,
    /// The first answer, built from the new message.
    pub answer: fn(&Message) -> StoredAnswer,
}

/// What a send did.
#[derive(Debug)]
pub enum Sent {
    /// The message was queued (or scheduled).
    Queued(Message),
    /// The key was used before for this same request: nothing new; the first answer.
    Replayed {
        /// The first message, as it is now.
        message: Message,
        /// The first answer (`None` for keys stored before answers were).
        answer: Option<StoredAnswer>,
    },
}

/// Why a send was refused.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Rules were broken; each with its field and code.
    #[error("{0}")]
    Invalid(ValidationErrors),
    /// The company has no SMS settings.
    #[error("the company has no SMS settings")]
    NoSettings,
    /// The balance does not cover the message.
    #[error("insufficient credit: balance {balance}, change {amount}")]
    InsufficientCredit {
        /// The balance.
        balance: i64,
        /// What the message would take (negative).
        amount: i64,
    },
    /// The idempotency key was used in the last 24 hours for another request.
    #[error("the Idempotency-Key was already used in the last 24 hours for a different request")]
    IdempotencyMismatch,
    /// The database failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for SendError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Validation(v) => SendError::Invalid(v),
            StoreError::InsufficientCredit { balance, amount } => {
                SendError::InsufficientCredit { balance, amount }
            }
            StoreError::IdempotencyConflict => SendError::IdempotencyMismatch,
            other => SendError::Store(other),
        }
    }
}

/// Sends one message for `company` (see the module documentation). With `idempotency`, a
/// repeat of the same request (compared in its normalized form: a number written another way
/// is the same request) within 24 hours answers what the first did and creates nothing.
pub async fn send(
    store: &Store,
    company: CompanyId,
    request: SendRequest,
    idempotency: Option<IdempotentBy<'_>>,
) -> Result<Sent, SendError> {
    let mut lookups = Lookups::new(store, company).await?;
    let settings = lookups.settings.clone();
    let to = Recipient::parse(&request.to, settings.country_type);
    // Only a keyed request needs its fingerprint (a canonical JSON and its SHA-256).
    let hash = idempotency
        .as_ref()
        .map(|_| fingerprint(&request, to.as_ref().ok()))
        .unwrap_or_default();
    if let Some(i) = &idempotency
        && let Some(first) = store.idempotent_replay(company, i.key, &hash).await?
    {
        return Ok(replayed(first));
    }
    let new = checked(&mut lookups, &settings, request, to).await?;
    let idem = idempotency.as_ref().map(|i| Idempotency {
        key: i.key,
        request_hash: &hash,
        answer: i.answer,
    });
    let enqueued = store.enqueue_message(company, new, idem).await?;
    if enqueued.replayed {
        return Ok(replayed(enqueued));
    }
    Ok(Sent::Queued(enqueued.message))
}

fn replayed(e: ulak_store::Enqueued) -> Sent {
    Sent::Replayed {
        message: e.message,
        answer: e.answer,
    }
}

fn now_ms() -> i64 {
    crate::worker::now_ms()
}

/// The request's fingerprint for its idempotency key, on its normalized form: the recipient
/// as E.164 or TC ID number, the sender trimmed, the validity with its default.
fn fingerprint(r: &SendRequest, to: Option<&Recipient>) -> String {
    let to = match to {
        Some(t) => format!("{}:{}", t.kind(), t.address()),
        None => format!("raw:{}", r.to.trim()),
    };
    // The same JSON the API hashed before the service existed, so keys stored then still
    // match their repeats.
    let (text, template_id, fields) = match &r.content {
        Content::Text(t) => (Some(t.as_str()), None, BTreeMap::new()),
        Content::Template { id, fields } => (None, Some(*id), fields.clone()),
        Content::None | Content::Both => (None, None, BTreeMap::new()),
    };
    let canonical = serde_json::json!({
        "to": to,
        "text": text,
        "template_id": template_id,
        "fields": fields,
        "sender": r.sender.as_deref().map(str::trim),
        "validity": r.validity.unwrap_or(DEFAULT_VALIDITY_S),
        "scheduled_at": r.scheduled_at,
    });
    let digest = sha2::Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every rule of a send, each broken one reported: the text (or the rendered template), the
/// sender, a provider account, the validity and schedule, the opt-out list.
async fn checked(
    l: &mut Lookups<'_>,
    settings: &SmsSettings,
    r: SendRequest,
    to: Result<Recipient, RuleError>,
) -> Result<NewMessage, SendError> {
    let mut e = ValidationErrors::default();
    let to = e.take("to", to);
    let text = message_text(l, r.content, &mut e).await?;
    let sender = message_sender(l, settings, to.as_ref(), r.sender, &mut e).await?;
    let account = l.account(to.as_ref(), r.class).await?;
    if account.is_none() {
        let m = "the company has no enabled provider account to send through";
        e.push("to", Code::ProviderNone, m);
    }
    let validity = match check_validity(r.validity) {
        Ok(v) => v,
        Err(err) => {
            e.push("validity", err.code, err.message);
            DEFAULT_VALIDITY_S
        }
    };
    let now = now_ms();
    if let Some(at) = r.scheduled_at
        && let Err(err) = check_schedule(at, now)
    {
        e.push("scheduled_at", err.code, err.message);
    }
    // A batch read its opt-outs up front and reports them with the other faults; a single
    // send leaves the check to the accepting transaction (`unless_opted_out` below).
    if let (Some(Recipient::Msisdn(m)), Some(_)) = (&to, &account)
        && l.opted_out(m)
    {
        e.push(
            "to",
            Code::PhoneOptedOut,
            "the number is on the opt-out list",
        );
    }
    let (Some(to), Some(text), Some(sender), Some((route, account)), true) =
        (to, text, sender, account, e.is_empty())
    else {
        return Err(SendError::Invalid(e));
    };
    // Both are bounded above, so this cannot overflow; checked all the same.
    let valid_until = valid_until(r.scheduled_at, now, i64::try_from(validity).unwrap_or(0))
        .ok_or_else(|| {
            SendError::Invalid(ValidationErrors::single(
                "scheduled_at",
                Code::ScheduleOutOfRange,
                "too far ahead",
            ))
        })?;
    message_for(&account, to, sender, &text, r.scheduled_at, valid_until)
        .map(|m| m.in_class(r.class).routed(route).unless_opted_out())
        .map_err(SendError::Invalid)
}

/// A send's text: the given one (at most [`limits::MESSAGE_TEXT`] characters), or a template
/// rendered with its values (which follow the attribute rules: they fill the same
/// placeholders).
async fn message_text(
    l: &mut Lookups<'_>,
    content: Content,
    e: &mut ValidationErrors,
) -> Result<Option<String>, SendError> {
    Ok(match content {
        Content::Text(t) => e
            .take("text", validation::check_length(&t, limits::MESSAGE_TEXT))
            .map(|()| t),
        Content::Template { id, fields } => {
            let values = Attributes::fields(fields)
                .map_err(|errs| e.0.extend(errs.0))
                .ok();
            let template = l.template(id).await?;
            match (template, values) {
                (None, _) => {
                    e.push("template_id", Code::TemplateUnknown, "no such template");
                    None
                }
                (Some(_), None) => None,
                (Some(t), Some(values)) => match t.body.render_map(values.as_map()) {
                    Ok(text) => Some(text),
                    Err(missing) => {
                        for f in missing.0 {
                            let m = format!("no value for {{{{{f}}}}}");
                            e.push(format!("fields.{f}"), Code::TemplateFieldMissing, m);
                        }
                        None
                    }
                },
            }
        }
        Content::Both => {
            let m = "give text or template_id, not both";
            e.push("text", Code::TextAmbiguous, m);
            None
        }
        Content::None => {
            e.push("text", Code::TextMissing, "give text or template_id");
            None
        }
    })
}

/// A send's sender header, by [`sender_for`]: the one asked for must be the company's. An
/// unreadable recipient is checked as a phone, so the header's own faults are still told.
async fn message_sender(
    l: &mut Lookups<'_>,
    settings: &SmsSettings,
    to: Option<&Recipient>,
    asked: Option<String>,
    e: &mut ValidationErrors,
) -> Result<Option<SenderName>, SendError> {
    let asked = match asked.as_deref().map(SenderName::parse) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(err)) => {
            e.push("sender", err.code, err.message);
            return Ok(None);
        }
    };
    let kind = to.map_or(RecipientKind::Phone, RecipientKind::from);
    let header = match kind {
        RecipientKind::Tckn => None,
        RecipientKind::Phone => {
            let name = asked.as_ref().map(SenderName::as_str);
            l.header(name).await?
        }
    };
    let setup = SenderSetup {
        header,
        tckn_header: settings.tckn_sender.clone(),
        tckn_subscription: settings.tckn_subscription_active,
    };
    Ok(match sender_for(&setup, kind, asked.as_ref()) {
        Ok(s) if to.is_some() => Some(s),
        Ok(_) => None,
        Err(r) => {
            e.push(r.field, r.code, r.message);
            None
        }
    })
}
