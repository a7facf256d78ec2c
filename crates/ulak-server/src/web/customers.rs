//! `GET /customers`: the customer accounts ("Cari Hesaplar") with search, keyset pages, and
//! marks for "Toplu SMS" (sent to the send window as `/send?customers=<id>&customers=<id>…`).

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use ulak_core::model::{CustomerAccount, CustomerKind, Role, User};

use super::dashboard::other;
use super::i18n::Texts;
use super::pages::{self, render};
use super::people::{self, ListForm, Paging};
use super::session::WebUser;
use super::settings::list_rows;
use crate::startup::AppState;

/// A list row.
struct Row {
    id: i64,
    code: String,
    title: String,
    kind: &'static str,
    phones: String,
    balance: String,
}

fn row(c: CustomerAccount, t: Texts) -> Row {
    Row {
        id: c.id.0,
        kind: match c.kind {
            CustomerKind::Customer => "customers.kind.customer",
            CustomerKind::Supplier => "customers.kind.supplier",
        },
        phones: c
            .phones
            .iter()
            .map(|p| p.e164())
            .collect::<Vec<_>>()
            .join(", "),
        balance: people::money(c.balance_minor, t),
        code: c.code,
        title: c.title,
    }
}

#[derive(Template)]
#[template(path = "web/customers.html")]
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

/// `GET /customers`.
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
    let list = |q| async move { store.list_customer_accounts(company, &q).await };
    let (rows, next) = match list_rows(t, &form, &mut alert, list, |c| row(c, t)).await {
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
            tab: "customers",
            may_send: user.may(Role::Operator),
            q: form.search(),
            alert,
            paging: form.paging("/customers", next.as_deref()),
            rows,
        },
    )
}
