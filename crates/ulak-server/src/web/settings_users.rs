//! The settings screens' users tab and the password form: `GET /settings/users` (every role,
//! phones and e-mail addresses only for admins, as `GET /api/v1/users`), `POST
//! /settings/users`, `POST /settings/users/{id}/role` and `POST /settings/users/{id}/active`
//! (admin, as `POST`/`PATCH /api/v1/users`; the last active administrator stays one), and
//! `GET`/`POST /settings/password`, where any user changes their own password after giving
//! the old one; their other sessions end then.

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use ulak_core::model::{NewUser, Role, User, UserId, UserPatch, ValidationErrors};
use ulak_core::{Code, CountryType};
use ulak_store::StoreError;

use super::dashboard::other;
use super::i18n::Texts;
use super::pages::{self, render};
use super::people::{self, ListForm, Paging};
use super::session::WebUser;
use super::settings::{failed, list_rows, parse_role, role_key};
use crate::startup::AppState;

/// A row of the user list.
struct UserRow {
    id: i64,
    login: String,
    display_name: String,
    phone: String,
    email: String,
    role: &'static str,
    role_value: &'static str,
    active: bool,
}

fn user_row(u: User, contacts: bool) -> UserRow {
    UserRow {
        id: u.id.0,
        login: u.login.as_str().to_owned(),
        display_name: u.display_name.unwrap_or_default(),
        phone: (contacts)
            .then(|| u.phone.map(|p| p.e164().to_owned()))
            .flatten()
            .unwrap_or_default(),
        email: (contacts)
            .then(|| u.email.map(|e| e.as_str().to_owned()))
            .flatten()
            .unwrap_or_default(),
        role: role_key(u.role),
        role_value: u.role.as_str(),
        active: u.active,
    }
}

/// What the new-user form had, to fill it again after a refusal (never the password).
#[derive(Debug, Default, Deserialize)]
pub struct UserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

#[derive(Template)]
#[template(path = "web/settings_users.html")]
struct UsersPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a User,
    csrf: &'a str,
    other_language: &'a str,
    tab: &'a str,
    is_admin: bool,
    alert: Option<String>,
    rows: Vec<UserRow>,
    paging: Paging,
    new: &'a UserForm,
}

/// `GET /settings/users`.
pub async fn users(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Query<ListForm>, QueryRejection>,
) -> Response {
    let Ok(Query(form)) = form else {
        return pages::bad_request(user.texts());
    };
    let new = UserForm::default();
    users_page(&state, &user, &form, StatusCode::OK, None, &new).await
}

async fn users_page(
    state: &AppState,
    user: &WebUser,
    form: &ListForm,
    status: StatusCode,
    mut alert: Option<String>,
    new: &UserForm,
) -> Response {
    let t = user.texts();
    let company = user.session.user.company_id;
    let is_admin = user.may(Role::Admin);
    let store = state.store();
    let list = |q| async move { store.list_users(company, &q).await };
    let (rows, next) = match list_rows(t, form, &mut alert, list, |u| user_row(u, is_admin)).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    render(
        status,
        &UsersPage {
            t,
            active: "settings",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: other(t.language()).as_str(),
            tab: "users",
            is_admin,
            alert,
            rows,
            paging: form.paging("/settings/users", next.as_deref()),
            new,
        },
    )
}

async fn country(state: &AppState, user: &WebUser) -> Result<CountryType, StoreError> {
    let company = user.session.user.company_id;
    Ok(state
        .store()
        .get_company(company)
        .await?
        .ok_or(StoreError::NotFound)?
        .country_type)
}

fn first_code(e: &ValidationErrors) -> Code {
    e.0.first().map_or(Code::ValueInvalid, |f| f.code)
}

/// The text of a store refusal a form can show; `None`: an internal failure.
fn store_refusal(t: Texts, e: &StoreError) -> Option<String> {
    match e {
        StoreError::Validation(v) => Some(people::refusal(t, first_code(v))),
        StoreError::Conflict { .. } => Some(t.get("settings.users.taken").to_owned()),
        _ => None,
    }
}

/// `POST /settings/users` (admin): a new user, as `POST /api/v1/users`.
pub async fn create_user(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Form<UserForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Form(mut form)) = form else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.refusal(&form.csrf, Role::Admin) {
        return r;
    }
    let Some(role) = parse_role(&form.role) else {
        return pages::bad_request(t);
    };
    let country = match country(&state, &user).await {
        Ok(c) => c,
        Err(e) => return failed(t, &e),
    };
    let opt = |s: &str| Some(s.to_owned()).filter(|s| !s.trim().is_empty());
    let made = NewUser::new(
        &form.login,
        &form.password,
        opt(&form.display_name).as_deref(),
        opt(&form.phone).as_deref(),
        opt(&form.email).as_deref(),
        role,
        country,
    );
    // The password is never sent back into the page.
    form.password.clear();
    let company = user.session.user.company_id;
    let done = match made {
        Ok(new) => state.store().create_user(company, new).await,
        Err(e) => Err(StoreError::Validation(e)),
    };
    let list = ListForm::default();
    match done {
        Ok(_) => Redirect::to("/settings/users").into_response(),
        Err(e) => match store_refusal(t, &e) {
            Some(alert) => {
                let status = StatusCode::UNPROCESSABLE_ENTITY;
                users_page(&state, &user, &list, status, Some(alert), &form).await
            }
            None => failed(t, &e),
        },
    }
}

/// The change-role form.
#[derive(Debug, Deserialize)]
pub struct RoleForm {
    csrf: String,
    role: String,
}

/// `POST /settings/users/{id}/role` (admin), as `PATCH /api/v1/users/{id}` with a role.
pub async fn change_role(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    form: Result<Form<RoleForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Form(form)) = form else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.refusal(&form.csrf, Role::Admin) {
        return r;
    }
    let (Some(id), Some(role)) = (id.parse::<i64>().ok().map(UserId), parse_role(&form.role))
    else {
        return pages::bad_request(t);
    };
    let country = match country(&state, &user).await {
        Ok(c) => c,
        Err(e) => return failed(t, &e),
    };
    let Ok(patch) = UserPatch::new(None, None, None, None, Some(role), country) else {
        return pages::bad_request(t);
    };
    patched(&state, &user, id, patch).await
}

/// Applies a role or active change from the users page: back to the list, or the list with
/// the refusal (the last active administrator stays one, [`StoreError::LastAdmin`], and so does
/// the last system administrator, [`StoreError::LastSystemAdmin`]).
async fn patched(state: &AppState, user: &WebUser, id: UserId, patch: UserPatch) -> Response {
    let t = user.texts();
    let company = user.session.user.company_id;
    // A system administrator's account is changed by a system administrator only.
    match state.store().get_user(company, id).await {
        Ok(Some(target)) if target.changeable_by(user.system_admin()) => {}
        Ok(Some(_)) => return pages::error(StatusCode::FORBIDDEN, t, "error.forbidden"),
        Ok(None) => return pages::error(StatusCode::NOT_FOUND, t, "settings.not_found"),
        Err(e) => return failed(t, &e),
    }
    match state.store().update_user(company, id, patch).await {
        Ok(changed) => {
            let active = changed.active;
            tracing::info!(user = id.0, active, "a user was changed on the web");
            Redirect::to("/settings/users").into_response()
        }
        Err(StoreError::NotFound) => pages::error(StatusCode::NOT_FOUND, t, "settings.not_found"),
        Err(e @ (StoreError::LastAdmin | StoreError::LastSystemAdmin)) => {
            let code = match e {
                StoreError::LastAdmin => Code::UserLastAdmin,
                _ => Code::UserLastSystemAdmin,
            };
            let alert = Some(people::refusal(t, code));
            let (list, new) = (ListForm::default(), UserForm::default());
            users_page(state, user, &list, StatusCode::CONFLICT, alert, &new).await
        }
        Err(e) => failed(t, &e),
    }
}

/// The deactivate/reactivate form: `active` is `yes` or `no`.
#[derive(Debug, Deserialize)]
pub struct ActiveForm {
    csrf: String,
    active: String,
}

/// `POST /settings/users/{id}/active` (admin), as `PATCH /api/v1/users/{id}` with `active`:
/// a deactivated user cannot sign in and their web sessions end.
pub async fn set_active(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    form: Result<Form<ActiveForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Form(form)) = form else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.refusal(&form.csrf, Role::Admin) {
        return r;
    }
    let active = match form.active.as_str() {
        "yes" => true,
        "no" => false,
        _ => return pages::bad_request(t),
    };
    let Some(id) = id.parse::<i64>().ok().map(UserId) else {
        return pages::error(StatusCode::NOT_FOUND, t, "settings.not_found");
    };
    let patch = UserPatch::default().with_active(Some(active));
    patched(&state, &user, id, patch).await
}

#[derive(Template)]
#[template(path = "web/settings_password.html")]
struct PasswordPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a User,
    csrf: &'a str,
    other_language: &'a str,
    tab: &'a str,
    is_admin: bool,
    alert: Option<String>,
    done: bool,
}

fn password_page(
    user: &WebUser,
    status: StatusCode,
    alert: Option<String>,
    done: bool,
) -> Response {
    let t = user.texts();
    render(
        status,
        &PasswordPage {
            t,
            active: "settings",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: other(t.language()).as_str(),
            tab: "password",
            is_admin: user.may(Role::Admin),
            alert,
            done,
        },
    )
}

/// A query string of the password page: `done` after a change.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

/// `GET /settings/password` (every role).
pub async fn password_form(user: WebUser, q: Result<Query<DoneQuery>, QueryRejection>) -> Response {
    let done = q.map(|Query(q)| q.done.is_some()).unwrap_or(false);
    password_page(&user, StatusCode::OK, None, done)
}

/// The password form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    csrf: String,
    old: String,
    new: String,
}

/// `POST /settings/password`: the user's own password, after the old one is checked; every
/// other session of theirs ends, this one stays.
pub async fn change_password(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Form(form)) = form else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.csrf_refusal(&form.csrf) {
        return r;
    }
    let me = &user.session.user;
    let store = state.store();
    match store
        .verify_user_password(me.company_id, me.login.as_str(), &form.old)
        .await
    {
        Ok(Some(u)) if u.id == me.id => {}
        Ok(_) => {
            let alert = Some(t.get("settings.password.wrong").to_owned());
            return password_page(&user, StatusCode::UNPROCESSABLE_ENTITY, alert, false);
        }
        Err(e) => return failed(t, &e),
    }
    let country = match country(&state, &user).await {
        Ok(c) => c,
        Err(e) => return failed(t, &e),
    };
    let patch = match UserPatch::new(Some(&form.new), None, None, None, None, country) {
        Ok(p) => p,
        Err(e) => {
            let alert = Some(people::refusal(t, first_code(&e)));
            return password_page(&user, StatusCode::UNPROCESSABLE_ENTITY, alert, false);
        }
    };
    if let Err(e) = store.update_user(me.company_id, me.id, patch).await {
        return failed(t, &e);
    }
    match store
        .delete_user_web_sessions(me.company_id, me.id, Some(&user.token))
        .await
    {
        Ok(ended) => tracing::info!(ended, "a user changed their password on the web"),
        Err(e) => return failed(t, &e),
    }
    Redirect::to("/settings/password?done=1").into_response()
}
