//! The settings screens' webhooks tab: `GET /settings/webhooks` (list) and `POST
//! /settings/webhooks` (create; the signing secret is shown once on the answer page and never
//! again: the store keeps it encrypted). Admins only, as the API's `/webhooks` routes; the
//! URL rules and the outbound policy (no internal addresses unless the system administrator
//! allows them) are core's, as the API applies them. One endpoint's page is
//! `settings_webhook.rs`.

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use ulak_core::model::{NewWebhookEndpoint, Role, User, WebhookEndpoint, WebhookEventType};

use super::dashboard::other;
use super::i18n::Texts;
use super::pages::{self, render};
use super::people::{self, ListForm, Paging};
use super::session::WebUser;
use super::settings::{failed, list_rows, zone};
use crate::startup::AppState;

/// A row of the endpoint list.
pub struct HookRow {
    pub id: i64,
    pub url: String,
    pub description: String,
    /// Event type names; empty: all.
    pub events: Vec<&'static str>,
    pub enabled: bool,
    pub created: String,
}

/// The row of an endpoint, times on `zone`'s clock.
pub fn hook_row(e: WebhookEndpoint, zone: &str) -> HookRow {
    HookRow {
        id: e.id.0,
        url: e.url,
        description: e.description.unwrap_or_default(),
        events: e.event_types.iter().map(|t| t.as_str()).collect(),
        enabled: e.enabled,
        created: people::when(e.created_at, zone),
    }
}

/// The catalogue key of an event type's description.
fn event_key(e: WebhookEventType) -> &'static str {
    match e {
        WebhookEventType::MessageSent => "settings.webhooks.ev_sent",
        WebhookEventType::MessageDelivered => "settings.webhooks.ev_delivered",
        WebhookEventType::MessageFailed => "settings.webhooks.ev_failed",
        WebhookEventType::InboundReceived => "settings.webhooks.ev_inbound",
        WebhookEventType::CampaignFinished => "settings.webhooks.ev_campaign",
    }
}

/// What the new-endpoint form had, to fill it again after a refusal.
#[derive(Debug, Default)]
pub struct HookForm {
    csrf: String,
    url: String,
    description: String,
    events: Vec<String>,
    enabled: bool,
}

impl HookForm {
    /// The form from its fields; ticked event types come as repeated `event` fields.
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut f = HookForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "csrf" => f.csrf = v,
                "url" => f.url = v,
                "description" => f.description = v,
                "event" => f.events.push(v),
                "enabled" => f.enabled = v == "yes",
                _ => {}
            }
        }
        f
    }

    /// Whether `name` was ticked (the template's check boxes).
    pub fn has(&self, name: &str) -> bool {
        self.events.iter().any(|e| e == name)
    }
}

#[derive(Template)]
#[template(path = "web/settings_webhooks.html")]
struct HooksPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a User,
    csrf: &'a str,
    other_language: &'a str,
    tab: &'a str,
    is_admin: bool,
    alert: Option<String>,
    rows: Vec<HookRow>,
    paging: Paging,
    new: &'a HookForm,
    /// Every event type: its name and the catalogue key of its description.
    all_events: Vec<(&'static str, &'static str)>,
    /// The endpoint just made and its signing secret: shown this once.
    created: Option<(String, String)>,
}

/// `GET /settings/webhooks` (admin, as `GET /api/v1/webhooks`).
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
    let new = HookForm {
        enabled: true,
        ..HookForm::default()
    };
    page(&state, &user, &form, (StatusCode::OK, None), &new, None).await
}

async fn page(
    state: &AppState,
    user: &WebUser,
    form: &ListForm,
    (status, mut alert): (StatusCode, Option<String>),
    new: &HookForm,
    created: Option<(String, String)>,
) -> Response {
    let t = user.texts();
    let company = user.session.user.company_id;
    let zone = zone(state, company).await;
    let store = state.store();
    let list = |q| async move { store.list_webhook_endpoints(company, &q).await };
    let (rows, next) = match list_rows(t, form, &mut alert, list, |e| hook_row(e, zone)).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    render(
        status,
        &HooksPage {
            t,
            active: "settings",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: other(t.language()).as_str(),
            tab: "webhooks",
            is_admin: true,
            alert,
            rows,
            paging: form.paging("/settings/webhooks", next.as_deref()),
            new,
            all_events: WebhookEventType::ALL
                .iter()
                .map(|e| (e.as_str(), event_key(*e)))
                .collect(),
            created,
        },
    )
}

/// `POST /settings/webhooks` (admin), as `POST /api/v1/webhooks`: the answer page shows the
/// signing secret once.
pub async fn create(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Form(pairs)) = form else {
        return pages::bad_request(t);
    };
    let form = HookForm::from_pairs(pairs);
    if let Some(r) = user.refusal(&form.csrf, Role::Admin) {
        return r;
    }
    let list = ListForm::default();
    let description = Some(form.description.as_str()).filter(|d| !d.trim().is_empty());
    let new = match NewWebhookEndpoint::new(
        &form.url,
        description,
        &form.events,
        form.enabled,
        state.outbound(),
    ) {
        Ok(n) => n,
        Err(e) => {
            let code =
                e.0.first()
                    .map_or(ulak_core::Code::ValueInvalid, |f| f.code);
            let refused = (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(people::refusal(t, code)),
            );
            return page(&state, &user, &list, refused, &form, None).await;
        }
    };
    let company = user.session.user.company_id;
    match state.store().create_webhook_endpoint(company, new).await {
        Ok((made, secret)) => {
            tracing::info!(
                endpoint = made.id.0,
                "a webhook endpoint was created on the web"
            );
            let created = Some((made.url, secret.expose().to_owned()));
            let fresh = HookForm {
                enabled: true,
                ..HookForm::default()
            };
            page(
                &state,
                &user,
                &list,
                (StatusCode::OK, None),
                &fresh,
                created,
            )
            .await
        }
        Err(e) => failed(t, &e),
    }
}
