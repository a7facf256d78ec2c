//! The settings screens' SMS tab: `GET /settings/sms` (every role, as `GET
//! /api/v1/sms-settings`) and `POST /settings/sms` (admin, as `PATCH /api/v1/sms-settings`).
//! The OTP password is write-only: the page says whether one is stored, never what it is; an
//! empty field keeps it. The TC-ID subscription is the system administrator's to switch, and no
//! web user is, so it is shown and never sent.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use ulak_core::CountryType;
use ulak_core::model::{Role, SmsSettings, SmsSettingsDraft, SmsSettingsPatch, User};
use ulak_store::StoreError;

use super::dashboard::other;
use super::i18n::Texts;
use super::pages::{self, render};
use super::people;
use super::session::WebUser;
use super::settings::failed;
use crate::startup::AppState;

/// The country types a company may have, in the order the form offers them.
const COUNTRIES: [CountryType; 3] = [CountryType::Tr, CountryType::Kktc, CountryType::Az];

/// What the form shows: the stored settings, or what was sent when it was refused (never a
/// password).
#[derive(Debug, Default, Deserialize)]
pub struct SmsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    country_type: String,
    #[serde(default)]
    tckn_sender: String,
    #[serde(default)]
    otp_username: String,
    #[serde(default)]
    otp_password: String,
    /// Ticked: the stored OTP password is removed.
    #[serde(default)]
    otp_password_clear: Option<String>,
    /// Words separated by commas or spaces.
    #[serde(default)]
    opt_out_keywords: String,
}

impl From<&SmsSettings> for SmsForm {
    fn from(s: &SmsSettings) -> Self {
        SmsForm {
            country_type: s.country_type.as_str().to_owned(),
            tckn_sender: s
                .tckn_sender
                .as_ref()
                .map(|h| h.as_str().to_owned())
                .unwrap_or_default(),
            otp_username: s.otp_username.clone().unwrap_or_default(),
            opt_out_keywords: s.opt_out_keywords.join(", "),
            ..SmsForm::default()
        }
    }
}

#[derive(Template)]
#[template(path = "web/settings_sms.html")]
struct SmsPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a User,
    csrf: &'a str,
    other_language: &'a str,
    tab: &'a str,
    is_admin: bool,
    alert: Option<String>,
    saved: bool,
    countries: &'a [CountryType],
    form: &'a SmsForm,
    subscription: bool,
    has_otp_password: bool,
}

async fn page(
    state: &AppState,
    user: &WebUser,
    status: StatusCode,
    alert: Option<String>,
    saved: bool,
    sent: Option<&SmsForm>,
) -> Response {
    let t = user.texts();
    let company = user.session.user.company_id;
    let settings = match state.store().get_sms_settings(company).await {
        Ok(Some(s)) => s,
        Ok(None) => return pages::error(StatusCode::NOT_FOUND, t, "settings.not_found"),
        Err(e) => return failed(t, &e),
    };
    let stored = SmsForm::from(&settings);
    render(
        status,
        &SmsPage {
            t,
            active: "settings",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: other(t.language()).as_str(),
            tab: "sms",
            is_admin: user.may(Role::Admin),
            saved,
            alert,
            countries: &COUNTRIES,
            form: sent.unwrap_or(&stored),
            subscription: settings.tckn_subscription_active,
            has_otp_password: settings.has_otp_password,
        },
    )
}

/// The query string after a save.
#[derive(Debug, Default, Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

/// `GET /settings/sms`.
pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    q: Result<axum::extract::Query<SavedQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let saved = q.map(|q| q.0.saved.is_some()).unwrap_or(false);
    page(&state, &user, StatusCode::OK, None, saved, None).await
}

/// The draft the API would build from the form: empty text fields clear, an empty password
/// keeps the stored one unless "remove" is ticked. `None`: an unknown country type.
fn draft(f: &SmsForm) -> Option<SmsSettingsDraft> {
    let country_type = f.country_type.parse::<CountryType>().ok()?;
    let text = |s: &str| Some(Some(s.trim().to_owned()).filter(|s| !s.is_empty()));
    let otp_password = if f.otp_password_clear.is_some() {
        Some(None)
    } else if f.otp_password.is_empty() {
        None
    } else {
        Some(Some(f.otp_password.clone()))
    };
    let keywords = f
        .opt_out_keywords
        .split([',', ' ', '\n', '\r', '\t'])
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    Some(SmsSettingsDraft {
        country_type: Some(country_type),
        tckn_sender: text(&f.tckn_sender),
        tckn_subscription_active: None,
        otp_username: text(&f.otp_username),
        otp_password,
        opt_out_keywords: Some(keywords),
    })
}

/// `POST /settings/sms` (admin).
pub async fn save(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Form<SmsForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Form(mut form)) = form else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.refusal(&form.csrf, Role::Admin) {
        return r;
    }
    let Some(d) = draft(&form) else {
        return pages::bad_request(t);
    };
    // Never sent back into the page.
    form.otp_password.clear();
    let refused = StatusCode::UNPROCESSABLE_ENTITY;
    let patch = match SmsSettingsPatch::new(d) {
        Ok(p) => p,
        Err(e) => {
            let code =
                e.0.first()
                    .map_or(ulak_core::Code::ValueInvalid, |f| f.code);
            let alert = Some(people::refusal(t, code));
            return page(&state, &user, refused, alert, false, Some(&form)).await;
        }
    };
    let company = user.session.user.company_id;
    match state.store().update_sms_settings(company, patch).await {
        Ok(_) => {
            tracing::info!("SMS settings changed on the web");
            Redirect::to("/settings/sms?saved=1").into_response()
        }
        Err(StoreError::Validation(e)) => {
            let code =
                e.0.first()
                    .map_or(ulak_core::Code::ValueInvalid, |f| f.code);
            let alert = Some(people::refusal(t, code));
            page(&state, &user, refused, alert, false, Some(&form)).await
        }
        Err(e) => failed(t, &e),
    }
}
