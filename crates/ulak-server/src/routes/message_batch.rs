//! `POST /api/v1/messages/batch`: up to [`BATCH_MAX`] single sends in one request, each
//! decided by the send service's rules and answered on its own (its status, and the message
//! or a problem document), each with its own optional idempotency key. The accepted ones are
//! committed together.

use axum::Json as JsonOut;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::ACCEPT_LANGUAGE;
use serde::{Deserialize, Serialize};
use ulak_core::model::{Role, TrafficClass};
use ulak_core::{Code, Lang};
use ulak_engine::send::{self, BATCH_MAX, BatchItem, SendError, Sent};
use utoipa::ToSchema;

use super::messages::{MessageAccepted, MessageIn, accepted, request_of, stored};
use crate::auth::Caller;
use crate::error::{ApiError, Json, Problem};
use crate::startup::AppState;

/// One send of a batch: a message as `POST /messages` takes it, and its own idempotency key.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(try_from = "UniqueMap")]
pub struct BatchMessageIn {
    /// The message.
    #[serde(flatten)]
    pub message: MessageIn,
    /// Makes this item safe to repeat (as the `Idempotency-Key` header of a single send, and
    /// shared with it): a repeat within 24 hours gets the first answer and creates nothing.
    #[serde(default)]
    #[schema(max_length = 255, pattern = r"^[!-~]+$")]
    pub idempotency_key: Option<String>,
}

// `flatten` would let unknown fields through (serde cannot deny them across a flattened
// struct): the key is taken out and the rest read as a single send's body, which denies them.
// First the item must have the form the document gives it ([`BatchItemDoc`]): a value out of
// that form makes the request malformed (400), as the document promises; the rules beyond it
// are the item's own (422 in its place).
impl TryFrom<UniqueMap> for BatchMessageIn {
    type Error = String;
    fn try_from(UniqueMap(mut m): UniqueMap) -> Result<Self, Self::Error> {
        use serde_json::Value;
        let idempotency_key = match m.remove("idempotency_key") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if valid_key(&s) => Some(s),
            Some(_) => return Err("idempotency_key: 1 to 255 visible ASCII characters".to_owned()),
        };
        for (field, max) in [("to", 64), ("text", 1530), ("sender", 64)] {
            if let Some(Value::String(s)) = m.get(field)
                && !text_any(s, max)
            {
                return Err(format!(
                    "{field}: at most {max} characters, no control characters"
                ));
            }
        }
        if let Some(Value::Object(fields)) = m.get("fields") {
            for (name, value) in fields {
                let value_ok = value.as_str().is_none_or(|v| text_any(v, 1000));
                if !text_any(name, 64) || !value_ok {
                    return Err("fields: names of at most 64 and values of at most 1000 \
                                characters, no control characters"
                        .to_owned());
                }
            }
        }
        // The document's integers are int64: a larger one is malformed, not a rule broken.
        for field in ["validity", "scheduled_at", "template_id"] {
            if let Some(Value::Number(n)) = m.get(field)
                && n.is_u64()
                && n.as_i64().is_none()
            {
                return Err(format!("{field}: out of the int64 range"));
            }
        }
        let message = serde_json::from_value(Value::Object(m)).map_err(|e| e.to_string())?;
        Ok(BatchMessageIn {
            message,
            idempotency_key,
        })
    }
}

/// A JSON object whose names each appear once: a repeated name is malformed, as in any other
/// body (a `Map` would keep the last value, so a proxy reading the first `to` would see
/// another recipient than Ulak sends to).
pub struct UniqueMap(serde_json::Map<String, serde_json::Value>);

impl<'de> Deserialize<'de> for UniqueMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = UniqueMap;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<UniqueMap, A::Error> {
                let mut m = serde_json::Map::new();
                while let Some((k, v)) = a.next_entry::<String, serde_json::Value>()? {
                    if m.contains_key(&k) {
                        return Err(serde::de::Error::custom(format_args!(
                            "duplicate field `{k}`"
                        )));
                    }
                    m.insert(k, v);
                }
                Ok(UniqueMap(m))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// A text of the document's form `TEXT_ANY` (no control characters but tab, line feed and
/// carriage return) of at most `max` characters.
fn text_any(s: &str, max: usize) -> bool {
    s.chars().count() <= max
        && !s.chars().any(
            |c| matches!(c, '\0'..='\x08' | '\x0B' | '\x0C' | '\x0E'..='\x1F' | '\x7F'..='\u{9F}'),
        )
}

/// A batch of sends.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchIn {
    /// 1 to 1,000 messages.
    #[schema(min_items = 1, max_items = 1000, value_type = Vec<BatchItemDoc>)]
    pub messages: Vec<BatchMessageIn>,
}

/// One send of a batch as the document describes it: a single send's fields with their types
/// only. Their rules (lengths, ranges, forms) are each item's own: an item that breaks one is
/// answered 422 in its place and the others go on, so the request as a whole stays valid.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // The schema of `BatchMessageIn`; never built.
#[serde(deny_unknown_fields)]
#[schema(as = BatchItem)]
struct BatchItemDoc {
    /// A mobile number in any common form, or an 11-digit TC ID number.
    #[schema(
        max_length = 64,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    to: String,
    /// The text; or give `template_id` (and `fields`).
    #[schema(
        max_length = 1530,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    text: Option<String>,
    /// A saved template to render with `fields`.
    template_id: Option<i64>,
    /// Values for the template's placeholders.
    #[serde(default)]
    #[schema(value_type = BatchFields)]
    fields: std::collections::BTreeMap<String, String>,
    /// One of the company's sender headers (default: the default header).
    #[schema(
        max_length = 64,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    sender: Option<String>,
    /// Seconds the operator may keep trying, 60 to 259200 (default 86400).
    validity: Option<u64>,
    /// Send at this time (unix milliseconds) instead of now.
    scheduled_at: Option<i64>,
    /// Makes this item safe to repeat: 1 to 255 visible ASCII characters.
    #[schema(max_length = 255, pattern = r"^[!-~]+$")]
    idempotency_key: Option<String>,
}

/// A batch item's `fields`: names of at most 64 and values of at most 1,000 characters of the
/// document's form (the names' own rules are the item's, as for a single send).
struct BatchFields;

impl utoipa::PartialSchema for BatchFields {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let text = |max: usize| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(max))
                .pattern(Some(super::schema::TEXT_ANY))
        };
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(text(1000)))
            .property_names(Some(text(64)))
            .into()
    }
}

impl ToSchema for BatchFields {}

/// The answer to one item.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    /// The item's place in the request, from 0.
    pub index: usize,
    /// What a single send would have answered: 202 queued, 4xx refused.
    pub status: u16,
    /// The queued message (for a replay: as first answered).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<MessageAccepted>)]
    pub message: Option<serde_json::Value>,
    /// The item's key was used before for the same request: nothing new was created.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
    /// Why it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

/// The answers of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchOut {
    /// Items queued now (replays not counted).
    pub accepted: usize,
    /// Items refused.
    pub refused: usize,
    /// One answer per item, in the request's order.
    pub results: Vec<BatchResult>,
}

/// Queues up to 1,000 messages in one request. Each item is answered on its own, in order, as
/// `POST /messages` would answer it (`status` 202 with the message, or a problem document
/// with its stable code and field errors); one refused item does not refuse the others.
/// Credit is reserved per message, so a short balance refuses the items it cannot cover
/// (`credit.insufficient`). An item's `idempotency_key` works as the header of a single send.
#[utoipa::path(post, path = "/messages/batch", tag = "messages", request_body = BatchIn,
    responses(
        (status = 200, description = "Every item answered", body = BatchOut),
    ),
    security(("api_key" = [])))]
pub(super) async fn send_batch(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Json(body): Json<BatchIn>,
) -> Result<JsonOut<BatchOut>, ApiError> {
    caller.require(Role::Operator)?;
    let n = body.messages.len();
    if n == 0 || n > BATCH_MAX {
        return Err(ApiError::field(
            "messages",
            if n == 0 {
                Code::ValueEmpty
            } else {
                Code::ValueTooMany
            },
            format!("1 to {BATCH_MAX} messages expected"),
        ));
    }
    let lang = headers
        .get(ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map_or(Lang::En, Lang::from_accept_language);
    let mut items = Vec::with_capacity(n);
    for m in body.messages {
        items.push(BatchItem {
            request: request_of(m.message, TrafficClass::Transactional),
            key: m.idempotency_key,
        });
    }
    let answers = send::send_batch(state.store(), caller.company, items, stored).await?;
    let results: Vec<BatchResult> = answers
        .into_iter()
        .enumerate()
        .map(|(i, a)| match a {
            Ok(sent) => answer(i, sent),
            Err(e) => refusal(i, &item_error(e), lang),
        })
        .collect();
    let accepted = results
        .iter()
        .filter(|r| r.status == 202 && !r.replayed)
        .count();
    let refused = results.iter().filter(|r| r.problem.is_some()).count();
    Ok(JsonOut(BatchOut {
        accepted,
        refused,
        results,
    }))
}

fn valid_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic())
}

/// An item's error as a single send would have answered it.
fn item_error(e: SendError) -> ApiError {
    match e {
        // Per item, a store failure is that item's: it was not queued.
        SendError::Store(s) => {
            tracing::error!(cause = %s, "a batch item failed");
            ApiError::Internal(s.to_string())
        }
        other => other.into(),
    }
}

fn answer(index: usize, sent: Sent) -> BatchResult {
    let (message, replayed) = match sent {
        Sent::Queued(m) => (serde_json::to_value(accepted(&m)).ok(), false),
        Sent::Replayed { message, answer } => {
            let first = answer.unwrap_or_else(|| stored(&message));
            (serde_json::from_str(&first.body).ok(), true)
        }
    };
    BatchResult {
        index,
        status: 202,
        message,
        replayed,
        problem: None,
    }
}

fn refusal(index: usize, e: &ApiError, lang: Lang) -> BatchResult {
    let problem = e.problem().in_lang(lang);
    BatchResult {
        index,
        status: problem.status,
        message: None,
        replayed: false,
        problem: Some(problem),
    }
}
