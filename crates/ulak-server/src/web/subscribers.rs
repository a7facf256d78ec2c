//! `GET /subscribers` (search, keyset pages, marks for "Toplu SMS") and `GET /subscribers/{id}`
//! (the subscriber's card: phone, masked TC ID number, groups, opt-out state, latest messages).
//! Phones are shown in full, as the API shows them to every role of the company.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use ulak_core::model::{Consent, Group, MessageState, Role, Subscriber, SubscriberId, User};
use ulak_store::{MessageFilter, MessageSummary};

use super::dashboard::other;
use super::i18n::Texts;
use super::pages::{self, render};
use super::people::{self, ListForm, Paging};
use super::session::WebUser;
use super::settings::list_rows;
use crate::startup::AppState;

/// How many of a subscriber's latest messages the card shows.
const LATEST: u32 = 10;

/// A list row.
pub struct Row {
    pub id: i64,
    pub name: String,
    pub phone: String,
    pub consent: &'static str,
}

#[derive(Template)]
#[template(path = "web/subscribers.html")]
struct ListPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a User,
    csrf: &'a str,
    other_language: &'a str,
    tab: &'a str,
    may_send: bool,
    q: &'a str,
    alert: Option<String>,
    rows: Vec<Row>,
    paging: Paging,
}

/// `GET /subscribers`.
pub async fn list(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Query<ListForm>, QueryRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Query(form)) = form else {
        return pages::bad_request(t);
    };
    let company = user.session.user.company_id;
    let mut alert = None;
    let store = state.store();
    let list = |q| async move { store.list_subscribers(company, &q).await };
    let (rows, next) = match list_rows(t, &form, &mut alert, list, row).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    render(
        StatusCode::OK,
        &ListPage {
            t,
            active: "people",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: other(t.language()).as_str(),
            tab: "subscribers",
            may_send: user.may(Role::Operator),
            q: form.search(),
            alert,
            paging: form.paging("/subscribers", next.as_deref()),
            rows,
        },
    )
}

/// A subscriber as a list row.
pub fn row(s: Subscriber) -> Row {
    Row {
        id: s.id.0,
        phone: s.phone.e164().to_owned(),
        consent: consent_key(s.consent),
        name: s.name,
    }
}

/// The catalogue key of a consent state.
pub fn consent_key(c: Consent) -> &'static str {
    match c {
        Consent::Unknown => "subscribers.consent.unknown",
        Consent::OptedIn => "subscribers.consent.opted_in",
        Consent::OptedOut => "subscribers.consent.opted_out",
    }
}

/// One of the card's latest messages.
struct Message {
    at: String,
    state: &'static str,
    sender: String,
    segments: u32,
}

#[derive(Template)]
#[template(path = "web/subscriber.html")]
struct CardPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a User,
    csrf: &'a str,
    other_language: &'a str,
    tab: &'a str,
    may_send: bool,
    s: Row,
    tckn: Option<String>,
    opted_out: bool,
    groups: Vec<Group>,
    messages: Vec<Message>,
}

/// `GET /subscribers/{id}`: another company's subscriber, or no such one, is the 404 page.
pub async fn card(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Response {
    let t = user.texts();
    let company = user.session.user.company_id;
    let Some(id) = id.parse::<i64>().ok().map(SubscriberId) else {
        return pages::error(StatusCode::NOT_FOUND, t, "people.not_found");
    };
    let found = async {
        let Some(s) = state.store().get_subscriber(company, id).await? else {
            return Ok(None);
        };
        let opted_out = state.store().is_opted_out(company, &s.phone).await?;
        let groups = state.store().subscriber_groups(company, id).await?;
        let zone = state
            .store()
            .get_company(company)
            .await?
            .map_or("Europe/Istanbul", |c| c.country_type.time_zone());
        let filter = MessageFilter {
            recipient: Some(s.phone.e164().to_owned()),
            ..MessageFilter::default()
        };
        let latest = state
            .store()
            .list_messages(company, &filter, None, LATEST)
            .await?;
        let messages = latest.items.iter().map(|m| message(m, zone)).collect();
        Ok::<_, ulak_store::StoreError>(Some((s, opted_out, groups, messages)))
    };
    let (s, opted_out, groups, messages) = match found.await {
        Ok(Some(f)) => f,
        Ok(None) => return pages::error(StatusCode::NOT_FOUND, t, "people.not_found"),
        Err(e) => {
            tracing::error!(error = %e, "reading a subscriber's card failed");
            return pages::internal(t);
        }
    };
    let tckn = s.tckn.as_ref().map(people::masked_tckn);
    render(
        StatusCode::OK,
        &CardPage {
            t,
            active: "people",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: other(t.language()).as_str(),
            tab: "subscribers",
            may_send: user.may(Role::Operator),
            s: row(s),
            tckn,
            opted_out,
            groups,
            messages,
        },
    )
}

fn message(m: &MessageSummary, zone: &str) -> Message {
    Message {
        at: people::when(m.created_at, zone),
        state: state_key(m.state),
        sender: m.sender.clone(),
        segments: m.segments,
    }
}

/// The catalogue key of a message state.
fn state_key(s: MessageState) -> &'static str {
    match s {
        MessageState::Scheduled => "subscribers.state.scheduled",
        MessageState::Queued => "subscribers.state.queued",
        MessageState::Sending => "subscribers.state.sending",
        MessageState::Submitted => "subscribers.state.submitted",
        MessageState::Delivered => "subscribers.state.delivered",
        MessageState::Undeliverable => "subscribers.state.undeliverable",
        MessageState::Expired => "subscribers.state.expired",
        MessageState::Rejected => "subscribers.state.rejected",
        MessageState::Unknown => "subscribers.state.unknown",
        MessageState::Failed => "subscribers.state.failed",
        MessageState::Cancelled => "subscribers.state.cancelled",
        MessageState::Skipped => "subscribers.state.skipped",
    }
}
