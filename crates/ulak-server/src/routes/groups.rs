//! Groups of subscribers and their members.

use axum::Json as JsonOut;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use ulak_core::model::{Group, GroupId, GroupName, Role, SubscriberId};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{ListParams, Millis, PageOut};
use super::subscribers::SubscriberOut;
use crate::auth::Caller;
use crate::error::{ApiError, Json, Path, Problem, Query};
use crate::startup::AppState;

/// A new group, or a group's new name and description.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupIn {
    /// Name, unique in the company.
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub name: String,
    /// Description.
    #[serde(default)]
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub description: Option<String>,
}

/// A group.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupOut {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Created, unix milliseconds.
    pub created_at: Millis,
}

impl From<Group> for GroupOut {
    fn from(g: Group) -> Self {
        GroupOut {
            id: g.id.0,
            name: g.name.as_str().to_owned(),
            description: g.description,
            created_at: g.created_at,
        }
    }
}

/// Subscribers to add to or remove from a group.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersIn {
    /// Subscriber ids (at most 10,000 per call).
    #[schema(max_items = 10000)]
    pub subscriber_ids: Vec<i64>,
}

/// How many memberships changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembersChanged {
    /// Memberships added or removed (already-members and non-members are not counted).
    pub changed: u64,
}

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get_one, update, delete))
        .routes(routes!(members, add_members, remove_members))
}

fn group_in(body: GroupIn) -> Result<(GroupName, Option<String>), ApiError> {
    let name = GroupName::parse(&body.name).map_err(|e| ApiError::rule("name", e))?;
    let description = Group::description(body.description.as_deref())?;
    Ok((name, description))
}

/// Creates a group.
#[utoipa::path(post, path = "/groups", tag = "groups", request_body = GroupIn,
    responses(
        (status = 201, body = GroupOut),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<GroupIn>,
) -> Result<(StatusCode, JsonOut<GroupOut>), ApiError> {
    caller.require(Role::Operator)?;
    let (name, description) = group_in(body)?;
    let g = state
        .store()
        .create_group(caller.company, name, description)
        .await?;
    Ok((StatusCode::CREATED, JsonOut(g.into())))
}

/// Lists groups.
#[utoipa::path(get, path = "/groups", tag = "groups", params(ListParams),
    responses(
        (status = 200, body = PageOut<GroupOut>),
    ),
    security(("api_key" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<JsonOut<PageOut<GroupOut>>, ApiError> {
    let page = state
        .store()
        .list_groups(caller.company, &params.query()?)
        .await?;
    Ok(JsonOut(PageOut::from_page(page, GroupOut::from)))
}

/// Reads a group.
#[utoipa::path(get, path = "/groups/{id}", tag = "groups", params(("id" = i64, Path, description = "Group id")),
    responses(
        (status = 200, body = GroupOut),
    ),
    security(("api_key" = [])))]
async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<JsonOut<GroupOut>, ApiError> {
    let g = state
        .store()
        .get_group(caller.company, GroupId(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(JsonOut(g.into()))
}

/// Renames a group and sets its description.
#[utoipa::path(put, path = "/groups/{id}", tag = "groups", params(("id" = i64, Path, description = "Group id")),
    request_body = GroupIn,
    responses(
        (status = 200, body = GroupOut),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<GroupIn>,
) -> Result<JsonOut<GroupOut>, ApiError> {
    caller.require(Role::Operator)?;
    let (name, description) = group_in(body)?;
    let g = state
        .store()
        .update_group(caller.company, GroupId(id), name, description)
        .await?;
    Ok(JsonOut(g.into()))
}

/// Deletes a group (its subscribers stay).
#[utoipa::path(delete, path = "/groups/{id}", tag = "groups", params(("id" = i64, Path, description = "Group id")),
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
        .delete_group(caller.company, GroupId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists a group's members.
#[utoipa::path(get, path = "/groups/{id}/members", tag = "groups",
    params(("id" = i64, Path, description = "Group id"), ListParams),
    responses(
        (status = 200, body = PageOut<SubscriberOut>),
    ),
    security(("api_key" = [])))]
async fn members(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(params): Query<ListParams>,
) -> Result<JsonOut<PageOut<SubscriberOut>>, ApiError> {
    let group = state
        .store()
        .get_group(caller.company, GroupId(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    let page = state
        .store()
        .list_subscribers(caller.company, &params.query_in(Some(group.id))?)
        .await?;
    Ok(JsonOut(PageOut::from_page(page, SubscriberOut::from)))
}

pub(crate) fn member_ids(body: &MembersIn) -> Result<Vec<SubscriberId>, ApiError> {
    if body.subscriber_ids.len() > 10_000 {
        return Err(ApiError::field(
            "subscriber_ids",
            ulak_core::Code::ValueTooMany,
            "at most 10,000 ids per call",
        ));
    }
    Ok(body
        .subscriber_ids
        .iter()
        .copied()
        .map(SubscriberId)
        .collect())
}

/// Adds subscribers to a group; unknown ids (or another company's) are a 404 and add nothing.
#[utoipa::path(post, path = "/groups/{id}/members", tag = "groups", params(("id" = i64, Path, description = "Group id")),
    request_body = MembersIn,
    responses(
        (status = 200, body = MembersChanged),
    ),
    security(("api_key" = [])))]
async fn add_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<MembersIn>,
) -> Result<JsonOut<MembersChanged>, ApiError> {
    caller.require(Role::Operator)?;
    let ids = member_ids(&body)?;
    let changed = state
        .store()
        .add_group_members(caller.company, GroupId(id), &ids)
        .await?;
    Ok(JsonOut(MembersChanged { changed }))
}

/// Removes subscribers from a group.
#[utoipa::path(delete, path = "/groups/{id}/members", tag = "groups", params(("id" = i64, Path, description = "Group id")),
    request_body = MembersIn,
    responses(
        (status = 200, body = MembersChanged),
    ),
    security(("api_key" = [])))]
async fn remove_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<MembersIn>,
) -> Result<JsonOut<MembersChanged>, ApiError> {
    caller.require(Role::Operator)?;
    let ids = member_ids(&body)?;
    let changed = state
        .store()
        .remove_group_members(caller.company, GroupId(id), &ids)
        .await?;
    Ok(JsonOut(MembersChanged { changed }))
}
