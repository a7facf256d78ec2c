//! Who is signed in: the session cookie, checked against the store on every page; and the
//! CSRF tokens of forms. A session's token lives only in its HttpOnly cookie (the database
//! keeps its hash); a form's CSRF token is derived from the session token, so nothing more is
//! stored and a token from another session never matches.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};
use ulak_core::model::{Language, Role};
use ulak_store::SessionUser;

use super::i18n::Texts;
use crate::startup::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "ulak_session";
/// The sign-in form's CSRF cookie (there is no session yet to derive a token from).
pub const LOGIN_CSRF_COOKIE: &str = "ulak_login_csrf";
/// A session ends after this long without a request.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after sign-in, however busy.
pub const ABSOLUTE: Duration = Duration::from_secs(12 * 3600);

/// The signed-in user of a page, with the form token of their session.
pub struct WebUser {
    /// The user and their language.
    pub session: SessionUser,
    /// The session's token (to sign out, and to keep this session on a password change).
    pub token: String,
    /// The CSRF token forms of this session carry.
    pub csrf: String,
}

impl WebUser {
    /// The user's texts.
    pub fn texts(&self) -> Texts {
        Texts::new(self.session.language)
    }

    /// Whether the user's role reaches `role`.
    pub fn may(&self, role: Role) -> bool {
        rank(self.session.user.role) >= rank(role)
    }

    /// The refusal of a form this user posts: a CSRF token not this session's, then a role
    /// below `role` (both 403); `None` when the form may go on.
    pub fn refusal(&self, csrf: &str, role: Role) -> Option<Response> {
        self.csrf_refusal(csrf).or_else(|| {
            (!self.may(role)).then(|| {
                let forbidden = axum::http::StatusCode::FORBIDDEN;
                super::pages::error(forbidden, self.texts(), "error.forbidden")
            })
        })
    }

    /// Whether the user is a system administrator: the flag (only `default`'s users have it,
    /// the store sees to that) and the admin role.
    pub fn system_admin(&self) -> bool {
        self.session.user.system_admin && self.may(Role::Admin)
    }

    /// The refusal of a system administrator's form: a CSRF token not this session's, then a
    /// user who is not one (both 403); `None` when the form may go on.
    pub fn admin_refusal(&self, csrf: &str) -> Option<Response> {
        self.csrf_refusal(csrf).or_else(|| {
            (!self.system_admin()).then(|| {
                let forbidden = axum::http::StatusCode::FORBIDDEN;
                super::pages::error(forbidden, self.texts(), "error.forbidden")
            })
        })
    }

    /// The refusal of a form whose CSRF token is not this session's (`None`: it is).
    pub fn csrf_refusal(&self, sent: &str) -> Option<Response> {
        (!same(sent, &self.csrf)).then(|| super::pages::csrf_refused(self.texts()))
    }
}

fn rank(role: Role) -> u8 {
    match role {
        Role::Viewer => 0,
        Role::Operator => 1,
        Role::Admin => 2,
    }
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || Redirect::to("/login").into_response();
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_login());
        };
        let found = state.store().web_session(&token, IDLE, ABSOLUTE).await;
        match found {
            Ok(Some(session)) => Ok(WebUser {
                csrf: csrf_for(&token),
                token,
                session,
            }),
            Ok(None) => Err(to_login()),
            Err(e) => {
                tracing::error!(error = %e, "reading a web session failed");
                Err(super::pages::internal(Texts::new(Language::default())))
            }
        }
    }
}

/// How often ended sessions, old sign-in failure counts and abandoned preview drafts are
/// deleted.
const PURGE_EVERY: Duration = Duration::from_secs(600);

/// The most abandoned preview drafts one statement deletes: a backlog goes in several short
/// statements instead of one long one.
const DRAFTS_PER_PURGE: u32 = 500;
/// Such statements one round runs at most, while they come full (10,000 drafts per round).
const DRAFT_BATCHES_PER_PURGE: usize = 20;

/// Deletes ended sessions, old failure counts and day-old drafts of previews never sent
/// every [`PURGE_EVERY`] until `stop` (expired sessions are otherwise deleted only when
/// presented again; abandoned drafts never).
pub async fn purge_now_and_then(
    store: ulak_store::Store,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        match store.purge_web_sign_in().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(rows = n, "purged ended web sessions"),
            Err(e) => tracing::warn!(error = %e, "purging ended web sessions failed"),
        }
        // Batch after batch while batches come full (a backlog), up to a bound per round.
        for _ in 0..DRAFT_BATCHES_PER_PURGE {
            match store.purge_preview_drafts(DRAFTS_PER_PURGE).await {
                Ok(0) => break,
                Ok(n) => {
                    tracing::debug!(drafts = n, "purged abandoned preview drafts");
                    if n < u64::from(DRAFTS_PER_PURGE) {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "purging abandoned preview drafts failed");
                    break;
                }
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(PURGE_EVERY) => {}
        }
    }
}

/// The CSRF token of the session with `token`: a hash of it under a fixed label, so it
/// reveals nothing about the token and changes when the session does.
pub fn csrf_for(token: &str) -> String {
    let digest = Sha256::digest(format!("ulak-csrf\0{token}").as_bytes());
    hex(&digest[..16])
}

/// A fresh random token (32 bytes, URL-safe base64) for the sign-in form's CSRF cookie.
pub fn random_token() -> Option<String> {
    use base64::Engine;
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two tokens in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of cookie `name` in the request, if it is there once and looks like a token.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        for pair in value.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=')
                && k == name
            {
                found = Some(v.trim());
            }
        }
    }
    found
        .filter(|v| (1..=128).contains(&v.len()))
        .filter(|v| {
            v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, the whole site; `Secure` when the request
/// came over TLS (through a proxy that says so). `max_age` 0 deletes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        max_age.as_secs()
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("ulak_invalid=1"))
}

/// Whether the browser reached us over TLS: only a proxy in front can tell (the server itself
/// speaks plain HTTP).
pub fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_reads_one_token_and_refuses_odd_values() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; ulak_session=abc-_9; b=2"),
        );
        assert_eq!(cookie(&h, "ulak_session").as_deref(), Some("abc-_9"));
        assert_eq!(cookie(&h, "missing"), None);
        h.insert(header::COOKIE, HeaderValue::from_static("ulak_session=a;b"));
        assert_eq!(cookie(&h, "ulak_session").as_deref(), Some("a"));
        h.insert(header::COOKIE, HeaderValue::from_static("ulak_session=<x>"));
        assert_eq!(cookie(&h, "ulak_session"), None);
    }

    #[test]
    fn csrf_tokens_differ_per_session_and_compare_exactly() {
        let a = csrf_for("one");
        assert_eq!(a, csrf_for("one"));
        assert_ne!(a, csrf_for("two"));
        assert!(same(&a, &csrf_for("one")));
        assert!(!same(&a, &csrf_for("two")));
        assert!(!same("", ""));
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_over_tls() {
        let c = set_cookie("s", "v", Duration::from_secs(60), true);
        let c = c.to_str().unwrap_or_default();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Secure"));
        let c = set_cookie("s", "v", Duration::from_secs(60), false);
        assert!(!c.to_str().unwrap_or_default().contains("Secure"));
    }
}
