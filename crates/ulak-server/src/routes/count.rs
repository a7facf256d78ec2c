//! `POST /api/v1/count`: the text engine, the same answer as `ulak count --json`.

use axum::Json as JsonOut;
use serde::{Deserialize, Serialize};
use ulak_text::{ConcatRef, Options, Policy};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, Json, Problem};

/// What to count.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountRequest {
    /// The text, exactly as it will be sent.
    pub text: String,
    /// Encoding policy; `turkish-shift` when absent.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "turkish-shift")]
    pub policy: Option<String>,
    /// Concatenation reference size in bits: 8 (default) or 16.
    #[serde(default)]
    pub concat_ref: Option<u8>,
}

/// The count, as `ulak count --json` prints it (the schema of the engine's `Count`).
#[derive(Debug, Serialize, ToSchema)]
pub struct CountResponse {
    /// `gsm7`, `gsm7+turkish-single-shift`, `gsm7+turkish-locking-shift` or `ucs2`.
    pub encoding: String,
    /// Number of SMS segments.
    pub segments: usize,
    /// Unicode code points per segment.
    pub per_segment_chars: Vec<usize>,
    /// Septets or UTF-16 units per segment.
    pub per_segment_units: Vec<usize>,
    /// Code-point offsets where segments 2..n start.
    pub split_points: Vec<usize>,
    /// Units one segment holds.
    pub capacity_per_segment: usize,
    /// Code points in the text.
    pub total_chars: usize,
    /// Units in the text.
    pub total_units: usize,
    /// One-unit characters that still fit in the last segment.
    pub remaining: usize,
    /// `septet` or `utf16`.
    pub unit: String,
    /// Data coding scheme.
    pub dcs: u8,
    /// The policy used.
    pub policy: String,
    /// Concatenation reference size in bits.
    pub concat_ref: u8,
}

/// Counts characters and SMS segments of a text.
#[utoipa::path(
    post,
    path = "/count",
    tag = "text",
    request_body = CountRequest,
    responses(
        (status = 200, description = "The count", body = CountResponse),
        (status = 400, description = "Unreadable body", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid policy or text", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn count(
    _caller: Caller,
    Json(req): Json<CountRequest>,
) -> Result<JsonOut<ulak_text::Count>, ApiError> {
    let policy = match req.policy.as_deref() {
        None => Policy::default(),
        Some(p) => p
            .parse::<Policy>()
            .map_err(|e| ApiError::field("policy", e.to_string()))?,
    };
    let concat_ref = match req.concat_ref {
        None | Some(8) => ConcatRef::Eight,
        Some(16) => ConcatRef::Sixteen,
        Some(other) => {
            return Err(ApiError::field(
                "concat_ref",
                format!("must be 8 or 16, not {other}"),
            ));
        }
    };
    ulak_text::count(&req.text, &Options { policy, concat_ref })
        .map(JsonOut)
        .map_err(|e| ApiError::field("text", e.to_string()))
}
