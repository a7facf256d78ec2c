//! Signing in and out. A wrong company, user name or password all get the same answer after
//! the same work (a password hash is checked either way); repeated failures lock the user and
//! the address for a while ([`ulak_store::SignInPolicy`]), and a locked sign-in is refused
//! before the password is looked at. A successful sign-in always starts a new session.

use std::net::SocketAddr;
use std::time::Duration;

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use ulak_core::model::{CompanyId, Language};
use ulak_store::SignInPolicy;

use super::i18n::Texts;
use super::pages::{self, render};
use super::session::{
    self, ABSOLUTE, IDLE, LOGIN_CSRF_COOKIE, SESSION_COOKIE, WebUser, cookie, set_cookie,
};
use crate::startup::AppState;

/// How long the sign-in form may stay open before it must be reloaded.
const FORM_LIFE: Duration = Duration::from_secs(3600);

#[derive(Template)]
#[template(path = "web/login.html")]
struct LoginPage<'a> {
    t: Texts,
    csrf: &'a str,
    company: &'a str,
    username: &'a str,
    alert: Option<String>,
}

/// `GET /login`: the form (or the dashboard for someone already signed in).
pub async fn form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && let Ok(Some(_)) = state.store().web_session(&token, IDLE, ABSOLUTE).await
    {
        return Redirect::to("/").into_response();
    }
    page(&headers, StatusCode::OK, "default", "", None)
}

/// The form with a fresh CSRF cookie (the same one while it lives, so two tabs both work).
fn page(
    headers: &HeaderMap,
    status: StatusCode,
    company: &str,
    username: &str,
    alert: Option<String>,
) -> Response {
    let t = Texts::new(Language::default());
    let Some(csrf) = cookie(headers, LOGIN_CSRF_COOKIE).or_else(session::random_token) else {
        return pages::internal(t);
    };
    let mut r = render(
        status,
        &LoginPage {
            t,
            csrf: &csrf,
            company,
            username,
            alert,
        },
    );
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            LOGIN_CSRF_COOKIE,
            &csrf,
            FORM_LIFE,
            session::over_tls(headers),
        ),
    );
    r
}

/// The sign-in form's fields.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// `POST /login`.
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let t = Texts::new(Language::default());
    let f = match form {
        Ok(Form(f)) => f,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return pages::error(e.status(), t, "error.too_large");
        }
        Err(_) => return pages::bad_request(t),
    };
    let sent_csrf = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if !session::same(&f.csrf, &sent_csrf) {
        return pages::csrf_refused(t);
    }
    let (company, username) = (f.company.trim(), f.username.trim());
    let fits = company.len() <= 64 && username.len() <= 64 && f.password.len() <= 256;
    match sign_in(&state, &f, peer, fits).await {
        Ok(Outcome::In(token)) => signed_in(&state, &headers, &token).await,
        Ok(Outcome::Wrong) => page(
            &headers,
            StatusCode::UNAUTHORIZED,
            company,
            username,
            Some(t.get("login.failed").to_owned()),
        ),
        Ok(Outcome::Locked(until)) => {
            let minutes = ((until - now_ms()).max(0) + 59_999) / 60_000;
            let text = t.with("login.locked", "minutes", &minutes.max(1).to_string());
            page(
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                company,
                username,
                Some(text),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "signing in failed");
            pages::internal(t)
        }
    }
}

enum Outcome {
    In(String),
    Wrong,
    Locked(i64),
}

async fn sign_in(
    state: &AppState,
    f: &LoginForm,
    peer: SocketAddr,
    fits: bool,
) -> Result<Outcome, ulak_store::StoreError> {
    let store = state.store();
    let (name, login) = (f.company.trim(), f.username.trim());
    let address = peer.ip().to_string();
    // An unknown company still costs a hash check and counts against the address (company 0
    // holds no users).
    let company = match fits {
        true => store.get_company_by_name(name).await?.map(|c| c.id),
        false => None,
    };
    let company = company.unwrap_or(CompanyId(0));
    if let Some(until) = store.sign_in_locked(company, login, &address).await? {
        return Ok(Outcome::Locked(until));
    }
    let password = if fits { f.password.as_str() } else { "" };
    let user = store.verify_user_password(company, login, password).await?;
    let Some(user) = user.filter(|_| fits) else {
        let policy = SignInPolicy::default();
        return Ok(
            match store
                .record_sign_in_failure(company, login, &address, &policy)
                .await?
            {
                Some(until) => Outcome::Locked(until),
                None => Outcome::Wrong,
            },
        );
    };
    store.clear_sign_in_failures(company, login).await?;
    let token = store.create_web_session(company, user.id).await?;
    Ok(Outcome::In(token))
}

/// Ends the session the browser came with (if any), sets the new one, drops the form's cookie.
async fn signed_in(state: &AppState, headers: &HeaderMap, token: &str) -> Response {
    if let Some(old) = cookie(headers, SESSION_COOKIE)
        && let Err(e) = state.store().delete_web_session(&old).await
    {
        tracing::warn!(error = %e, "could not end the previous session");
    }
    let tls = session::over_tls(headers);
    let mut r = Redirect::to("/").into_response();
    let h = r.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, token, ABSOLUTE, tls),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(LOGIN_CSRF_COOKIE, "", Duration::ZERO, tls),
    );
    r
}

/// A form of a signed-in page that carries only its CSRF token.
#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: WebUser,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return pages::bad_request(user.texts());
    };
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return r;
    }
    if let Err(e) = state.store().delete_web_session(&user.token).await {
        tracing::error!(error = %e, "signing out failed");
        return pages::internal(user.texts());
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            SESSION_COOKIE,
            "",
            Duration::ZERO,
            session::over_tls(&headers),
        ),
    );
    r
}

/// The language switch's form.
#[derive(Deserialize)]
pub struct LanguageForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    language: String,
}

/// `POST /language`: remembers the user's language.
pub async fn language(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Form<LanguageForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return pages::bad_request(user.texts());
    };
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return r;
    }
    let Ok(language) = f.language.parse::<Language>() else {
        return pages::bad_request(user.texts());
    };
    let u = &user.session.user;
    match state
        .store()
        .set_user_language(u.company_id, u.id, language)
        .await
    {
        Ok(()) => Redirect::to("/").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "saving the language failed");
            pages::internal(user.texts())
        }
    }
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
