//! The web UI, Turkish first: server-rendered pages from compile-time checked templates
//! (`templates/web/<screen>.html`, one handler file per screen here), small hand-written
//! JavaScript that only enhances, and every asset compiled into the binary
//! (docs/decisions/0007-web-ui.md). Pages call the same store and services as the API.

mod admin;
mod campaign;
mod campaigns;
mod chart;
mod customers;
mod dashboard;
mod dashboard_providers;
mod format;
mod groups;
pub mod i18n;
mod import;
mod import_run;
mod inbox;
mod inbox_simulate;
mod login;
mod messages;
mod pages;
mod people;
mod send;
mod send_picker;
mod send_preview;
mod send_view;
pub mod session;
mod settings;
mod settings_credit;
mod settings_headers;
mod settings_provider_form;
mod settings_providers;
mod settings_routes;
mod settings_sms;
mod settings_users;
mod settings_webhook;
mod settings_webhooks;
mod sms_templates;
mod subscribers;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::startup::AppState;

/// The UI's routes, beside the API's.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(dashboard::show))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/language", post(login::language))
        .route("/send", get(send::form).post(send::submit))
        .route("/send/count", post(send::count))
        .route("/send/subscribers", get(send_picker::subscribers))
        .route("/campaigns", get(campaigns::list))
        .route("/campaigns/{id}", get(campaign::show))
        .route("/campaigns/{id}/progress", get(campaign::poll))
        .route("/campaigns/{id}/{action}", post(campaign::act))
        .route("/subscribers", get(subscribers::list))
        .route("/subscribers/{id}", get(subscribers::card))
        .route("/groups", get(groups::list))
        .route("/groups/{id}", get(groups::show))
        .route("/groups/{id}/members/add", post(groups::add))
        .route("/groups/{id}/members/remove", post(groups::remove))
        .route("/customers", get(customers::list))
        .route("/messages", get(messages::list))
        .route("/messages/export", get(messages::export))
        .route("/messages/{id}", get(messages::show))
        .route("/inbox", get(inbox::show))
        .route("/inbox/reply", post(inbox::reply))
        .route("/inbox/read", post(inbox::read_one))
        .route("/inbox/simulate", post(inbox_simulate::simulate))
        .route("/import", get(import::start))
        .route("/import/run", post(import_run::run))
        .route("/import/{token}/errors.csv", get(import_run::errors_csv))
        .route(
            "/templates",
            get(sms_templates::list).post(sms_templates::create),
        )
        .route(
            "/templates/{id}",
            get(sms_templates::show).post(sms_templates::update),
        )
        .route("/templates/{id}/delete", post(sms_templates::delete))
        .route("/settings/credit", get(settings_credit::show))
        .route(
            "/settings/providers",
            get(settings_providers::list).post(settings_provider_form::create),
        )
        .route(
            "/settings/providers/new",
            get(settings_provider_form::new_form),
        )
        .route(
            "/settings/providers/{id}",
            get(settings_provider_form::edit_form).post(settings_provider_form::update),
        )
        .route(
            "/settings/providers/{id}/test",
            post(settings_provider_form::test),
        )
        .route(
            "/settings/routes",
            get(settings_routes::list).post(settings_routes::create),
        )
        .route(
            "/settings/routes/{id}",
            get(settings_routes::edit_form).post(settings_routes::update),
        )
        .route(
            "/settings/routes/{id}/delete",
            post(settings_routes::delete),
        )
        .route(
            "/settings/sms",
            get(settings_sms::show).post(settings_sms::save),
        )
        .route(
            "/settings/keys",
            get(settings::keys).post(settings::create_key),
        )
        .route("/settings/keys/{id}/revoke", post(settings::revoke_key))
        .route(
            "/settings/users",
            get(settings_users::users).post(settings_users::create_user),
        )
        .route(
            "/settings/users/{id}/role",
            post(settings_users::change_role),
        )
        .route(
            "/settings/users/{id}/active",
            post(settings_users::set_active),
        )
        .route(
            "/settings/password",
            get(settings_users::password_form).post(settings_users::change_password),
        )
        .route(
            "/settings/headers",
            get(settings_headers::list).post(settings_headers::create),
        )
        .route(
            "/settings/headers/{id}/{action}",
            post(settings_headers::act),
        )
        .route(
            "/settings/webhooks",
            get(settings_webhooks::list).post(settings_webhooks::create),
        )
        .route("/settings/webhooks/{id}", get(settings_webhook::show))
        .route(
            "/settings/webhooks/{id}/{action}",
            post(settings_webhook::act),
        )
        .route(
            "/settings/webhooks/{id}/attempts/{attempt}/redeliver",
            post(settings_webhook::redeliver),
        )
        .route(
            "/admin/companies",
            get(admin::companies).post(admin::create_company),
        )
        .route("/admin/companies/{id}/credit", post(admin::add_credit))
        .route("/admin/users/{id}/system-admin", post(admin::switch_admin))
        .route("/static/{file}", get(asset))
        // Forms and the counter's JSON are small: a huge body is refused before it is read
        // (the API's larger limit would let anyone, signed in or not, keep a core busy
        // parsing megabytes of form fields).
        .layer(axum::extract::DefaultBodyLimit::max(FORM_MAX))
        .merge(uploads())
        .layer(axum::middleware::from_fn(pages::security_headers))
}

/// The largest form or JSON body a page may send, but for the import wizard's upload.
pub const FORM_MAX: usize = 256 * 1024;

/// The import wizard's upload, under the server's body limit (as the API's imports).
fn uploads() -> Router<AppState> {
    Router::new().route("/import", axum::routing::post(import::upload))
}

/// The embedded assets: name, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "ulak.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/static/ulak.css"),
    ),
    (
        "ulak.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/ulak.js"),
    ),
];

/// `GET /static/{file}`: an embedded asset, cached by the browser for an hour.
async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let Some((_, kind, body)) = ASSETS.iter().find(|(name, _, _)| *name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

#[cfg(test)]
mod tests;
