//! `GET /inbox`: messages subscribers sent to the company (newest first; the API lists them
//! oldest first), each with its subscriber, opt-out and unread marks; `POST /inbox/reply` answers one
//! through the send service the API uses and `POST /inbox/read` marks one read (operators and
//! administrators); administrators also see the delivery reports that matched no message.

use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use ulak_core::model::{CompanyId, ListQuery, Role, SubscriberId, TrafficClass};
use ulak_engine::send::{self, Content, SendRequest, Sent};
use ulak_store::{InboundMessage, StoreError, UnmatchedReceipt};

use super::i18n::Texts;
use super::messages::{encode, problem_texts, state_name, time, zone_of};
use super::pages::{self, render};
use super::session::WebUser;
use crate::error::ApiError;
use crate::startup::AppState;

/// The inbox's query: its page, the unmatched receipts' page, and a reply just queued.
#[derive(Debug, Default, Deserialize)]
pub struct InboxQuery {
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    receipts: Option<String>,
    #[serde(default)]
    sent: Option<i64>,
    /// A message was just sent into the simulator.
    #[serde(default)]
    simulated: Option<u8>,
}

/// An inbound message as the inbox shows it.
struct Item {
    id: i64,
    time: String,
    sender: String,
    recipient: String,
    text: String,
    undecoded: bool,
    complete: bool,
    subscriber: Option<(i64, String)>,
    opt_out: bool,
    unread: bool,
}

/// A delivery report that matched no message.
struct Receipt {
    time: String,
    account: i64,
    operator_id: String,
    state: &'static str,
    error_code: Option<String>,
}

#[derive(Template)]
#[template(path = "web/inbox.html")]
struct InboxPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a ulak_core::model::User,
    csrf: &'a str,
    other_language: &'a str,
    may_reply: bool,
    items: Vec<Item>,
    next: Option<String>,
    receipts: Option<Vec<Receipt>>,
    receipts_next: Option<String>,
    sent: Option<i64>,
    errors: Vec<String>,
    /// The message the errors are about, and the reply typed, kept for the form.
    failed: Option<(i64, String)>,
    /// The company's simulator accounts (administrators): the "from a handset" form.
    simulators: Vec<(i64, String)>,
    simulated: bool,
}

/// What the page shows, read from the store.
struct Content_ {
    items: Vec<Item>,
    next: Option<String>,
    receipts: Option<Vec<Receipt>>,
    receipts_next: Option<String>,
    simulators: Vec<(i64, String)>,
}

/// `GET /inbox`.
pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    query: Result<Query<InboxQuery>, QueryRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Query(q)) = query else {
        return pages::bad_request(t);
    };
    page(&state, &user, &q, Vec::new(), None).await
}

pub(super) async fn page(
    state: &AppState,
    user: &WebUser,
    q: &InboxQuery,
    errors: Vec<String>,
    failed: Option<(i64, String)>,
) -> Response {
    let t = user.texts();
    let read = read(state, user, q).await;
    let c = match read {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            // A cursor that is no cursor: the API's 422, as a page.
            let mut p = inbox_page(user, t, empty(), None, problem_texts(&e, t.language()));
            p.failed = failed;
            return render(StatusCode::UNPROCESSABLE_ENTITY, &p);
        }
        Err(e) => {
            tracing::error!(error = %e, "the inbox failed");
            return pages::internal(t);
        }
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut p = inbox_page(user, t, c, q.sent, errors);
    p.failed = failed;
    p.simulated = q.simulated.is_some();
    render(status, &p)
}

fn empty() -> Content_ {
    Content_ {
        items: Vec::new(),
        next: None,
        receipts: None,
        receipts_next: None,
        simulators: Vec::new(),
    }
}

fn inbox_page<'a>(
    user: &'a WebUser,
    t: Texts,
    c: Content_,
    sent: Option<i64>,
    errors: Vec<String>,
) -> InboxPage<'a> {
    InboxPage {
        t,
        active: "inbox",
        who: &user.session.user,
        csrf: &user.csrf,
        other_language: super::dashboard::other(t.language()).as_str(),
        may_reply: user.may(Role::Operator),
        items: c.items,
        next: c.next,
        receipts: c.receipts,
        receipts_next: c.receipts_next,
        sent,
        errors,
        failed: None,
        simulators: c.simulators,
        simulated: false,
    }
}

/// The page's rows; the inner error is a query the API would refuse (a bad cursor).
async fn read(
    state: &AppState,
    user: &WebUser,
    q: &InboxQuery,
) -> Result<Result<Content_, ApiError>, StoreError> {
    let company = user.session.user.company_id;
    let store = state.store();
    let zone = zone_of(store, company).await?;
    let query = match ListQuery::parse(None, q.cursor.clone(), None, None) {
        Ok(query) => query,
        Err(e) => return Ok(Err(e.into())),
    };
    let page = store.list_inbound_newest(company, &query).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for m in page.items {
        let subscriber = subscriber_of(state, company, m.subscriber_id).await?;
        items.push(item(m, subscriber, &zone));
    }
    let next = page
        .next_cursor
        .map(|c| format!("/inbox?cursor={}", encode(&c)));
    let (mut receipts, mut receipts_next) = (None, None);
    if user.may(Role::Admin) {
        let query = match ListQuery::parse(None, q.receipts.clone(), None, None) {
            Ok(query) => query,
            Err(e) => return Ok(Err(e.into())),
        };
        let page = store.list_unmatched_receipts(company, &query).await?;
        let t = user.texts();
        receipts = Some(page.items.iter().map(|r| receipt(t, r, &zone)).collect());
        receipts_next = page
            .next_cursor
            .map(|c| format!("/inbox?receipts={}#unmatched", encode(&c)));
    }
    Ok(Ok(Content_ {
        items,
        next,
        receipts,
        receipts_next,
        simulators: super::inbox_simulate::accounts(state, user).await?,
    }))
}

/// The linked subscriber's id and name.
async fn subscriber_of(
    state: &AppState,
    company: CompanyId,
    id: Option<SubscriberId>,
) -> Result<Option<(i64, String)>, StoreError> {
    let Some(id) = id else { return Ok(None) };
    Ok(state
        .store()
        .get_subscriber(company, id)
        .await?
        .map(|s| (s.id.0, s.name)))
}

fn item(m: InboundMessage, subscriber: Option<(i64, String)>, zone: &jiff::tz::TimeZone) -> Item {
    Item {
        id: m.id,
        time: time(m.received_at, zone),
        undecoded: m.body.is_empty() && m.body_raw.is_some(),
        sender: m.sender,
        recipient: m.recipient,
        text: m.body,
        complete: m.complete,
        subscriber,
        opt_out: m.opt_out,
        unread: m.read_at.is_none(),
    }
}

fn receipt(t: Texts, r: &UnmatchedReceipt, zone: &jiff::tz::TimeZone) -> Receipt {
    Receipt {
        time: time(r.received_at, zone),
        account: r.provider_account_id,
        operator_id: r.operator_id.clone(),
        state: state_name(t, r.state),
        error_code: r.error_code.clone(),
    }
}

/// The reply form.
#[derive(Debug, Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    csrf: String,
    /// The inbound message answered (to show the form again on an error).
    #[serde(default)]
    inbound: i64,
    /// Its sender. An operator may send to any number, so the form may say it; the send
    /// service checks it as any recipient (opt-out, form, country).
    #[serde(default)]
    to: String,
    #[serde(default)]
    text: String,
}

/// `POST /inbox/reply`: sends `text` to the sender of inbound message `inbound` through the
/// send service (as `POST /api/v1/messages` does), then back to the inbox with its id.
pub async fn reply(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Form<ReplyForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Form(form)) = form else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.refusal(&form.csrf, Role::Operator) {
        return r;
    }
    let company = user.session.user.company_id;
    let request = SendRequest {
        to: form.to,
        content: Content::Text(form.text.clone()),
        sender: None,
        validity: None,
        scheduled_at: None,
        class: TrafficClass::Transactional,
    };
    match send::send(state.store(), company, request, None).await {
        Ok(Sent::Queued(m) | Sent::Replayed { message: m, .. }) => {
            // Answered is read; the reply is queued whatever this says.
            if let Err(e) = state.store().mark_inbound_read(company, form.inbound).await {
                tracing::warn!(error = %e, "marking an answered inbound message read failed");
            }
            Redirect::to(&format!("/inbox?sent={}", m.id.0)).into_response()
        }
        Err(e) => {
            let errors = problem_texts(&ApiError::from(e), t.language());
            let failed = Some((form.inbound, form.text));
            page(&state, &user, &InboxQuery::default(), errors, failed).await
        }
    }
}

/// The mark-read form.
#[derive(Debug, Deserialize)]
pub struct ReadForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    inbound: i64,
}

/// `POST /inbox/read`: marks inbound message `inbound` read, then back to the inbox.
pub async fn read_one(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Form<ReadForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Form(form)) = form else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.refusal(&form.csrf, Role::Operator) {
        return r;
    }
    let company = user.session.user.company_id;
    match state.store().mark_inbound_read(company, form.inbound).await {
        Ok(true) => Redirect::to("/inbox").into_response(),
        Ok(false) => pages::error(StatusCode::NOT_FOUND, t, "inbox.not_found"),
        Err(e) => {
            tracing::error!(error = %e, "marking an inbound message read failed");
            pages::internal(t)
        }
    }
}
