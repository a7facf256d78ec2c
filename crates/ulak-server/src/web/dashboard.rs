//! `GET /`: the dashboard: the remaining credit and today's messages by outcome (today being
//! the company's day in its own time zone), the last seven days as a chart, the latest
//! campaigns with their progress, unread inbound messages, and how each provider account of
//! the company is doing on this node.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use ulak_core::model::{CompanyId, Language, ListQuery, MessageState};
use ulak_store::{Store, StoreError, UNREAD_COUNT_MAX};

use super::campaigns::{self, CampaignRow};
use super::chart::{self, Chart, Series};
use super::dashboard_providers::{ProviderRow, provider_rows};
use super::format;
use super::i18n::Texts;
use super::pages::{self, render};
use super::people::when;
use super::session::WebUser;
use crate::startup::AppState;

/// Days in the chart.
const DAYS: i64 = 7;
/// Campaigns and unread messages shown.
const LATEST_CAMPAIGNS: u32 = 5;
const LATEST_UNREAD: i64 = 3;
/// How much of an unread message's text the dashboard shows.
const SNIPPET: usize = 80;

/// Today's messages by outcome, formatted.
struct Today {
    accepted: String,
    delivered: String,
    failed: String,
    pending: String,
}

/// An unread inbound message, shortened.
struct Unread {
    sender: String,
    when: String,
    text: String,
}

#[derive(Template)]
#[template(path = "web/dashboard.html")]
struct DashboardPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a ulak_core::model::User,
    csrf: &'a str,
    other_language: &'a str,
    credit: String,
    today: Today,
    chart: Chart,
    rows: Vec<CampaignRow>,
    unread_count: String,
    unread: Vec<Unread>,
    providers: Vec<ProviderRow>,
}

/// Everything the dashboard shows but the header.
struct Figures {
    credit: String,
    today: Today,
    chart: Chart,
    rows: Vec<CampaignRow>,
    unread_count: String,
    unread: Vec<Unread>,
    providers: Vec<ProviderRow>,
}

/// `GET /`.
pub async fn show(State(state): State<AppState>, user: WebUser) -> Response {
    let t = user.texts();
    let company = user.session.user.company_id;
    let f = match figures(&state, company, t).await {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "the dashboard's figures failed");
            return pages::internal(t);
        }
    };
    render(
        StatusCode::OK,
        &DashboardPage {
            t,
            active: "dashboard",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: other(t.language()).as_str(),
            credit: f.credit,
            today: f.today,
            chart: f.chart,
            rows: f.rows,
            unread_count: f.unread_count,
            unread: f.unread,
            providers: f.providers,
        },
    )
}

/// The language the switch offers.
pub(super) fn other(l: Language) -> Language {
    match l {
        Language::Tr => Language::En,
        Language::En => Language::Tr,
    }
}

async fn figures(state: &AppState, company: CompanyId, t: Texts) -> Result<Figures, StoreError> {
    let store = state.store();
    let language = t.language();
    let credit = store.credit_balance(company).await?;
    let zone = store
        .get_company(company)
        .await?
        .map_or("Europe/Istanbul", |c| c.country_type.time_zone());
    let today = today(store, company, zone, language).await?;
    let chart = week_chart(store, company, zone, t).await?;
    let latest = ListQuery {
        limit: Some(LATEST_CAMPAIGNS),
        ..ListQuery::default()
    };
    let page = store.list_campaigns_newest(company, &latest, None).await?;
    let rows = campaigns::rows(store, company, page.items, zone, t).await?;
    let (n, items) = store.unread_inbound(company, LATEST_UNREAD).await?;
    let mut unread_count = format::integer(n, language);
    if n >= UNREAD_COUNT_MAX {
        unread_count.push('+');
    }
    let unread = items
        .into_iter()
        .map(|m| Unread {
            sender: m.sender,
            when: when(m.received_at, zone),
            text: snippet(&m.body),
        })
        .collect();
    let providers = provider_rows(state, company, zone, t).await?;
    Ok(Figures {
        credit: format::integer(credit, language),
        today,
        chart,
        rows,
        unread_count,
        unread,
        providers,
    })
}

/// The first [`SNIPPET`] characters of `text`, with an ellipsis when cut.
fn snippet(text: &str) -> String {
    let mut out: String = text.chars().take(SNIPPET).collect();
    if text.chars().nth(SNIPPET).is_some() {
        out.push('…');
    }
    out
}

async fn today(
    store: &Store,
    company: CompanyId,
    zone: &str,
    language: Language,
) -> Result<Today, StoreError> {
    let (from, to) = today_in(zone);
    let counts = store.message_state_counts(company, from, to).await?;
    let sum = |pick: fn(MessageState) -> bool| -> i64 {
        counts
            .iter()
            .filter(|(s, _)| pick(*s))
            .map(|(_, n)| n)
            .sum()
    };
    let n = |v: i64| format::integer(v, language);
    Ok(Today {
        accepted: n(sum(|s| s != MessageState::Skipped)),
        delivered: n(sum(|s| s == MessageState::Delivered)),
        failed: n(sum(MessageState::is_failure)),
        pending: n(sum(|s| !s.is_final())),
    })
}

/// The last [`DAYS`] days (today the last) as accepted, delivered and failed per day.
async fn week_chart(
    store: &Store,
    company: CompanyId,
    zone: &str,
    t: Texts,
) -> Result<Chart, StoreError> {
    let (bounds, labels) = days_in(zone, DAYS);
    let days = store.daily_message_counts(company, &bounds).await?;
    let total = |f: fn(&ulak_store::DayCounts) -> i64| {
        format::integer(days.iter().map(f).sum(), t.language())
    };
    let desc = t
        .with("dashboard.week_desc", "accepted", &total(|d| d.accepted))
        .replace("{delivered}", &total(|d| d.delivered))
        .replace("{failed}", &total(|d| d.failed));
    let series = [
        ("dashboard.accepted", "bar-accepted"),
        ("dashboard.delivered", "bar-delivered"),
        ("dashboard.failed", "bar-failed"),
    ]
    .into_iter()
    .map(|(key, class)| Series {
        name: t.get(key).to_owned(),
        class,
    })
    .collect();
    let columns = labels
        .into_iter()
        .zip(&days)
        .map(|(label, d)| (label, vec![d.accepted, d.delivered, d.failed]))
        .collect();
    Ok(chart::bars(
        "week",
        t.get("dashboard.week").to_owned(),
        desc,
        series,
        columns,
        t,
    ))
}

/// The starts of the last `n` days on `zone`'s clock (unix ms, today's last) and the start of
/// tomorrow, with each day's label (dd.mm).
fn days_in(zone: &str, n: i64) -> (Vec<i64>, Vec<String>) {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let today = tz.to_datetime(jiff::Timestamp::now()).date();
    let mut bounds = Vec::new();
    let mut labels = Vec::new();
    for back in (-1..n).rev() {
        let Ok(day) = today.checked_sub(jiff::Span::new().days(back)) else {
            continue;
        };
        let start = tz
            .to_timestamp(day.to_datetime(jiff::civil::Time::midnight()))
            .map_or(0, |ts| ts.as_millisecond());
        bounds.push(start);
        if back >= 0 {
            labels.push(day.strftime("%d.%m").to_string());
        }
    }
    (bounds, labels)
}

/// Today's bounds in unix ms on `zone`'s clock (UTC if the zone were missing).
fn today_in(zone: &str) -> (i64, i64) {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let now = jiff::Timestamp::now();
    let midnight = tz
        .to_datetime(now)
        .date()
        .to_datetime(jiff::civil::Time::midnight());
    let start = tz
        .to_timestamp(midnight)
        .map_or_else(|_| now.as_millisecond(), |t| t.as_millisecond());
    // Messages are stamped when accepted: none is created after now.
    (start, i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_days_end_with_tomorrows_start() {
        let (bounds, labels) = days_in("Europe/Istanbul", 7);
        assert_eq!((bounds.len(), labels.len()), (8, 7));
        assert!(bounds.windows(2).all(|w| w[1] - w[0] == 86_400_000));
        let (today, _) = today_in("Europe/Istanbul");
        assert_eq!(bounds[6], today);
    }

    #[test]
    fn snippets_are_cut_on_characters() {
        assert_eq!(snippet("kısa"), "kısa");
        let long = "ş".repeat(SNIPPET + 1);
        assert_eq!(snippet(&long).chars().count(), SNIPPET + 1);
        assert!(snippet(&long).ends_with('…'));
    }
}
