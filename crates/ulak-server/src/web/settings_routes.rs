//! The settings screens' routes tab: `GET /settings/routes` lists the company's routes in the
//! order they are tried (every role, as `GET /api/v1/routes`); admins add one (`POST
//! /settings/routes`), change one (`GET`/`POST /settings/routes/{id}`) and delete one (`POST
//! /settings/routes/{id}/delete`, after a tick), as `POST`/`PUT`/`DELETE /api/v1/routes`.
//! Account names are shown to admins only, as the API lists accounts to admins only.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ulak_core::model::{
    ListQuery, MAX_LIMIT, MAX_ROUTE_TARGETS, NewRoute, Role, Route, RouteDraft, RouteId,
    RouteTargetDraft, User,
};
use ulak_store::StoreError;

use super::dashboard::other;
use super::i18n::Texts;
use super::pages::{self, render};
use super::people;
use super::session::WebUser;
use super::settings::failed;
use crate::startup::AppState;

/// A route as a row, or as the form's values.
#[derive(Debug, Default)]
struct RouteView {
    id: i64,
    position: String,
    recipient_kind: String,
    zone: String,
    prefix: String,
    class: String,
    /// (account id, weight) pairs, as typed.
    targets: Vec<(String, String)>,
}

impl RouteView {
    fn of(r: &Route) -> RouteView {
        let m = &r.matches;
        RouteView {
            id: r.id.0,
            position: r.position.to_string(),
            recipient_kind: m
                .recipient_kind
                .map(|k| k.as_str().to_owned())
                .unwrap_or_default(),
            zone: m.zone.map(|z| z.as_str().to_owned()).unwrap_or_default(),
            prefix: m.prefix.clone().unwrap_or_default(),
            class: m.class.map(|c| c.as_str().to_owned()).unwrap_or_default(),
            targets: r
                .targets
                .iter()
                .map(|t| (t.account.0.to_string(), t.weight.to_string()))
                .collect(),
        }
    }

    /// The form's rows: the targets, then empty ones up to a few more (at most the limit).
    fn rows(&self) -> Vec<(String, String)> {
        let mut rows = self.targets.clone();
        let want = (rows.len() + 2).clamp(3, MAX_ROUTE_TARGETS);
        rows.resize(want.max(rows.len()), (String::new(), String::new()));
        rows
    }

    /// Reads a posted form (pairs; `account` and `weight` repeat, row by row). `None`: a
    /// number field is not a number.
    fn read(pairs: &[(String, String)]) -> Option<(String, RouteView)> {
        let mut v = RouteView::default();
        let (mut csrf, mut accounts, mut weights) = (String::new(), Vec::new(), Vec::new());
        for (k, val) in pairs {
            match k.as_str() {
                "csrf" => csrf = val.clone(),
                "position" => v.position = val.trim().to_owned(),
                "recipient_kind" => v.recipient_kind = val.clone(),
                "zone" => v.zone = val.clone(),
                "prefix" => v.prefix = val.trim().to_owned(),
                "class" => v.class = val.clone(),
                "account" => accounts.push(val.trim().to_owned()),
                "weight" => weights.push(val.trim().to_owned()),
                _ => {}
            }
        }
        if accounts.len() > MAX_ROUTE_TARGETS * 4 {
            return None;
        }
        weights.resize(accounts.len(), String::new());
        v.targets = accounts
            .into_iter()
            .zip(weights)
            .filter(|(a, _)| !a.is_empty())
            .collect();
        v.draft()?;
        Some((csrf, v))
    }

    /// The API's draft; `None`: a number field is not a number.
    fn draft(&self) -> Option<RouteDraft> {
        let opt = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
        let mut targets = Vec::new();
        for (a, w) in &self.targets {
            targets.push(RouteTargetDraft {
                account_id: a.parse().ok()?,
                weight: if w.is_empty() {
                    None
                } else {
                    Some(w.parse().ok()?)
                },
            });
        }
        Some(RouteDraft {
            position: if self.position.is_empty() {
                0
            } else {
                self.position.parse().ok()?
            },
            recipient_kind: opt(&self.recipient_kind),
            zone: opt(&self.zone),
            prefix: opt(&self.prefix),
            class: opt(&self.class),
            targets,
        })
    }
}

#[derive(Template)]
#[template(path = "web/settings_routes.html")]
struct RoutesPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a User,
    csrf: &'a str,
    other_language: &'a str,
    tab: &'a str,
    is_admin: bool,
    alert: Option<String>,
    rows: Vec<RouteView>,
    /// (id, name) of the company's accounts (admins only).
    accounts: Vec<(String, String)>,
    /// The form: a new route, or the one being changed (`form.id` non-zero).
    form: &'a RouteView,
    editing: bool,
}

impl RoutesPage<'_> {
    /// An account's name, or its number when it is not listed (deleted, or not an admin).
    fn account_name(&self, id: &str) -> String {
        self.accounts
            .iter()
            .find(|(a, _)| a == id)
            .map_or_else(|| format!("#{id}"), |(_, n)| n.clone())
    }
}

struct Shown<'a> {
    status: StatusCode,
    alert: Option<String>,
    form: &'a RouteView,
    editing: bool,
}

async fn page(state: &AppState, user: &WebUser, s: Shown<'_>) -> Response {
    let t = user.texts();
    let company = user.session.user.company_id;
    let is_admin = user.may(Role::Admin);
    let store = state.store();
    let rows = match store.list_routes(company).await {
        Ok(r) => r.iter().map(RouteView::of).collect(),
        Err(e) => return failed(t, &e),
    };
    let mut accounts = Vec::new();
    if is_admin {
        let all = ListQuery {
            limit: Some(MAX_LIMIT),
            ..ListQuery::default()
        };
        match store.list_provider_accounts(company, &all).await {
            Ok(p) => {
                accounts = p
                    .items
                    .into_iter()
                    .map(|a| (a.id.0.to_string(), a.name))
                    .collect()
            }
            Err(e) => return failed(t, &e),
        }
    }
    render(
        s.status,
        &RoutesPage {
            t,
            active: "settings",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: other(t.language()).as_str(),
            tab: "routes",
            is_admin,
            alert: s.alert,
            rows,
            accounts,
            form: s.form,
            editing: s.editing,
        },
    )
}

/// `GET /settings/routes` (every role).
pub async fn list(State(state): State<AppState>, user: WebUser) -> Response {
    let form = RouteView::default();
    let shown = Shown {
        status: StatusCode::OK,
        alert: None,
        form: &form,
        editing: false,
    };
    page(&state, &user, shown).await
}

/// The route id of a path; `None` answers 404 as an unknown id does.
fn route_id(id: &str) -> Option<RouteId> {
    id.parse::<i64>().ok().map(RouteId)
}

fn not_found(t: Texts) -> Response {
    pages::error(StatusCode::NOT_FOUND, t, "settings.not_found")
}

/// `GET /settings/routes/{id}` (admin): the route's form.
pub async fn edit_form(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Response {
    let t = user.texts();
    if !user.may(Role::Admin) {
        return pages::error(StatusCode::FORBIDDEN, t, "error.forbidden");
    }
    let Some(id) = route_id(&id) else {
        return not_found(t);
    };
    let company = user.session.user.company_id;
    let route = match state.store().get_route(company, id).await {
        Ok(Some(r)) => r,
        Ok(None) => return not_found(t),
        Err(e) => return failed(t, &e),
    };
    let form = RouteView::of(&route);
    let shown = Shown {
        status: StatusCode::OK,
        alert: None,
        form: &form,
        editing: true,
    };
    page(&state, &user, shown).await
}

/// Checks and stores a posted route (`id`: the one it replaces).
async fn save(
    state: &AppState,
    user: &WebUser,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
    id: Option<&str>,
) -> Response {
    let t = user.texts();
    let Ok(Form(pairs)) = form else {
        return pages::bad_request(t);
    };
    let Some((csrf, mut view)) = RouteView::read(&pairs) else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.refusal(&csrf, Role::Admin) {
        return r;
    }
    let id = match id.map(route_id) {
        Some(None) => return not_found(t),
        Some(Some(id)) => Some(id),
        None => None,
    };
    let Some(draft) = view.draft() else {
        return pages::bad_request(t);
    };
    let company = user.session.user.company_id;
    let store = state.store();
    let done = match NewRoute::new(draft) {
        Err(e) => Err(StoreError::Validation(e)),
        Ok(new) => match id {
            None => store.create_route(company, new).await,
            Some(id) => store.update_route(company, id, new).await,
        },
    };
    match done {
        Ok(_) => Redirect::to("/settings/routes").into_response(),
        Err(StoreError::NotFound) => not_found(t),
        Err(StoreError::Validation(v)) => {
            let alert =
                v.0.first()
                    .map(|f| format!("{}: {}", f.field, people::refusal(t, f.code)));
            view.id = id.map_or(0, |i| i.0);
            let shown = Shown {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                alert,
                form: &view,
                editing: id.is_some(),
            };
            page(state, user, shown).await
        }
        Err(e) => failed(t, &e),
    }
}

/// `POST /settings/routes` (admin): a new route.
pub async fn create(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    save(&state, &user, form, None).await
}

/// `POST /settings/routes/{id}` (admin): the route's new settings.
pub async fn update(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    save(&state, &user, form, Some(&id)).await
}

/// The delete form: the CSRF token and the tick.
#[derive(Debug, serde::Deserialize)]
pub struct DeleteForm {
    csrf: String,
    #[serde(default)]
    confirm: Option<String>,
}

/// `POST /settings/routes/{id}/delete` (admin, after the tick).
pub async fn delete(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    form: Result<Form<DeleteForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Form(form)) = form else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.refusal(&form.csrf, Role::Admin) {
        return r;
    }
    let Some(id) = route_id(&id) else {
        return not_found(t);
    };
    if form.confirm.as_deref() != Some("yes") {
        return pages::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            t,
            "settings.routes.confirm_needed",
        );
    }
    let company = user.session.user.company_id;
    match state.store().delete_route(company, id).await {
        Ok(()) => Redirect::to("/settings/routes").into_response(),
        Err(StoreError::NotFound) => not_found(t),
        Err(e) => failed(t, &e),
    }
}
