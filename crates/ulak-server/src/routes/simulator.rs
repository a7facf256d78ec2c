//! A message "from a handset" through the built-in simulator: lets a company on the
//! simulator try its inbound flow (inbox, opt-out keywords, webhooks) end to end.

use axum::Json as JsonOut;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use ulak_core::Code;
use ulak_core::model::{ProviderAccountId, Role};
use ulak_engine::sim_inbound::{self, HandsetMessage, SimInboundError};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, Json, Path};
use crate::startup::AppState;

/// An inbound message to send into the simulator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulatedInboundIn {
    /// The handset's mobile number (any usual form; the company's country by default).
    #[schema(value_type = super::schema::Phone)]
    pub from: String,
    /// The short code or number it is sent to: 1 to 16 digits.
    #[schema(max_length = 16, pattern = r"^[0-9]{1,16}$")]
    pub to: String,
    /// The text: 1 to 1,530 characters, not only spaces; long texts arrive in concatenated
    /// parts. Line feed and carriage return are the only control characters allowed.
    #[schema(
        max_length = 1530,
        pattern = r"^[^\x00-\x09\x0B\x0C\x0E-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x09\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub text: String,
}

/// What went into the simulator.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimulatedInboundOut {
    /// The deliver_sm parts the simulator sent to the account's binds.
    pub parts: usize,
}

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(simulated_inbound))
}

/// Sends a message "from a handset" to a `simulator` provider account (admin): the built-in
/// simulator delivers it as an operator delivers an inbound message, and it arrives in the
/// inbox (`GET /api/v1/inbound`) a moment later.
#[utoipa::path(post, path = "/provider-accounts/{id}/simulated-inbound", tag = "inbox",
    params(("id" = i64, Path, description = "Provider account id (a simulator account)")),
    request_body = SimulatedInboundIn,
    responses((status = 202, body = SimulatedInboundOut)), security(("api_key" = [])))]
async fn simulated_inbound(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(b): Json<SimulatedInboundIn>,
) -> Result<(StatusCode, JsonOut<SimulatedInboundOut>), ApiError> {
    caller.require(Role::Admin)?;
    let country = caller.country(&state).await?;
    let msg = HandsetMessage::new(&b.from, &b.to, &b.text, country)?;
    let parts = sim_inbound::inject(
        state.store(),
        state.simulator(),
        caller.company,
        ProviderAccountId(id),
        &msg,
    )
    .await?;
    Ok((StatusCode::ACCEPTED, JsonOut(SimulatedInboundOut { parts })))
}

impl From<SimInboundError> for ApiError {
    fn from(e: SimInboundError) -> Self {
        match e {
            SimInboundError::NotFound => ApiError::NotFound,
            SimInboundError::NoSimulator | SimInboundError::NotConnected => {
                ApiError::Unavailable(e.to_string())
            }
            SimInboundError::NotSimulator => ApiError::Conflict(e.to_string()),
            SimInboundError::Text => ApiError::Refused {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: Code::TextUnencodable,
                detail: e.to_string(),
            },
            SimInboundError::Store(e) => e.into(),
        }
    }
}
