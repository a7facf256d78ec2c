//! Webhook endpoints (admin): where the company's events are POSTed, signed per the Standard
//! Webhooks specification. The signing secret is shown once, when the endpoint is created;
//! `/webhooks/{id}/attempts` shows every delivery with each try's status and error.

use axum::Json as JsonOut;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use ulak_core::model::{
    NewWebhookEndpoint, Role, WebhookAttempt, WebhookAttemptLog, WebhookDeliveryState,
    WebhookEndpoint, WebhookEndpointId, WebhookEndpointPatch, WebhookEventType,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{ListParams, Millis, PageOut, nullable};
use crate::auth::Caller;
use crate::error::{ApiError, Json, Path, Query};
use crate::startup::AppState;

/// An event type an endpoint can subscribe to.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub enum WebhookEventTypeDto {
    /// The operator took a message.
    #[serde(rename = "message.sent")]
    MessageSent,
    /// A message reached the handset.
    #[serde(rename = "message.delivered")]
    MessageDelivered,
    /// A message ended undelivered (undeliverable, expired, rejected, unknown, failed).
    #[serde(rename = "message.failed")]
    MessageFailed,
    /// An inbound message arrived.
    #[serde(rename = "inbound.received")]
    InboundReceived,
    /// A campaign finished.
    #[serde(rename = "campaign.finished")]
    CampaignFinished,
}

impl From<WebhookEventType> for WebhookEventTypeDto {
    fn from(t: WebhookEventType) -> Self {
        match t {
            WebhookEventType::MessageSent => Self::MessageSent,
            WebhookEventType::MessageDelivered => Self::MessageDelivered,
            WebhookEventType::MessageFailed => Self::MessageFailed,
            WebhookEventType::InboundReceived => Self::InboundReceived,
            WebhookEventType::CampaignFinished => Self::CampaignFinished,
        }
    }
}

/// A new webhook endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookIn {
    /// Where events are POSTed: `http://` or `https://`, at most 2000 characters, no user
    /// name or password in it; a loopback, private, link-local or other special address
    /// (`target_not_allowed`) only where the system administrator allows it.
    #[schema(value_type = super::schema::WebhookUrl)]
    pub url: String,
    /// A note for people, at most 500 characters.
    #[serde(default)]
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub description: Option<String>,
    /// The event types it gets; empty or absent means all.
    #[serde(default)]
    #[schema(value_type = Vec<WebhookEventTypeDto>)]
    pub event_types: Vec<String>,
    /// Whether events are delivered (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// Serde default `true`.
fn yes() -> bool {
    true
}

/// Changes to an endpoint: an absent field stays, `null` clears the description.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatchIn {
    /// New URL.
    #[serde(default)]
    #[schema(value_type = Option<super::schema::WebhookUrl>)]
    pub url: Option<String>,
    /// New description, or `null`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub description: Option<Option<String>>,
    /// New event types; empty means all.
    #[serde(default)]
    #[schema(value_type = Option<Vec<WebhookEventTypeDto>>)]
    pub event_types: Option<Vec<String>>,
    /// Enable or disable deliveries (pending ones wait while disabled).
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A webhook endpoint; its secret is shown only when it is created.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookOut {
    /// Id.
    pub id: i64,
    /// Where events are POSTed.
    pub url: String,
    /// A note for people.
    pub description: Option<String>,
    /// The event types it gets; empty means all.
    pub event_types: Vec<WebhookEventTypeDto>,
    /// Whether events are delivered.
    pub enabled: bool,
    /// Created, unix milliseconds.
    pub created_at: Millis,
    /// Last changed, unix milliseconds.
    pub updated_at: Millis,
}

impl From<WebhookEndpoint> for WebhookOut {
    fn from(e: WebhookEndpoint) -> Self {
        WebhookOut {
            id: e.id.0,
            url: e.url,
            description: e.description,
            event_types: e.event_types.into_iter().map(Into::into).collect(),
            enabled: e.enabled,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// A new webhook endpoint with its signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookCreated {
    /// Id.
    pub id: i64,
    /// Where events are POSTed.
    pub url: String,
    /// A note for people.
    pub description: Option<String>,
    /// The event types it gets; empty means all.
    pub event_types: Vec<WebhookEventTypeDto>,
    /// Whether events are delivered.
    pub enabled: bool,
    /// Created, unix milliseconds.
    pub created_at: Millis,
    /// Last changed, unix milliseconds.
    pub updated_at: Millis,
    /// The signing secret (`whsec_` + base64): keep it, it is never shown again. Verify
    /// deliveries with it using any Standard Webhooks library.
    pub secret: String,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStateDto {
    /// Waiting for its first or next try.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every try of the retry schedule failed.
    Failed,
}

impl From<WebhookDeliveryState> for DeliveryStateDto {
    fn from(s: WebhookDeliveryState) -> Self {
        match s {
            WebhookDeliveryState::Pending => Self::Pending,
            WebhookDeliveryState::Delivered => Self::Delivered,
            WebhookDeliveryState::Failed => Self::Failed,
        }
    }
}

/// One try of a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct TryOut {
    /// When, unix milliseconds.
    pub at: Millis,
    /// The HTTP status answered, if the endpoint answered.
    pub status: Option<u16>,
    /// Why it did not count (no answer in time, connection failed, non-2xx).
    pub error: Option<String>,
    /// How long it took, milliseconds.
    pub duration_ms: i64,
}

impl From<WebhookAttemptLog> for TryOut {
    fn from(l: WebhookAttemptLog) -> Self {
        TryOut {
            at: l.at,
            status: l.status,
            error: l.error,
            duration_ms: l.duration_ms,
        }
    }
}

/// One event on its way to the endpoint, with every try.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptOut {
    /// Id.
    pub id: i64,
    /// The `webhook-id` header: the same on every try, so receivers can drop repeats.
    pub webhook_id: String,
    /// The event type (`message.delivered`…, `webhook.test`).
    pub event_type: String,
    /// Where it stands.
    pub state: DeliveryStateDto,
    /// Tries made.
    pub attempts: u32,
    /// When the next try is due (pending only), unix milliseconds.
    pub next_attempt_at: Option<Millis>,
    /// The last HTTP status answered.
    pub last_status: Option<u16>,
    /// The last error.
    pub last_error: Option<String>,
    /// When the last try was made.
    pub last_attempt_at: Option<Millis>,
    /// When it was delivered.
    pub delivered_at: Option<Millis>,
    /// When the event happened.
    pub created_at: Millis,
    /// Every try, oldest first.
    pub tries: Vec<TryOut>,
}

impl From<WebhookAttempt> for AttemptOut {
    fn from(a: WebhookAttempt) -> Self {
        AttemptOut {
            id: a.id,
            webhook_id: a.msg_id,
            event_type: a.event_type,
            state: a.state.into(),
            attempts: a.attempts,
            next_attempt_at: a.next_attempt_at,
            last_status: a.last_status,
            last_error: a.last_error,
            last_attempt_at: a.last_attempt_at,
            delivered_at: a.delivered_at,
            created_at: a.created_at,
            tries: a.history.into_iter().map(Into::into).collect(),
        }
    }
}

/// A queued test event.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestQueued {
    /// Its `webhook-id`; follow it in `/webhooks/{id}/attempts`.
    pub webhook_id: String,
}

/// Paging of lists without search.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 17, pattern = "^c([0-9a-f]{1,15}|[0-7][0-9a-f]{15})$")]
    pub cursor: Option<String>,
}

impl PageParams {
    fn query(self) -> Result<ulak_core::model::ListQuery, ApiError> {
        ListParams {
            limit: self.limit,
            cursor: self.cursor,
            search: None,
        }
        .query()
    }
}

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_webhook, list_webhooks))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(list_attempts))
        .routes(routes!(send_test))
        .routes(routes!(redeliver))
}

/// Adds a webhook endpoint (admin). The answer carries its signing secret, shown this once.
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = WebhookIn,
    responses((status = 201, body = WebhookCreated)), security(("api_key" = [])))]
async fn create_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Json(b): Json<WebhookIn>,
) -> Result<(StatusCode, JsonOut<WebhookCreated>), ApiError> {
    caller.require(Role::Admin)?;
    let new = NewWebhookEndpoint::new(
        &b.url,
        b.description.as_deref(),
        &b.event_types,
        b.enabled,
        state.outbound(),
    )?;
    let (e, secret) = state
        .store()
        .create_webhook_endpoint(caller.company, new)
        .await?;
    let out = WebhookOut::from(e);
    Ok((
        StatusCode::CREATED,
        JsonOut(WebhookCreated {
            id: out.id,
            url: out.url,
            description: out.description,
            event_types: out.event_types,
            enabled: out.enabled,
            created_at: out.created_at,
            updated_at: out.updated_at,
            secret: secret.expose().to_owned(),
        }),
    ))
}

/// Lists webhook endpoints (admin).
#[utoipa::path(get, path = "/webhooks", tag = "webhooks", params(PageParams),
    responses((status = 200, body = PageOut<WebhookOut>)), security(("api_key" = [])))]
async fn list_webhooks(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<PageParams>,
) -> Result<JsonOut<PageOut<WebhookOut>>, ApiError> {
    caller.require(Role::Admin)?;
    let page = state
        .store()
        .list_webhook_endpoints(caller.company, &params.query()?)
        .await?;
    Ok(JsonOut(PageOut::from_page(page, WebhookOut::from)))
}

/// Reads a webhook endpoint (admin).
#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path, description = "Webhook endpoint id")),
    responses((status = 200, body = WebhookOut)), security(("api_key" = [])))]
async fn get_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<JsonOut<WebhookOut>, ApiError> {
    caller.require(Role::Admin)?;
    let e = state
        .store()
        .get_webhook_endpoint(caller.company, WebhookEndpointId(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(JsonOut(e.into()))
}

/// Changes a webhook endpoint (admin); the secret stays.
#[utoipa::path(patch, path = "/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path, description = "Webhook endpoint id")),
    request_body = WebhookPatchIn, responses((status = 200, body = WebhookOut)), security(("api_key" = [])))]
async fn update_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(b): Json<WebhookPatchIn>,
) -> Result<JsonOut<WebhookOut>, ApiError> {
    caller.require(Role::Admin)?;
    let patch = WebhookEndpointPatch::new(
        b.url.as_deref(),
        b.description.as_ref().map(Option::as_deref),
        b.event_types.as_deref(),
        b.enabled,
        state.outbound(),
    )?;
    let e = state
        .store()
        .update_webhook_endpoint(caller.company, WebhookEndpointId(id), patch)
        .await?;
    Ok(JsonOut(e.into()))
}

/// Deletes a webhook endpoint with its deliveries (admin).
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path, description = "Webhook endpoint id")),
    responses((status = 204, description = "Deleted")), security(("api_key" = [])))]
async fn delete_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    state
        .store()
        .delete_webhook_endpoint(caller.company, WebhookEndpointId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists an endpoint's deliveries, oldest first, each with its state, tries, statuses,
/// errors and timestamps (admin).
#[utoipa::path(get, path = "/webhooks/{id}/attempts", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook endpoint id"), PageParams),
    responses((status = 200, body = PageOut<AttemptOut>)), security(("api_key" = [])))]
async fn list_attempts(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(params): Query<PageParams>,
) -> Result<JsonOut<PageOut<AttemptOut>>, ApiError> {
    caller.require(Role::Admin)?;
    let page = state
        .store()
        .list_webhook_attempts(caller.company, WebhookEndpointId(id), &params.query()?)
        .await?;
    Ok(JsonOut(PageOut::from_page(page, AttemptOut::from)))
}

/// Sends a `webhook.test` event to this endpoint, whatever it subscribes to (admin).
#[utoipa::path(post, path = "/webhooks/{id}/test", tag = "webhooks", params(("id" = i64, Path, description = "Webhook endpoint id")),
    responses((status = 202, description = "Queued", body = TestQueued)), security(("api_key" = [])))]
async fn send_test(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<(StatusCode, JsonOut<TestQueued>), ApiError> {
    caller.require(Role::Admin)?;
    let webhook_id = state
        .store()
        .emit_test_event(caller.company, WebhookEndpointId(id))
        .await?;
    Ok((StatusCode::ACCEPTED, JsonOut(TestQueued { webhook_id })))
}

/// Queues a finished delivery (delivered or failed) of this endpoint again, due now: the same
/// event and `webhook-id`, a fresh retry schedule (admin). 409 `state.conflict` while it is
/// still pending.
#[utoipa::path(post, path = "/webhooks/{id}/attempts/{attempt_id}/redeliver", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook endpoint id"),
        ("attempt_id" = i64, Path, description = "Delivery id, as `/webhooks/{id}/attempts` lists it")),
    responses((status = 202, description = "Queued again")), security(("api_key" = [])))]
async fn redeliver(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, attempt_id)): Path<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    state
        .store()
        .redeliver_webhook_attempt(caller.company, WebhookEndpointId(id), attempt_id)
        .await?;
    Ok(StatusCode::ACCEPTED)
}
