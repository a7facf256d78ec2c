//! The settings screens' provider accounts tab: `GET /settings/providers`, a read-only list
//! for admins, as `GET /api/v1/provider-accounts` (admin). Passwords and tokens are never
//! shown, only whether one is stored; each name leads to the account's form
//! (`settings_provider_form`).

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use ulak_core::model::{ProviderAccount, ProviderKind, ProviderSettings, Role, User};

use super::dashboard::other;
use super::i18n::Texts;
use super::pages::{self, render};
use super::people::{self, ListForm, Paging};
use super::session::WebUser;
use super::settings::failed;
use crate::startup::AppState;

/// A provider account's row.
struct ProviderRow {
    id: i64,
    name: String,
    kind: &'static str,
    address: String,
    user: String,
    has_secret: bool,
    enabled: bool,
}

fn provider_row(a: ProviderAccount) -> ProviderRow {
    let kind = match a.kind {
        ProviderKind::Simulator => "settings.providers.kind.simulator",
        ProviderKind::Smpp => "settings.providers.kind.smpp",
        ProviderKind::Http => "settings.providers.kind.http",
    };
    let (address, user) = match &a.settings {
        ProviderSettings::Smpp(s) => (format!("{}:{}", s.host, s.port), s.system_id.clone()),
        ProviderSettings::Http(h) => (h.base_url.clone(), h.username.clone()),
    };
    ProviderRow {
        id: a.id.0,
        name: a.name,
        kind,
        address,
        user,
        has_secret: a.has_password || a.has_token,
        enabled: a.enabled,
    }
}

#[derive(Template)]
#[template(path = "web/settings_providers.html")]
struct ProvidersPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a User,
    csrf: &'a str,
    other_language: &'a str,
    tab: &'a str,
    is_admin: bool,
    alert: Option<String>,
    rows: Vec<ProviderRow>,
    paging: Paging,
}

/// `GET /settings/providers` (admin).
pub async fn list(
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
    let company = user.session.user.company_id;
    let mut alert = None;
    let (rows, next) = match form.query(None, None) {
        Err(code) => {
            alert = Some(people::refusal(t, code));
            (Vec::new(), None)
        }
        Ok(q) => match state.store().list_provider_accounts(company, &q).await {
            Ok(page) => {
                let rows = page.items.into_iter().map(provider_row).collect();
                (rows, page.next_cursor)
            }
            Err(e) => return failed(t, &e),
        },
    };
    render(
        StatusCode::OK,
        &ProvidersPage {
            t,
            active: "settings",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: other(t.language()).as_str(),
            tab: "providers",
            is_admin: true,
            alert,
            rows,
            paging: form.paging("/settings/providers", next.as_deref()),
        },
    )
}
