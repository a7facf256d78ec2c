//! Listing what was sent: `GET /api/v1/messages` with filters, a campaign's messages, the
//! delivery reports kept without a message, and a campaign's messages as a streamed CSV file.
//! Pages are keyset reads (see `ulak_store::MessageFilter`), newest first.

pub(crate) mod export;

use axum::Json as JsonOut;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use ulak_core::Code;
use ulak_core::model::{
    CompanyId, ListQuery, MAX_LIMIT, MessageState, Recipient, SenderName, ValidationErrors,
};
use ulak_store::{MessageCursor, MessageFilter, MessageSummary, UnmatchedReceipt};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{Millis, PageOut};
use crate::auth::Caller;
use crate::error::{ApiError, Path, Query};
use crate::startup::AppState;

/// Page size when none is asked for.
const DEFAULT_LIMIT: u32 = 50;

/// Filters of `GET /api/v1/messages`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageParams {
    /// Only messages in this state.
    #[param(inline, value_type = Option<StateName>)]
    pub state: Option<String>,
    /// Only messages of this campaign (another company's campaign lists nothing).
    #[param(minimum = 1)]
    pub campaign: Option<i64>,
    /// Only messages to this recipient: a mobile number in any common form (read with the
    /// company's country type, as sends are) or a TC ID number.
    #[param(value_type = Option<super::schema::Recipient>)]
    pub recipient: Option<String>,
    /// Only messages from this sender header.
    #[param(value_type = Option<super::schema::Sender>)]
    pub sender: Option<String>,
    /// Only messages accepted at or after this time (unix milliseconds).
    #[param(minimum = 0)]
    pub from: Option<i64>,
    /// Only messages accepted before this time (unix milliseconds).
    #[param(minimum = 0)]
    pub to: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(
        max_length = 34,
        pattern = r"^m([0-9a-f]{1,15}|[0-7][0-9a-f]{15})\.([0-9a-f]{1,15}|[0-7][0-9a-f]{15})$"
    )]
    pub cursor: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// Filters of `GET /api/v1/campaigns/{id}/messages`: those of `GET /messages` but the
/// campaign.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignMessageParams {
    /// Only messages in this state.
    #[param(inline, value_type = Option<StateName>)]
    pub state: Option<String>,
    /// Only messages to this recipient: a mobile number in any common form or a TC ID number.
    #[param(value_type = Option<super::schema::Recipient>)]
    pub recipient: Option<String>,
    /// Only messages from this sender header.
    #[param(value_type = Option<super::schema::Sender>)]
    pub sender: Option<String>,
    /// Only messages accepted at or after this time (unix milliseconds).
    #[param(minimum = 0)]
    pub from: Option<i64>,
    /// Only messages accepted before this time (unix milliseconds).
    #[param(minimum = 0)]
    pub to: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(
        max_length = 34,
        pattern = r"^m([0-9a-f]{1,15}|[0-7][0-9a-f]{15})\.([0-9a-f]{1,15}|[0-7][0-9a-f]{15})$"
    )]
    pub cursor: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

impl From<CampaignMessageParams> for MessageParams {
    fn from(p: CampaignMessageParams) -> Self {
        MessageParams {
            state: p.state,
            campaign: None,
            recipient: p.recipient,
            sender: p.sender,
            from: p.from,
            to: p.to,
            cursor: p.cursor,
            limit: p.limit,
        }
    }
}

/// A message state: one of `ulak_core`'s (`MessageState`), listed from the enum itself.
pub struct StateName;

impl utoipa::PartialSchema for StateName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(MessageState::ALL.iter().map(|s| s.as_str())))
            .description(Some(
                "scheduled, queued, sending, submitted, delivered, undeliverable, expired, \
                 rejected, unknown, failed, cancelled or skipped",
            ))
            .into()
    }
}

impl ToSchema for StateName {}

/// The checked filters, cursor and page size.
pub(crate) struct ListRequest {
    pub(crate) filter: MessageFilter,
    pub(crate) after: Option<MessageCursor>,
    pub(crate) limit: u32,
}

/// Checks every parameter, each broken one reported; a recipient is read with the
/// company's country type exactly as a send reads `to`. The web UI's message log reads its
/// filters through this too.
pub(crate) async fn checked(
    state: &AppState,
    company: CompanyId,
    p: MessageParams,
) -> Result<ListRequest, ApiError> {
    let mut e = ValidationErrors::default();
    let message_state = p.state.as_deref().and_then(|s| {
        let parsed = s.parse::<MessageState>().ok();
        if parsed.is_none() {
            e.push("state", Code::ValueInvalid, "not a message state");
        }
        parsed
    });
    if p.campaign.is_some_and(|c| c < 1) {
        e.push("campaign", Code::ValueInvalid, "not a campaign id");
    }
    let recipient = match p.recipient {
        None => None,
        Some(r) => {
            let settings = state
                .store()
                .get_sms_settings(company)
                .await?
                .ok_or(ApiError::NotFound)?;
            e.take("recipient", Recipient::parse(&r, settings.country_type))
                .map(|r| r.address())
        }
    };
    let sender = p
        .sender
        .as_deref()
        .map(SenderName::parse)
        .and_then(|s| e.take("sender", s))
        .map(|s| s.as_str().to_owned());
    for (field, v) in [("from", p.from), ("to", p.to)] {
        if v.is_some_and(|t| t < 0) {
            e.push(
                field,
                Code::ValueOutOfRange,
                "must be 0 or later (unix milliseconds)",
            );
        }
    }
    let after = p.cursor.as_deref().and_then(|c| {
        let decoded = MessageCursor::decode(c);
        if decoded.is_none() {
            e.push("cursor", Code::CursorInvalid, "invalid cursor");
        }
        decoded
    });
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        e.push("limit", Code::ValueOutOfRange, "must be from 1 to 500");
    }
    if !e.is_empty() {
        return Err(e.into());
    }
    let filter = MessageFilter {
        state: message_state,
        campaign: p.campaign,
        recipient,
        sender,
        from: p.from,
        to: p.to,
    };
    Ok(ListRequest {
        filter,
        after,
        limit,
    })
}

/// A message as lists show it; `GET /messages/{id}` has its text and history.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageSummaryOut {
    /// Id.
    pub id: i64,
    /// Current state.
    #[schema(value_type = StateName)]
    pub state: String,
    /// Since when, unix ms.
    pub state_at: Millis,
    /// `msisdn` or `tckn`.
    pub recipient_kind: String,
    /// E.164 number or TC ID number.
    pub recipient: String,
    /// Sender header.
    pub sender: String,
    /// The campaign it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<i64>,
    /// Segments (0 for a campaign recipient left out).
    pub segments: u32,
    /// Credits.
    pub cost: i64,
    /// Accepted, unix ms.
    pub created_at: Millis,
    /// Submitted, unix ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<Millis>,
    /// Final, unix ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_at: Option<Millis>,
    /// The operator's error code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The provider account it goes (or went) through (none for a skipped recipient).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_account_id: Option<i64>,
    /// The route that chose the account (none: the company's first enabled account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route_id: Option<i64>,
}

impl From<MessageSummary> for MessageSummaryOut {
    fn from(m: MessageSummary) -> Self {
        MessageSummaryOut {
            id: m.id,
            state: m.state.as_str().to_owned(),
            state_at: m.state_at,
            recipient_kind: m.recipient_kind,
            recipient: m.recipient,
            sender: m.sender,
            campaign_id: m.campaign_id,
            segments: m.segments,
            cost: m.cost,
            created_at: m.created_at,
            submitted_at: m.submitted_at,
            final_at: m.final_at,
            error_code: m.error_code,
            provider_account_id: m.provider_account_id,
            route_id: m.route_id,
        }
    }
}

/// A delivery report that matched no message: the operator's id it names was never
/// submitted by this company through that account, or its submit was lost.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnmatchedReceiptOut {
    /// Id.
    pub id: i64,
    /// The provider account it came through.
    pub provider_account_id: i64,
    /// The operator's message id it names.
    pub operator_message_id: String,
    /// The state it reports.
    #[schema(value_type = StateName)]
    pub state: String,
    /// The operator's error code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Received, unix ms.
    pub received_at: Millis,
}

impl From<UnmatchedReceipt> for UnmatchedReceiptOut {
    fn from(r: UnmatchedReceipt) -> Self {
        UnmatchedReceiptOut {
            id: r.id,
            provider_account_id: r.provider_account_id,
            operator_message_id: r.operator_id,
            state: r.state.as_str().to_owned(),
            error_code: r.error_code,
            received_at: r.received_at,
        }
    }
}

/// Paging of `GET /api/v1/receipts/unmatched`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReceiptParams {
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 17, pattern = "^c([0-9a-f]{1,15}|[0-7][0-9a-f]{15})$")]
    pub cursor: Option<String>,
}

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(campaign_messages))
        .routes(routes!(unmatched_receipts))
        .routes(routes!(export::export))
}

/// Lists the company's messages, newest first, with optional filters (all must match).
/// A page is a short read of an index whatever the number of messages; follow
/// `next_cursor` for the next one.
#[utoipa::path(get, path = "/messages", tag = "messages", params(MessageParams),
    responses((status = 200, body = PageOut<MessageSummaryOut>)), security(("api_key" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<MessageParams>,
) -> Result<JsonOut<PageOut<MessageSummaryOut>>, ApiError> {
    let r = checked(&state, caller.company, params).await?;
    let page = state
        .store()
        .list_messages(caller.company, &r.filter, r.after, r.limit)
        .await?;
    Ok(JsonOut(PageOut::from_page(page, MessageSummaryOut::from)))
}

/// Lists a campaign's messages (recipients left out included, as `skipped`), newest first,
/// with the filters of `GET /messages`.
#[utoipa::path(get, path = "/campaigns/{id}/messages", tag = "campaigns",
    params(("id" = i64, Path, description = "Campaign id"), CampaignMessageParams),
    responses((status = 200, body = PageOut<MessageSummaryOut>)), security(("api_key" = [])))]
async fn campaign_messages(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(params): Query<CampaignMessageParams>,
) -> Result<JsonOut<PageOut<MessageSummaryOut>>, ApiError> {
    state
        .store()
        .get_campaign_lean(caller.company, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut r = checked(&state, caller.company, params.into()).await?;
    r.filter.campaign = Some(id);
    let page = state
        .store()
        .list_messages(caller.company, &r.filter, r.after, r.limit)
        .await?;
    Ok(JsonOut(PageOut::from_page(page, MessageSummaryOut::from)))
}

/// Lists the delivery reports that matched none of the company's messages, newest first.
/// A report that overtook its submit's answer waits here until the submit is recorded;
/// those left are reports for messages this server does not know. The report's raw text is
/// not shown (it can carry the number and the start of the text).
#[utoipa::path(get, path = "/receipts/unmatched", tag = "messages", params(ReceiptParams),
    responses((status = 200, body = PageOut<UnmatchedReceiptOut>)), security(("api_key" = [])))]
async fn unmatched_receipts(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ReceiptParams>,
) -> Result<JsonOut<PageOut<UnmatchedReceiptOut>>, ApiError> {
    let q = ListQuery::parse(params.limit, params.cursor, None, None)?;
    let page = state
        .store()
        .list_unmatched_receipts(caller.company, &q)
        .await?;
    Ok(JsonOut(PageOut::from_page(page, UnmatchedReceiptOut::from)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn the_documented_cursor_pattern_is_the_stores() {
        let doc = serde_json::to_value(crate::routes::openapi()).unwrap();
        for path in ["/api/v1/messages", "/api/v1/campaigns/{id}/messages"] {
            let params = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
            let cursor = params.iter().find(|p| p["name"] == "cursor").unwrap();
            assert_eq!(
                cursor["schema"]["pattern"],
                ulak_store::MESSAGE_CURSOR_PATTERN,
                "{path}"
            );
        }
    }
}
