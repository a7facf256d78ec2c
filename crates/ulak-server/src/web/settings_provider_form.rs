//! A provider account's form (admin): `GET /settings/providers/new` and `POST
//! /settings/providers` make an SMPP account, `GET`/`POST /settings/providers/{id}` change
//! one (an empty password keeps the stored one), as `POST`/`PUT /api/v1/provider-accounts`;
//! `POST /settings/providers/{id}/test` binds once and unbinds, as `POST
//! /api/v1/provider-accounts/{id}/test`, and shows what came of it.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use ulak_core::model::{
    NewProviderAccount, ProviderAccount, ProviderAccountDraft, ProviderAccountId, ProviderKind,
    Role, User,
};
use ulak_store::StoreError;

use super::dashboard::other;
use super::i18n::Texts;
use super::pages::{self, render};
use super::people;
use super::session::WebUser;
use super::settings::failed;
use crate::routes::provider_test::{TestRefusal, test_account};
use crate::startup::AppState;

/// The form's fields, as typed (never the password once posted).
#[derive(Debug, Default, Deserialize)]
pub struct ProviderForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    port: String,
    #[serde(default)]
    system_id: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    system_type: String,
    #[serde(default)]
    bind_mode: String,
    #[serde(default)]
    binds: String,
    #[serde(default)]
    window: String,
    #[serde(default)]
    rate_per_sec: String,
    #[serde(default)]
    enabled: Option<String>,
}

impl ProviderForm {
    /// The form of a stored account (SMPP family).
    fn of(a: &ProviderAccount) -> ProviderForm {
        let mut f = ProviderForm {
            name: a.name.clone(),
            rate_per_sec: a.rate_per_sec.to_string(),
            enabled: a.enabled.then(|| "on".to_owned()),
            ..ProviderForm::default()
        };
        if let Some(s) = a.smpp() {
            f.host = s.host.clone();
            f.port = s.port.to_string();
            f.system_id = s.system_id.clone();
            f.system_type = s.system_type.clone();
            f.bind_mode = s.bind_mode.as_str().to_owned();
            f.binds = s.binds.to_string();
            f.window = s.window.to_string();
        }
        f
    }

    fn blank() -> ProviderForm {
        ProviderForm {
            port: "2775".to_owned(),
            bind_mode: "transceiver".to_owned(),
            binds: "1".to_owned(),
            window: "10".to_owned(),
            rate_per_sec: "50".to_owned(),
            enabled: Some("on".to_owned()),
            ..ProviderForm::default()
        }
    }

    /// The API's draft of an SMPP account; `None`: a number field is not a number. What the
    /// form does not show (text policy, TON/NPI) stays as `old` has it.
    fn draft(&self, old: Option<&ProviderAccount>) -> Option<ProviderAccountDraft> {
        let num = |s: &str| -> Option<Option<u32>> {
            let s = s.trim();
            if s.is_empty() {
                Some(None)
            } else {
                s.parse().ok().map(Some)
            }
        };
        let port = match self.port.trim() {
            "" => 0,
            p => p.parse().ok()?,
        };
        let smpp = old.and_then(ProviderAccount::smpp);
        Some(ProviderAccountDraft {
            name: self.name.clone(),
            kind: "smpp".to_owned(),
            host: self.host.clone(),
            port,
            system_id: self.system_id.clone(),
            password: Some(self.password.clone()).filter(|p| !p.is_empty()),
            system_type: self.system_type.clone(),
            bind_mode: Some(self.bind_mode.clone()).filter(|b| !b.is_empty()),
            binds: num(&self.binds)?,
            window: num(&self.window)?,
            rate_per_sec: num(&self.rate_per_sec)?,
            text_policy: old.map(|a| a.text_policy.as_str().to_owned()),
            source: smpp.map(|s| s.source),
            destination: smpp.map(|s| s.destination),
            enabled: self.enabled.is_some(),
            ..ProviderAccountDraft::default()
        })
    }
}

#[derive(Template)]
#[template(path = "web/settings_provider.html")]
struct ProviderPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a User,
    csrf: &'a str,
    other_language: &'a str,
    tab: &'a str,
    is_admin: bool,
    alert: Option<String>,
    /// `Some((passed, text))` after a connection test.
    tested: Option<(bool, String)>,
    /// The account's id when editing.
    id: Option<i64>,
    /// Whether the account is an SMPP one (a simulator account is only tested here).
    editable: bool,
    has_password: bool,
    form: &'a ProviderForm,
}

struct Shown<'a> {
    status: StatusCode,
    alert: Option<String>,
    tested: Option<(bool, String)>,
    account: Option<&'a ProviderAccount>,
}

fn page(user: &WebUser, form: &ProviderForm, s: Shown<'_>) -> Response {
    let t = user.texts();
    render(
        s.status,
        &ProviderPage {
            t,
            active: "settings",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: other(t.language()).as_str(),
            tab: "providers",
            is_admin: true,
            alert: s.alert,
            tested: s.tested,
            id: s.account.map(|a| a.id.0),
            editable: s.account.is_none_or(|a| a.kind == ProviderKind::Smpp),
            has_password: s.account.is_some_and(|a| a.has_password),
            form,
        },
    )
}

/// The account `id` of the user's company; `Err`: the page to answer.
async fn account(state: &AppState, user: &WebUser, id: &str) -> Result<ProviderAccount, Response> {
    let t = user.texts();
    let Ok(id) = id.parse::<i64>() else {
        return Err(pages::error(StatusCode::NOT_FOUND, t, "settings.not_found"));
    };
    let company = user.session.user.company_id;
    match state
        .store()
        .get_provider_account(company, ProviderAccountId(id))
        .await
    {
        Ok(Some(a)) => Ok(a),
        Ok(None) => Err(pages::error(StatusCode::NOT_FOUND, t, "settings.not_found")),
        Err(e) => Err(failed(t, &e)),
    }
}

/// `GET /settings/providers/new` (admin).
pub async fn new_form(user: WebUser) -> Response {
    if !user.may(Role::Admin) {
        return pages::error(StatusCode::FORBIDDEN, user.texts(), "error.forbidden");
    }
    let shown = Shown {
        status: StatusCode::OK,
        alert: None,
        tested: None,
        account: None,
    };
    page(&user, &ProviderForm::blank(), shown)
}

/// `GET /settings/providers/{id}` (admin).
pub async fn edit_form(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Response {
    if !user.may(Role::Admin) {
        return pages::error(StatusCode::FORBIDDEN, user.texts(), "error.forbidden");
    }
    let a = match account(&state, &user, &id).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let shown = Shown {
        status: StatusCode::OK,
        alert: None,
        tested: None,
        account: Some(&a),
    };
    page(&user, &ProviderForm::of(&a), shown)
}

/// The text of a refusal the form can show; `None`: an internal failure.
fn refusal(t: Texts, e: &StoreError) -> Option<String> {
    match e {
        StoreError::Validation(v) => {
            v.0.first()
                .map(|f| format!("{}: {}", f.field, people::refusal(t, f.code)))
        }
        StoreError::Conflict { .. } => Some(t.get("settings.providers.taken").to_owned()),
        _ => None,
    }
}

/// Checks and stores the form (a new account when `old` is `None`).
async fn save(
    state: &AppState,
    user: &WebUser,
    mut form: ProviderForm,
    old: Option<&ProviderAccount>,
) -> Response {
    let t = user.texts();
    let Some(draft) = form.draft(old) else {
        return pages::bad_request(t);
    };
    form.password.clear();
    let company = user.session.user.company_id;
    let country = match state.store().get_company(company).await {
        Ok(Some(c)) => c.country_type,
        Ok(None) => return pages::error(StatusCode::NOT_FOUND, t, "settings.not_found"),
        Err(e) => return failed(t, &e),
    };
    let store = state.store();
    let done = match NewProviderAccount::new(draft, country, state.outbound()) {
        Err(e) => Err(StoreError::Validation(e)),
        Ok(new) => match old {
            None => store.create_provider_account(company, new).await,
            Some(a) => store.update_provider_account(company, a.id, new).await,
        },
    };
    match done {
        Ok(a) => Redirect::to(&format!("/settings/providers/{}", a.id.0)).into_response(),
        Err(StoreError::NotFound) => pages::error(StatusCode::NOT_FOUND, t, "settings.not_found"),
        Err(e) => match refusal(t, &e) {
            Some(alert) => {
                let shown = Shown {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    alert: Some(alert),
                    tested: None,
                    account: old,
                };
                page(user, &form, shown)
            }
            None => failed(t, &e),
        },
    }
}

/// `POST /settings/providers` (admin): a new SMPP account.
pub async fn create(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Form<ProviderForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return pages::bad_request(user.texts());
    };
    if let Some(r) = user.refusal(&form.csrf, Role::Admin) {
        return r;
    }
    save(&state, &user, form, None).await
}

/// `POST /settings/providers/{id}` (admin): an SMPP account's new settings.
pub async fn update(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    form: Result<Form<ProviderForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return pages::bad_request(user.texts());
    };
    if let Some(r) = user.refusal(&form.csrf, Role::Admin) {
        return r;
    }
    let a = match account(&state, &user, &id).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if a.kind != ProviderKind::Smpp {
        // Simulator accounts have no settings a person chooses here.
        return pages::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            user.texts(),
            "settings.providers.sim_fixed",
        );
    }
    save(&state, &user, form, Some(&a)).await
}

/// The text of a test's code (literal keys, so the catalogue test sees each).
fn test_key(code: &str) -> &'static str {
    match code {
        "ok" => "settings.providers.test.ok",
        "invalid_password" => "settings.providers.test.invalid_password",
        "invalid_system_id" => "settings.providers.test.invalid_system_id",
        "bind_refused" => "settings.providers.test.bind_refused",
        "connection_refused" => "settings.providers.test.connection_refused",
        "timed_out" => "settings.providers.test.timed_out",
        "host_unreachable" => "settings.providers.test.host_unreachable",
        "dns_failure" => "settings.providers.test.dns_failure",
        "target_not_allowed" => "settings.providers.test.target_not_allowed",
        "connection_closed" => "settings.providers.test.connection_closed",
        "protocol_error" => "settings.providers.test.protocol_error",
        "simulator_off" => "settings.providers.test.simulator_off",
        "credentials_unreadable" => "settings.providers.test.credentials_unreadable",
        "unsupported" => "settings.providers.test.unsupported",
        _ => "settings.providers.test.connection_failed",
    }
}

/// The test button's form.
#[derive(Debug, Deserialize)]
pub struct TestForm {
    csrf: String,
}

/// `POST /settings/providers/{id}/test` (admin): one bind and unbind; the account's page with
/// the result.
pub async fn test(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    form: Result<Form<TestForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Form(form)) = form else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.refusal(&form.csrf, Role::Admin) {
        return r;
    }
    let a = match account(&state, &user, &id).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let (status, tested) = match test_account(&state, a.company_id, a.id).await {
        Ok(o) => {
            let ms = u64::try_from(o.elapsed.as_millis()).unwrap_or(u64::MAX);
            let code = o.result.err().map_or("ok", |f| f.code());
            let text = t.with(
                "settings.providers.test.took",
                "ms",
                &super::format::integer(i64::try_from(ms).unwrap_or(i64::MAX), t.language()),
            );
            (
                StatusCode::OK,
                (code == "ok", format!("{} {text}", t.get(test_key(code)))),
            )
        }
        Err(TestRefusal::NotFound) => {
            return pages::error(StatusCode::NOT_FOUND, t, "settings.not_found");
        }
        Err(TestRefusal::Unsupported) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            (
                false,
                t.get("settings.providers.test.unsupported").to_owned(),
            ),
        ),
        Err(TestRefusal::Busy) => (
            StatusCode::TOO_MANY_REQUESTS,
            (false, t.get("settings.providers.test.busy").to_owned()),
        ),
        Err(TestRefusal::Store(e)) => return failed(t, &e),
    };
    let shown = Shown {
        status,
        alert: None,
        tested: Some(tested),
        account: Some(&a),
    };
    page(&user, &ProviderForm::of(&a), shown)
}
