//! Campaigns (bulk SMS): create a draft for an audience, preview it, start, pause, resume,
//! cancel, and follow its counts per state.

use std::collections::BTreeMap;
use ulak_core::Code;

use axum::Json as JsonOut;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use ulak_core::model::{
    CampaignAction, CampaignState, CompanyId, DEFAULT_VALIDITY_S, Role, SenderName, TemplateBody,
    TemplateId, ValidationErrors, check_schedule, check_validity, limits, validation,
};
use ulak_engine::campaign::{self, Audience, PlanError, Started};
use ulak_engine::text_list::TextList;
use ulak_store::Campaign;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

mod out;

pub use out::{CampaignOut, PreviewOut, QueueingOut, QueueingState, SkippedOut};

use super::common::{ListParams, Millis, PageOut};
use crate::auth::Caller;
use crate::error::{ApiError, FieldError, Json, Path, Query};
use crate::startup::AppState;
use out::out;

/// Who a campaign goes to; duplicates are collapsed.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AudienceIn {
    /// Subscribers by id.
    #[serde(default)]
    pub subscriber_ids: Vec<i64>,
    /// Every member of these groups.
    #[serde(default)]
    pub group_ids: Vec<i64>,
    /// Every phone of these customer accounts.
    #[serde(default)]
    pub customer_ids: Vec<i64>,
    /// Pasted numbers in any common form.
    #[serde(default)]
    #[schema(value_type = Vec<super::schema::PastedNumber>)]
    pub numbers: TextList,
    /// TC ID numbers (TC-ID header and subscription needed).
    #[serde(default)]
    #[schema(value_type = Vec<super::schema::PastedTckn>)]
    pub tckns: TextList,
}

/// A new campaign (a draft until started).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignIn {
    /// Name.
    #[schema(
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub name: String,
    /// Recipients.
    pub audience: AudienceIn,
    /// The text; `{{ad}}`, `{{bakiye}}`… are filled per recipient. Or `template_id`.
    #[serde(default)]
    #[schema(
        max_length = 20000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub text: Option<String>,
    /// A saved template.
    #[serde(default)]
    pub template_id: Option<i64>,
    /// One of the company's sender headers (default: the default header).
    #[serde(default)]
    #[schema(value_type = Option<super::schema::Sender>)]
    pub sender: Option<String>,
    /// Send at this time (unix ms) instead of at start: from now to one year ahead.
    #[serde(default)]
    pub scheduled_at: Option<Millis>,
    /// Validity of each message, seconds (60 to 259200, default 86400).
    #[serde(default)]
    #[schema(minimum = 60, maximum = 259200)]
    pub validity: Option<u64>,
    /// Start at once (default: stay a draft for preview).
    #[serde(default)]
    pub start: bool,
}

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get_one))
        .routes(routes!(preview))
        .routes(routes!(start))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(cancel))
}

/// What the company lacks to plan a campaign (a provider account, its sender header) is a
/// conflict with its setup, not a fault of the request: 409 naming the field to fix.
fn plan_error(e: PlanError) -> ApiError {
    match e {
        PlanError::Setup {
            field,
            code,
            message,
        } => ApiError::ConflictFields(vec![FieldError {
            field: field.to_owned(),
            code,
            message,
        }]),
        PlanError::Store(s) => s.into(),
    }
}

async fn load(
    state: &AppState,
    company: CompanyId,
    id: i64,
) -> Result<(Campaign, Audience), ApiError> {
    let mut c = state
        .store()
        .get_campaign(company, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    // Parsed once and the text dropped: a million pasted numbers are 15 MB of JSON, and nothing
    // after this reads the campaign's copy.
    let json = std::mem::take(&mut c.audience);
    let audience: Audience = serde_json::from_str(&json)
        .map_err(|e| ApiError::Internal(format!("stored audience unreadable: {e}")))?;
    Ok((c, audience))
}

/// The campaign with its live counts and queueing.
async fn answer(state: &AppState, c: Campaign) -> Result<JsonOut<CampaignOut>, ApiError> {
    let q = state.store().campaign_queueing(c.company_id, c.id).await?;
    let counts = state.store().campaign_counts(c.company_id, c.id).await?;
    Ok(JsonOut(out(c, counts, q.as_ref())))
}

/// A start or resume as recorded, with the live counts: its queueing as the call left it (a
/// task may have written some since; `GET` shows the progress).
async fn answer_started(state: &AppState, s: Started) -> Result<JsonOut<CampaignOut>, ApiError> {
    let Some(q) = s.queueing else {
        return answer(state, s.campaign).await;
    };
    let c = s.campaign;
    let counts = state.store().campaign_counts(c.company_id, c.id).await?;
    Ok(JsonOut(out(c, counts, Some(&q))))
}

/// A campaign's text: the given one, or the template's body; a valid template, not blank.
async fn campaign_text(
    state: &AppState,
    company: CompanyId,
    text: Option<String>,
    template_id: Option<i64>,
    errors: &mut ValidationErrors,
) -> Result<Option<String>, ApiError> {
    let body = match (text, template_id) {
        (Some(t), None) => Some(t),
        (None, Some(id)) => {
            let t = state.store().get_template(company, TemplateId(id)).await?;
            if t.is_none() {
                errors.push("template_id", Code::TemplateUnknown, "no such template");
            }
            t.map(|t| t.body.as_str().to_owned())
        }
        _ => {
            errors.push(
                "text",
                Code::TextMissing,
                "give text or template_id (one of them)",
            );
            None
        }
    };
    Ok(body.and_then(|t| {
        let parsed = errors.take("text", TemplateBody::parse(&t));
        if parsed.is_some() && t.trim().is_empty() {
            errors.push("text", Code::TextEmpty, "must not be empty");
            return None;
        }
        parsed.map(|_| t)
    }))
}

/// A campaign's sender header: none (the default at start), or one of the company's, like
/// every id the request names (`Some(None)` for none, `None` when refused).
async fn campaign_sender(
    state: &AppState,
    company: CompanyId,
    sender: Option<&str>,
    errors: &mut ValidationErrors,
) -> Result<Option<Option<SenderName>>, ApiError> {
    let Some(s) = sender else {
        return Ok(Some(None));
    };
    let Some(name) = errors.take("sender", SenderName::parse(s)) else {
        return Ok(None);
    };
    let found = state
        .store()
        .find_sender_header(company, Some(name.as_str()))
        .await?;
    if found.is_none() {
        let m = "not one of the company's sender headers";
        errors.push("sender", Code::SenderUnknown, m);
        return Ok(None);
    }
    Ok(Some(Some(name)))
}

/// Creates a campaign (a draft; `start: true` starts it at once). The text and audience are
/// checked — every subscriber, group and customer account id must be the company's (a 422
/// names each unknown one); recipients are resolved at preview and at start.
#[utoipa::path(post, path = "/campaigns", tag = "campaigns", request_body = CampaignIn,
    responses((status = 201, body = CampaignOut)), security(("api_key" = [])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(b): Json<CampaignIn>,
) -> Result<(StatusCode, JsonOut<CampaignOut>), ApiError> {
    caller.require(Role::Operator)?;
    let (c, audience) = create_draft(&state, caller.company, b, false).await?;
    let JsonOut(o) = match audience {
        Some(audience) => {
            let s = campaign::start(state.store(), state.writers(), &c, audience)
                .await
                .map_err(plan_error)?;
            answer_started(&state, s).await?
        }
        None => answer(&state, c).await?,
    };
    Ok((StatusCode::CREATED, JsonOut(o)))
}

/// Checks `b` and stores it as a draft of `company` (the web's send window creates its
/// campaigns here too, with `preview`: purged if left a draft for a day); the audience comes
/// back when `b.start` asks to start it at once.
pub(crate) async fn create_draft(
    state: &AppState,
    company: CompanyId,
    b: CampaignIn,
    preview: bool,
) -> Result<(Campaign, Option<Audience>), ApiError> {
    let mut errors = ValidationErrors::default();
    let name = errors.take("name", validation::text(&b.name, limits::CAMPAIGN_NAME));
    let body = campaign_text(state, company, b.text, b.template_id, &mut errors).await?;
    let sender = campaign_sender(state, company, b.sender.as_deref(), &mut errors).await?;
    let audience = Audience {
        subscriber_ids: b.audience.subscriber_ids,
        group_ids: b.audience.group_ids,
        customer_ids: b.audience.customer_ids,
        numbers: b.audience.numbers,
        tckns: b.audience.tckns,
    };
    // Unknown ids are refused now, not skipped when the campaign starts.
    let audience_errors = ulak_engine::audience::check(state.store(), company, &audience).await?;
    errors.0.extend(audience_errors.0);
    let validity = match check_validity(b.validity) {
        Ok(v) => v,
        Err(e) => {
            errors.push("validity", e.code, e.message);
            DEFAULT_VALIDITY_S
        }
    };
    if let Some(at) = b.scheduled_at
        && let Err(e) = check_schedule(at, ulak_engine::worker::now_ms())
    {
        errors.push("scheduled_at", e.code, e.message);
    }
    let (Some(name), Some(body), Some(sender), true) = (name, body, sender, errors.is_empty())
    else {
        return Err(errors.into());
    };
    let audience_json = serde_json::to_string(&audience).unwrap_or_default();
    // A draft's recipients are read again at start: not kept while the row is written (a
    // million pasted numbers are about 50 MB as strings).
    let audience = b.start.then_some(audience);
    let c = state
        .store()
        .create_campaign(
            company,
            ulak_store::NewCampaign {
                name,
                sender: sender.map(|s| s.as_str().to_owned()),
                body,
                audience: audience_json,
                scheduled_at: b.scheduled_at,
                validity_s: i64::try_from(validity).unwrap_or(0),
                preview,
            },
        )
        .await?;
    Ok((c, audience))
}

/// Lists campaigns.
#[utoipa::path(get, path = "/campaigns", tag = "campaigns", params(ListParams),
    responses((status = 200, body = PageOut<CampaignOut>)), security(("api_key" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<JsonOut<PageOut<CampaignOut>>, ApiError> {
    let page = state
        .store()
        .list_campaigns(caller.company, &params.query()?)
        .await?;
    let ids: Vec<i64> = page.items.iter().map(|c| c.id).collect();
    let queueings = state
        .store()
        .campaign_queueings(caller.company, &ids)
        .await?;
    Ok(JsonOut(PageOut::from_page(page, |c| {
        let q = queueings.get(&c.id);
        out(c, BTreeMap::new(), q)
    })))
}

/// Reads a campaign with live counts of its messages per state.
#[utoipa::path(get, path = "/campaigns/{id}", tag = "campaigns", params(("id" = i64, Path, description = "Campaign id")),
    responses((status = 200, body = CampaignOut)), security(("api_key" = [])))]
async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<JsonOut<CampaignOut>, ApiError> {
    read(&state, caller.company, id).await.map(JsonOut)
}

/// `company`'s campaign `id` with its live counts (the API's `GET` and the web's progress).
pub(crate) async fn read(
    state: &AppState,
    company: CompanyId,
    id: i64,
) -> Result<CampaignOut, ApiError> {
    // Without the audience: it can be megabytes, and progress is polled.
    let c = state
        .store()
        .get_campaign_lean(company, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    answer(state, c).await.map(|JsonOut(o)| o)
}

/// What the campaign would send now: recipients, segments, cost, the balance, and who is
/// left out and why.
#[utoipa::path(get, path = "/campaigns/{id}/preview", tag = "campaigns", params(("id" = i64, Path, description = "Campaign id")),
    responses(
        (status = 200, body = PreviewOut),
        (status = 409, description = "The company lacks what sending needs (a provider account, the campaign's sender header)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<JsonOut<PreviewOut>, ApiError> {
    previewed(&state, caller.company, id).await.map(JsonOut)
}

/// What `company`'s campaign `id` would send now.
pub(crate) async fn previewed(
    state: &AppState,
    company: CompanyId,
    id: i64,
) -> Result<PreviewOut, ApiError> {
    let (c, audience) = load(state, company, id).await?;
    let p = campaign::plan(state.store(), &c, &audience)
        .await
        .map_err(plan_error)?;
    let balance = state.store().credit_balance(company).await?;
    Ok(PreviewOut {
        recipients: usize::try_from(p.recipients).unwrap_or(usize::MAX),
        segments: p.segments,
        cost: p.cost,
        balance,
        duplicates: p.duplicates,
        skipped_total: p.skipped.len(),
        skipped: p
            .skipped
            .into_iter()
            .take(1000)
            .map(|s| SkippedOut {
                kind: s.kind,
                address: s.address,
                reason: s.reason,
            })
            .collect(),
        samples: p.samples,
    })
}

/// Starts a draft and answers at once, the campaign `running` with its `queueing` under way:
/// its messages are queued (one credit reservation) and sent from the first ones on, and who
/// is left out is recorded (before the answer for an audience of up to 5,000 entries). A
/// campaign the balance cannot cover sends nothing: it is `paused` with the reason, in the
/// answer for an audience of up to 5,000 entries, once the audience is priced
/// (`queueing.state` `pricing`) for a larger one.
#[utoipa::path(post, path = "/campaigns/{id}/start", tag = "campaigns", params(("id" = i64, Path, description = "Campaign id")),
    responses((status = 200, body = CampaignOut)), security(("api_key" = [])))]
async fn start(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<JsonOut<CampaignOut>, ApiError> {
    caller.require(Role::Operator)?;
    started(&state, caller.company, id).await.map(JsonOut)
}

/// Starts `company`'s draft `id`.
pub(crate) async fn started(
    state: &AppState,
    company: CompanyId,
    id: i64,
) -> Result<CampaignOut, ApiError> {
    let (c, audience) = load(state, company, id).await?;
    if c.state != CampaignState::Draft {
        return Err(ApiError::Conflict(format!(
            "the campaign is {}, not a draft",
            c.state
        )));
    }
    let s = campaign::start(state.store(), state.writers(), &c, audience)
        .await
        .map_err(plan_error)?;
    answer_started(state, s).await.map(|JsonOut(o)| o)
}

/// Pauses a running campaign: its remaining messages are not handed out any more (what is
/// already at the operator finishes). A queueing under way goes on writing its recipients,
/// which wait, paused.
#[utoipa::path(post, path = "/campaigns/{id}/pause", tag = "campaigns", params(("id" = i64, Path, description = "Campaign id")),
    responses((status = 200, body = CampaignOut)), security(("api_key" = [])))]
async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<JsonOut<CampaignOut>, ApiError> {
    caller.require(Role::Operator)?;
    acted(&state, caller.company, id, CampaignAction::Pause)
        .await
        .map(JsonOut)
}

/// Pauses or cancels `company`'s campaign `id`, by a user (the API's and the web's buttons).
pub(crate) async fn acted(
    state: &AppState,
    company: CompanyId,
    id: i64,
    action: CampaignAction,
) -> Result<CampaignOut, ApiError> {
    let reason = match action {
        CampaignAction::Cancel => "cancelled by a user",
        _ => "paused by a user",
    };
    let c = state
        .store()
        .set_campaign_state(company, id, action, Some(reason))
        .await?;
    answer(state, c).await.map(|JsonOut(o)| o)
}

/// Resumes a paused campaign (one paused for credit before anything was queued starts now, as
/// a start does; one whose queueing stopped for credit goes on queueing). Answers at once.
#[utoipa::path(post, path = "/campaigns/{id}/resume", tag = "campaigns", params(("id" = i64, Path, description = "Campaign id")),
    responses((status = 200, body = CampaignOut)), security(("api_key" = [])))]
async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<JsonOut<CampaignOut>, ApiError> {
    caller.require(Role::Operator)?;
    resumed(&state, caller.company, id).await.map(JsonOut)
}

/// Resumes `company`'s paused campaign `id`.
pub(crate) async fn resumed(
    state: &AppState,
    company: CompanyId,
    id: i64,
) -> Result<CampaignOut, ApiError> {
    let (c, audience) = load(state, company, id).await?;
    let s = campaign::resume(state.store(), state.writers(), &c, audience)
        .await
        .map_err(plan_error)?;
    answer_started(state, s).await.map(|JsonOut(o)| o)
}

/// Cancels a campaign: messages not yet submitted are cancelled and their credit released; a
/// queueing under way stops, and the recipients it had not written are counted in
/// `queueing.not_queued`.
#[utoipa::path(post, path = "/campaigns/{id}/cancel", tag = "campaigns", params(("id" = i64, Path, description = "Campaign id")),
    responses((status = 200, body = CampaignOut)), security(("api_key" = [])))]
async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<JsonOut<CampaignOut>, ApiError> {
    caller.require(Role::Operator)?;
    acted(&state, caller.company, id, CampaignAction::Cancel)
        .await
        .map(JsonOut)
}
