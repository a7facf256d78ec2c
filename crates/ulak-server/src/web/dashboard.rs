//! `GET /`: the dashboard: the remaining credit and today's messages by outcome, today being
//! the company's day in its own time zone.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use ulak_core::model::{CompanyId, Language, MessageState};
use ulak_store::{Store, StoreError};

use super::format;
use super::i18n::Texts;
use super::pages::{self, render};
use super::session::WebUser;
use crate::startup::AppState;

/// Today's messages by outcome, formatted.
struct Today {
    accepted: String,
    delivered: String,
    failed: String,
    pending: String,
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
}

/// `GET /`.
pub async fn show(State(state): State<AppState>, user: WebUser) -> Response {
    let t = user.texts();
    let company = user.session.user.company_id;
    let figures = figures(state.store(), company, t.language()).await;
    let (credit, today) = match figures {
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
            credit,
            today,
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

async fn figures(
    store: &Store,
    company: CompanyId,
    language: Language,
) -> Result<(String, Today), StoreError> {
    let credit = store.credit_balance(company).await?;
    let zone = store
        .get_company(company)
        .await?
        .map_or("Europe/Istanbul", |c| c.country_type.time_zone());
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
    let today = Today {
        accepted: n(sum(|s| s != MessageState::Skipped)),
        delivered: n(sum(|s| s == MessageState::Delivered)),
        failed: n(sum(|s| {
            s.is_final()
                && !matches!(
                    s,
                    MessageState::Delivered | MessageState::Cancelled | MessageState::Skipped
                )
        })),
        pending: n(sum(|s| !s.is_final())),
    };
    Ok((format::integer(credit, language), today))
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
