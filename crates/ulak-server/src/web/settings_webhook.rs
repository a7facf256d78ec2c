//! One webhook endpoint's page: `GET /settings/webhooks/{id}` with its deliveries (as `GET
//! /api/v1/webhooks/{id}/attempts`: state, tries, last answer code, error, times), and its
//! actions (admin, as the API's): `POST /settings/webhooks/{id}/{enable|disable|test|delete}`
//! and `POST /settings/webhooks/{id}/attempts/{attempt}/redeliver`.

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use ulak_core::model::{
    Role, User, WebhookAttempt, WebhookDeliveryState, WebhookEndpointId, WebhookEndpointPatch,
};
use ulak_store::StoreError;

use super::dashboard::other;
use super::i18n::Texts;
use super::pages::{self, render};
use super::people::{self, ListForm, Paging};
use super::session::WebUser;
use super::settings::{failed, zone};
use super::settings_webhooks::{HookRow, hook_row};
use crate::startup::AppState;

/// A row of the delivery list.
struct AttemptRow {
    id: i64,
    event_type: String,
    /// Catalogue key of the state.
    state: &'static str,
    pending: bool,
    tries: u32,
    status: String,
    error: String,
    last: String,
    created: String,
}

fn attempt_row(a: WebhookAttempt, zone: &str) -> AttemptRow {
    let at = |ms: Option<i64>| ms.map(|m| people::when(m, zone)).unwrap_or_default();
    AttemptRow {
        id: a.id,
        event_type: a.event_type,
        state: match a.state {
            WebhookDeliveryState::Pending => "settings.webhooks.pending",
            WebhookDeliveryState::Delivered => "settings.webhooks.delivered",
            WebhookDeliveryState::Failed => "settings.webhooks.failed",
        },
        pending: a.state == WebhookDeliveryState::Pending,
        tries: a.attempts,
        status: a.last_status.map(|s| s.to_string()).unwrap_or_default(),
        error: a.last_error.unwrap_or_default(),
        last: at(a.last_attempt_at),
        created: people::when(a.created_at, zone),
    }
}

#[derive(Template)]
#[template(path = "web/settings_webhook.html")]
struct HookPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a User,
    csrf: &'a str,
    other_language: &'a str,
    tab: &'a str,
    is_admin: bool,
    alert: Option<String>,
    notice: Option<&'a str>,
    hook: HookRow,
    rows: Vec<AttemptRow>,
    paging: Paging,
}

/// The page's query: paging, and what was just done (`done=test|redeliver`).
#[derive(Debug, Default, Deserialize)]
pub struct HookQuery {
    #[serde(flatten)]
    list: ListForm,
    done: Option<String>,
}

fn endpoint_id(id: &str) -> Option<WebhookEndpointId> {
    id.parse::<i64>().ok().map(WebhookEndpointId)
}

fn not_found(t: Texts) -> Response {
    pages::error(StatusCode::NOT_FOUND, t, "settings.not_found")
}

/// `GET /settings/webhooks/{id}` (admin).
pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    q: Result<Query<HookQuery>, QueryRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Query(q)) = q else {
        return pages::bad_request(t);
    };
    if !user.may(Role::Admin) {
        return pages::error(StatusCode::FORBIDDEN, t, "error.forbidden");
    }
    let Some(id) = endpoint_id(&id) else {
        return not_found(t);
    };
    let notice = match q.done.as_deref() {
        Some("test") => Some("settings.webhooks.test_queued"),
        Some("redeliver") => Some("settings.webhooks.redeliver_queued"),
        _ => None,
    };
    let company = user.session.user.company_id;
    let store = state.store();
    let hook = match store.get_webhook_endpoint(company, id).await {
        Ok(Some(h)) => h,
        Ok(None) => return not_found(t),
        Err(e) => return failed(t, &e),
    };
    let zone = zone(&state, company).await;
    let mut alert = None;
    let (rows, next) = match q.list.query(None, None) {
        Err(code) => {
            alert = Some(people::refusal(t, code));
            (Vec::new(), None)
        }
        Ok(lq) => match store.list_webhook_attempts(company, id, &lq).await {
            Ok(p) => {
                let rows = p.items.into_iter().map(|a| attempt_row(a, zone));
                (rows.collect(), p.next_cursor)
            }
            Err(StoreError::NotFound) => return not_found(t),
            Err(e) => return failed(t, &e),
        },
    };
    let path = format!("/settings/webhooks/{}", id.0);
    render(
        StatusCode::OK,
        &HookPage {
            t,
            active: "settings",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: other(t.language()).as_str(),
            tab: "webhooks",
            is_admin: true,
            alert,
            notice,
            hook: hook_row(hook, zone),
            rows,
            paging: q.list.paging(&path, next.as_deref()),
        },
    )
}

/// The form of the page's buttons; deleting needs the confirmation box ticked.
#[derive(Debug, Deserialize)]
pub struct ActForm {
    csrf: String,
    #[serde(default)]
    confirm: Option<String>,
}

/// `POST /settings/webhooks/{id}/{action}` (admin): `enable`/`disable` as `PATCH
/// /api/v1/webhooks/{id}`, `test` as `POST …/test`, `delete` as `DELETE …`.
pub async fn act(
    State(state): State<AppState>,
    user: WebUser,
    Path((id, action)): Path<(String, String)>,
    form: Result<Form<ActForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Form(form)) = form else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.refusal(&form.csrf, Role::Admin) {
        return r;
    }
    let Some(id) = endpoint_id(&id) else {
        return not_found(t);
    };
    let company = user.session.user.company_id;
    let store = state.store();
    let here = format!("/settings/webhooks/{}", id.0);
    let toggle = |on: bool| WebhookEndpointPatch::new(None, None, None, Some(on), state.outbound());
    let done = match action.as_str() {
        "enable" | "disable" => match toggle(action == "enable") {
            Ok(patch) => store
                .update_webhook_endpoint(company, id, patch)
                .await
                .map(|_| here),
            Err(_) => return pages::bad_request(t),
        },
        "test" => store
            .emit_test_event(company, id)
            .await
            .map(|_| format!("{here}?done=test")),
        "delete" if form.confirm.as_deref() == Some("yes") => store
            .delete_webhook_endpoint(company, id)
            .await
            .map(|()| "/settings/webhooks".to_owned()),
        "delete" => {
            return pages::error(
                StatusCode::UNPROCESSABLE_ENTITY,
                t,
                "settings.webhooks.confirm_needed",
            );
        }
        _ => return not_found(t),
    };
    match done {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(StoreError::NotFound) => not_found(t),
        Err(e) => failed(t, &e),
    }
}

/// `POST /settings/webhooks/{id}/attempts/{attempt}/redeliver` (admin), as `POST
/// /api/v1/webhooks/{id}/attempts/{attempt_id}/redeliver`.
pub async fn redeliver(
    State(state): State<AppState>,
    user: WebUser,
    Path((id, attempt)): Path<(String, String)>,
    form: Result<Form<ActForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Form(form)) = form else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.refusal(&form.csrf, Role::Admin) {
        return r;
    }
    let (Some(id), Ok(attempt)) = (endpoint_id(&id), attempt.parse::<i64>()) else {
        return not_found(t);
    };
    let company = user.session.user.company_id;
    match state
        .store()
        .redeliver_webhook_attempt(company, id, attempt)
        .await
    {
        Ok(()) => {
            Redirect::to(&format!("/settings/webhooks/{}?done=redeliver", id.0)).into_response()
        }
        Err(StoreError::NotFound) => not_found(t),
        Err(StoreError::WrongState(_)) => {
            pages::error(StatusCode::CONFLICT, t, "settings.webhooks.still_pending")
        }
        Err(e) => failed(t, &e),
    }
}
