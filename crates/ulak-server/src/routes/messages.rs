//! Single sends: `POST /api/v1/messages` queues one message (text or template) to a phone or
//! a TC ID number, with an optional `Idempotency-Key`; `GET /api/v1/messages/{id}` shows its
//! states with timestamps, segments and the operator's ids.

use std::collections::BTreeMap;

use axum::Json as JsonOut;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use ulak_core::model::{
    Attributes, CompanyId, DEFAULT_VALIDITY_S, MessageId, NewMessage, ProviderAccount, Recipient,
    Role, RuleError, SenderName, SmsSettings, TemplateId, ValidationErrors, check_schedule,
    check_validity, limits, valid_until, validation,
};
use ulak_store::{Enqueued, Idempotency, MessageDetail, StoredAnswer};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::Millis;
use crate::auth::Caller;
use crate::error::{ApiError, Json, Path};
use crate::startup::AppState;

/// A message to send.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageIn {
    /// A mobile number in any common form, or an 11-digit TC ID number (sent with the TC-ID
    /// sender header; needs the TC-ID subscription).
    #[schema(value_type = super::schema::Recipient)]
    pub to: String,
    /// The text; or give `template_id` (and `fields`).
    #[serde(default)]
    #[schema(
        max_length = 1530,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub text: Option<String>,
    /// A saved template to render with `fields`.
    #[serde(default)]
    pub template_id: Option<i64>,
    /// Values for the template's placeholders.
    #[serde(default)]
    #[schema(value_type = super::schema::AttributeMap)]
    pub fields: BTreeMap<String, String>,
    /// One of the company's sender headers (default: the default header).
    #[serde(default)]
    #[schema(value_type = Option<super::schema::Sender>)]
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

/// The request's fingerprint for its idempotency key, on its normalized form: the recipient
/// as E.164 or TC ID number (`0532 123 45 67` and `+905321234567` are one request), the
/// sender trimmed, the validity with its default.
fn fingerprint(body: &MessageIn, to: Option<&Recipient>) -> String {
    let to = match to {
        Some(r) => format!("{}:{}", r.kind(), r.address()),
        None => format!("raw:{}", body.to.trim()),
    };
    let canonical = serde_json::json!({
        "to": to,
        "text": body.text,
        "template_id": body.template_id,
        "fields": body.fields,
        "sender": body.sender.as_deref().map(str::trim),
        "validity": body.validity.unwrap_or(DEFAULT_VALIDITY_S),
        "scheduled_at": body.scheduled_at,
    });
    let digest = sha2::Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The 202 answer of an accepted message.
fn accepted(m: &ulak_core::model::Message) -> MessageAccepted {
    MessageAccepted {
        id: m.id.0,
        state: m.state.as_str().to_owned(),
        recipient_kind: m.recipient_kind.clone(),
        recipient: m.recipient.clone(),
        sender: m.sender.clone(),
        encoding: m.encoding.clone(),
        segments: m.segments,
        cost: m.cost,
    }
}

/// The stored form of [`accepted`], replayed byte for byte.
fn stored(m: &ulak_core::model::Message) -> StoredAnswer {
    StoredAnswer {
        status: StatusCode::ACCEPTED.as_u16(),
        body: serde_json::to_string(&accepted(m)).unwrap_or_default(),
    }
}

/// A replay: the first answer exactly (rebuilt from the message for keys stored before
/// answers were), marked `Idempotent-Replayed: true`.
fn replay(e: Enqueued) -> Response {
    let answer = e.answer.unwrap_or_else(|| stored(&e.message));
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::ACCEPTED);
    let mut res = (status, answer.body).into_response();
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    res
}

/// Queues one message. Answers 202 with its id, encoding, segments and cost. A repeat with the
/// same `Idempotency-Key` within 24 hours answers exactly what the first request was
/// answered (status and body, with `Idempotent-Replayed: true`) and creates nothing — even
/// after the message was delivered or its number opted out; the request is compared in its
/// normalized form, so a number written another way is the same request. The same key with
/// another request is a 409. Refused requests (4xx) leave the key unused.
#[utoipa::path(post, path = "/messages", tag = "messages", request_body = MessageIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: a repeat within 24 hours returns the first answer", max_length = 255, pattern = r"^[!-~]+$")),
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
    let to = Recipient::parse(&body.to, settings.country_type);
    let hash = fingerprint(&body, to.as_ref().ok());
    if let Some(k) = key.as_deref()
        && let Some(first) = store.idempotent_replay(company, k, &hash).await?
    {
        return Ok(replay(first));
    }
    let new = checked(&state, company, &settings, body, to).await?;
    let idem = key.as_deref().map(|k| Idempotency {
        key: k,
        request_hash: &hash,
        answer: &stored,
    });
    let enqueued = store.enqueue_message(company, new, idem).await?;
    if enqueued.replayed {
        return Ok(replay(enqueued));
    }
    Ok((StatusCode::ACCEPTED, JsonOut(accepted(&enqueued.message))).into_response())
}

/// Every rule of a send, each broken one reported: the text (or the rendered template), the
/// sender, a provider account, the validity and schedule, the opt-out list.
async fn checked(
    state: &AppState,
    company: CompanyId,
    settings: &SmsSettings,
    body: MessageIn,
    to: Result<Recipient, RuleError>,
) -> Result<NewMessage, ApiError> {
    let store = state.store();
    let mut e = ValidationErrors::default();
    let to = e.take("to", to);
    // Values for placeholders follow the attribute rules (they fill the same placeholders).
    let fields = Attributes::fields(body.fields)
        .map_err(|errs| e.0.extend(errs.0))
        .ok();
    let text = message_text(state, company, body.text, body.template_id, fields, &mut e).await?;
    let sender = message_sender(state, company, settings, to.as_ref(), body.sender, &mut e).await?;
    let provider: Option<ProviderAccount> = store.sending_account(company).await?;
    if provider.is_none() {
        let m = "the company has no enabled provider account to send through";
        e.push("to", "invalid", m);
    }
    let validity = match check_validity(body.validity) {
        Ok(v) => v,
        Err(err) => {
            e.push("validity", err.code, err.message);
            DEFAULT_VALIDITY_S
        }
    };
    let now = now_ms();
    if let Some(at) = body.scheduled_at
        && let Err(err) = check_schedule(at, now)
    {
        e.push("scheduled_at", err.code, err.message);
    }
    if let (Some(Recipient::Msisdn(m)), Some(_)) = (&to, &provider)
        && store.is_opted_out(company, m).await?
    {
        e.push("to", "invalid", "the number is on the opt-out list");
    }
    let (Some(to), Some(text), Some(sender), Some(provider), true) =
        (to, text, sender, provider, e.is_empty())
    else {
        return Err(e.into());
    };
    // Both are bounded above, so this cannot overflow; checked all the same.
    let valid_until = valid_until(body.scheduled_at, now, i64::try_from(validity).unwrap_or(0))
        .ok_or_else(|| ApiError::field("scheduled_at", "too far ahead"))?;
    Ok(NewMessage::new(
        to,
        sender,
        &text,
        provider.text_policy,
        1,
        Some(provider.id),
        body.scheduled_at,
        valid_until,
    )?)
}

/// A send's text: the given one (at most [`limits::MESSAGE_TEXT`] characters), or a template
/// rendered with `fields`.
async fn message_text(
    state: &AppState,
    company: CompanyId,
    text: Option<String>,
    template_id: Option<i64>,
    fields: Option<Attributes>,
    e: &mut ValidationErrors,
) -> Result<Option<String>, ApiError> {
    Ok(match (text, template_id) {
        (Some(t), None) => e
            .take("text", validation::check_length(&t, limits::MESSAGE_TEXT))
            .map(|()| t),
        (None, Some(id)) => {
            let template = state.store().get_template(company, TemplateId(id)).await?;
            match (template, fields) {
                (None, _) => {
                    e.push("template_id", "invalid", "no such template");
                    None
                }
                (Some(_), None) => None,
                (Some(t), Some(values)) => match t.body.render_map(values.as_map()) {
                    Ok(text) => Some(text),
                    Err(missing) => {
                        for f in missing.0 {
                            let m = format!("no value for {{{{{f}}}}}");
                            e.push(format!("fields.{f}"), "invalid", m);
                        }
                        None
                    }
                },
            }
        }
        (Some(_), Some(_)) => {
            e.push("text", "invalid", "give text or template_id, not both");
            None
        }
        (None, None) => {
            e.push("text", "invalid", "give text or template_id");
            None
        }
    })
}

/// A send's sender header: TC ID sends use the TC-ID header (with the subscription active);
/// others the one named, which must be the company's, or its default.
async fn message_sender(
    state: &AppState,
    company: CompanyId,
    settings: &SmsSettings,
    to: Option<&Recipient>,
    asked: Option<String>,
    e: &mut ValidationErrors,
) -> Result<Option<SenderName>, ApiError> {
    let asked = match asked.as_deref().map(SenderName::parse) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(err)) => {
            e.push("sender", err.code, err.message);
            return Ok(None);
        }
    };
    if let Some(Recipient::Tckn(_)) = to {
        let header = settings.tckn_sender.as_ref();
        return Ok(match header {
            _ if !settings.tckn_subscription_active => {
                let m = "the company's TC-ID subscription is not active";
                e.push("to", "invalid", m);
                None
            }
            None => {
                let m = "no TC-ID sender header is set in the SMS settings";
                e.push("to", "invalid", m);
                None
            }
            Some(h) if asked.as_ref().is_some_and(|s| s != h) => {
                let m = format!("TC ID sends use the TC-ID header {}", h.as_str());
                e.push("sender", "invalid", m);
                None
            }
            Some(h) => Some(h.clone()),
        });
    }
    let name = asked.as_ref().map(SenderName::as_str);
    let found = state.store().find_sender_header(company, name).await?;
    Ok(match (found, asked) {
        (Some(h), _) => Some(h.name),
        (None, Some(_)) => {
            let m = "not one of the company's sender headers";
            e.push("sender", "invalid", m);
            None
        }
        (None, None) => {
            e.push("sender", "invalid", "no default sender header is set");
            None
        }
    })
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
