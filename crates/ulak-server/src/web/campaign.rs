//! `GET /campaigns/{id}`: a campaign's progress: its messages by state, a progress bar, and
//! pause / resume / cancel (the same functions as the API's). `GET /campaigns/{id}/progress`:
//! the figures as JSON, which the page's script polls; without it a link reloads the page.

use askama::Template;
use axum::Json as JsonOut;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use ulak_core::model::{CampaignAction, CampaignState, MessageState, Role};

use super::format;
use super::i18n::Texts;
use super::pages::{self, render};
use super::session::WebUser;
use crate::error::ApiError;
use crate::routes::campaigns::{CampaignOut, acted, read, resumed};
use crate::startup::AppState;

/// One row of the counts table.
#[derive(Serialize)]
struct Row {
    state: &'static str,
    #[serde(skip)]
    label: &'static str,
    n: i64,
    text: String,
}

/// The figures the page shows and its script refreshes.
#[derive(Serialize)]
pub(super) struct Progress {
    pub(super) state: String,
    pub(super) state_label: &'static str,
    /// Messages that reached a final state (left-out recipients not counted).
    pub(super) done: i64,
    /// Messages in all (left-out recipients not counted).
    pub(super) total: i64,
    pub(super) done_text: String,
    pub(super) total_text: String,
    rows: Vec<Row>,
    /// Nothing will change any more: the script stops polling.
    over: bool,
}

fn progress(c: &CampaignOut, t: Texts) -> Progress {
    progress_of(&c.state, &c.counts, t)
}

/// The figures of a campaign in `state` whose messages per state are `counts`.
pub(super) fn progress_of(
    state: &str,
    counts: &std::collections::BTreeMap<String, i64>,
    t: Texts,
) -> Progress {
    let n = |v: i64| format::integer(v, t.language());
    let rows: Vec<Row> = MessageState::ALL
        .iter()
        .map(|s| {
            let count = counts.get(s.as_str()).copied().unwrap_or(0);
            Row {
                state: s.as_str(),
                label: t.get(message_state_key(*s)),
                n: count,
                text: n(count),
            }
        })
        .collect();
    let sent = |r: &&Row| r.state != MessageState::Skipped.as_str();
    let total: i64 = rows.iter().filter(sent).map(|r| r.n).sum();
    let done: i64 = rows
        .iter()
        .filter(sent)
        .filter(|r| {
            MessageState::ALL
                .iter()
                .any(|s| s.as_str() == r.state && s.is_final())
        })
        .map(|r| r.n)
        .sum();
    let parsed = state.parse::<CampaignState>().ok();
    Progress {
        state_label: t.get(campaign_state_key(parsed)),
        over: matches!(
            parsed,
            Some(CampaignState::Finished | CampaignState::Cancelled)
        ),
        state: state.to_owned(),
        done,
        total,
        done_text: n(done),
        total_text: n(total),
        rows,
    }
}

fn message_state_key(s: MessageState) -> &'static str {
    match s {
        MessageState::Scheduled => "campaign.msg.scheduled",
        MessageState::Queued => "campaign.msg.queued",
        MessageState::Sending => "campaign.msg.sending",
        MessageState::Submitted => "campaign.msg.submitted",
        MessageState::Delivered => "campaign.msg.delivered",
        MessageState::Undeliverable => "campaign.msg.undeliverable",
        MessageState::Expired => "campaign.msg.expired",
        MessageState::Rejected => "campaign.msg.rejected",
        MessageState::Unknown => "campaign.msg.unknown",
        MessageState::Failed => "campaign.msg.failed",
        MessageState::Cancelled => "campaign.msg.cancelled",
        MessageState::Skipped => "campaign.msg.skipped",
    }
}

pub(super) fn campaign_state_key(s: Option<CampaignState>) -> &'static str {
    match s {
        Some(CampaignState::Draft) => "campaign.state.draft",
        Some(CampaignState::Running) => "campaign.state.running",
        Some(CampaignState::Paused) => "campaign.state.paused",
        Some(CampaignState::Finished) => "campaign.state.finished",
        Some(CampaignState::Cancelled) | None => "campaign.state.cancelled",
    }
}

#[derive(Template)]
#[template(path = "web/campaign.html")]
struct CampaignPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a ulak_core::model::User,
    csrf: &'a str,
    other_language: &'a str,
    c: &'a CampaignOut,
    p: &'a Progress,
    chart: Option<super::chart::Chart>,
    may_act: bool,
    may_pause: bool,
    may_resume: bool,
    may_cancel: bool,
}

/// `company`'s campaign, or the answer to give instead (404 for another company's).
async fn find(state: &AppState, user: &WebUser, id: i64) -> Result<CampaignOut, Response> {
    let t = user.texts();
    match read(state, user.session.user.company_id, id).await {
        Ok(c) => Ok(c),
        Err(ApiError::NotFound) => {
            Err(pages::error(StatusCode::NOT_FOUND, t, "campaign.not_found"))
        }
        Err(e) => {
            tracing::error!(error = %e, "reading a campaign failed");
            Err(pages::internal(t))
        }
    }
}

/// `GET /campaigns/{id}`.
pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Response {
    let t = user.texts();
    // A path that is no id gets the UI's page, not the framework's plain-text 400.
    let Ok(id) = id.parse::<i64>() else {
        return pages::bad_request(t);
    };
    let c = match find(&state, &user, id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let p = progress(&c, t);
    let s = c.state.parse::<CampaignState>().ok();
    let may_act = user.may(Role::Operator);
    let company = user.session.user.company_id;
    let zone = super::settings::zone(&state, company).await;
    let chart = super::campaigns::delivery_chart(
        state.store(),
        company,
        c.id,
        c.started_at,
        c.finished_at,
        zone,
        t,
    )
    .await;
    let chart = match chart {
        Ok(chart) => chart,
        Err(e) => {
            tracing::error!(error = %e, "a campaign's delivery chart failed");
            return pages::internal(t);
        }
    };
    render(
        StatusCode::OK,
        &CampaignPage {
            t,
            active: "campaigns",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: super::dashboard::other(t.language()).as_str(),
            chart,
            may_pause: may_act && s == Some(CampaignState::Running),
            may_resume: may_act && s == Some(CampaignState::Paused),
            may_cancel: may_act
                && matches!(
                    s,
                    Some(CampaignState::Draft | CampaignState::Running | CampaignState::Paused)
                ),
            may_act,
            c: &c,
            p: &p,
        },
    )
}

/// `GET /campaigns/{id}/progress`: the page's figures as JSON.
pub async fn poll(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return pages::bad_request(user.texts());
    };
    match find(&state, &user, id).await {
        Ok(c) => JsonOut(progress(&c, user.texts())).into_response(),
        Err(r) => r,
    }
}

/// A button's form: the CSRF token only.
#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /campaigns/{id}/{action}`: pause, resume or cancel, then back to the page.
pub async fn act(
    State(state): State<AppState>,
    user: WebUser,
    Path((id, action)): Path<(String, String)>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let (Ok(Form(form)), Ok(id)) = (form, id.parse::<i64>()) else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.refusal(&form.csrf, Role::Operator) {
        return r;
    }
    let company = user.session.user.company_id;
    let done = match action.as_str() {
        "pause" => acted(&state, company, id, CampaignAction::Pause).await,
        "cancel" => acted(&state, company, id, CampaignAction::Cancel).await,
        "resume" => resumed(&state, company, id).await,
        _ => return pages::error(StatusCode::NOT_FOUND, t, "campaign.not_found"),
    };
    match done {
        Ok(_) => Redirect::to(&format!("/campaigns/{id}")).into_response(),
        Err(ApiError::NotFound) => pages::error(StatusCode::NOT_FOUND, t, "campaign.not_found"),
        Err(ApiError::Internal(cause)) => {
            tracing::error!(%cause, "a campaign action failed");
            pages::internal(t)
        }
        // Not possible in its state now (it finished meanwhile), or the setup is lacking.
        Err(_) => pages::error(StatusCode::CONFLICT, t, "campaign.action_refused"),
    }
}
