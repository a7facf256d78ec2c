//! SMS templates (`{{ad}}`, `{{bakiye}}` placeholders) and sender headers (originators).

use std::collections::BTreeMap;

use axum::Json as JsonOut;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use ulak_core::model::{
    Attributes, NewSenderHeader, NewTemplate, Role, SenderHeader, SenderHeaderId, SubscriberId,
    Template, TemplateId,
};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{ListParams, Millis, PageOut};
use crate::auth::Caller;
use crate::error::{ApiError, Json, Path, Query};
use crate::startup::AppState;

/// A new template, or a template's new name and body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateIn {
    /// Name, unique in the company.
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub name: String,
    /// Text with `{{field}}` placeholders, e.g. `Sayın {{ad}}, bakiyeniz {{bakiye}} TL.`
    #[schema(
        min_length = 1,
        max_length = 20000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub body: String,
}

/// A template.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateOut {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Body.
    pub body: String,
    /// The placeholders it uses, in order of first use.
    pub fields: Vec<String>,
    /// Created, unix milliseconds.
    pub created_at: Millis,
    /// Last changed, unix milliseconds.
    pub updated_at: Millis,
}

impl From<Template> for TemplateOut {
    fn from(t: Template) -> Self {
        TemplateOut {
            id: t.id.0,
            name: t.name,
            fields: t.body.fields().into_iter().map(str::to_owned).collect(),
            body: t.body.as_str().to_owned(),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// Values to render a template with: a subscriber's name and attributes, and/or given fields
/// (which win).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewIn {
    /// Take `ad` (name), `telefon` (phone) and the attributes of this subscriber.
    #[serde(default)]
    pub subscriber_id: Option<i64>,
    /// Field values.
    #[serde(default)]
    #[schema(value_type = super::schema::AttributeMap)]
    pub fields: BTreeMap<String, String>,
}

/// A rendered template and what it costs.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewOut {
    /// The text as it would be sent.
    pub text: String,
    /// The text engine's count under the default policy (`turkish-shift`).
    #[schema(value_type = Object)]
    pub count: ulak_text::Count,
}

/// A new sender header.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SenderHeaderIn {
    /// Alphanumeric (at most 11, no Turkish letters) or numeric (3 to 15 digits) originator.
    #[schema(value_type = super::schema::Sender)]
    pub name: String,
    /// Make it the default header.
    #[serde(default)]
    pub is_default: bool,
}

/// A sender header.
#[derive(Debug, Serialize, ToSchema)]
pub struct SenderHeaderOut {
    /// Id.
    pub id: i64,
    /// The originator.
    pub name: String,
    /// Whether sends without a header use it.
    pub is_default: bool,
    /// Created, unix milliseconds.
    pub created_at: Millis,
}

impl From<SenderHeader> for SenderHeaderOut {
    fn from(h: SenderHeader) -> Self {
        SenderHeaderOut {
            id: h.id.0,
            name: h.name.as_str().to_owned(),
            is_default: h.is_default,
            created_at: h.created_at,
        }
    }
}

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get_one, update, delete))
        .routes(routes!(preview))
        .routes(routes!(create_header, list_headers))
        .routes(routes!(delete_header))
        .routes(routes!(default_header))
}

/// Creates a template; its syntax is checked (unclosed or empty placeholders are refused with
/// their position).
#[utoipa::path(post, path = "/templates", tag = "templates", request_body = TemplateIn,
    responses((status = 201, body = TemplateOut)), security(("api_key" = [])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(b): Json<TemplateIn>,
) -> Result<(StatusCode, JsonOut<TemplateOut>), ApiError> {
    caller.require(Role::Operator)?;
    let new = NewTemplate::new(&b.name, &b.body)?;
    let t = state.store().create_template(caller.company, new).await?;
    Ok((StatusCode::CREATED, JsonOut(t.into())))
}

/// Lists templates.
#[utoipa::path(get, path = "/templates", tag = "templates", params(ListParams),
    responses((status = 200, body = PageOut<TemplateOut>)), security(("api_key" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<JsonOut<PageOut<TemplateOut>>, ApiError> {
    let page = state
        .store()
        .list_templates(caller.company, &params.query()?)
        .await?;
    Ok(JsonOut(PageOut::from_page(page, TemplateOut::from)))
}

/// Reads a template.
#[utoipa::path(get, path = "/templates/{id}", tag = "templates", params(("id" = i64, Path, description = "Template id")),
    responses((status = 200, body = TemplateOut)), security(("api_key" = [])))]
async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<JsonOut<TemplateOut>, ApiError> {
    let t = state
        .store()
        .get_template(caller.company, TemplateId(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(JsonOut(t.into()))
}

/// Replaces a template's name and body.
#[utoipa::path(put, path = "/templates/{id}", tag = "templates", params(("id" = i64, Path, description = "Template id")),
    request_body = TemplateIn, responses((status = 200, body = TemplateOut)), security(("api_key" = [])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(b): Json<TemplateIn>,
) -> Result<JsonOut<TemplateOut>, ApiError> {
    caller.require(Role::Operator)?;
    let new = NewTemplate::new(&b.name, &b.body)?;
    let t = state
        .store()
        .update_template(caller.company, TemplateId(id), new)
        .await?;
    Ok(JsonOut(t.into()))
}

/// Deletes a template.
#[utoipa::path(delete, path = "/templates/{id}", tag = "templates", params(("id" = i64, Path, description = "Template id")),
    responses((status = 204, description = "Deleted")), security(("api_key" = [])))]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Operator)?;
    state
        .store()
        .delete_template(caller.company, TemplateId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Renders a template for a subscriber or given fields, with its character and segment count;
/// missing fields are a 422 naming each of them.
#[utoipa::path(post, path = "/templates/{id}/preview", tag = "templates", params(("id" = i64, Path, description = "Template id")),
    request_body = PreviewIn, responses((status = 200, body = PreviewOut)), security(("api_key" = [])))]
async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(b): Json<PreviewIn>,
) -> Result<JsonOut<PreviewOut>, ApiError> {
    let t = state
        .store()
        .get_template(caller.company, TemplateId(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut values = BTreeMap::new();
    if let Some(sid) = b.subscriber_id {
        let s = state
            .store()
            .get_subscriber(caller.company, SubscriberId(sid))
            .await?
            .ok_or(ApiError::NotFound)?;
        values.extend(s.attributes.as_map().clone());
        values.insert("ad".to_owned(), s.name);
        values.insert("telefon".to_owned(), s.phone.national());
    }
    values.extend(Attributes::fields(b.fields)?.as_map().clone());
    render_preview(&state, caller.company, &t.body, &values)
        .await
        .map(JsonOut)
}

/// `body` rendered with `values` and counted as sending will count it (under the company's
/// policy): the API's preview and the web template page's.
pub(crate) async fn render_preview(
    state: &AppState,
    company: ulak_core::model::CompanyId,
    body: &ulak_core::model::TemplateBody,
    values: &BTreeMap<String, String>,
) -> Result<PreviewOut, ApiError> {
    let text = body.render_map(values).map_err(|missing| {
        ApiError::Validation(
            missing
                .0
                .into_iter()
                .map(|f| crate::error::FieldError {
                    message: format!("no value for {{{{{f}}}}}"),
                    field: format!("fields.{f}"),
                    code: ulak_core::Code::TemplateFieldMissing,
                })
                .collect(),
        )
    })?;
    let policy = state.store().sending_text_policy(company).await?;
    let count = ulak_text::count(
        &text,
        &ulak_text::Options {
            policy,
            ..ulak_text::Options::default()
        },
    )
    .map_err(|e| ApiError::field("body", ulak_core::Code::TextUnencodable, e.to_string()))?;
    Ok(PreviewOut { text, count })
}

/// Adds a sender header (admin); a new default replaces the old one.
#[utoipa::path(post, path = "/sender-headers", tag = "sms-settings", request_body = SenderHeaderIn,
    responses((status = 201, body = SenderHeaderOut)), security(("api_key" = [])))]
async fn create_header(
    State(state): State<AppState>,
    caller: Caller,
    Json(b): Json<SenderHeaderIn>,
) -> Result<(StatusCode, JsonOut<SenderHeaderOut>), ApiError> {
    caller.require(Role::Admin)?;
    let new = NewSenderHeader::new(&b.name, b.is_default)?;
    let h = state
        .store()
        .create_sender_header(caller.company, new)
        .await?;
    Ok((StatusCode::CREATED, JsonOut(h.into())))
}

/// Lists sender headers.
#[utoipa::path(get, path = "/sender-headers", tag = "sms-settings", params(ListParams),
    responses((status = 200, body = PageOut<SenderHeaderOut>)), security(("api_key" = [])))]
async fn list_headers(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<JsonOut<PageOut<SenderHeaderOut>>, ApiError> {
    let page = state
        .store()
        .list_sender_headers(caller.company, &params.query()?)
        .await?;
    Ok(JsonOut(PageOut::from_page(page, SenderHeaderOut::from)))
}

/// Deletes a sender header (admin).
#[utoipa::path(delete, path = "/sender-headers/{id}", tag = "sms-settings", params(("id" = i64, Path, description = "Sender header id")),
    responses((status = 204, description = "Deleted")), security(("api_key" = [])))]
async fn delete_header(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    state
        .store()
        .delete_sender_header(caller.company, SenderHeaderId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Makes a sender header the default (admin).
#[utoipa::path(post, path = "/sender-headers/{id}/default", tag = "sms-settings", params(("id" = i64, Path, description = "Sender header id")),
    responses((status = 200, body = SenderHeaderOut)), security(("api_key" = [])))]
async fn default_header(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<JsonOut<SenderHeaderOut>, ApiError> {
    caller.require(Role::Admin)?;
    let h = state
        .store()
        .set_default_sender_header(caller.company, SenderHeaderId(id))
        .await?;
    Ok(JsonOut(h.into()))
}
