//! Routes: which of the company's provider accounts each message goes through (by recipient
//! kind, zone, number prefix and traffic class), in order, each over one to eight accounts by
//! weight. A company without routes sends through its first enabled account.

use axum::Json as JsonOut;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use ulak_core::model::{NewRoute, Role, Route, RouteDraft, RouteId, RouteTargetDraft};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{Millis, PageOut};
use crate::auth::Caller;
use crate::error::{ApiError, Json, Path};
use crate::startup::AppState;

/// A recipient kind a route matches.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RouteRecipientDto {
    /// A mobile number.
    Msisdn,
    /// A TC ID number.
    Tckn,
}

/// A zone a route matches.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RouteZoneDto {
    /// Turkey (TC ID numbers count as Turkish).
    Tr,
    /// Northern Cyprus.
    Kktc,
    /// Azerbaijan.
    Az,
    /// Anything else.
    Other,
}

/// A traffic class a route matches.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrafficClassDto {
    /// One-time codes.
    Otp,
    /// Single sends.
    Transactional,
    /// Campaign messages.
    Campaign,
}

/// One account of a route.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteTargetIn {
    /// A provider account of the company.
    pub account_id: i64,
    /// Its share of the route's messages, 1 to 1000 (default 1).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    pub weight: Option<u32>,
}

/// A route (creating one, or replacing one). An absent or `null` match field matches
/// anything.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteIn {
    /// Order among the company's routes, 0 to 1000000: the first that fits a message
    /// chooses its account (ties: the older route first).
    #[schema(minimum = 0, maximum = 1000000)]
    pub position: u32,
    /// `msisdn` or `tckn`.
    #[serde(default)]
    #[schema(value_type = Option<RouteRecipientDto>)]
    pub recipient_kind: Option<String>,
    /// `tr`, `kktc`, `az` or `other`.
    #[serde(default)]
    #[schema(value_type = Option<RouteZoneDto>)]
    pub zone: Option<String>,
    /// Leading digits of the E.164 number without `+` (mobile numbers only), e.g. `90533`.
    #[serde(default)]
    #[schema(pattern = r"^[1-9][0-9]{0,14}$", min_length = 1, max_length = 15)]
    pub prefix: Option<String>,
    /// `otp`, `transactional` or `campaign`.
    #[serde(default)]
    #[schema(value_type = Option<TrafficClassDto>)]
    pub class: Option<String>,
    /// The accounts, 1 to 8, each once.
    #[schema(min_items = 1, max_items = 8)]
    pub targets: Vec<RouteTargetIn>,
}

impl RouteIn {
    fn checked(self) -> Result<NewRoute, ApiError> {
        Ok(NewRoute::new(RouteDraft {
            position: self.position,
            recipient_kind: self.recipient_kind,
            zone: self.zone,
            prefix: self.prefix,
            class: self.class,
            targets: self
                .targets
                .into_iter()
                .map(|t| RouteTargetDraft {
                    account_id: t.account_id,
                    weight: t.weight,
                })
                .collect(),
        })?)
    }
}

/// One account of a route.
#[derive(Debug, Serialize, ToSchema)]
pub struct RouteTargetOut {
    /// The provider account.
    pub account_id: i64,
    /// Its weight.
    pub weight: u32,
}

/// A route.
#[derive(Debug, Serialize, ToSchema)]
pub struct RouteOut {
    /// Id (messages it chose an account for show it as `route_id`).
    pub id: i64,
    /// Order among the company's routes.
    pub position: u32,
    /// The recipient kind it matches (absent: any).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<RouteRecipientDto>)]
    pub recipient_kind: Option<String>,
    /// The zone it matches (absent: any).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<RouteZoneDto>)]
    pub zone: Option<String>,
    /// The number prefix it matches (absent: any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The traffic class it matches (absent: any).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<TrafficClassDto>)]
    pub class: Option<String>,
    /// Its accounts, in order (a deleted account leaves its route).
    pub targets: Vec<RouteTargetOut>,
    /// Created, unix ms.
    pub created_at: Millis,
    /// Last changed, unix ms.
    pub updated_at: Millis,
}

impl From<Route> for RouteOut {
    fn from(r: Route) -> Self {
        let m = r.matches;
        RouteOut {
            id: r.id.0,
            position: r.position,
            recipient_kind: m.recipient_kind.map(|k| k.as_str().to_owned()),
            zone: m.zone.map(|z| z.as_str().to_owned()),
            prefix: m.prefix,
            class: m.class.map(|c| c.as_str().to_owned()),
            targets: r
                .targets
                .into_iter()
                .map(|t| RouteTargetOut {
                    account_id: t.account.0,
                    weight: t.weight,
                })
                .collect(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_routes, create_route))
        .routes(routes!(get_route, replace_route, delete_route))
}

/// Lists the company's routes in the order they are tried (at most 100, one page).
#[utoipa::path(get, path = "/routes", tag = "routes",
    responses((status = 200, body = PageOut<RouteOut>)), security(("api_key" = [])))]
async fn list_routes(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<JsonOut<PageOut<RouteOut>>, ApiError> {
    let routes = state.store().list_routes(caller.company).await?;
    Ok(JsonOut(PageOut {
        items: routes.into_iter().map(RouteOut::from).collect(),
        next_cursor: None,
    }))
}

/// Adds a route (admin). Its accounts must be the company's (`value.unknown`).
#[utoipa::path(post, path = "/routes", tag = "routes", request_body = RouteIn,
    responses((status = 201, body = RouteOut)), security(("api_key" = [])))]
async fn create_route(
    State(state): State<AppState>,
    caller: Caller,
    Json(b): Json<RouteIn>,
) -> Result<(StatusCode, JsonOut<RouteOut>), ApiError> {
    caller.require(Role::Admin)?;
    let new = b.checked()?;
    let r = state.store().create_route(caller.company, new).await?;
    Ok((StatusCode::CREATED, JsonOut(r.into())))
}

/// Reads a route.
#[utoipa::path(get, path = "/routes/{id}", tag = "routes", params(("id" = i64, Path, description = "Route id")),
    responses((status = 200, body = RouteOut)), security(("api_key" = [])))]
async fn get_route(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<JsonOut<RouteOut>, ApiError> {
    let r = state
        .store()
        .get_route(caller.company, RouteId(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(JsonOut(r.into()))
}

/// Replaces a route (admin).
#[utoipa::path(put, path = "/routes/{id}", tag = "routes", params(("id" = i64, Path, description = "Route id")),
    request_body = RouteIn, responses((status = 200, body = RouteOut)), security(("api_key" = [])))]
async fn replace_route(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(b): Json<RouteIn>,
) -> Result<JsonOut<RouteOut>, ApiError> {
    caller.require(Role::Admin)?;
    let new = b.checked()?;
    let r = state
        .store()
        .update_route(caller.company, RouteId(id), new)
        .await?;
    Ok(JsonOut(r.into()))
}

/// Deletes a route (admin); its messages keep its id.
#[utoipa::path(delete, path = "/routes/{id}", tag = "routes", params(("id" = i64, Path, description = "Route id")),
    responses((status = 204, description = "Deleted")), security(("api_key" = [])))]
async fn delete_route(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    state
        .store()
        .delete_route(caller.company, RouteId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
