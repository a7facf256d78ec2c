//! SMS templates: `GET /templates` (search, keyset pages, and the new-template form),
//! `POST /templates` (create), `GET /templates/{id}` (edit form and a preview rendered on
//! sample fields, which the GET form `sample.<field>` changes), `POST /templates/{id}`
//! (update) and `POST /templates/{id}/delete`. They call the store and the API's preview
//! exactly as `/api/v1/templates` does; the body's live counter is the send window's.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use ulak_core::model::{NewTemplate, Role, TemplateId, User};

use super::dashboard::other;
use super::i18n::Texts;
use super::messages::problem_texts;
use super::pages::{self, render};
use super::people::{ListForm, Paging};
use super::send_view::{CountView, count_view};
use super::session::WebUser;
use super::settings::list_rows;
use crate::error::ApiError;
use crate::routes::templates::render_preview;
use crate::startup::AppState;

/// A row of the list.
struct Row {
    id: i64,
    name: String,
    body: String,
}

/// The name and body being edited.
#[derive(Debug, Default, Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    body: String,
}

#[derive(Template)]
#[template(path = "web/templates.html")]
struct ListPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a User,
    csrf: &'a str,
    other_language: &'a str,
    may_edit: bool,
    q: &'a str,
    alert: Option<String>,
    rows: Vec<Row>,
    paging: Paging,
    errors: Vec<String>,
    form: EditForm,
    count: CountView,
}

/// `GET /templates`.
pub async fn list(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Query<ListForm>, QueryRejection>,
) -> Response {
    let Ok(Query(form)) = form else {
        return pages::bad_request(user.texts());
    };
    list_page(
        &state,
        &user,
        &form,
        StatusCode::OK,
        Vec::new(),
        EditForm::default(),
    )
    .await
}

async fn list_page(
    state: &AppState,
    user: &WebUser,
    form: &ListForm,
    status: StatusCode,
    errors: Vec<String>,
    edit: EditForm,
) -> Response {
    let t = user.texts();
    let company = user.session.user.company_id;
    let mut alert = None;
    let store = state.store();
    let list = |q| async move { store.list_templates(company, &q).await };
    let row = |x: ulak_core::model::Template| Row {
        id: x.id.0,
        name: x.name,
        body: x.body.as_str().to_owned(),
    };
    let (rows, next) = match list_rows(t, form, &mut alert, list, row).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let count = counted(state, user, &edit.body).await;
    render(
        status,
        &ListPage {
            t,
            active: "templates",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: other(t.language()).as_str(),
            may_edit: user.may(Role::Operator),
            q: form.search(),
            alert,
            paging: form.paging("/templates", next.as_deref()),
            rows,
            errors,
            form: edit,
            count,
        },
    )
}

/// The engine's count of `text`, as the send window shows it.
async fn counted(state: &AppState, user: &WebUser, text: &str) -> CountView {
    if text.is_empty() {
        return CountView::empty();
    }
    count_view(state, user.session.user.company_id, text, user.texts())
        .await
        .unwrap_or_else(CountView::empty)
}

/// The refusal of a POST: a wrong CSRF token, or a role below operator.
fn refusal(user: &WebUser, csrf: &str) -> Option<Response> {
    user.refusal(csrf, Role::Operator)
}

/// `POST /templates`: creates one, or shows the form again with the API's messages.
pub async fn create(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Form<EditForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Form(form)) = form else {
        return pages::bad_request(t);
    };
    if let Some(r) = refusal(&user, &form.csrf) {
        return r;
    }
    let company = user.session.user.company_id;
    let made = match NewTemplate::new(&form.name, &form.body) {
        Ok(new) => state
            .store()
            .create_template(company, new)
            .await
            .map_err(ApiError::from),
        Err(v) => Err(ApiError::from(v)),
    };
    match made {
        Ok(x) => Redirect::to(&format!("/templates/{}", x.id.0)).into_response(),
        Err(e) => {
            let errors = problem_texts(&e, t.language());
            let status = e.into_response().status();
            let list = ListForm::default();
            list_page(&state, &user, &list, status, errors, form).await
        }
    }
}

/// A field of the preview and its sample value.
struct Sample {
    field: String,
    value: String,
}

#[derive(Template)]
#[template(path = "web/template.html")]
struct EditPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a User,
    csrf: &'a str,
    other_language: &'a str,
    may_edit: bool,
    id: i64,
    errors: Vec<String>,
    form: EditForm,
    count: CountView,
    samples: Vec<Sample>,
    preview: Option<String>,
    preview_errors: Vec<String>,
}

/// The default sample of a field: a name for `ad`, a phone for `telefon`, else the field's
/// name in brackets, so each placeholder is visible in the preview.
fn sample_for(t: Texts, field: &str) -> String {
    match field {
        "ad" => t.get("templates.sample_name").to_owned(),
        "telefon" => "0532 123 45 67".to_owned(),
        other => format!("[{other}]"),
    }
}

/// `GET /templates/{id}`: another company's template, or none, is the 404 page.
pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    sample: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Query(sample)) = sample else {
        return pages::bad_request(t);
    };
    let Some(id) = id.parse::<i64>().ok() else {
        return pages::error(StatusCode::NOT_FOUND, t, "templates.not_found");
    };
    let company = user.session.user.company_id;
    let x = match state.store().get_template(company, TemplateId(id)).await {
        Ok(Some(x)) => x,
        Ok(None) => return pages::error(StatusCode::NOT_FOUND, t, "templates.not_found"),
        Err(e) => {
            tracing::error!(error = %e, "reading a template failed");
            return pages::internal(t);
        }
    };
    let samples: Vec<Sample> = x
        .body
        .fields()
        .into_iter()
        .map(|f| Sample {
            field: f.to_owned(),
            value: sample
                .get(&format!("sample.{f}"))
                .cloned()
                .unwrap_or_else(|| sample_for(t, f)),
        })
        .collect();
    let values: BTreeMap<String, String> = samples
        .iter()
        .map(|s| (s.field.clone(), s.value.clone()))
        .collect();
    let (preview, preview_errors) = match render_preview(&state, company, &x.body, &values).await {
        Ok(p) => (Some(p.text), Vec::new()),
        Err(e) => (None, problem_texts(&e, t.language())),
    };
    let form = EditForm {
        csrf: String::new(),
        name: x.name,
        body: x.body.as_str().to_owned(),
    };
    let count = counted(&state, &user, &form.body).await;
    let page = EditPage {
        t,
        active: "templates",
        who: &user.session.user,
        csrf: &user.csrf,
        other_language: other(t.language()).as_str(),
        may_edit: user.may(Role::Operator),
        id,
        errors: Vec::new(),
        form,
        count,
        samples,
        preview,
        preview_errors,
    };
    render(StatusCode::OK, &page)
}

/// `POST /templates/{id}`: saves the name and body, or shows the form again with the API's
/// messages.
pub async fn update(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    form: Result<Form<EditForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let (Ok(Form(form)), Ok(id)) = (form, id.parse::<i64>()) else {
        return pages::bad_request(t);
    };
    if let Some(r) = refusal(&user, &form.csrf) {
        return r;
    }
    let company = user.session.user.company_id;
    let saved = match NewTemplate::new(&form.name, &form.body) {
        Ok(new) => state
            .store()
            .update_template(company, TemplateId(id), new)
            .await
            .map_err(ApiError::from),
        Err(v) => Err(ApiError::from(v)),
    };
    let e = match saved {
        Ok(_) => return Redirect::to(&format!("/templates/{id}")).into_response(),
        Err(ApiError::NotFound) => {
            return pages::error(StatusCode::NOT_FOUND, t, "templates.not_found");
        }
        Err(e) => e,
    };
    let errors = problem_texts(&e, t.language());
    let status = e.into_response().status();
    let count = counted(&state, &user, &form.body).await;
    let page = EditPage {
        t,
        active: "templates",
        who: &user.session.user,
        csrf: &user.csrf,
        other_language: other(t.language()).as_str(),
        may_edit: true,
        id,
        errors,
        form,
        count,
        samples: Vec::new(),
        preview: None,
        preview_errors: Vec::new(),
    };
    render(status, &page)
}

/// The delete form.
#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /templates/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    form: Result<Form<DeleteForm>, FormRejection>,
) -> Response {
    let t = user.texts();
    let (Ok(Form(form)), Ok(id)) = (form, id.parse::<i64>()) else {
        return pages::bad_request(t);
    };
    if let Some(r) = refusal(&user, &form.csrf) {
        return r;
    }
    let company = user.session.user.company_id;
    match state.store().delete_template(company, TemplateId(id)).await {
        Ok(()) => Redirect::to("/templates").into_response(),
        Err(e) => match ApiError::from(e) {
            ApiError::NotFound => pages::error(StatusCode::NOT_FOUND, t, "templates.not_found"),
            e => {
                tracing::error!(code = ?e.code(), "deleting a template failed");
                pages::internal(t)
            }
        },
    }
}
