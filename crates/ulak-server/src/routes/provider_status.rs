//! `GET /provider-accounts/{id}/status`: how a provider account of the caller's company is
//! doing on this node (bound or not, the window in use, the recent rate, the queue and its
//! drain estimate). The dashboard shows the same through [`account_status`].

use axum::Json as JsonOut;
use axum::extract::State;
use serde::Serialize;
use ulak_core::model::{CompanyId, ProviderAccountId, Role};
use ulak_engine::ProviderStatus;
use ulak_store::StoreError;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::Millis;
use crate::auth::Caller;
use crate::error::{ApiError, Path};
use crate::startup::AppState;

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_status))
}

/// A provider account's status on the node that answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderStatusOut {
    /// The account.
    pub id: i64,
    /// Whether it takes messages; absent when this node does not run it (no engine here,
    /// the account disabled or not started yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub up: Option<bool>,
    /// Since when it is up or down, unix ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<Millis>,
    /// Submits waiting for the operator's answer (the window in use, over its links).
    pub window_in_use: u64,
    /// Messages the operator took per second over the last 10 seconds.
    pub per_second: f64,
    /// Messages queued for it.
    pub queued: i64,
    /// Seconds to send the queue at that rate; absent while nothing is being taken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drain_seconds: Option<u64>,
    /// Why it went down last (no personal data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl From<ProviderStatus> for ProviderStatusOut {
    fn from(s: ProviderStatus) -> Self {
        ProviderStatusOut {
            id: s.account,
            up: s.up,
            since: s.since,
            window_in_use: s.window_in_use,
            per_second: s.per_second,
            queued: s.queued,
            drain_seconds: s.drain_seconds,
            last_error: s.last_error,
        }
    }
}

/// The status of `company`'s account `account` (the caller has checked it is the
/// company's: the queue count is 0 for another company's, the health is per id).
pub(crate) async fn account_status(
    state: &AppState,
    company: CompanyId,
    account: ProviderAccountId,
) -> Result<ProviderStatus, StoreError> {
    let queued = state.store().queued_for_account(company, account).await?;
    Ok(ulak_engine::provider_status(
        state.health(),
        state.metrics(),
        account,
        queued,
    ))
}

/// Reads how a provider account is doing on this node: bound or not and since when, the
/// window in use, the recent submit rate, the queue and how long it takes to drain.
#[utoipa::path(get, path = "/provider-accounts/{id}/status", tag = "sms-settings", params(("id" = i64, Path, description = "Provider account id")),
    responses((status = 200, body = ProviderStatusOut)), security(("api_key" = [])))]
async fn get_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<JsonOut<ProviderStatusOut>, ApiError> {
    caller.require(Role::Viewer)?;
    let id = ProviderAccountId(id);
    // Another company's account is not found, as every id of another company.
    state
        .store()
        .get_provider_account(caller.company, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let s = account_status(&state, caller.company, id).await?;
    Ok(JsonOut(s.into()))
}
