//! "Test connection" of a provider account: `POST /provider-accounts/{id}/test` (admin), one
//! real bind and unbind (`ulak_engine::provider::test_connection`). The web UI's button
//! calls [`test_account`] too.

use axum::Json as JsonOut;
use axum::extract::State;
use serde::Serialize;
use ulak_core::Code;
use ulak_core::model::{CompanyId, ProviderAccountId, ProviderKind, Role, ValidationErrors};
use ulak_engine::provider::{ProbeOutcome, StartContext, test_connection};
use ulak_store::StoreError;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, Path};
use crate::startup::AppState;

/// Why an account cannot be tested at all.
#[derive(Debug, thiserror::Error)]
pub enum TestRefusal {
    /// No such account in the company.
    #[error("not found")]
    NotFound,
    /// An HTTP operator account: not supported yet.
    #[error("connection tests of HTTP operator accounts are not supported yet")]
    Unsupported,
    /// Another test of the company is running ([`ulak_engine::provider::ProbeGate`]).
    #[error("a connection test of this company is already running")]
    Busy,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Tests account `id` of `company`: a bind and an unbind within 10 s, one test of the company
/// at a time.
pub async fn test_account(
    state: &AppState,
    company: CompanyId,
    id: ProviderAccountId,
) -> Result<ProbeOutcome, TestRefusal> {
    let account = state
        .store()
        .get_provider_account(company, id)
        .await?
        .ok_or(TestRefusal::NotFound)?;
    if account.kind == ProviderKind::Http {
        return Err(TestRefusal::Unsupported);
    }
    let _turn = state.probes().enter(company).ok_or(TestRefusal::Busy)?;
    let ctx = StartContext {
        store: state.store(),
        simulator: state.simulator(),
        outbound: state.outbound(),
    };
    Ok(test_connection(&account, ctx).await)
}

/// What a connection test came to.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderTestOut {
    /// Whether the bind succeeded (and was undone).
    pub ok: bool,
    /// `ok`, or why not: `invalid_password`, `invalid_system_id`, `bind_refused`,
    /// `connection_refused`, `timed_out`, `host_unreachable`, `dns_failure`,
    /// `target_not_allowed`, `connection_closed`, `protocol_error`, `connection_failed`,
    /// `simulator_off`, `credentials_unreadable`.
    pub code: String,
    /// A sentence for people (English).
    pub message: String,
    /// How long the test took, in milliseconds.
    pub elapsed_ms: u64,
}

impl From<ProbeOutcome> for ProviderTestOut {
    fn from(o: ProbeOutcome) -> Self {
        let elapsed_ms = u64::try_from(o.elapsed.as_millis()).unwrap_or(u64::MAX);
        match o.result {
            Ok(()) => ProviderTestOut {
                ok: true,
                code: "ok".to_owned(),
                message: "bound and unbound".to_owned(),
                elapsed_ms,
            },
            Err(f) => ProviderTestOut {
                ok: false,
                code: f.code().to_owned(),
                message: f.to_string(),
                elapsed_ms,
            },
        }
    }
}

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(test_provider))
}

/// Tests a provider account's connection (admin): one bind_transceiver and unbind against its
/// host (the built-in simulator for `simulator` accounts), at most 10 s, only where the
/// outbound policy allows, one test of the company at a time. A failed bind is a 200 with
/// `ok: false` and its code.
#[utoipa::path(post, path = "/provider-accounts/{id}/test", tag = "sms-settings",
    params(("id" = i64, Path, description = "Provider account id")),
    responses(
        (status = 200, body = ProviderTestOut),
        (status = 404, description = "No such account in the company", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "An HTTP operator account (`provider.kind_unsupported`): not supported yet", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Another connection test of the company is running (`provider.test_busy`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn test_provider(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<JsonOut<ProviderTestOut>, ApiError> {
    caller.require(Role::Admin)?;
    match test_account(&state, caller.company, ProviderAccountId(id)).await {
        Ok(o) => Ok(JsonOut(o.into())),
        Err(TestRefusal::NotFound) => Err(ApiError::NotFound),
        Err(TestRefusal::Store(e)) => Err(e.into()),
        Err(TestRefusal::Busy) => Err(ApiError::Refused {
            status: axum::http::StatusCode::TOO_MANY_REQUESTS,
            code: Code::ProviderTestBusy,
            detail: "a connection test of this company is already running; try again when \
                     it has finished"
                .to_owned(),
        }),
        Err(TestRefusal::Unsupported) => {
            let mut e = ValidationErrors::default();
            e.push(
                "kind",
                Code::ProviderKindUnsupported,
                "connection tests of HTTP operator accounts are not supported yet",
            );
            Err(e.into())
        }
    }
}
