//! Single sends: `POST /api/v1/messages` queues one message (text or template) to a phone or
//! a TC ID number, with an optional `Idempotency-Key`; `GET /api/v1/messages/{id}` shows its
//! states with timestamps, segments and the operator's ids.

use std::collections::BTreeMap;

use axum::Json as JsonOut;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use ulak_core::model::{
    DEFAULT_VALIDITY_S, MessageId, NewMessage, ProviderAccount, Recipient, Role, TemplateId,
    check_schedule, check_validity, valid_until,
};
use ulak_core::{Msisdn, Tckn};
use ulak_store::MessageDetail;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::Millis;
use crate::auth::Caller;
use crate::error::{ApiError, FieldError, Json, Path};
use crate::startup::AppState;

/// A message to send.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageIn {
    /// A mobile number in any common form, or an 11-digit TC ID number (sent with the TC-ID
    /// sender header; needs the TC-ID subscription).
    pub to: String,
    /// The text; or give `template_id` (and `fields`).
    #[serde(default)]
    pub text: Option<String>,
    /// A saved template to render with `fields`.
    #[serde(default)]
    pub template_id: Option<i64>,
    /// Values for the template's placeholders.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// One of the company's sender headers (default: the default header).
    #[serde(default)]
    pub sender: Option<String>,
    /// Seconds the operator may keep trying, 60 to 259200 (default 86400).
    #[serde(default)]
    #[schema(minimum = 60, maximum = 259200)]
    pub validity: Option<u64>,
    /// Send at this time (unix milliseconds) instead of now: from now to one year ahead.
    #[serde(default)]
    pub scheduled_at: Option<Millis>,
}

/// A queued message.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageAccepted {
    /// Id, for `GET /api/v1/messages/{id}`.
    pub id: i64,
    /// `queued` or `scheduled`.
    pub state: String,
    /// `msisdn` or `tckn`.
    pub recipient_kind: String,
    /// E.164 number or TC ID number.
    pub recipient: String,
    /// Sender header.
    pub sender: String,
    /// Encoding chosen by the text engine.
    pub encoding: String,
    /// SMS segments.
    pub segments: u32,
    /// Credits reserved.
    pub cost: i64,
}

/// A segment as the operator took it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartOut {
    /// 1-based segment number.
    pub part_no: u32,
    /// The operator's message id.
    pub operator_id: String,
    /// The segment's state.
    pub state: String,
    /// The operator's error code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Submitted, unix ms.
    pub submitted_at: Millis,
    /// Receipt received, unix ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt_at: Option<Millis>,
}

/// A step in a message's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    /// The state entered.
    pub state: String,
    /// Details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// When, unix ms.
    pub at: Millis,
}

/// A message with its history.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageOut {
    /// Id.
    pub id: i64,
    /// Current state: scheduled, queued, sending, submitted, delivered, undeliverable,
    /// expired, rejected, unknown, failed, cancelled or skipped.
    pub state: String,
    /// Why it is in this state (error, retry), when there is something to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    /// Since when, unix ms.
    pub state_at: Millis,
    /// `msisdn` or `tckn`.
    pub recipient_kind: String,
    /// E.164 number or TC ID number.
    pub recipient: String,
    /// Sender header.
    pub sender: String,
    /// The text.
    pub text: String,
    /// Encoding.
    pub encoding: String,
    /// Segments.
    pub segments: u32,
    /// Credits.
    pub cost: i64,
    /// Submit attempts.
    pub attempts: u32,
    /// The operator's error code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Accepted, unix ms.
    pub created_at: Millis,
    /// Submitted, unix ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<Millis>,
    /// Final, unix ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_at: Option<Millis>,
    /// Segments as submitted.
    pub parts: Vec<PartOut>,
    /// History, oldest first.
    pub events: Vec<EventOut>,
}

impl From<MessageDetail> for MessageOut {
    fn from(d: MessageDetail) -> Self {
        let m = d.message;
        MessageOut {
            id: m.id.0,
            state: m.state.as_str().to_owned(),
            state_reason: m.state_reason,
            state_at: m.state_at,
            recipient_kind: m.recipient_kind,
            recipient: m.recipient,
            sender: m.sender,
            text: m.body,
            encoding: m.encoding,
            segments: m.segments,
            cost: m.cost,
            attempts: m.attempts,
            error_code: m.error_code,
            created_at: m.created_at,
            submitted_at: m.submitted_at,
            final_at: m.final_at,
            parts: d
                .parts
                .into_iter()
                .map(|p| PartOut {
                    part_no: p.part_no,
                    operator_id: p.operator_id,
                    state: p.state.as_str().to_owned(),
                    error_code: p.error_code,
                    submitted_at: p.submitted_at,
                    receipt_at: p.receipt_at,
                })
                .collect(),
            events: d
                .events
                .into_iter()
                .map(|e| EventOut {
                    state: e.state.as_str().to_owned(),
                    detail: e.detail,
                    at: e.at,
                })
                .collect(),
        }
    }
}

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send))
        .routes(routes!(get_one))
}

/// A TC ID number when `to` is one (11 digits, not starting with 0, valid check digits);
/// anything else is read as a phone number.
fn recipient(to: &str, country: ulak_core::CountryType) -> Result<Recipient, ApiError> {
    let t = to.trim();
    if t.len() == 11 && t.bytes().all(|b| b.is_ascii_digit()) && !t.starts_with('0') {
        return Tckn::parse(t)
            .map(Recipient::Tckn)
            .map_err(|e| ApiError::field("to", format!("not a valid TC ID number: {e}")));
    }
    Msisdn::parse(t, country)
        .map(Recipient::Msisdn)
        .map_err(|e| ApiError::field("to", e.to_string()))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The idempotency key from the header: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let s = v
        .to_str()
        .ok()
        .filter(|s| !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::field(
                "Idempotency-Key",
                "1 to 255 visible ASCII characters expected",
            )
        })?;
    Ok(Some(s.to_owned()))
}

/// Queues one message. Answers 202 with its id, encoding, segments and cost; a repeat with the
/// same `Idempotency-Key` (within 24 hours) answers the first result again and creates
/// nothing; the same key with a different body is a 409.
#[utoipa::path(post, path = "/messages", tag = "messages", request_body = MessageIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: a repeat within 24 hours returns the first answer")),
    responses(
        (status = 202, description = "Queued", body = MessageAccepted),
        (status = 409, description = "Insufficient credit, or the Idempotency-Key was used for another request", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn send(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Json(body): Json<MessageIn>,
) -> Result<Response, ApiError> {
    caller.require(Role::Operator)?;
    let key = idempotency_key(&headers)?;
    let store = state.store();
    let company = caller.company;
    let settings = store
        .get_sms_settings(company)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut errors: Vec<FieldError> = Vec::new();
    let to = match recipient(&body.to, settings.country_type) {
        Ok(r) => Some(r),
        Err(ApiError::Validation(mut v)) => {
            errors.append(&mut v);
            None
        }
        Err(e) => return Err(e),
    };
    let mut field = |f: &str, m: String| {
        errors.push(FieldError {
            field: f.to_owned(),
            code: "invalid".to_owned(),
            message: m,
        })
    };
    // The text: given, or a template rendered with the fields.
    let text = match (&body.text, body.template_id) {
        (Some(t), None) => Some(t.clone()),
        (None, Some(id)) => match store.get_template(company, TemplateId(id)).await? {
            None => {
                field("template_id", "no such template".to_owned());
                None
            }
            Some(t) => match t.body.render_map(&body.fields) {
                Ok(text) => Some(text),
                Err(missing) => {
                    for f in missing.0 {
                        field(&format!("fields.{f}"), format!("no value for {{{{{f}}}}}"));
                    }
                    None
                }
            },
        },
        (Some(_), Some(_)) => {
            field("text", "give text or template_id, not both".to_owned());
            None
        }
        (None, None) => {
            field("text", "give text or template_id".to_owned());
            None
        }
    };
    // The sender: TC ID sends use the TC-ID header; others one of the company's headers.
    let sender = match &to {
        Some(Recipient::Tckn(_)) => {
            if !settings.tckn_subscription_active {
                field(
                    "to",
                    "the company's TC-ID subscription is not active".to_owned(),
                );
                None
            } else if let Some(h) = settings.tckn_sender.clone() {
                if body.sender.as_deref().is_some_and(|s| s != h.as_str()) {
                    field(
                        "sender",
                        format!("TC ID sends use the TC-ID header {}", h.as_str()),
                    );
                    None
                } else {
                    Some(h)
                }
            } else {
                field(
                    "to",
                    "no TC-ID sender header is set in the SMS settings".to_owned(),
                );
                None
            }
        }
        _ => match (
            store
                .find_sender_header(company, body.sender.as_deref())
                .await?,
            &body.sender,
        ) {
            (Some(h), _) => Some(h.name),
            (None, Some(_)) => {
                field(
                    "sender",
                    "not one of the company's sender headers".to_owned(),
                );
                None
            }
            (None, None) => {
                field("sender", "no default sender header is set".to_owned());
                None
            }
        },
    };
    let provider: Option<ProviderAccount> = store.sending_account(company).await?;
    if provider.is_none() {
        field(
            "to",
            "the company has no enabled provider account to send through".to_owned(),
        );
    }
    let validity = match check_validity(body.validity) {
        Ok(v) => v,
        Err(e) => {
            field("validity", e.message);
            DEFAULT_VALIDITY_S
        }
    };
    let now = now_ms();
    if let Some(at) = body.scheduled_at
        && let Err(e) = check_schedule(at, now)
    {
        field("scheduled_at", e.message);
    }
    if let (Some(Recipient::Msisdn(m)), Some(_)) = (&to, &provider)
        && store.is_opted_out(company, m).await?
    {
        field("to", "the number is on the opt-out list".to_owned());
    }
    let (Some(to), Some(text), Some(sender), Some(provider), true) =
        (to, text, sender, provider, errors.is_empty())
    else {
        return Err(ApiError::Validation(errors));
    };
    // Both are bounded above, so this cannot overflow; checked all the same.
    let valid_until = valid_until(body.scheduled_at, now, i64::try_from(validity).unwrap_or(0))
        .ok_or_else(|| ApiError::field("scheduled_at", "too far ahead"))?;
    let new = NewMessage::new(
        to,
        sender,
        &text,
        provider.text_policy,
        1,
        Some(provider.id),
        body.scheduled_at,
        valid_until,
    )?;
    let hash = {
        let canonical = serde_json::to_vec(&body).unwrap_or_default();
        let digest = sha2::Sha256::digest(&canonical);
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let idem = key.as_deref().map(|k| (k, hash.as_str()));
    let enqueued = store.enqueue_message(company, new, idem).await?;
    let m = enqueued.message;
    let out = MessageAccepted {
        id: m.id.0,
        state: m.state.as_str().to_owned(),
        recipient_kind: m.recipient_kind,
        recipient: m.recipient,
        sender: m.sender,
        encoding: m.encoding,
        segments: m.segments,
        cost: m.cost,
    };
    let mut res = (StatusCode::ACCEPTED, JsonOut(out)).into_response();
    if enqueued.replayed {
        res.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(res)
}

/// Reads a message: its state (and why, since when), segments with the operator's ids, and
/// its history.
#[utoipa::path(get, path = "/messages/{id}", tag = "messages", params(("id" = i64, Path, description = "Message id")),
    responses((status = 200, body = MessageOut)), security(("api_key" = [])))]
async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<JsonOut<MessageOut>, ApiError> {
    let d = state
        .store()
        .get_message(caller.company, MessageId(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(JsonOut(d.into()))
}
