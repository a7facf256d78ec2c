//! `GET /campaigns`: the company's campaigns newest first, by state if asked, each with its
//! progress; and the delivery chart of one campaign's page. The list is the store's campaign
//! list (as `GET /api/v1/campaigns`), newest first, with each row's counts per state.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use ulak_core::model::{CampaignState, CompanyId, ListQuery, MessageState, User};
use ulak_store::{Campaign, Store, StoreError};

use super::campaign::{Progress, progress_of};
use super::chart::{self, Chart, Series};
use super::dashboard::other;
use super::i18n::Texts;
use super::pages::{self, render};
use super::people::{self, ListForm, Paging, when};
use super::session::WebUser;
use crate::startup::AppState;

/// Rows per page: each row counts its campaign's messages.
const PAGE: u32 = 20;
/// Most buckets of a delivery chart.
const BUCKETS: i64 = 48;

/// A campaign's row in a list.
pub(super) struct CampaignRow {
    pub(super) id: i64,
    pub(super) name: String,
    /// When it was (or is to be) sent: its schedule, else its creation, on the company's clock.
    pub(super) when: String,
    pub(super) scheduled: bool,
    /// Messages delivered, and ended without reaching the handset.
    pub(super) delivered: String,
    pub(super) failed: String,
    pub(super) p: Progress,
}

/// `campaigns` with their counts, for a list.
pub(super) async fn rows(
    store: &Store,
    company: CompanyId,
    campaigns: Vec<Campaign>,
    zone: &str,
    t: Texts,
) -> Result<Vec<CampaignRow>, StoreError> {
    let mut out = Vec::with_capacity(campaigns.len());
    for c in campaigns {
        let counts = store.campaign_counts(company, c.id).await?;
        let sum = |pick: fn(MessageState) -> bool| {
            let n = counts
                .iter()
                .filter(|(s, _)| s.parse::<MessageState>().is_ok_and(pick))
                .map(|(_, n)| n)
                .sum();
            super::format::integer(n, t.language())
        };
        out.push(CampaignRow {
            delivered: sum(|s| s == MessageState::Delivered),
            failed: sum(MessageState::is_failure),
            id: c.id,
            when: when(c.scheduled_at.unwrap_or(c.created_at), zone),
            scheduled: c.scheduled_at.is_some(),
            p: progress_of(c.state.as_str(), &counts, t),
            name: c.name,
        });
    }
    Ok(out)
}

/// The list's query string.
#[derive(Debug, Default, Deserialize)]
pub struct CampaignsForm {
    /// Only campaigns in this state (empty: all).
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    back: Option<String>,
}

#[derive(Template)]
#[template(path = "web/campaigns.html")]
struct CampaignsPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a User,
    csrf: &'a str,
    other_language: &'a str,
    states: Vec<(&'static str, &'static str)>,
    chosen: &'a str,
    alert: Option<String>,
    rows: Vec<CampaignRow>,
    paging: Paging,
}

/// `GET /campaigns`.
pub async fn list(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Query<CampaignsForm>, QueryRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Query(form)) = form else {
        return pages::bad_request(t);
    };
    let chosen = form.state.as_deref().unwrap_or("");
    let wanted = match chosen {
        "" => None,
        s => match s.parse::<CampaignState>() {
            Ok(s) => Some(s),
            Err(_) => return pages::bad_request(t),
        },
    };
    let list = ListForm {
        q: None,
        cursor: form.cursor,
        back: form.back,
    };
    let company = user.session.user.company_id;
    let zone = super::settings::zone(&state, company).await;
    let mut alert = None;
    let (rows, next) = match list.query(Some(PAGE), None) {
        Err(code) => {
            alert = Some(people::refusal(t, code));
            (Vec::new(), None)
        }
        Ok(q) => match page(state.store(), company, &q, wanted, zone, t).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "the campaign list failed");
                return pages::internal(t);
            }
        },
    };
    let extra: Vec<(&str, String)> = wanted
        .map(|s| ("state", s.as_str().to_owned()))
        .into_iter()
        .collect();
    render(
        StatusCode::OK,
        &CampaignsPage {
            t,
            active: "campaigns",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: other(t.language()).as_str(),
            states: CampaignState::ALL
                .iter()
                .map(|s| (s.as_str(), super::campaign::campaign_state_key(Some(*s))))
                .collect(),
            chosen,
            alert,
            rows,
            paging: list.paging_with("/campaigns", next.as_deref(), &extra),
        },
    )
}

async fn page(
    store: &Store,
    company: CompanyId,
    q: &ListQuery,
    wanted: Option<CampaignState>,
    zone: &str,
    t: Texts,
) -> Result<(Vec<CampaignRow>, Option<String>), StoreError> {
    let page = store.list_campaigns_newest(company, q, wanted).await?;
    let rows = rows(store, company, page.items, zone, t).await?;
    Ok((rows, page.next_cursor))
}

/// The delivery chart of a campaign started at `started` (unix ms) and finished at
/// `finished` (or running now): delivered and failed messages per time bucket, the bucket
/// chosen by the span. `None` before it started.
pub(super) async fn delivery_chart(
    store: &Store,
    company: CompanyId,
    campaign: i64,
    started: Option<i64>,
    finished: Option<i64>,
    zone: &str,
    t: Texts,
) -> Result<Option<Chart>, StoreError> {
    let Some(started) = started else {
        return Ok(None);
    };
    // Whole minutes, as the counts behind the chart are kept.
    let from = started - started.rem_euclid(60_000);
    let to = finished.unwrap_or_else(|| jiff::Timestamp::now().as_millisecond());
    let span = to.saturating_sub(from).max(1);
    let step = chart::bucket_for(span, BUCKETS);
    let n = usize::try_from(chart::ceil_div(span, step))
        .unwrap_or(1)
        .max(1);
    let buckets = store
        .campaign_delivery(company, campaign, from, step, n)
        .await?;
    let format = if step >= 24 * 3_600_000 {
        "%d.%m"
    } else if span > 24 * 3_600_000 {
        "%d.%m %H:%M"
    } else {
        "%H:%M"
    };
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let label = |i: usize| {
        let at = from.saturating_add(step.saturating_mul(i64::try_from(i).unwrap_or(0)));
        jiff::Timestamp::from_millisecond(at)
            .map(|ts| tz.to_datetime(ts).strftime(format).to_string())
            .unwrap_or_default()
    };
    let (delivered, failed): (i64, i64) = buckets
        .iter()
        .fold((0, 0), |(d, f), b| (d + b.delivered, f + b.failed));
    let n_text = |v| super::format::integer(v, t.language());
    let desc = t
        .with("chart.delivery_desc", "delivered", &n_text(delivered))
        .replace("{failed}", &n_text(failed));
    Ok(Some(chart::bars(
        "delivery",
        t.get("chart.delivery").to_owned(),
        desc,
        vec![
            Series {
                name: t.get("campaign.msg.delivered").to_owned(),
                class: "bar-delivered",
            },
            Series {
                name: t.get("chart.failed").to_owned(),
                class: "bar-failed",
            },
        ],
        buckets
            .iter()
            .enumerate()
            .map(|(i, b)| (label(i), vec![b.delivered, b.failed]))
            .collect(),
        t,
    )))
}
