//! The settings screens' sender headers tab: `GET /settings/headers` (every role, as `GET
//! /api/v1/sender-headers`), `POST /settings/headers` (add), `POST
//! /settings/headers/{id}/default` and `POST /settings/headers/{id}/delete` (admin, as the
//! API's `POST`/`DELETE` routes). The header rules are core's (`NewSenderHeader`).

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use ulak_core::model::{NewSenderHeader, Role, SenderHeader, SenderHeaderId, User};
use ulak_store::StoreError;

use super::dashboard::other;
use super::i18n::Texts;
use super::pages::{self, render};
use super::people::{self, ListForm, Paging};
use super::session::WebUser;
use super::settings::{failed, list_rows, zone};
use crate::startup::AppState;

/// A row of the header list.
struct HeaderRow {
    id: i64,
    name: String,
    is_default: bool,
    created: String,
}

fn header_row(h: SenderHeader, zone: &str) -> HeaderRow {
    HeaderRow {
        id: h.id.0,
        name: h.name.as_str().to_owned(),
        is_default: h.is_default,
        created: people::when(h.created_at, zone),
    }
}

#[derive(Template)]
#[template(path = "web/settings_headers.html")]
struct HeadersPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a User,
    csrf: &'a str,
    other_language: &'a str,
    tab: &'a str,
    is_admin: bool,
    alert: Option<String>,
    rows: Vec<HeaderRow>,
    paging: Paging,
    name: &'a str,
}

/// `GET /settings/headers`.
pub async fn list(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Query<ListForm>, QueryRejection>,
) -> Response {
    let Ok(Query(form)) = form else {
        return pages::bad_request(user.texts());
    };
    page(&state, &user, &form, StatusCode::OK, None, "").await
}

async fn page(
    state: &AppState,
    user: &WebUser,
    form: &ListForm,
    status: StatusCode,
    mut alert: Option<String>,
    name: &str,
) -> Response {
    let t = user.texts();
    let company = user.session.user.company_id;
    let zone = zone(state, company).await;
    let store = state.store();
    let list = |q| async move { store.list_sender_headers(company, &q).await };
    let (rows, next) = match list_rows(t, form, &mut alert, list, |h| header_row(h, zone)).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    render(
        status,
        &HeadersPage {
            t,
            active: "settings",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: other(t.language()).as_str(),
            tab: "headers",
            is_admin: user.may(Role::Admin),
            alert,
            rows,
            paging: form.paging("/settings/headers", next.as_deref()),
            name,
        },
    )
}

/// The new-header form.
#[derive(Debug, Deserialize)]
pub struct HeaderForm {
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    is_default: Option<String>,
}

/// `POST /settings/headers` (admin), as `POST /api/v1/sender-headers`.
pub async fn create(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Form<HeaderForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Form(form)) = form else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.refusal(&form.csrf, Role::Admin) {
        return r;
    }
    let company = user.session.user.company_id;
    let done = match NewSenderHeader::new(&form.name, form.is_default.as_deref() == Some("yes")) {
        Ok(new) => state.store().create_sender_header(company, new).await,
        Err(e) => Err(StoreError::Validation(e)),
    };
    let alert = match done {
        Ok(_) => return Redirect::to("/settings/headers").into_response(),
        Err(StoreError::Validation(v)) => {
            let code =
                v.0.first()
                    .map_or(ulak_core::Code::ValueInvalid, |f| f.code);
            people::refusal(t, code)
        }
        Err(StoreError::Conflict { .. }) => t.get("settings.headers.taken").to_owned(),
        Err(e) => return failed(t, &e),
    };
    let list = ListForm::default();
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    page(&state, &user, &list, status, Some(alert), &form.name).await
}

/// The form of a row's buttons.
#[derive(Debug, Deserialize)]
pub struct RowForm {
    csrf: String,
}

/// `POST /settings/headers/{id}/{action}` (admin): `default` as `POST
/// /api/v1/sender-headers/{id}/default`, `delete` as `DELETE /api/v1/sender-headers/{id}`.
pub async fn act(
    State(state): State<AppState>,
    user: WebUser,
    Path((id, action)): Path<(String, String)>,
    form: Result<Form<RowForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Form(form)) = form else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.refusal(&form.csrf, Role::Admin) {
        return r;
    }
    let Some(id) = id.parse::<i64>().ok().map(SenderHeaderId) else {
        return pages::error(StatusCode::NOT_FOUND, t, "settings.not_found");
    };
    let company = user.session.user.company_id;
    let store = state.store();
    let done = match action.as_str() {
        "default" => store.set_default_sender_header(company, id).await.map(drop),
        "delete" => store.delete_sender_header(company, id).await,
        _ => return pages::error(StatusCode::NOT_FOUND, t, "settings.not_found"),
    };
    match done {
        Ok(()) => Redirect::to("/settings/headers").into_response(),
        Err(StoreError::NotFound) => pages::error(StatusCode::NOT_FOUND, t, "settings.not_found"),
        Err(e) => failed(t, &e),
    }
}
