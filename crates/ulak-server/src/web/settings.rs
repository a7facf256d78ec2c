//! The settings screens' API keys tab: `GET /settings/keys` (list), `POST /settings/keys`
//! (create; the key is shown once on the answer page and never again) and
//! `POST /settings/keys/{id}/revoke` (after a ticked confirmation). Admins only, as the API's
//! `/api-keys` routes: a web user is never the system administrator, so system administrator
//! keys are listed but cannot be revoked here (the API's `require_key_manager`).

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use ulak_core::model::{ApiKey, ApiKeyId, CompanyId, NewApiKey, Role, User};
use ulak_store::StoreError;

use super::dashboard::other;
use super::i18n::Texts;
use super::pages::{self, render};
use super::people::{self, ListForm, Paging};
use super::session::WebUser;
use crate::startup::AppState;

/// A row of the key list.
pub struct KeyRow {
    id: i64,
    name: String,
    prefix: String,
    role: &'static str,
    system_admin: bool,
    created: String,
    last_used: String,
    revoked: String,
}

fn key_row(k: ApiKey, zone: &str) -> KeyRow {
    KeyRow {
        id: k.id.0,
        name: k.name,
        prefix: k.prefix,
        role: role_key(k.role),
        system_admin: k.system_admin,
        created: people::when(k.created_at, zone),
        last_used: k
            .last_used_at
            .map(|ms| people::when(ms, zone))
            .unwrap_or_default(),
        revoked: k
            .revoked_at
            .map(|ms| people::when(ms, zone))
            .unwrap_or_default(),
    }
}

/// The catalogue key of a role's name.
pub fn role_key(role: Role) -> &'static str {
    match role {
        Role::Admin => "settings.role.admin",
        Role::Operator => "settings.role.operator",
        Role::Viewer => "settings.role.viewer",
    }
}

/// A role from a form's value (the API's spelling).
pub fn parse_role(v: &str) -> Option<Role> {
    match v {
        "admin" => Some(Role::Admin),
        "operator" => Some(Role::Operator),
        "viewer" => Some(Role::Viewer),
        _ => None,
    }
}

/// The company's time zone (Istanbul when the company cannot be read).
pub async fn zone(state: &AppState, company: CompanyId) -> &'static str {
    match state.store().get_company(company).await {
        Ok(Some(c)) => c.country_type.time_zone(),
        _ => "Europe/Istanbul",
    }
}

#[derive(Template)]
#[template(path = "web/settings_keys.html")]
struct KeysPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a User,
    csrf: &'a str,
    other_language: &'a str,
    tab: &'a str,
    is_admin: bool,
    alert: Option<String>,
    name: &'a str,
    rows: Vec<KeyRow>,
    paging: Paging,
    /// The key just created: shown this once.
    created: Option<(String, String)>,
}

/// `GET /settings/keys` (admin, as `GET /api/v1/api-keys`).
pub async fn keys(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Query<ListForm>, QueryRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Query(form)) = form else {
        return pages::bad_request(t);
    };
    if !user.may(Role::Admin) {
        return pages::error(StatusCode::FORBIDDEN, t, "error.forbidden");
    }
    keys_page(&state, &user, &form, StatusCode::OK, None, "", None).await
}

async fn keys_page(
    state: &AppState,
    user: &WebUser,
    form: &ListForm,
    status: StatusCode,
    mut alert: Option<String>,
    name: &str,
    created: Option<(String, String)>,
) -> Response {
    let t = user.texts();
    let company = user.session.user.company_id;
    let zone = zone(state, company).await;
    let store = state.store();
    let list = |q| async move { store.list_api_keys(company, &q).await };
    let (rows, next) = match list_rows(t, form, &mut alert, list, |k| key_row(k, zone)).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    render(
        status,
        &KeysPage {
            t,
            active: "settings",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: other(t.language()).as_str(),
            tab: "keys",
            is_admin: user.may(Role::Admin),
            alert,
            name,
            rows,
            paging: form.paging("/settings/keys", next.as_deref()),
            created,
        },
    )
}

/// The new-key form.
#[derive(Debug, Deserialize)]
pub struct KeyForm {
    csrf: String,
    name: String,
    role: String,
}

/// `POST /settings/keys`: a company key (never a system administrator's), as
/// `POST /api/v1/api-keys`; the answer page shows the key once.
pub async fn create_key(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Form<KeyForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Form(form)) = form else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.refusal(&form.csrf, Role::Admin) {
        return r;
    }
    let Some(role) = parse_role(&form.role) else {
        return pages::bad_request(t);
    };
    let list = ListForm::default();
    let new = match NewApiKey::new(&form.name, role, false) {
        Ok(n) => n,
        Err(e) => {
            let code =
                e.0.first()
                    .map_or(ulak_core::Code::ValueInvalid, |f| f.code);
            let alert = Some(people::refusal(t, code));
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return keys_page(&state, &user, &list, status, alert, &form.name, None).await;
        }
    };
    let company = user.session.user.company_id;
    match state.store().create_api_key(company, new).await {
        Ok((meta, key)) => {
            tracing::info!(key = meta.id.0, "an API key was created on the web");
            let created = Some((meta.name, key));
            keys_page(&state, &user, &list, StatusCode::OK, None, "", created).await
        }
        Err(e) => failed(t, &e),
    }
}

/// The revoke form: the confirmation box must be ticked.
#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    csrf: String,
    #[serde(default)]
    confirm: Option<String>,
}

/// `POST /settings/keys/{id}/revoke`, as `DELETE /api/v1/api-keys/{id}`.
pub async fn revoke_key(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    form: Result<Form<RevokeForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Form(form)) = form else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.refusal(&form.csrf, Role::Admin) {
        return r;
    }
    let Some(id) = id.parse::<i64>().ok().map(ApiKeyId) else {
        return pages::error(StatusCode::NOT_FOUND, t, "settings.not_found");
    };
    if form.confirm.as_deref() != Some("yes") {
        let alert = Some(t.get("settings.keys.confirm_needed").to_owned());
        let list = ListForm::default();
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return keys_page(&state, &user, &list, status, alert, "", None).await;
    }
    let company = user.session.user.company_id;
    let store = state.store();
    match store.get_api_key(company, id).await {
        Ok(Some(k)) if k.system_admin => {
            return pages::error(StatusCode::FORBIDDEN, t, "error.forbidden");
        }
        Ok(Some(_)) => {}
        Ok(None) => return pages::error(StatusCode::NOT_FOUND, t, "settings.not_found"),
        Err(e) => return failed(t, &e),
    }
    match store.revoke_api_key(company, id).await {
        Ok(_) => Redirect::to("/settings/keys").into_response(),
        Err(StoreError::NotFound) => pages::error(StatusCode::NOT_FOUND, t, "settings.not_found"),
        Err(e) => failed(t, &e),
    }
}

/// A list page's rows and next cursor (settings tabs, subscribers, groups, customer accounts,
/// templates): the page of `list` for the form's query, each item made a row by `row`. A query
/// the API would refuse (a bad cursor) is an empty list with the refusal in `alert`; a store
/// failure is the error page.
pub(super) async fn list_rows<T, R, Fut>(
    t: Texts,
    form: &ListForm,
    alert: &mut Option<String>,
    list: impl FnOnce(ulak_core::model::ListQuery) -> Fut,
    row: impl FnMut(T) -> R,
) -> Result<(Vec<R>, Option<String>), Response>
where
    Fut: std::future::Future<Output = Result<ulak_core::model::Page<T>, StoreError>>,
{
    let q = match form.query(None, None) {
        Ok(q) => q,
        Err(code) => {
            *alert = Some(people::refusal(t, code));
            return Ok((Vec::new(), None));
        }
    };
    match list(q).await {
        Ok(page) => Ok((page.items.into_iter().map(row).collect(), page.next_cursor)),
        Err(e) => {
            tracing::error!(error = %e, "reading a list page failed");
            Err(pages::internal(t))
        }
    }
}

/// The internal-error page, logged.
pub fn failed(t: Texts, e: &StoreError) -> Response {
    tracing::error!(error = %e, "a settings page failed");
    pages::internal(t)
}
