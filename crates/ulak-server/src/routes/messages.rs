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
use ulak_core::Code;
use ulak_core::model::{MessageId, Role, TrafficClass};
use ulak_engine::send::{self, Content, IdempotentBy, SendRequest, Sent};
use ulak_store::{MessageDetail, StoredAnswer};
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
    /// The provider account it goes (or went) through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_account_id: Option<i64>,
    /// The route that chose the account (none: the company's first enabled account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route_id: Option<i64>,
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
            provider_account_id: m.provider_account_id.map(|p| p.0),
            route_id: m.route_id.map(|r| r.0),
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
        .routes(routes!(super::message_batch::send_batch))
        .routes(routes!(get_one))
}

/// The idempotency key from the header: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut all = headers.get_all("idempotency-key").iter();
    let Some(v) = all.next() else {
        return Ok(None);
    };
    // Two keys: a proxy may read one and Ulak the other. Neither is taken.
    if all.next().is_some() {
        return Err(ApiError::field(
            "Idempotency-Key",
            Code::IdempotencyKeyInvalid,
            "give one Idempotency-Key header, not several",
        ));
    }
    let s = v
        .to_str()
        .ok()
        .filter(|s| !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::field(
                "Idempotency-Key",
                Code::IdempotencyKeyInvalid,
                "1 to 255 visible ASCII characters expected",
            )
        })?;
    Ok(Some(s.to_owned()))
}

/// The 202 answer of an accepted message.
pub(super) fn accepted(m: &ulak_core::model::Message) -> MessageAccepted {
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
pub(super) fn stored(m: &ulak_core::model::Message) -> StoredAnswer {
    StoredAnswer {
        status: StatusCode::ACCEPTED.as_u16(),
        body: serde_json::to_string(&accepted(m)).unwrap_or_default(),
    }
}

/// A replay: the first answer exactly (rebuilt from the message for keys stored before
/// answers were), marked `Idempotent-Replayed: true`.
fn replay(message: &ulak_core::model::Message, answer: Option<StoredAnswer>) -> Response {
    let answer = answer.unwrap_or_else(|| stored(message));
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
    let idempotency = key.as_deref().map(|key| IdempotentBy {
        key,
        answer: stored,
    });
    let request = request_of(body, TrafficClass::Transactional);
    match send::send(state.store(), caller.company, request, idempotency).await? {
        Sent::Queued(m) => Ok((StatusCode::ACCEPTED, JsonOut(accepted(&m))).into_response()),
        Sent::Replayed { message, answer } => Ok(replay(&message, answer)),
    }
}

/// The send service's request for `body`, in lane `class`.
pub(super) fn request_of(body: MessageIn, class: TrafficClass) -> SendRequest {
    SendRequest {
        to: body.to,
        content: match (body.text, body.template_id) {
            (Some(t), None) => Content::Text(t),
            (None, Some(id)) => Content::Template {
                id,
                fields: body.fields,
            },
            (Some(_), Some(_)) => Content::Both,
            (None, None) => Content::None,
        },
        sender: body.sender,
        validity: body.validity,
        scheduled_at: body.scheduled_at,
        class,
    }
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
