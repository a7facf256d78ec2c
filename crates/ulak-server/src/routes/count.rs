//! `POST /api/v1/count`: the text engine under the policy the caller's company sends with,
//! the same answer as `ulak count --json` (with `--country`) gives for that policy.

use axum::Json as JsonOut;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use ulak_core::Code;
use ulak_core::model::{Lines, RuleError, TextCount, ValidationErrors, limits, validation};
use ulak_text::{ConcatRef, Options, Policy};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, Json, Problem};
use crate::startup::AppState;

/// What to count.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountRequest {
    /// The text, exactly as it will be sent: at most 8,000 characters (any text that long fits
    /// the 255 segments a concatenated SMS can have); tab, line feed and carriage return are
    /// the only control characters allowed.
    #[schema(
        max_length = 8000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub text: String,
    /// Encoding policy; when absent, the one the company's messages are sent with (its sending
    /// provider account's, or its country's default: `gsm7-or-ucs2` for AZ, `turkish-shift`
    /// for TR and KKTC).
    #[serde(default)]
    #[schema(value_type = Option<PolicyDto>, example = "turkish-shift")]
    pub policy: Option<String>,
    /// Concatenation reference size in bits: 8 (default) or 16.
    #[serde(default)]
    #[schema(value_type = Option<ConcatRefDto>)]
    pub concat_ref: Option<i64>,
}

/// An encoding policy of the text engine.
#[derive(Debug, Serialize, ToSchema)]
pub enum PolicyDto {
    /// GSM 7-bit when every character has a septet, else UCS-2.
    #[serde(rename = "gsm7-or-ucs2")]
    Gsm7OrUcs2,
    /// GSM 7-bit with the Turkish single shift table where it helps, else UCS-2.
    #[serde(rename = "turkish-single-shift")]
    TurkishSingleShift,
    /// The Turkish single and locking shift tables where they help, else UCS-2.
    #[serde(rename = "turkish-shift")]
    TurkishShift,
}

/// A concatenation reference size in bits: 8 or 16 (an integer enumeration, which the
/// derive cannot state).
pub struct ConcatRefDto;

impl utoipa::PartialSchema for ConcatRefDto {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .enum_values(Some([8, 16]))
            .description(Some("Concatenation reference size in bits"))
            .into()
    }
}

impl ToSchema for ConcatRefDto {}

/// The count, as `ulak count --json` prints it: the schema of the engine's `Count`, and
/// whether sending would refuse the text for its length.
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
    /// Most segments one message may have (10): sending refuses longer texts.
    pub max_segments: usize,
    /// `segments` is over `max_segments`: sending this text would be refused (`text`,
    /// code `too_long`).
    pub too_long: bool,
}

/// Counts characters and SMS segments of a text, under the policy the caller's company sends
/// with unless the request names one, and says whether it is over the 10 segments a message
/// may have (the answer is still 200: counting a long text is not an error).
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
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CountRequest>,
) -> Result<JsonOut<TextCount>, ApiError> {
    counted(&state, caller.company, req).await.map(JsonOut)
}

/// The count of `req` under `company`'s sending policy unless it names one (the API's
/// endpoint and the web's live counter answer the same).
pub(crate) async fn counted(
    state: &AppState,
    company: ulak_core::model::CompanyId,
    req: CountRequest,
) -> Result<TextCount, ApiError> {
    let mut e = ValidationErrors::default();
    e.take(
        "text",
        validation::check_length(&req.text, limits::COUNT_TEXT)
            .and_then(|()| validation::check_controls(&req.text, Lines::Many)),
    );
    let policy = match req.policy.as_deref() {
        None => None,
        Some(p) => e.take(
            "policy",
            p.parse::<Policy>()
                .map_err(|err| RuleError::new(Code::ValueInvalid, err.to_string())),
        ),
    };
    let concat_ref = match req.concat_ref {
        None | Some(8) => Some(ConcatRef::Eight),
        Some(16) => Some(ConcatRef::Sixteen),
        Some(other) => {
            e.push(
                "concat_ref",
                Code::ValueInvalid,
                format!("must be 8 or 16, not {other}"),
            );
            None
        }
    };
    let (Some(concat_ref), true) = (concat_ref, e.is_empty()) else {
        return Err(e.into());
    };
    let policy = match (policy, req.policy.is_some()) {
        (Some(p), _) => p,
        // Sending uses the company's policy: counting under another one misleads (an AZ
        // company was told 1 segment where sending charged 3).
        _ => state.store().sending_text_policy(company).await?,
    };
    TextCount::new(&req.text, &Options { policy, concat_ref })
        .map_err(|e| ApiError::field("text", Code::TextUnencodable, e.to_string()))
}
