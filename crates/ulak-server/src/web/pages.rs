//! Rendering pages, the error page, and the headers every page carries.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::i18n::Texts;

/// The policy of every UI answer: scripts, styles and images only from this server, no inline
/// script, no framing, forms post only here.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'; object-src 'none'";

/// `page` rendered as an HTML answer with `status`; a template that fails to render (it
/// cannot, short of a bug) is logged and answered 500.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => {
            let mut r = (status, body).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "a page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// Adds the security headers to every answer of the UI.
pub async fn security_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut r = if from_another_site(&request) {
        // Refused before any handler runs: the CSRF tokens stay the check, this one also
        // covers a sign-in form posted from a sibling subdomain that planted its own
        // double-submit cookie.
        error(
            StatusCode::FORBIDDEN,
            Texts::new(Default::default()),
            "error.cross_site",
        )
    } else {
        next.run(request).await
    };
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    // Pages, JSON and CSV hold a company's data: no cache keeps them, unless the answer
    // says otherwise (the embedded assets do).
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

/// A state-changing request that the browser says comes from another site (Fetch Metadata:
/// `Sec-Fetch-Site` is `cross-site` or `same-site`). Read from the browser, not the `Host`
/// header, so a reverse proxy that rewrites the host changes nothing; clients that send no
/// such header (older browsers, scripts) are left to the CSRF tokens.
fn from_another_site(request: &axum::extract::Request) -> bool {
    let safe = matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    !safe
        && request
            .headers()
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.eq_ignore_ascii_case("cross-site") || v.eq_ignore_ascii_case("same-site")
            })
}

#[derive(Template)]
#[template(path = "web/error.html")]
struct ErrorPage<'a> {
    t: Texts,
    message: &'a str,
    back: &'a str,
    back_href: &'a str,
}

/// The error page with `key`'s text.
pub fn error(status: StatusCode, t: Texts, key: &str) -> Response {
    render(
        status,
        &ErrorPage {
            t,
            message: t.get(key),
            back: t.get("error.back"),
            back_href: "/",
        },
    )
}

/// 403: the form's CSRF token is missing or wrong.
pub fn csrf_refused(t: Texts) -> Response {
    error(StatusCode::FORBIDDEN, t, "login.csrf")
}

/// 400: the form could not be read.
pub fn bad_request(t: Texts) -> Response {
    error(StatusCode::BAD_REQUEST, t, "error.bad_request")
}

/// 500, already logged by the caller.
pub fn internal(t: Texts) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, t, "error.internal")
}
