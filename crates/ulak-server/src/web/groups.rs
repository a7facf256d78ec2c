//! `GET /groups` (search, keyset pages, marks for "Toplu SMS"), `GET /groups/{id}` (the
//! members, paged and searchable, and a search for subscribers to add), and the member forms
//! `POST /groups/{id}/members/add` and `…/remove` (operator role or above), which call the
//! store exactly as `POST`/`DELETE /api/v1/groups/{id}/members` do.

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use ulak_core::model::{Group, GroupId, Role, User};
use ulak_store::StoreError;

use super::dashboard::other;
use super::i18n::Texts;
use super::pages::{self, render};
use super::people::{self, ListForm, Paging};
use super::session::WebUser;
use super::settings::list_rows;
use super::subscribers::{Row, row};
use crate::routes::groups::{MembersIn, member_ids};
use crate::startup::AppState;

/// How many subscribers the "add members" search shows.
const CANDIDATES: u32 = 20;

/// A row of the group list.
struct GroupRow {
    id: i64,
    name: String,
    description: String,
}

impl From<Group> for GroupRow {
    fn from(g: Group) -> Self {
        GroupRow {
            id: g.id.0,
            name: g.name.as_str().to_owned(),
            description: g.description.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "web/groups.html")]
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
    rows: Vec<GroupRow>,
    paging: Paging,
}

/// `GET /groups`.
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
    let list = |q| async move { store.list_groups(company, &q).await };
    let (rows, next) = match list_rows(t, &form, &mut alert, list, GroupRow::from).await {
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
            tab: "groups",
            may_send: user.may(Role::Operator),
            q: form.search(),
            alert,
            paging: form.paging("/groups", next.as_deref()),
            rows,
        },
    )
}

/// The "add members" search of a group's page.
#[derive(Debug, Default, Deserialize)]
pub struct FindForm {
    /// Name or phone of the subscribers to add.
    find: Option<String>,
}

#[derive(Template)]
#[template(path = "web/group.html")]
struct GroupPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a User,
    csrf: &'a str,
    other_language: &'a str,
    tab: &'a str,
    may_edit: bool,
    group: GroupRow,
    q: &'a str,
    alert: Option<String>,
    rows: Vec<Row>,
    paging: Paging,
    find: &'a str,
    candidates: Vec<Row>,
}

/// `GET /groups/{id}`: another company's group, or no such one, is the 404 page.
pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    form: Result<Query<ListForm>, QueryRejection>,
    find: Result<Query<FindForm>, QueryRejection>,
) -> Response {
    let t = user.texts();
    let (Ok(Query(form)), Ok(Query(find))) = (form, find) else {
        return pages::bad_request(t);
    };
    let Some(id) = id.parse::<i64>().ok().map(GroupId) else {
        return pages::error(StatusCode::NOT_FOUND, t, "people.not_found");
    };
    let company = user.session.user.company_id;
    let store = state.store();
    let group = match store.get_group(company, id).await {
        Ok(Some(g)) => g,
        Ok(None) => return pages::error(StatusCode::NOT_FOUND, t, "people.not_found"),
        Err(e) => return failed(t, &e),
    };
    let mut alert = None;
    let (rows, next) = match form.query(None, Some(group.id)) {
        Err(code) => {
            alert = Some(people::refusal(t, code));
            (Vec::new(), None)
        }
        Ok(q) => match store.list_subscribers(company, &q).await {
            Ok(page) => (page.items.into_iter().map(row).collect(), page.next_cursor),
            Err(e) => return failed(t, &e),
        },
    };
    let may_edit = user.may(Role::Operator);
    let search = ListForm {
        q: find.find.clone().filter(|f| !f.trim().is_empty()),
        ..ListForm::default()
    };
    let mut candidates = Vec::new();
    if may_edit && search.q.is_some() {
        match search.query(Some(CANDIDATES), None) {
            Err(code) => alert = Some(people::refusal(t, code)),
            Ok(q) => match store.list_subscribers(company, &q).await {
                Ok(page) => candidates = page.items.into_iter().map(row).collect(),
                Err(e) => return failed(t, &e),
            },
        }
    }
    let path = format!("/groups/{}", group.id.0);
    render(
        StatusCode::OK,
        &GroupPage {
            t,
            active: "people",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: other(t.language()).as_str(),
            tab: "groups",
            may_edit,
            group: group.into(),
            q: form.search(),
            alert,
            rows,
            paging: form.paging(&path, next.as_deref()),
            find: find.find.as_deref().unwrap_or(""),
            candidates,
        },
    )
}

fn failed(t: Texts, e: &StoreError) -> Response {
    tracing::error!(error = %e, "a group page failed");
    pages::internal(t)
}

/// `POST /groups/{id}/members/add`: the marked subscribers join the group.
pub async fn add(
    state: State<AppState>,
    user: WebUser,
    id: Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    change(state, user, id, form, true).await
}

/// `POST /groups/{id}/members/remove`: the marked members leave the group.
pub async fn remove(
    state: State<AppState>,
    user: WebUser,
    id: Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    change(state, user, id, form, false).await
}

async fn change(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
    add: bool,
) -> Response {
    let t = user.texts();
    let Ok(Form(fields)) = form else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.refusal(people::field(&fields, "csrf"), Role::Operator) {
        return r;
    }
    let Some(group) = id.parse::<i64>().ok().map(GroupId) else {
        return pages::error(StatusCode::NOT_FOUND, t, "people.not_found");
    };
    let Some(subscriber_ids) = people::ids(&fields, "subscribers") else {
        return pages::bad_request(t);
    };
    let Ok(members) = member_ids(&MembersIn { subscriber_ids }) else {
        return pages::bad_request(t);
    };
    let company = user.session.user.company_id;
    let done = if add {
        state
            .store()
            .add_group_members(company, group, &members)
            .await
    } else {
        state
            .store()
            .remove_group_members(company, group, &members)
            .await
    };
    match done {
        Ok(_) => Redirect::to(&format!("/groups/{}", group.0)).into_response(),
        Err(StoreError::NotFound) => pages::error(StatusCode::NOT_FOUND, t, "people.not_found"),
        Err(e) => failed(t, &e),
    }
}
