//! `POST /inbox/simulate` (administrators of a company on the built-in simulator): a message
//! "from a handset" sent into the simulator, as `POST
//! /api/v1/provider-accounts/{id}/simulated-inbound` does; it reaches the inbox through the
//! real inbound path a moment later.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use ulak_core::model::{ListQuery, ProviderAccountId, ProviderKind, Role};
use ulak_engine::sim_inbound::{self, HandsetMessage, SimInboundError};
use ulak_store::StoreError;

use super::inbox::{InboxQuery, page};
use super::messages::problem_texts;
use super::pages;
use super::session::WebUser;
use crate::error::ApiError;
use crate::startup::AppState;

/// The company's simulator accounts (id, name), when the server runs the simulator and the
/// user is an administrator; otherwise none, and the page shows no form.
pub(super) async fn accounts(
    state: &AppState,
    user: &WebUser,
) -> Result<Vec<(i64, String)>, StoreError> {
    if state.simulator().is_none() || !user.may(Role::Admin) {
        return Ok(Vec::new());
    }
    let company = user.session.user.company_id;
    let page = state
        .store()
        .list_provider_accounts(company, &ListQuery::default())
        .await?;
    Ok(page
        .items
        .into_iter()
        .filter(|a| a.kind == ProviderKind::Simulator)
        .map(|a| (a.id.0, a.name))
        .collect())
}

/// The form.
#[derive(Debug, Deserialize)]
pub struct SimulateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    text: String,
}

/// `POST /inbox/simulate` (admin).
pub async fn simulate(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Form<SimulateForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Form(form)) = form else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.refusal(&form.csrf, Role::Admin) {
        return r;
    }
    let Ok(account) = form.account.parse::<i64>().map(ProviderAccountId) else {
        return pages::bad_request(t);
    };
    let company = user.session.user.company_id;
    let country = match state.store().get_company(company).await {
        Ok(Some(c)) => c.country_type,
        Ok(None) => return pages::internal(t),
        Err(e) => {
            tracing::error!(error = %e, "reading the company failed");
            return pages::internal(t);
        }
    };
    let errors = match HandsetMessage::new(&form.from, &form.to, &form.text, country) {
        Err(e) => problem_texts(&ApiError::from(e), t.language()),
        Ok(msg) => {
            let done =
                sim_inbound::inject(state.store(), state.simulator(), company, account, &msg).await;
            match done {
                Ok(_) => return Redirect::to("/inbox?simulated=1").into_response(),
                Err(SimInboundError::Store(e)) => {
                    tracing::error!(error = %e, "injecting an inbound message failed");
                    return pages::internal(t);
                }
                Err(e) => vec![t.get(refusal_key(&e)).to_owned()],
            }
        }
    };
    page(&state, &user, &InboxQuery::default(), errors, None).await
}

/// The catalogue key of a refusal.
fn refusal_key(e: &SimInboundError) -> &'static str {
    match e {
        SimInboundError::NoSimulator | SimInboundError::NotSimulator => "inbox.sim.not_simulator",
        SimInboundError::NotFound => "inbox.not_found_account",
        SimInboundError::NotConnected => "inbox.sim.not_connected",
        SimInboundError::Text | SimInboundError::Store(_) => "inbox.sim.text",
    }
}
