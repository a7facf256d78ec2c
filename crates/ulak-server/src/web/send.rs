//! `GET /send`, `POST /send`: the bulk-send window ("Toplu Mesaj Gönder"): recipients by group,
//! passed-in subscribers and customer accounts, pasted numbers and TC ID numbers; the text,
//! typed or from a template, counted by the server's text engine; the sender header; the
//! credit and this send's cost; the validity of the messages. A send is previewed first
//! (`send_preview`: a draft through the API's `POST /campaigns` and its preview) and started
//! from the preview through the API's `/start`. `POST /send/count`: the live
//! counter's JSON, the API's `POST /api/v1/count` answer for the company.

use askama::Template;
use axum::Json as JsonOut;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;
use ulak_core::Code;
use ulak_core::model::{CampaignState, CompanyId, Role, TemplateId, TextCount};
use ulak_engine::send::PRICE_PER_SEGMENT;

use super::format;
use super::i18n::Texts;
use super::pages::{self, render};
use super::send_view::{self, Hint, SendForm, View, hint, lang};
use super::session::{self, WebUser};
use super::{send_picker, send_preview};
use crate::error::{ApiError, Json};
use crate::routes::campaigns::{AudienceIn, CampaignIn, previewed, started};
use crate::routes::count::{CountRequest, counted};
use crate::startup::AppState;

/// One message of a refused send: the field it is about and the reason, both catalogue or
/// error-code texts.
pub(super) struct ErrorLine {
    pub field: &'static str,
    pub text: &'static str,
}

#[derive(Template)]
#[template(path = "web/send.html")]
struct SendPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a ulak_core::model::User,
    csrf: &'a str,
    other_language: &'a str,
    may_send: bool,
    form: &'a SendForm,
    view: &'a View,
    credit: String,
    recipients: String,
    cost: String,
    over_credit: bool,
    price: i64,
    errors: &'a [ErrorLine],
    /// The fields the text can name: placeholder and what it holds.
    fields: Vec<(&'static str, String, &'static str)>,
}

/// `GET /send`: opens with the subscribers, customer accounts and groups the query names,
/// as lists (`?subscribers=1,2`) or repeated (`?customers=3&customers=4`, as the lists'
/// "Toplu SMS" forms send them).
pub async fn form(
    State(state): State<AppState>,
    user: WebUser,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let Ok(Query(pairs)) = query else {
        return pages::bad_request(user.texts());
    };
    let mut f = SendForm::default();
    for (k, v) in &pairs {
        let list = match k.as_str() {
            "subscribers" => &mut f.subscribers,
            "customers" => &mut f.customers,
            "groups" => &mut f.groups,
            _ => continue,
        };
        list.extend(send_view::ids(Some(v)));
    }
    page(&state, &user, &f, &[], StatusCode::OK).await
}

/// The window for `form`, with `errors` above it.
pub(super) async fn page(
    state: &AppState,
    user: &WebUser,
    form: &SendForm,
    errors: &[ErrorLine],
    status: StatusCode,
) -> Response {
    let t = user.texts();
    let view = match send_view::load(state, company(user), form, t).await {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "the send window's data failed");
            return pages::internal(t);
        }
    };
    let segments = view.count.segments_n;
    let segments = i64::try_from(segments).unwrap_or(i64::MAX);
    let cost = segments
        .saturating_mul(view.recipients)
        .saturating_mul(PRICE_PER_SEGMENT);
    let n = |v: i64| format::integer(v, t.language());
    render(
        status,
        &SendPage {
            t,
            active: "send",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: super::dashboard::other(t.language()).as_str(),
            may_send: user.may(Role::Operator),
            form,
            credit: n(view.credit),
            recipients: n(view.recipients),
            cost: n(cost),
            over_credit: cost > view.credit,
            price: PRICE_PER_SEGMENT,
            view: &view,
            errors,
            fields: send_picker::FIELDS
                .iter()
                .map(|(name, key)| (*name, format!("{{{{{name}}}}}"), t.get(key)))
                .collect(),
        },
    )
}

fn company(user: &WebUser) -> CompanyId {
    user.session.user.company_id
}

/// `POST /send`: `action` is `preview` (or `send` without a draft), `send` with the draft a
/// preview made, `edit` (back from a preview), or `template` (fill the text from the chosen
/// template), `replace` (put the GSM stand-in for the character forcing UCS-2), `field`
/// (append a field's placeholder) or `count`, which show the window again: without
/// JavaScript these do what the page's script does in place.
pub async fn submit(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Some(mut f) = form.ok().and_then(|Form(p)| SendForm::from_pairs(p)) else {
        return pages::bad_request(t);
    };
    if let Some(r) = user.refusal(&f.csrf, Role::Operator) {
        return r;
    }
    let mut errors = Vec::new();
    match f.action.as_str() {
        // Nothing is sent without its preview: a send with no draft previews first.
        "send" => match f.draft {
            Some(id) => return send(&state, &user, f, id).await,
            None => return send_preview::preview(&state, &user, f).await,
        },
        "preview" => return send_preview::preview(&state, &user, f).await,
        "edit" => {
            if let Some(id) = f.draft.take() {
                send_preview::drop_draft(&state, company(&user), id).await;
            }
        }
        "field" => send_picker::insert_field(&mut f),
        "template" => {
            let Some(id) = f.template else {
                return page(&state, &user, &f, &errors, StatusCode::OK).await;
            };
            match state
                .store()
                .get_template(company(&user), TemplateId(id))
                .await
            {
                Ok(Some(x)) => x.body.as_str().clone_into(&mut f.text),
                Ok(None) => errors.push(ErrorLine {
                    field: t.get("send.template"),
                    text: Code::TemplateUnknown.text(lang(t.language())),
                }),
                Err(e) => {
                    tracing::error!(error = %e, "reading a template failed");
                    return pages::internal(t);
                }
            }
        }
        "replace" => {
            if let Some(c) = send_view::raw_count(&state, company(&user), &f.text).await {
                f.text = send_view::replace(&f.text, &c);
            }
        }
        _ => {}
    }
    page(&state, &user, &f, &errors, StatusCode::OK).await
}

/// The campaign `f` asks for, or the reasons it cannot be one.
pub(super) async fn campaign_in(
    state: &AppState,
    company: CompanyId,
    f: &SendForm,
    t: Texts,
) -> Result<CampaignIn, Vec<ErrorLine>> {
    let zone = match state.store().get_company(company).await {
        Ok(c) => c.map_or("Europe/Istanbul", |c| c.country_type.time_zone()),
        Err(e) => return Err(messages(&e.into(), t)),
    };
    let Ok(scheduled_at) = schedule_ms(&f.schedule, zone) else {
        return Err(vec![ErrorLine {
            field: t.get("send.schedule"),
            text: Code::ValueInvalid.text(lang(t.language())),
        }]);
    };
    let text = f.text.clone();
    Ok(CampaignIn {
        name: t.with("send.campaign_name", "when", &now_in(zone)),
        audience: AudienceIn {
            subscriber_ids: f.subscribers.clone(),
            group_ids: f.groups.clone(),
            customer_ids: f.customers.clone(),
            numbers: send_view::pasted(&f.numbers).into_iter().collect(),
            tckns: send_view::pasted(&f.tckns).into_iter().collect(),
        },
        template_id: if text.is_empty() { f.template } else { None },
        text: (!text.is_empty()).then_some(text),
        sender: (!f.sender.is_empty()).then(|| f.sender.clone()),
        scheduled_at,
        // Hours on the form, seconds for the API (out of range is the API's refusal).
        validity: f.validity.map(|h| h.saturating_mul(3600)),
        start: false,
    })
}

/// The window again with `errors`, 422.
pub(super) async fn refused(
    state: &AppState,
    user: &WebUser,
    f: &SendForm,
    errors: Vec<ErrorLine>,
) -> Response {
    page(state, user, f, &errors, StatusCode::UNPROCESSABLE_ENTITY).await
}

/// "Gönder" on a preview: starts its draft and goes to the progress page, or shows the
/// window again with the reasons (the draft cancelled). A draft already started (the button
/// pressed twice, even at the same moment, or the preview posted again) goes to its progress
/// page.
async fn send(state: &AppState, user: &WebUser, f: SendForm, id: i64) -> Response {
    let t = user.texts();
    let company = company(user);
    let to = format!("/campaigns/{id}");
    match state.store().get_campaign_lean(company, id).await {
        Ok(Some(c)) if c.state == CampaignState::Draft => {}
        Ok(Some(_)) => return Redirect::to(&to).into_response(),
        Ok(None) => return pages::error(StatusCode::NOT_FOUND, t, "campaign.not_found"),
        Err(e) => {
            tracing::error!(error = %e, "reading a previewed draft failed");
            return pages::internal(t);
        }
    }
    match go(state, company, id, t).await {
        Ok(()) => Redirect::to(&to).into_response(),
        // A second press that ran alongside the first: that one started it.
        Err(_) if started_meanwhile(state, company, id).await => Redirect::to(&to).into_response(),
        Err(e) => {
            // The draft was only the way to plan this send: it does not stay behind.
            send_preview::drop_draft(state, company, id).await;
            let f = SendForm { draft: None, ..f };
            refused(state, user, &f, e).await
        }
    }
}

/// Whether campaign `id` left the draft state for a start (not a cancel) since this request
/// read it: two presses of "Gönder" at once both find a draft, and the start of one is the
/// other's outcome too.
async fn started_meanwhile(state: &AppState, company: CompanyId, id: i64) -> bool {
    match state.store().get_campaign_lean(company, id).await {
        Ok(Some(c)) => !matches!(c.state, CampaignState::Draft | CampaignState::Cancelled),
        Ok(None) => false,
        Err(e) => {
            tracing::error!(error = %e, "reading a previewed draft failed");
            false
        }
    }
}

/// Plans the draft (the API's preview) and starts it when it sends to someone and the
/// balance covers it.
async fn go(state: &AppState, company: CompanyId, id: i64, t: Texts) -> Result<(), Vec<ErrorLine>> {
    let p = previewed(state, company, id)
        .await
        .map_err(|e| messages(&e, t))?;
    if p.recipients == 0 {
        return Err(vec![ErrorLine {
            field: t.get("send.recipients"),
            text: t.get("send.nobody"),
        }]);
    }
    if p.cost > p.balance {
        return Err(vec![ErrorLine {
            field: t.get("send.credit"),
            text: Code::CreditInsufficient.text(lang(t.language())),
        }]);
    }
    started(state, company, id)
        .await
        .map(|_| ())
        .map_err(|e| messages(&e, t))
}

/// The texts of an API error's codes, each with the form field it is about.
pub(super) fn messages(e: &ApiError, t: Texts) -> Vec<ErrorLine> {
    if let ApiError::Internal(cause) = e {
        tracing::error!(%cause, "a send from the web failed");
        return vec![ErrorLine {
            field: t.get("send.form"),
            text: t.get("error.internal"),
        }];
    }
    let l = lang(t.language());
    let p = e.problem();
    let mut out: Vec<ErrorLine> = if p.errors.is_empty() {
        vec![ErrorLine {
            field: t.get("send.form"),
            text: p.code.text(l),
        }]
    } else {
        p.errors
            .iter()
            .map(|f| ErrorLine {
                field: t.get(field_key(&f.field)),
                text: f.code.text(l),
            })
            .collect()
    };
    out.dedup_by(|a, b| a.field == b.field && a.text == b.text);
    out
}

/// The catalogue key of the form field an API field error names.
fn field_key(field: &str) -> &'static str {
    let table = [
        ("audience.numbers", "send.numbers"),
        ("audience.tckns", "send.tckns"),
        ("audience.group_ids", "send.groups"),
        ("audience.subscriber_ids", "send.subscribers"),
        ("audience.customer_ids", "send.customers"),
        ("audience", "send.recipients"),
        ("text", "send.text"),
        ("template_id", "send.template"),
        ("sender", "send.sender"),
        ("scheduled_at", "send.schedule"),
        ("validity", "send.validity"),
    ];
    table
        .iter()
        .find(|(prefix, _)| field.starts_with(prefix))
        .map_or("send.form", |(_, key)| key)
}

/// A `datetime-local` value on `zone`'s clock as unix ms (`Ok(None)` when empty).
fn schedule_ms(value: &str, zone: &str) -> Result<Option<i64>, ()> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    let local: jiff::civil::DateTime = v.parse().map_err(|_| ())?;
    let tz = jiff::tz::TimeZone::get(zone).map_err(|_| ())?;
    let at = tz.to_timestamp(local).map_err(|_| ())?;
    Ok(Some(at.as_millisecond()))
}

/// Now on `zone`'s clock, to the minute (the campaign's name).
fn now_in(zone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    tz.to_datetime(jiff::Timestamp::now())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

/// The live counter's answer: the API's count, the localized name of its encoding, and the
/// character forcing UCS-2 if any.
#[derive(Serialize)]
struct WebCount {
    #[serde(flatten)]
    count: TextCount,
    encoding_label: &'static str,
    hint: Option<Hint>,
}

/// `POST /send/count`: `{text}` with the session's CSRF token in `X-CSRF-Token`.
pub async fn count(
    State(state): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    Json(req): Json<CountRequest>,
) -> Response {
    let sent = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !session::same(sent, &user.csrf) {
        return ApiError::Forbidden("the CSRF token is missing or wrong".into()).into_response();
    }
    let text = req.text.clone();
    match counted(&state, company(&user), req).await {
        Ok(c) => JsonOut(WebCount {
            hint: hint(&text, &c),
            encoding_label: user.texts().get(send_view::encoding_key(c.count.encoding)),
            count: c,
        })
        .into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_is_read_on_the_company_clock() {
        assert_eq!(schedule_ms("", "Europe/Istanbul"), Ok(None));
        // 12:00 in Istanbul (UTC+3) is 09:00 UTC.
        assert_eq!(
            schedule_ms("2030-01-02T12:00", "Europe/Istanbul"),
            Ok(Some(1_893_574_800_000))
        );
        assert_eq!(
            schedule_ms("2030-01-02T12:00", "Asia/Baku"),
            Ok(Some(1_893_571_200_000))
        );
        assert_eq!(schedule_ms("yarın", "Europe/Istanbul"), Err(()));
    }

    #[test]
    fn api_fields_map_to_the_form_fields() {
        assert_eq!(field_key("audience.numbers[3]"), "send.numbers");
        assert_eq!(field_key("audience"), "send.recipients");
        assert_eq!(field_key("text"), "send.text");
        assert_eq!(field_key("whatever"), "send.form");
    }
}
