//! The settings screens' credit tab: `GET /settings/credit`, the balance and the ledger in
//! keyset pages, for every role as `GET /api/v1/credit` and `/credit/entries`. Purchases and
//! adjustments are the system administrator's (API key) alone, and no web user is one, so the
//! page has no form.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use ulak_core::model::{CreditEntry, LedgerKind, Role, User};

use super::dashboard::other;
use super::format;
use super::i18n::Texts;
use super::pages::{self, render};
use super::people::{self, ListForm, Paging};
use super::session::WebUser;
use super::settings::{failed, zone};
use crate::startup::AppState;

/// A ledger row, written for the page.
struct EntryRow {
    kind: &'static str,
    amount: String,
    note: String,
    balance_after: String,
    when: String,
}

fn kind_key(k: LedgerKind) -> &'static str {
    match k {
        LedgerKind::Purchase => "settings.credit.kind.purchase",
        LedgerKind::Adjustment => "settings.credit.kind.adjustment",
        LedgerKind::Reservation => "settings.credit.kind.reservation",
        LedgerKind::Charge => "settings.credit.kind.charge",
        LedgerKind::Release => "settings.credit.kind.release",
    }
}

fn entry_row(e: CreditEntry, t: Texts, zone: &str) -> EntryRow {
    let sign = if e.amount > 0 { "+" } else { "" };
    EntryRow {
        kind: kind_key(e.kind),
        amount: format!("{sign}{}", format::integer(e.amount, t.language())),
        note: e.note.unwrap_or_default(),
        balance_after: format::integer(e.balance_after, t.language()),
        when: people::when(e.created_at, zone),
    }
}

#[derive(Template)]
#[template(path = "web/settings_credit.html")]
struct CreditPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a User,
    csrf: &'a str,
    other_language: &'a str,
    tab: &'a str,
    is_admin: bool,
    alert: Option<String>,
    balance: String,
    rows: Vec<EntryRow>,
    paging: Paging,
}

/// `GET /settings/credit`.
pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Query<ListForm>, QueryRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Query(form)) = form else {
        return pages::bad_request(t);
    };
    let company = user.session.user.company_id;
    let store = state.store();
    let balance = match store.credit_balance(company).await {
        Ok(b) => format::integer(b, t.language()),
        Err(e) => return failed(t, &e),
    };
    let zone = zone(&state, company).await;
    let mut alert = None;
    let (rows, next) = match form.query(None, None) {
        Err(code) => {
            alert = Some(people::refusal(t, code));
            (Vec::new(), None)
        }
        Ok(q) => match store.list_credit_entries(company, &q).await {
            Ok(page) => {
                let rows = page.items.into_iter().map(|e| entry_row(e, t, zone));
                (rows.collect(), page.next_cursor)
            }
            Err(e) => return failed(t, &e),
        },
    };
    render(
        StatusCode::OK,
        &CreditPage {
            t,
            active: "settings",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: other(t.language()).as_str(),
            tab: "credit",
            is_admin: user.may(Role::Admin),
            alert,
            balance,
            rows,
            paging: form.paging("/settings/credit", next.as_deref()),
        },
    )
}
