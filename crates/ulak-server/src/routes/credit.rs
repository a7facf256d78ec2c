//! Credit: the ledger of a company and its balance, and the opt-out list.

use axum::Json as JsonOut;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use ulak_core::model::{
    CompanyId, CreditEntry, LedgerKind, NewCreditEntry, OptOut, OptOutId, Role, opt_out_reason,
    validation,
};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{ListParams, Millis, PageOut};
use crate::auth::Caller;
use crate::error::{ApiError, Json, Path, Problem, Query};
use crate::startup::AppState;

/// The kind of a ledger entry.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKindDto {
    /// Credit bought (positive).
    Purchase,
    /// Manual correction (either sign).
    Adjustment,
    /// Held for a send in progress (negative).
    Reservation,
    /// Spent on sent messages (negative).
    Charge,
    /// A reservation given back (positive).
    Release,
}

impl From<LedgerKind> for LedgerKindDto {
    fn from(k: LedgerKind) -> Self {
        match k {
            LedgerKind::Purchase => LedgerKindDto::Purchase,
            LedgerKind::Adjustment => LedgerKindDto::Adjustment,
            LedgerKind::Reservation => LedgerKindDto::Reservation,
            LedgerKind::Charge => LedgerKindDto::Charge,
            LedgerKind::Release => LedgerKindDto::Release,
        }
    }
}

/// Kinds an administrator may write by hand.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ManualKind {
    /// Credit bought.
    Purchase,
    /// Manual correction.
    Adjustment,
}

/// A ledger entry written by an administrator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditEntryIn {
    /// Purchase (positive amount) or adjustment (non-zero, either sign).
    pub kind: ManualKind,
    /// Credits (SMS segments).
    pub amount: i64,
    /// Note (invoice number, reason).
    #[serde(default)]
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub note: Option<String>,
}

/// A ledger entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreditEntryOut {
    /// Id.
    pub id: i64,
    /// Kind.
    pub kind: LedgerKindDto,
    /// Signed amount.
    pub amount: i64,
    /// Note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Balance right after this entry.
    pub balance_after: i64,
    /// Written, unix milliseconds.
    pub created_at: Millis,
}

impl From<CreditEntry> for CreditEntryOut {
    fn from(e: CreditEntry) -> Self {
        CreditEntryOut {
            id: e.id.0,
            kind: e.kind.into(),
            amount: e.amount,
            note: e.note,
            balance_after: e.balance_after,
            created_at: e.created_at,
        }
    }
}

/// The remaining credit.
#[derive(Debug, Serialize, ToSchema)]
pub struct Balance {
    /// Credits left (the sum of the ledger).
    pub balance: i64,
}

/// A phone that must never receive commercial messages.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptOutIn {
    /// Mobile number in any common form.
    #[schema(value_type = super::schema::Phone)]
    pub phone: String,
    /// Why (e.g. "RET keyword", "call centre request").
    #[serde(default)]
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub reason: Option<String>,
}

/// An opt-out.
#[derive(Debug, Serialize, ToSchema)]
pub struct OptOutOut {
    /// Id.
    pub id: i64,
    /// E.164 phone.
    pub phone: String,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Added, unix milliseconds.
    pub created_at: Millis,
}

impl From<OptOut> for OptOutOut {
    fn from(o: OptOut) -> Self {
        OptOutOut {
            id: o.id.0,
            phone: o.phone.e164().to_owned(),
            reason: o.reason,
            created_at: o.created_at,
        }
    }
}

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(balance))
        .routes(routes!(add_entry, list_entries))
        .routes(routes!(add_company_entry))
        .routes(routes!(add_opt_out, list_opt_outs))
        .routes(routes!(delete_opt_out))
}

/// The remaining credit.
#[utoipa::path(get, path = "/credit", tag = "credit",
    responses(
        (status = 200, body = Balance),
    ),
    security(("api_key" = [])))]
async fn balance(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<JsonOut<Balance>, ApiError> {
    let balance = state.store().credit_balance(caller.company).await?;
    Ok(JsonOut(Balance { balance }))
}

/// Adds a purchase or an adjustment to the caller's own company (system administrator only:
/// credit is sold, companies read their balance and ledger); the balance never goes below zero.
#[utoipa::path(post, path = "/credit/entries", tag = "credit", request_body = CreditEntryIn,
    responses(
        (status = 201, body = CreditEntryOut),
        (status = 403, description = "Not the system administrator's key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The balance would go below zero", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn add_entry(
    State(state): State<AppState>,
    caller: Caller,
    Json(b): Json<CreditEntryIn>,
) -> Result<(StatusCode, JsonOut<CreditEntryOut>), ApiError> {
    caller.require_system_admin()?;
    write_entry(&state, caller.company, b).await
}

/// Adds a purchase or an adjustment to a company's credit (system administrator only); the
/// balance never goes below zero.
#[utoipa::path(post, path = "/companies/{id}/credit/entries", tag = "credit", request_body = CreditEntryIn,
    params(("id" = i64, Path, description = "Company id")),
    responses(
        (status = 201, body = CreditEntryOut),
        (status = 403, description = "Not the system administrator's key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The balance would go below zero", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn add_company_entry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(b): Json<CreditEntryIn>,
) -> Result<(StatusCode, JsonOut<CreditEntryOut>), ApiError> {
    caller.require_system_admin()?;
    let company = state
        .store()
        .get_company(CompanyId(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    write_entry(&state, company.id, b).await
}

async fn write_entry(
    state: &AppState,
    company: CompanyId,
    b: CreditEntryIn,
) -> Result<(StatusCode, JsonOut<CreditEntryOut>), ApiError> {
    let kind = match b.kind {
        ManualKind::Purchase => LedgerKind::Purchase,
        ManualKind::Adjustment => LedgerKind::Adjustment,
    };
    let new = NewCreditEntry::new(kind, b.amount, b.note.as_deref())?;
    let e = state.store().add_credit_entry(company, new).await?;
    Ok((StatusCode::CREATED, JsonOut(e.into())))
}

/// Lists ledger entries, newest last.
#[utoipa::path(get, path = "/credit/entries", tag = "credit", params(ListParams),
    responses(
        (status = 200, body = PageOut<CreditEntryOut>),
    ),
    security(("api_key" = [])))]
async fn list_entries(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<JsonOut<PageOut<CreditEntryOut>>, ApiError> {
    let page = state
        .store()
        .list_credit_entries(caller.company, &params.query()?)
        .await?;
    Ok(JsonOut(PageOut::from_page(page, CreditEntryOut::from)))
}

/// Adds a phone to the opt-out list.
#[utoipa::path(post, path = "/opt-outs", tag = "opt-outs", request_body = OptOutIn,
    responses(
        (status = 201, body = OptOutOut),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn add_opt_out(
    State(state): State<AppState>,
    caller: Caller,
    Json(b): Json<OptOutIn>,
) -> Result<(StatusCode, JsonOut<OptOutOut>), ApiError> {
    caller.require(Role::Operator)?;
    let phone = validation::phone(&b.phone, caller.country(&state).await?)
        .map_err(|e| ApiError::rule("phone", e))?;
    let reason = opt_out_reason(b.reason.as_deref())?;
    let o = state
        .store()
        .add_opt_out(caller.company, &phone, reason)
        .await?;
    Ok((StatusCode::CREATED, JsonOut(o.into())))
}

/// Lists the opt-out list (search by phone).
#[utoipa::path(get, path = "/opt-outs", tag = "opt-outs", params(ListParams),
    responses(
        (status = 200, body = PageOut<OptOutOut>),
    ),
    security(("api_key" = [])))]
async fn list_opt_outs(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<JsonOut<PageOut<OptOutOut>>, ApiError> {
    let page = state
        .store()
        .list_opt_outs(caller.company, &params.query()?)
        .await?;
    Ok(JsonOut(PageOut::from_page(page, OptOutOut::from)))
}

/// Removes a phone from the opt-out list.
#[utoipa::path(delete, path = "/opt-outs/{id}", tag = "opt-outs", params(("id" = i64, Path, description = "Opt-out id")),
    responses(
        (status = 204, description = "Deleted"),
    ),
    security(("api_key" = [])))]
async fn delete_opt_out(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    state
        .store()
        .delete_opt_out(caller.company, OptOutId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
