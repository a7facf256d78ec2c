//! `GET /messages`: the message log with the API's filters (time range as days of the
//! company's zone, state, recipient, campaign, sender), newest first, keyset paged by the
//! store's message cursor; `GET /messages/{id}`: one message's timeline. The filters are read
//! by the same check as `GET /api/v1/messages`, and the rows by the same store call.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use ulak_core::model::{CompanyId, Language, MessageId, MessageState};
use ulak_store::{MessageDetail, MessageSummary, Store, StoreError};

use super::format;
use super::i18n::Texts;
use super::pages::{self, render};
use super::session::WebUser;
use crate::routes::message_list::{MessageParams, checked};
use crate::startup::AppState;

/// The log's filter form as the browser sends it (empty fields are no filter).
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    campaign: String,
    #[serde(default)]
    sender: String,
    #[serde(default)]
    cursor: String,
}

/// A row of the log.
struct Row {
    id: i64,
    time: String,
    recipient: String,
    sender: String,
    state: &'static str,
    state_code: &'static str,
    campaign: Option<i64>,
    segments: String,
    cost: String,
}

/// A state for the filter's picker.
struct StateOption {
    code: &'static str,
    name: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "web/messages.html")]
struct LogPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a ulak_core::model::User,
    csrf: &'a str,
    other_language: &'a str,
    f: &'a Filters,
    states: Vec<StateOption>,
    rows: Vec<Row>,
    errors: Vec<String>,
    next: Option<String>,
    export: Option<i64>,
}

/// The company's time zone (its country type's), as the dashboard reads it.
pub(super) async fn zone_of(
    store: &Store,
    company: CompanyId,
) -> Result<jiff::tz::TimeZone, StoreError> {
    let name = store
        .get_company(company)
        .await?
        .map_or("Europe/Istanbul", |c| c.country_type.time_zone());
    Ok(jiff::tz::TimeZone::get(name).unwrap_or(jiff::tz::TimeZone::UTC))
}

/// `ms` (unix milliseconds) on `zone`'s clock as Turkish write it: 06.12.2026 14:05.
pub(super) fn time(ms: i64, zone: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| zone.to_datetime(t).strftime("%d.%m.%Y %H:%M").to_string())
        .unwrap_or_default()
}

/// The catalogue's name of a state.
pub(super) fn state_name(t: Texts, s: MessageState) -> &'static str {
    let key: &'static str = match s {
        MessageState::Scheduled => "messages.state.scheduled",
        MessageState::Queued => "messages.state.queued",
        MessageState::Sending => "messages.state.sending",
        MessageState::Submitted => "messages.state.submitted",
        MessageState::Delivered => "messages.state.delivered",
        MessageState::Undeliverable => "messages.state.undeliverable",
        MessageState::Expired => "messages.state.expired",
        MessageState::Rejected => "messages.state.rejected",
        MessageState::Unknown => "messages.state.unknown",
        MessageState::Failed => "messages.state.failed",
        MessageState::Cancelled => "messages.state.cancelled",
        MessageState::Skipped => "messages.state.skipped",
    };
    t.get(key)
}

/// Unix ms of midnight starting `day` (`yyyy-mm-dd`) in `zone`, `days` later; `None` when it
/// is no date.
fn midnight(day: &str, days: i64, zone: &jiff::tz::TimeZone) -> Option<i64> {
    let date: jiff::civil::Date = day.parse().ok()?;
    let date = date.checked_add(jiff::Span::new().days(days)).ok()?;
    let at = zone
        .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .ok()?;
    Some(at.as_millisecond())
}

fn given(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// The API's parameters for the form; form errors (dates, campaign) as catalogue keys.
fn params_of(f: &Filters, zone: &jiff::tz::TimeZone) -> (MessageParams, Vec<&'static str>) {
    let mut bad = Vec::new();
    let mut day = |s: &str, days: i64| {
        let s = given(s)?;
        let ms = midnight(&s, days, zone);
        if ms.is_none() {
            bad.push("messages.date_invalid");
        }
        ms
    };
    // The "to" day is included: the range ends at the next midnight.
    let (from, to) = (day(&f.from, 0), day(&f.to, 1));
    let campaign = given(&f.campaign).and_then(|c| {
        let id = c.parse::<i64>().ok().filter(|id| *id > 0);
        if id.is_none() {
            bad.push("messages.campaign_invalid");
        }
        id
    });
    let p = MessageParams {
        state: given(&f.state),
        campaign,
        recipient: given(&f.recipient),
        sender: given(&f.sender),
        from,
        to,
        cursor: given(&f.cursor),
        limit: None,
    };
    (p, bad)
}

/// The query string of `f` with `cursor` (to the next page).
fn next_href(f: &Filters, cursor: &str) -> String {
    let pairs = [
        ("from", &f.from),
        ("to", &f.to),
        ("state", &f.state),
        ("recipient", &f.recipient),
        ("campaign", &f.campaign),
        ("sender", &f.sender),
    ];
    let mut q: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v.trim())))
        .collect();
    q.push(format!("cursor={}", encode(cursor)));
    format!("/messages?{}", q.join("&"))
}

/// Percent-encodes all but unreserved characters.
pub(super) fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn row(t: Texts, m: &MessageSummary, zone: &jiff::tz::TimeZone) -> Row {
    let n = |v: i64| format::integer(v, t.language());
    Row {
        id: m.id,
        time: time(m.created_at, zone),
        recipient: m.recipient.clone(),
        sender: m.sender.clone(),
        state: state_name(t, m.state),
        state_code: m.state.as_str(),
        campaign: m.campaign_id,
        segments: n(i64::from(m.segments)),
        cost: n(m.cost),
    }
}

/// `GET /messages`.
pub async fn list(
    State(state): State<AppState>,
    user: WebUser,
    query: Result<Query<Filters>, QueryRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Query(f)) = query else {
        return pages::bad_request(t);
    };
    let company = user.session.user.company_id;
    let zone = match zone_of(state.store(), company).await {
        Ok(z) => z,
        Err(e) => {
            tracing::error!(error = %e, "the message log's zone failed");
            return pages::internal(t);
        }
    };
    let (params, bad) = params_of(&f, &zone);
    let mut errors: Vec<String> = bad.iter().map(|k| t.get(k).to_owned()).collect();
    let mut rows = Vec::new();
    let mut next = None;
    if errors.is_empty() {
        match checked(&state, company, params).await {
            Ok(r) => match state
                .store()
                .list_messages(company, &r.filter, r.after, r.limit)
                .await
            {
                Ok(page) => {
                    rows = page.items.iter().map(|m| row(t, m, &zone)).collect();
                    next = page.next_cursor.as_deref().map(|c| next_href(&f, c));
                }
                Err(e) => {
                    tracing::error!(error = %e, "the message log failed");
                    return pages::internal(t);
                }
            },
            Err(e) => errors = problem_texts(&e, t.language()),
        }
    }
    let states = MessageState::ALL
        .iter()
        .map(|s| StateOption {
            code: s.as_str(),
            name: state_name(t, *s),
            selected: f.state.trim() == s.as_str(),
        })
        .collect();
    let export = given(&f.campaign).and_then(|c| c.parse::<i64>().ok());
    let page = LogPage {
        t,
        active: "messages",
        who: &user.session.user,
        csrf: &user.csrf,
        other_language: super::dashboard::other(t.language()).as_str(),
        f: &f,
        states,
        rows,
        errors,
        next,
        export: export.filter(|_| bad.is_empty()),
    };
    let status = if page.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render(status, &page)
}

/// The texts of an API error in the user's language: each field's, or the error's own.
pub(super) fn problem_texts(e: &crate::error::ApiError, language: Language) -> Vec<String> {
    let p = e.problem().in_lang(language.into());
    if p.errors.is_empty() {
        p.detail.into_iter().collect()
    } else {
        p.errors
            .into_iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect()
    }
}

/// `GET /messages/export?campaign=N`.
#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    campaign: i64,
}

/// `GET /messages/export?campaign=N`: the campaign's messages as the API's streamed CSV
/// (`GET /api/v1/campaigns/{id}/export`); another company's campaign is the 404 page.
pub async fn export(
    State(state): State<AppState>,
    user: WebUser,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Query(q)) = query else {
        return pages::bad_request(t);
    };
    let company = user.session.user.company_id;
    match state.store().get_campaign_lean(company, q.campaign).await {
        Ok(Some(_)) => crate::routes::message_list::export::stream(state, company, q.campaign),
        Ok(None) => pages::error(StatusCode::NOT_FOUND, t, "messages.campaign_not_found"),
        Err(e) => {
            tracing::error!(error = %e, "reading a campaign to export failed");
            pages::internal(t)
        }
    }
}

/// A step of a message's timeline.
struct Step {
    time: String,
    what: String,
    detail: Option<String>,
}

/// A segment as the operator took it.
struct Part {
    no: u32,
    operator_id: String,
    state: &'static str,
    error_code: Option<String>,
    submitted: String,
    receipt: Option<String>,
}

#[derive(Template)]
#[template(path = "web/message.html")]
struct MessagePage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a ulak_core::model::User,
    csrf: &'a str,
    other_language: &'a str,
    id: i64,
    recipient: String,
    sender: String,
    text: String,
    state: &'static str,
    state_code: &'static str,
    is_final: bool,
    reason: Option<String>,
    since: String,
    campaign: Option<i64>,
    segments: String,
    cost: String,
    error_code: Option<String>,
    steps: Vec<Step>,
    parts: Vec<Part>,
}

/// `GET /messages/{id}`: another company's message, or none, is the 404 page.
pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Path(id)) = id else {
        return pages::error(StatusCode::NOT_FOUND, t, "messages.not_found");
    };
    let company = user.session.user.company_id;
    let found = async {
        let zone = zone_of(state.store(), company).await?;
        let d = state.store().get_message(company, MessageId(id)).await?;
        Ok::<_, StoreError>((zone, d))
    }
    .await;
    let (zone, detail) = match found {
        Ok((zone, Some(d))) => (zone, d),
        Ok((_, None)) => return pages::error(StatusCode::NOT_FOUND, t, "messages.not_found"),
        Err(e) => {
            tracing::error!(error = %e, "reading a message failed");
            return pages::internal(t);
        }
    };
    render(StatusCode::OK, &message_page(&user, t, &zone, detail))
}

fn message_page<'a>(
    user: &'a WebUser,
    t: Texts,
    zone: &jiff::tz::TimeZone,
    d: MessageDetail,
) -> MessagePage<'a> {
    let m = d.message;
    let n = |v: i64| format::integer(v, t.language());
    // Accepted first; then the stored history (queued, submitted with the operator's id,
    // receipts with their status and error), oldest first.
    let mut steps = vec![Step {
        time: time(m.created_at, zone),
        what: t.get("messages.accepted").to_owned(),
        detail: None,
    }];
    steps.extend(d.events.iter().map(|e| Step {
        time: time(e.at, zone),
        what: state_name(t, e.state).to_owned(),
        detail: e.detail.clone(),
    }));
    let parts = d
        .parts
        .iter()
        .map(|p| Part {
            no: p.part_no,
            operator_id: p.operator_id.clone(),
            state: state_name(t, p.state),
            error_code: p.error_code.clone(),
            submitted: time(p.submitted_at, zone),
            receipt: p.receipt_at.map(|r| time(r, zone)),
        })
        .collect();
    MessagePage {
        t,
        active: "messages",
        who: &user.session.user,
        csrf: &user.csrf,
        other_language: super::dashboard::other(t.language()).as_str(),
        id: m.id.0,
        recipient: m.recipient,
        sender: m.sender,
        text: m.body,
        state: state_name(t, m.state),
        state_code: m.state.as_str(),
        is_final: m.state.is_final(),
        reason: m.state_reason,
        since: time(m.state_at, zone),
        campaign: m.campaign_id,
        segments: n(i64::from(m.segments)),
        cost: n(m.cost),
        error_code: m.error_code,
        steps,
        parts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_a_name_in_both_catalogues() {
        for language in [Language::Tr, Language::En] {
            let t = Texts::new(language);
            for s in MessageState::ALL {
                let name = state_name(t, s);
                assert!(!name.starts_with("messages."), "{language:?} lacks {s:?}");
            }
        }
        assert_eq!(
            state_name(Texts::new(Language::Tr), MessageState::Delivered),
            "İletildi"
        );
    }

    #[test]
    fn days_are_the_company_zones_and_the_to_day_is_included() {
        let ist = jiff::tz::TimeZone::get("Europe/Istanbul").unwrap_or(jiff::tz::TimeZone::UTC);
        // 2026-03-01 00:00 in Istanbul (UTC+3) is 2026-02-28 21:00 UTC.
        assert_eq!(midnight("2026-03-01", 0, &ist), Some(1_772_312_400_000));
        assert_eq!(
            midnight("2026-03-01", 1, &ist),
            Some(1_772_312_400_000 + 86_400_000)
        );
        assert_eq!(midnight("01.03.2026", 0, &ist), None);
        assert_eq!(time(1_772_312_400_000, &ist), "01.03.2026 00:00");
        let baku = jiff::tz::TimeZone::get("Asia/Baku").unwrap_or(jiff::tz::TimeZone::UTC);
        assert_eq!(time(1_772_312_400_000, &baku), "01.03.2026 01:00");
    }

    #[test]
    fn the_next_page_keeps_the_filters() {
        let f = Filters {
            state: "delivered".into(),
            recipient: "0532 123".into(),
            ..Filters::default()
        };
        assert_eq!(
            next_href(&f, "m1.2"),
            "/messages?state=delivered&recipient=0532%20123&cursor=m1.2"
        );
    }
}
