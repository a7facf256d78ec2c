//! Step 3 of the import wizard: `POST /import/run` runs the API's import on the spooled file
//! with the chosen mapping, and `GET /import/{token}/errors.csv` downloads its row errors.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ulak_core::model::{CompanyId, GroupId, GroupName, Role, User};

use super::dashboard::other;
use super::format;
use super::i18n::Texts;
use super::import::{Meta, folder, token_ok};
use super::messages::problem_texts;
use super::pages::{self, render};
use super::session::WebUser;
use crate::error::ApiError;
use crate::import::{Mapping, Mode, RowError};
use crate::routes::imports::{self as api, ImportError, Upload};
use crate::routes::message_list::export::inert;
use crate::startup::AppState;

/// What the import did, for the result page.
#[derive(Default)]
struct Summary {
    done: bool,
    rows: String,
    imported: String,
    added: String,
    skipped: String,
    omitted: Option<String>,
}

#[derive(Template)]
#[template(path = "web/import_result.html")]
struct ResultPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a User,
    csrf: &'a str,
    other_language: &'a str,
    token: &'a str,
    alerts: Vec<String>,
    summary: Summary,
    errors: Vec<RowError>,
}

/// Step 2's form: `csrf`, `token`, `mode`, `map.<field>` = column, `attr` = column (repeated).
struct RunForm {
    csrf: String,
    token: String,
    mode: Mode,
    mapping: Mapping,
}

fn run_form(pairs: Vec<(String, String)>) -> RunForm {
    let mut f = RunForm {
        csrf: String::new(),
        token: String::new(),
        mode: Mode::AllOrNothing,
        mapping: Mapping::default(),
    };
    for (k, v) in pairs {
        match k.as_str() {
            "csrf" => f.csrf = v,
            "token" => f.token = v,
            "mode" if v == "skip-invalid" => f.mode = Mode::SkipInvalid,
            // A column kept as an attribute is named after the column, in lower case.
            "attr" if !v.is_empty() => {
                f.mapping.0.insert(format!("attr.{}", v.to_lowercase()), v);
            }
            _ => {
                if let Some(field) = k.strip_prefix("map.").filter(|_| !v.is_empty()) {
                    f.mapping.0.insert(field.to_owned(), v);
                }
            }
        }
    }
    f
}

/// The wizard's files of `token` when they belong to `company`: its meta data.
async fn meta_of(state: &AppState, token: &str, company: CompanyId) -> Option<Meta> {
    if !token_ok(token) {
        return None;
    }
    let bytes = tokio::fs::read(folder(state).join(format!("{token}.json")))
        .await
        .ok()?;
    let meta: Meta = serde_json::from_slice(&bytes).ok()?;
    (meta.company == company.0).then_some(meta)
}

/// `POST /import/run`.
pub async fn run(
    State(state): State<AppState>,
    user: WebUser,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let t = user.texts();
    let Ok(Form(pairs)) = form else {
        return pages::bad_request(t);
    };
    let form = run_form(pairs);
    if let Some(r) = user.refusal(&form.csrf, Role::Operator) {
        return r;
    }
    let company = user.session.user.company_id;
    let Some(meta) = meta_of(&state, &form.token, company).await else {
        return pages::error(StatusCode::NOT_FOUND, t, "import.gone");
    };
    // Claimed by an atomic rename: of two runs of one upload (a double click, two tabs) only
    // one finds the file, so it is never imported twice, even at the same time.
    let upload = folder(&state).join(format!("{}.upload", form.token));
    let path = folder(&state).join(format!("{}.running", form.token));
    if tokio::fs::rename(&upload, &path).await.is_err() {
        return pages::error(StatusCode::NOT_FOUND, t, "import.gone");
    }
    let Ok(file) = std::fs::File::open(&path) else {
        return pages::error(StatusCode::NOT_FOUND, t, "import.gone");
    };
    let outcome = import(&state, company, &meta, file, form.mode, form.mapping).await;
    // The file served its purpose (left behind by a crash, the sweep removes it).
    let _ = tokio::fs::remove_file(&path).await;
    let language = t.language();
    let Some((status, alerts, summary, errors)) = outcome_view(t, outcome) else {
        return pages::internal(t);
    };
    if !errors.is_empty() {
        let csv = folder(&state).join(format!("{}.errors.csv", form.token));
        if tokio::fs::write(csv, errors_as_csv(&errors)).await.is_err() {
            return pages::internal(t);
        }
    }
    render(
        status,
        &ResultPage {
            t,
            active: "import",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: other(language).as_str(),
            token: &form.token,
            alerts,
            summary,
            errors,
        },
    )
}

/// What the result page shows of an import's outcome (`None`: a failure of the server).
fn outcome_view(
    t: Texts,
    outcome: Result<api::ImportResult, ImportError>,
) -> Option<(StatusCode, Vec<String>, Summary, Vec<RowError>)> {
    let language = t.language();
    let n = |v: usize| format::integer(i64::try_from(v).unwrap_or(i64::MAX), language);
    Some(match outcome {
        Ok(r) => {
            let summary = Summary {
                done: true,
                rows: n(r.rows),
                imported: n(usize::try_from(r.imported).unwrap_or(usize::MAX)),
                added: n(usize::try_from(r.added_to_group).unwrap_or(usize::MAX)),
                skipped: n(r.skipped),
                omitted: (r.errors_omitted > 0).then(|| n(r.errors_omitted)),
            };
            (StatusCode::OK, Vec::new(), summary, r.errors)
        }
        Err(ImportError::Rejected(r)) => {
            let summary = Summary {
                rows: n(r.rows.unwrap_or_default()),
                omitted: r.row_errors_omitted.map(n),
                ..Summary::default()
            };
            let alerts = vec![t.get("import.rejected").to_owned()];
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                alerts,
                summary,
                r.row_errors,
            )
        }
        Err(ImportError::Api(e)) => {
            if let ApiError::Internal(cause) = &e {
                tracing::error!(error = %cause, "a web import failed");
                return None;
            }
            let alerts = problem_texts(&e, language);
            let status = e.into_response().status();
            (status, alerts, Summary::default(), Vec::new())
        }
    })
}

/// Creates the new group step 1 named, then runs the API's import.
async fn import(
    state: &AppState,
    company: CompanyId,
    meta: &Meta,
    file: std::fs::File,
    mode: Mode,
    mapping: Mapping,
) -> Result<api::ImportResult, ImportError> {
    let (format, file) = api::open_file(Some((meta.content_type.clone(), file)))?;
    let upload = Upload {
        format,
        file,
        mapping,
        mode,
    };
    let store = state.store();
    let country = store
        .get_company(company)
        .await
        .map_err(ApiError::from)?
        .ok_or(ApiError::NotFound)?
        .country_type;
    if meta.customers {
        return api::customers(state, company, country, upload).await;
    }
    let mut group = meta.group.map(GroupId);
    if !meta.new_group.is_empty() {
        let name = GroupName::parse(&meta.new_group).map_err(|e| ApiError::rule("name", e))?;
        let g = store
            .create_group(company, name, None)
            .await
            .map_err(ApiError::from)?;
        group = Some(g.id);
    }
    api::subscribers(state, company, country, group, upload).await
}

/// The row errors as CSV (`row,column,reason`), cells a spreadsheet would run made inert.
fn errors_as_csv(errors: &[RowError]) -> String {
    let quote = |s: &str| format!("\"{}\"", inert(s).replace('"', "\"\""));
    let mut out = String::from("row,column,reason\r\n");
    for e in errors {
        out.push_str(&format!(
            "{},{},{}\r\n",
            e.row,
            quote(&e.column),
            quote(&e.reason)
        ));
    }
    out
}

/// `GET /import/{token}/errors.csv`: the row errors of the company's import.
pub async fn errors_csv(
    State(state): State<AppState>,
    user: WebUser,
    Path(token): Path<String>,
) -> Response {
    let t = user.texts();
    let company = user.session.user.company_id;
    let file = folder(&state).join(format!("{token}.errors.csv"));
    let body = match meta_of(&state, &token, company).await {
        Some(_) => tokio::fs::read(file).await.ok(),
        None => None,
    };
    let Some(body) = body else {
        return pages::error(StatusCode::NOT_FOUND, t, "import.gone");
    };
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"import-errors.csv\""),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
