//! Customer accounts ("cari hesap"): create, read, update, delete, list with search.

use std::collections::BTreeMap;

use axum::Json as JsonOut;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use ulak_core::model::{
    CustomerAccount, CustomerAccountId, CustomerAccountPatch, CustomerKind, NewCustomerAccount,
    Role,
};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{ListParams, Millis, PageOut};
use crate::auth::Caller;
use crate::error::{ApiError, Json, Path, Problem, Query};
use crate::startup::AppState;

/// Customer or supplier.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CustomerKindDto {
    /// A customer (alıcı).
    #[default]
    Customer,
    /// A supplier (satıcı).
    Supplier,
}

impl From<CustomerKindDto> for CustomerKind {
    fn from(k: CustomerKindDto) -> Self {
        match k {
            CustomerKindDto::Customer => CustomerKind::Customer,
            CustomerKindDto::Supplier => CustomerKind::Supplier,
        }
    }
}

impl From<CustomerKind> for CustomerKindDto {
    fn from(k: CustomerKind) -> Self {
        match k {
            CustomerKind::Customer => CustomerKindDto::Customer,
            CustomerKind::Supplier => CustomerKindDto::Supplier,
        }
    }
}

/// A new customer account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerIn {
    /// Code, unique in the company (the accounting system's key; at most 64 characters).
    #[schema(
        max_length = 64,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub code: String,
    /// Title (ünvan; at most 300 characters).
    #[schema(
        max_length = 300,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub title: String,
    /// Customer or supplier (default customer).
    #[serde(default)]
    pub kind: CustomerKindDto,
    /// One to 20 mobile numbers; national numbers are read by the company's country.
    #[schema(value_type = Vec<super::schema::Phone>, min_items = 1, max_items = 20)]
    pub phones: Vec<String>,
    /// Balance in minor units (kuruş); positive means the account owes.
    #[serde(default)]
    pub balance_minor: i64,
    /// Free attributes usable in templates.
    #[serde(default)]
    #[schema(schema_with = super::common::attributes_schema)]
    pub attributes: BTreeMap<String, String>,
}

/// Changes to a customer account; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatchIn {
    /// New title (at most 300 characters).
    #[schema(
        max_length = 300,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub title: Option<String>,
    /// New kind.
    pub kind: Option<CustomerKindDto>,
    /// Replaces the phones (1 to 20).
    #[schema(value_type = Option<Vec<super::schema::Phone>>, min_items = 1, max_items = 20)]
    pub phones: Option<Vec<String>>,
    /// New balance in kuruş.
    pub balance_minor: Option<i64>,
    /// Replaces all attributes.
    #[schema(schema_with = super::common::attributes_patch_schema)]
    pub attributes: Option<BTreeMap<String, String>>,
}

/// A customer account.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerOut {
    /// Id.
    pub id: i64,
    /// Code.
    pub code: String,
    /// Title.
    pub title: String,
    /// Customer or supplier.
    pub kind: CustomerKindDto,
    /// E.164 phone numbers.
    pub phones: Vec<String>,
    /// Balance in kuruş.
    pub balance_minor: i64,
    /// Free attributes.
    pub attributes: BTreeMap<String, String>,
    /// Created, unix milliseconds.
    pub created_at: Millis,
    /// Last changed, unix milliseconds.
    pub updated_at: Millis,
}

impl From<CustomerAccount> for CustomerOut {
    fn from(c: CustomerAccount) -> Self {
        CustomerOut {
            id: c.id.0,
            code: c.code,
            title: c.title,
            kind: c.kind.into(),
            phones: c.phones.iter().map(|p| p.e164().to_owned()).collect(),
            balance_minor: c.balance_minor,
            attributes: c.attributes.as_map().clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get_one, update, delete))
}

/// Creates a customer account.
#[utoipa::path(post, path = "/customers", tag = "customers", request_body = CustomerIn,
    responses(
        (status = 201, body = CustomerOut),
        (status = 409, description = "The code is already in use", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(b): Json<CustomerIn>,
) -> Result<(StatusCode, JsonOut<CustomerOut>), ApiError> {
    caller.require(Role::Operator)?;
    let country = caller.country(&state).await?;
    let phones: Vec<&str> = b.phones.iter().map(String::as_str).collect();
    let new = NewCustomerAccount::new(
        &b.code,
        &b.title,
        b.kind.into(),
        &phones,
        country,
        b.balance_minor,
        b.attributes,
    )?;
    let c = state
        .store()
        .create_customer_account(caller.company, new)
        .await?;
    Ok((StatusCode::CREATED, JsonOut(c.into())))
}

/// Lists customer accounts (search by code, title or phone).
#[utoipa::path(get, path = "/customers", tag = "customers", params(ListParams),
    responses((status = 200, body = PageOut<CustomerOut>)),
    security(("api_key" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<JsonOut<PageOut<CustomerOut>>, ApiError> {
    let page = state
        .store()
        .list_customer_accounts(caller.company, &params.query()?)
        .await?;
    Ok(JsonOut(PageOut::from_page(page, CustomerOut::from)))
}

/// Reads a customer account.
#[utoipa::path(get, path = "/customers/{id}", tag = "customers", params(("id" = i64, Path, description = "Customer account id")),
    responses((status = 200, body = CustomerOut)),
    security(("api_key" = [])))]
async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<JsonOut<CustomerOut>, ApiError> {
    let c = state
        .store()
        .get_customer_account(caller.company, CustomerAccountId(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(JsonOut(c.into()))
}

/// Changes a customer account (the code stays: it is the accounting system's key).
#[utoipa::path(patch, path = "/customers/{id}", tag = "customers", params(("id" = i64, Path, description = "Customer account id")),
    request_body = CustomerPatchIn,
    responses((status = 200, body = CustomerOut)),
    security(("api_key" = [])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(b): Json<CustomerPatchIn>,
) -> Result<JsonOut<CustomerOut>, ApiError> {
    caller.require(Role::Operator)?;
    let country = caller.country(&state).await?;
    let phones: Option<Vec<&str>> = b
        .phones
        .as_ref()
        .map(|p| p.iter().map(String::as_str).collect());
    let patch = CustomerAccountPatch::new(
        b.title.as_deref(),
        b.kind.map(Into::into),
        phones.as_deref(),
        country,
        b.balance_minor,
        b.attributes,
    )?;
    let c = state
        .store()
        .update_customer_account(caller.company, CustomerAccountId(id), patch)
        .await?;
    Ok(JsonOut(c.into()))
}

/// Deletes a customer account.
#[utoipa::path(delete, path = "/customers/{id}", tag = "customers", params(("id" = i64, Path, description = "Customer account id")),
    responses((status = 204, description = "Deleted")),
    security(("api_key" = [])))]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Operator)?;
    state
        .store()
        .delete_customer_account(caller.company, CustomerAccountId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
