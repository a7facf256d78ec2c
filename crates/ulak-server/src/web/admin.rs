//! System administration (system administrators only, see `WebUser::system_admin`; anyone
//! else gets 403): `GET /admin/companies` lists the companies with their credit, as `GET
//! /api/v1/companies`; `POST /admin/companies` makes a company and its first administrator
//! (a user who signs in, where the API gives a key); `POST /admin/companies/{id}/credit`
//! sells credit, as `POST /api/v1/companies/{id}/credit/entries`; `POST
//! /admin/users/{id}/system-admin` makes a user of `default` a system administrator or no
//! longer one.

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use ulak_core::CountryType;
use ulak_core::model::{
    CompanyId, LedgerKind, ListQuery, MAX_LIMIT, NewCompany, NewCreditEntry, NewUser, Role, User,
    UserId, ValidationErrors,
};
use ulak_store::StoreError;

use super::dashboard::other;
use super::i18n::Texts;
use super::pages::{self, render};
use super::people::{self, ListForm, Paging};
use super::session::WebUser;
use super::settings::failed;
use crate::startup::AppState;

/// A company's row.
struct CompanyRow {
    id: i64,
    name: String,
    display_name: String,
    country: &'static str,
    balance: String,
}

/// A user of `default`, for the system administrators' list.
struct AdminRow {
    id: i64,
    login: String,
    system_admin: bool,
    me: bool,
}

/// The new-company form (never the password once posted).
#[derive(Debug, Default, Deserialize)]
pub struct CompanyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    country_type: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
}

#[derive(Template)]
#[template(path = "web/admin_companies.html")]
struct CompaniesPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a User,
    csrf: &'a str,
    other_language: &'a str,
    alert: Option<String>,
    rows: Vec<CompanyRow>,
    admins: Vec<AdminRow>,
    paging: Paging,
    new: &'a CompanyForm,
}

fn country_key(c: CountryType) -> &'static str {
    match c {
        CountryType::Tr => "admin.country.tr",
        CountryType::Az => "admin.country.az",
        CountryType::Kktc => "admin.country.kktc",
    }
}

fn parse_country(v: &str) -> Option<CountryType> {
    match v {
        "TR" => Some(CountryType::Tr),
        "AZ" => Some(CountryType::Az),
        "KKTC" => Some(CountryType::Kktc),
        _ => None,
    }
}

fn forbidden(t: Texts) -> Response {
    pages::error(StatusCode::FORBIDDEN, t, "error.forbidden")
}

/// `GET /admin/companies` (system administrators).
pub async fn companies(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Query<ListForm>, QueryRejection>,
) -> Response {
    let t = user.texts();
    if !user.system_admin() {
        return forbidden(t);
    }
    let Ok(Query(form)) = form else {
        return pages::bad_request(t);
    };
    let new = CompanyForm {
        country_type: "TR".to_owned(),
        ..CompanyForm::default()
    };
    companies_page(&state, &user, &form, StatusCode::OK, None, &new).await
}

async fn companies_page(
    state: &AppState,
    user: &WebUser,
    form: &ListForm,
    status: StatusCode,
    mut alert: Option<String>,
    new: &CompanyForm,
) -> Response {
    let t = user.texts();
    let store = state.store();
    let (rows, next) = match form.query(None, None) {
        Err(code) => {
            alert = Some(people::refusal(t, code));
            (Vec::new(), None)
        }
        Ok(q) => match store.list_companies(&q).await {
            Ok(page) => {
                let mut rows = Vec::new();
                for c in page.items {
                    let balance = match store.credit_balance(c.id).await {
                        Ok(b) => super::format::integer(b, t.language()),
                        Err(e) => return failed(t, &e),
                    };
                    rows.push(CompanyRow {
                        id: c.id.0,
                        name: c.name.as_str().to_owned(),
                        display_name: c.display_name,
                        country: country_key(c.country_type),
                        balance,
                    });
                }
                (rows, page.next_cursor)
            }
            Err(e) => return failed(t, &e),
        },
    };
    let me = &user.session.user;
    let all = ListQuery {
        limit: Some(MAX_LIMIT),
        ..ListQuery::default()
    };
    let admins = match store.list_users(me.company_id, &all).await {
        Ok(p) => p
            .items
            .into_iter()
            .filter(|u| u.role == Role::Admin)
            .map(|u| AdminRow {
                id: u.id.0,
                login: u.login.as_str().to_owned(),
                system_admin: u.system_admin,
                me: u.id == me.id,
            })
            .collect(),
        Err(e) => return failed(t, &e),
    };
    render(
        status,
        &CompaniesPage {
            t,
            active: "admin",
            who: me,
            csrf: &user.csrf,
            other_language: other(t.language()).as_str(),
            alert,
            rows,
            admins,
            paging: form.paging("/admin/companies", next.as_deref()),
            new,
        },
    )
}

/// The first refusal's text: field and reason.
fn refusal_text(t: Texts, e: &ValidationErrors) -> String {
    e.0.first().map_or_else(
        || t.get("error.bad_request").to_owned(),
        |f| format!("{}: {}", f.field, people::refusal(t, f.code)),
    )
}

/// `POST /admin/companies` (system administrators): a company and its first administrator.
pub async fn create_company(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Form<CompanyForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Form(mut form)) = form else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.admin_refusal(&form.csrf) {
        return r;
    }
    let Some(country) = parse_country(&form.country_type) else {
        return pages::bad_request(t);
    };
    // Both are checked before anything is written: a refused administrator leaves no company.
    let company = NewCompany::new(&form.name, &form.display_name, country);
    let admin = NewUser::new(
        &form.login,
        &form.password,
        None,
        None,
        None,
        Role::Admin,
        country,
    );
    form.password.clear();
    let list = ListForm::default();
    let refused = |alert: String| {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        companies_page(&state, &user, &list, status, Some(alert), &form)
    };
    let (company, admin) = match (company, admin) {
        (Ok(c), Ok(a)) => (c, a),
        (Err(e), _) | (_, Err(e)) => return refused(refusal_text(t, &e)).await,
    };
    let store = state.store();
    let company = match store.create_company(company).await {
        Ok(c) => c,
        Err(StoreError::Conflict { .. }) => {
            return refused(t.get("admin.company_taken").to_owned()).await;
        }
        Err(StoreError::Validation(e)) => return refused(refusal_text(t, &e)).await,
        Err(e) => return failed(t, &e),
    };
    if let Err(e) = store.create_user(company.id, admin).await {
        return failed(t, &e);
    }
    tracing::info!(
        company = company.id.0,
        "a system administrator made a company"
    );
    Redirect::to("/admin/companies").into_response()
}

/// The credit form.
#[derive(Debug, Deserialize)]
pub struct CreditForm {
    csrf: String,
    amount: String,
    #[serde(default)]
    note: String,
}

/// `POST /admin/companies/{id}/credit` (system administrators): a purchase.
pub async fn add_credit(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    form: Result<Form<CreditForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Form(form)) = form else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.admin_refusal(&form.csrf) {
        return r;
    }
    let (Ok(id), Ok(amount)) = (id.parse::<i64>(), form.amount.trim().parse::<i64>()) else {
        return pages::bad_request(t);
    };
    let store = state.store();
    let company = match store.get_company(CompanyId(id)).await {
        Ok(Some(c)) => c,
        Ok(None) => return pages::error(StatusCode::NOT_FOUND, t, "settings.not_found"),
        Err(e) => return failed(t, &e),
    };
    let note = Some(form.note.as_str()).filter(|n| !n.trim().is_empty());
    let list = ListForm::default();
    let new = match NewCreditEntry::new(LedgerKind::Purchase, amount, note) {
        Ok(n) => n,
        Err(e) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            let alert = Some(refusal_text(t, &e));
            let blank = CompanyForm::default();
            return companies_page(&state, &user, &list, status, alert, &blank).await;
        }
    };
    match store.add_credit_entry(company.id, new).await {
        Ok(_) => Redirect::to("/admin/companies").into_response(),
        // A balance that would pass the largest value is the amount's fault, not the server's.
        Err(StoreError::Validation(e)) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            let alert = Some(refusal_text(t, &e));
            let blank = CompanyForm::default();
            companies_page(&state, &user, &list, status, alert, &blank).await
        }
        Err(e) => failed(t, &e),
    }
}

/// The system administrator switch.
#[derive(Debug, Deserialize)]
pub struct SwitchForm {
    csrf: String,
    on: String,
}

/// `POST /admin/users/{id}/system-admin` (system administrators): a user of `default` becomes
/// a system administrator (`on=yes`) or no longer is (`on=no`; never oneself, so the server
/// keeps one).
pub async fn switch_admin(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    form: Result<Form<SwitchForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Form(form)) = form else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.admin_refusal(&form.csrf) {
        return r;
    }
    let on = match form.on.as_str() {
        "yes" => true,
        "no" => false,
        _ => return pages::bad_request(t),
    };
    let Ok(id) = id.parse::<i64>().map(UserId) else {
        return pages::error(StatusCode::NOT_FOUND, t, "settings.not_found");
    };
    let me = &user.session.user;
    if id == me.id && !on {
        return pages::error(StatusCode::UNPROCESSABLE_ENTITY, t, "admin.not_yourself");
    }
    // The store refuses anyone outside `default` (NotFound), whatever the path says.
    match state
        .store()
        .set_user_system_admin(me.company_id, id, on)
        .await
    {
        Ok(_) => {
            tracing::info!(user = id.0, on, "system administrator flag changed");
            Redirect::to("/admin/companies").into_response()
        }
        Err(StoreError::NotFound) => pages::error(StatusCode::NOT_FOUND, t, "settings.not_found"),
        // Another system administrator stepped down meanwhile: this one stays.
        Err(StoreError::LastSystemAdmin) => {
            pages::error(StatusCode::CONFLICT, t, "admin.last_system_admin")
        }
        Err(e) => failed(t, &e),
    }
}
