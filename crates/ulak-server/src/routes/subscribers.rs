//! Mobile subscribers: create, read, update, delete, list with search and group filter.

use std::collections::BTreeMap;

use axum::Json as JsonOut;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use ulak_core::model::{
    Consent, GroupId, NewSubscriber, Role, Subscriber, SubscriberId, SubscriberPatch,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{ListParams, Millis, PageOut};
use crate::auth::Caller;
use crate::error::{ApiError, Json, Path, Problem, Query};
use crate::startup::AppState;

/// Consent to commercial messages.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ConsentDto {
    /// Not recorded (treated as no for commercial messages).
    #[default]
    Unknown,
    /// Gave consent.
    OptedIn,
    /// Withdrew consent.
    OptedOut,
}

impl From<ConsentDto> for Consent {
    fn from(c: ConsentDto) -> Self {
        match c {
            ConsentDto::Unknown => Consent::Unknown,
            ConsentDto::OptedIn => Consent::OptedIn,
            ConsentDto::OptedOut => Consent::OptedOut,
        }
    }
}

impl From<Consent> for ConsentDto {
    fn from(c: Consent) -> Self {
        match c {
            Consent::Unknown => ConsentDto::Unknown,
            Consent::OptedIn => ConsentDto::OptedIn,
            Consent::OptedOut => ConsentDto::OptedOut,
        }
    }
}

/// A new subscriber.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriberIn {
    /// Name (at most 200 characters).
    #[schema(
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub name: String,
    /// Mobile number in any common form; national numbers are read by the company's country.
    #[schema(value_type = super::schema::Phone)]
    pub phone: String,
    /// TC ID number (11 digits).
    #[serde(default)]
    #[schema(value_type = Option<super::schema::TcknOrEmpty>)]
    pub tckn: Option<String>,
    /// Free attributes usable in templates, e.g. `{"bakiye": "120,50"}`.
    #[serde(default)]
    #[schema(schema_with = super::common::attributes_schema)]
    pub attributes: BTreeMap<String, String>,
    /// Consent status.
    #[serde(default)]
    pub consent: ConsentDto,
}

/// Changes to a subscriber; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriberPatchIn {
    /// New name (at most 200 characters).
    #[schema(
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub name: Option<String>,
    /// New phone.
    #[schema(value_type = Option<super::schema::Phone>)]
    pub phone: Option<String>,
    /// New TC ID number; an empty string removes it.
    #[schema(value_type = Option<super::schema::TcknOrEmpty>)]
    pub tckn: Option<String>,
    /// Replaces all attributes.
    #[schema(schema_with = super::common::attributes_patch_schema)]
    pub attributes: Option<BTreeMap<String, String>>,
    /// New consent status.
    pub consent: Option<ConsentDto>,
}

/// A subscriber.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriberOut {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// E.164 phone number.
    pub phone: String,
    /// TR, KKTC or AZ.
    pub zone: String,
    /// TC ID number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tckn: Option<String>,
    /// Free attributes.
    pub attributes: BTreeMap<String, String>,
    /// Consent status.
    pub consent: ConsentDto,
    /// Created, unix milliseconds.
    pub created_at: Millis,
    /// Last changed, unix milliseconds.
    pub updated_at: Millis,
}

impl From<Subscriber> for SubscriberOut {
    fn from(s: Subscriber) -> Self {
        SubscriberOut {
            id: s.id.0,
            name: s.name,
            phone: s.phone.e164().to_owned(),
            zone: s.phone.zone().as_str().to_owned(),
            tckn: s.tckn.map(|t| t.to_string()),
            attributes: s.attributes.as_map().clone(),
            consent: s.consent.into(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// Filters of the subscriber list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubscriberFilter {
    /// Only members of this group.
    pub group_id: Option<i64>,
}

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get_one, update, delete))
}

/// Creates a subscriber.
#[utoipa::path(post, path = "/subscribers", tag = "subscribers", request_body = SubscriberIn,
    responses(
        (status = 201, body = SubscriberOut),
        (status = 409, description = "The phone is already a subscriber", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<SubscriberIn>,
) -> Result<(StatusCode, JsonOut<SubscriberOut>), ApiError> {
    caller.require(Role::Operator)?;
    let country = caller.country(&state).await?;
    let new = NewSubscriber::new(
        &body.name,
        &body.phone,
        country,
        body.tckn.as_deref(),
        body.attributes,
        body.consent.into(),
    )?;
    let s = state.store().create_subscriber(caller.company, new).await?;
    Ok((StatusCode::CREATED, JsonOut(s.into())))
}

/// Lists subscribers (search by name or phone, filter by group).
#[utoipa::path(get, path = "/subscribers", tag = "subscribers", params(ListParams, SubscriberFilter),
    responses(
        (status = 200, body = PageOut<SubscriberOut>),
    ),
    security(("api_key" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
    Query(filter): Query<SubscriberFilter>,
) -> Result<JsonOut<PageOut<SubscriberOut>>, ApiError> {
    let q = params.query_in(filter.group_id.map(GroupId))?;
    let page = state.store().list_subscribers(caller.company, &q).await?;
    Ok(JsonOut(PageOut::from_page(page, SubscriberOut::from)))
}

/// Reads a subscriber.
#[utoipa::path(get, path = "/subscribers/{id}", tag = "subscribers", params(("id" = i64, Path, description = "Subscriber id")),
    responses(
        (status = 200, body = SubscriberOut),
    ),
    security(("api_key" = [])))]
async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<JsonOut<SubscriberOut>, ApiError> {
    let s = state
        .store()
        .get_subscriber(caller.company, SubscriberId(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(JsonOut(s.into()))
}

/// Changes a subscriber.
#[utoipa::path(patch, path = "/subscribers/{id}", tag = "subscribers", params(("id" = i64, Path, description = "Subscriber id")),
    request_body = SubscriberPatchIn,
    responses(
        (status = 200, body = SubscriberOut),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<SubscriberPatchIn>,
) -> Result<JsonOut<SubscriberOut>, ApiError> {
    caller.require(Role::Operator)?;
    let country = caller.country(&state).await?;
    let patch = SubscriberPatch::new(
        body.name.as_deref(),
        body.phone.as_deref(),
        country,
        body.tckn.as_deref(),
        body.attributes,
        body.consent.map(Into::into),
    )?;
    let s = state
        .store()
        .update_subscriber(caller.company, SubscriberId(id), patch)
        .await?;
    Ok(JsonOut(s.into()))
}

/// Deletes a subscriber.
#[utoipa::path(delete, path = "/subscribers/{id}", tag = "subscribers", params(("id" = i64, Path, description = "Subscriber id")),
    responses(
        (status = 204, description = "Deleted"),
    ),
    security(("api_key" = [])))]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Operator)?;
    state
        .store()
        .delete_subscriber(caller.company, SubscriberId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
