//! The send window's subscriber picker ("Abone ekle") and its field insertion.
//!
//! Without JavaScript the search is a field of the send form itself: the matches come back
//! as unchecked boxes of the same form, so whatever else was typed is kept. (A GET form would
//! put the message and the pasted numbers into the address, and so into logs.) With
//! JavaScript the page asks `GET /send/subscribers?q=` as one types and adds the chosen ones
//! as checked boxes.

use axum::Json as JsonOut;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use ulak_core::model::{CompanyId, ListQuery};

use super::send_view::SendForm;
use super::session::WebUser;
use crate::error::ApiError;
use crate::startup::AppState;

/// Matches listed per search.
const MATCHES: u32 = 20;

/// The fields a campaign's text can name, with the catalogue key of what each holds: the
/// names the engine fills per recipient (`ulak_engine::campaign`'s `Fields`); any other name
/// is looked up in the subscriber's or account's attributes.
pub(super) const FIELDS: &[(&str, &str)] = &[
    ("ad", "send.field.ad"),
    ("telefon", "send.field.telefon"),
    ("unvan", "send.field.unvan"),
    ("kod", "send.field.kod"),
    ("bakiye", "send.field.bakiye"),
];

/// A subscriber found, as the picker lists it.
#[derive(Debug, Serialize)]
pub(super) struct Found {
    pub id: i64,
    pub name: String,
    /// The phone in national form.
    pub phone: String,
}

/// The search's query string.
#[derive(Debug, Deserialize)]
pub struct FindQuery {
    q: Option<String>,
}

#[derive(Serialize)]
struct FoundOut {
    items: Vec<Found>,
}

/// The company's subscribers whose name or phone matches `q` (the API's list search), up to
/// 20, without those in `picked`. `Err` when `q` breaks the search's rules.
pub(super) async fn search(
    state: &AppState,
    company: CompanyId,
    q: &str,
    picked: &[i64],
) -> Result<Vec<Found>, ApiError> {
    if q.trim().is_empty() {
        return Ok(Vec::new());
    }
    let query = ListQuery::parse(Some(MATCHES), None, Some(q.to_owned()), None)?;
    let page = state.store().list_subscribers(company, &query).await?;
    Ok(page
        .items
        .into_iter()
        .filter(|s| !picked.contains(&s.id.0))
        .map(|s| Found {
            id: s.id.0,
            phone: s.phone.national(),
            name: s.name,
        })
        .collect())
}

/// `GET /send/subscribers?q=`: `{items: [{id, name, phone}]}`, the signed-in user's company
/// only. Read-only, so every role may ask; the page's script shows the names as text.
pub async fn subscribers(
    State(state): State<AppState>,
    user: WebUser,
    query: Result<Query<FindQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return ApiError::BadRequest("the query string could not be read".into()).into_response();
    };
    let company = user.session.user.company_id;
    match search(&state, company, q.q.as_deref().unwrap_or(""), &[]).await {
        Ok(items) => JsonOut(FoundOut { items }).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The no-JavaScript "insert field" button: the chosen field's placeholder at the end of the
/// text (the script puts it at the caret instead). An unknown field changes nothing.
pub(super) fn insert_field(f: &mut SendForm) {
    if let Some((name, _)) = FIELDS.iter().find(|(name, _)| *name == f.field) {
        if !f.text.is_empty() && !f.text.ends_with([' ', '\n']) {
            f.text.push(' ');
        }
        f.text.push_str(&format!("{{{{{name}}}}}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_is_appended_as_the_engine_s_placeholder() {
        let mut f = SendForm {
            text: "Sayın".into(),
            field: "ad".into(),
            ..SendForm::default()
        };
        insert_field(&mut f);
        assert_eq!(f.text, "Sayın {{ad}}");
        f.field = "<script>".into();
        insert_field(&mut f);
        assert_eq!(f.text, "Sayın {{ad}}", "an unknown field is ignored");
    }

    #[test]
    fn every_field_is_a_valid_placeholder() {
        for (name, _) in FIELDS {
            let body = format!("x {{{{{name}}}}}");
            let t = ulak_core::model::TemplateBody::parse(&body)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(t.fields(), [*name]);
        }
    }
}
