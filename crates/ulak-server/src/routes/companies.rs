//! Companies (tenants): the system administrator creates them; each gets a first admin key.

use axum::Json as JsonOut;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use ulak_core::CountryType;
use ulak_core::model::{Company, NewApiKey, NewCompany, Role};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{ListParams, Millis, PageOut};
use crate::auth::Caller;
use crate::error::{ApiError, Json, Problem, Query};
use crate::startup::AppState;

/// Country type of a company's SMS settings.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub enum CountryTypeDto {
    /// Turkey.
    #[serde(rename = "TR")]
    Tr,
    /// Azerbaijan.
    #[serde(rename = "AZ")]
    Az,
    /// Northern Cyprus.
    #[serde(rename = "KKTC")]
    Kktc,
}

impl From<CountryTypeDto> for CountryType {
    fn from(c: CountryTypeDto) -> Self {
        match c {
            CountryTypeDto::Tr => CountryType::Tr,
            CountryTypeDto::Az => CountryType::Az,
            CountryTypeDto::Kktc => CountryType::Kktc,
        }
    }
}

impl From<CountryType> for CountryTypeDto {
    fn from(c: CountryType) -> Self {
        match c {
            CountryType::Tr => CountryTypeDto::Tr,
            CountryType::Az => CountryTypeDto::Az,
            CountryType::Kktc => CountryTypeDto::Kktc,
        }
    }
}

/// A new company.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyIn {
    /// Short unique name (lower-case letters, digits, `-`).
    #[schema(
        max_length = 63,
        pattern = r"^[^\S\x00-\x1F\x7F-\x9F]*[A-Za-z0-9][A-Za-z0-9-]*[^\S\x00-\x1F\x7F-\x9F]*$"
    )]
    pub name: String,
    /// Name shown to people.
    #[schema(
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub display_name: String,
    /// Country type: decides how national numbers are read and the default text policy.
    pub country_type: CountryTypeDto,
}

/// A company.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyOut {
    /// Id.
    pub id: i64,
    /// Short unique name.
    pub name: String,
    /// Name shown to people.
    pub display_name: String,
    /// Country type.
    pub country_type: CountryTypeDto,
    /// Created, unix milliseconds.
    pub created_at: Millis,
}

impl From<Company> for CompanyOut {
    fn from(c: Company) -> Self {
        CompanyOut {
            id: c.id.0,
            name: c.name.as_str().to_owned(),
            display_name: c.display_name,
            country_type: c.country_type.into(),
            created_at: c.created_at,
        }
    }
}

/// A created company with its first admin API key (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyCreated {
    /// The company.
    pub company: CompanyOut,
    /// The company's first admin API key; store it now, it cannot be read again.
    pub api_key: String,
}

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create, list))
}

/// Creates a company and its first admin API key (system administrator only).
#[utoipa::path(post, path = "/companies", tag = "companies", request_body = CompanyIn,
    responses(
        (status = 201, body = CompanyCreated),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CompanyIn>,
) -> Result<(StatusCode, JsonOut<CompanyCreated>), ApiError> {
    caller.require_system_admin()?;
    let new = NewCompany::new(&body.name, &body.display_name, body.country_type.into())?;
    let company = state.store().create_company(new).await?;
    let key = NewApiKey::new("first admin key", Role::Admin, false)?;
    let (_, api_key) = state.store().create_api_key(company.id, key).await?;
    Ok((
        StatusCode::CREATED,
        JsonOut(CompanyCreated {
            company: company.into(),
            api_key,
        }),
    ))
}

/// Lists companies (system administrator only).
#[utoipa::path(get, path = "/companies", tag = "companies", params(ListParams),
    responses(
        (status = 200, body = PageOut<CompanyOut>),
    ),
    security(("api_key" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<JsonOut<PageOut<CompanyOut>>, ApiError> {
    caller.require_system_admin()?;
    let page = state.store().list_companies(&params.query()?).await?;
    Ok(JsonOut(PageOut::from_page(page, CompanyOut::from)))
}
