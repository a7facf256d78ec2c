//! `POST /api/v1/subscribers/import`: a CSV or XLSX file of subscribers, a column mapping,
//! all-or-nothing or skip-invalid, and a per-row error report (row number, column, reason).

use std::collections::BTreeMap;

use axum::Json as JsonOut;
use axum::extract::{Multipart, State};
use serde::Serialize;
use ulak_core::model::{Consent, GroupId, NewSubscriber, Role};
use ulak_store::ImportMode;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::import::{self, Format, Mapping, Mode, RowError};
use crate::startup::AppState;

/// Most data rows one import may hold.
pub const MAX_ROWS: usize = 1_000_000;

/// Fields a subscriber import fills; other columns become attributes when mapped as `attr.<name>`.
const SUBSCRIBER_FIELDS: &[&str] = &["name", "phone", "tckn", "consent"];

/// The multipart form of an import.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the form; the handler reads the parts as they stream in
pub struct ImportForm {
    /// The CSV (`,` `;` or tab separated; UTF-8 or Windows-1254) or XLSX file; first row is the header.
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    pub file: String,
    /// JSON object field → column, e.g. `{"phone": "Telefon", "name": "Ad Soyad", "attr.bakiye": "Bakiye"}`.
    /// Columns named like a field (`name`, `phone`, `tckn`, `consent`) need no mapping.
    pub mapping: Option<String>,
    /// `all-or-nothing` (default) or `skip-invalid`.
    pub mode: Option<String>,
    /// Add every imported subscriber to this group.
    pub group_id: Option<i64>,
}

/// The outcome of an import.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    /// Data rows in the file.
    pub rows: usize,
    /// Subscribers created.
    pub imported: u64,
    /// Rows not imported.
    pub skipped: usize,
    /// Why, per row (row numbers as in the file, the header being row 1).
    pub errors: Vec<RowError>,
    /// The mode applied.
    pub mode: Mode,
}

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_subscribers))
}

#[derive(Default)]
struct Form {
    file: Option<(Option<String>, Vec<u8>)>,
    mapping: Mapping,
    mode: Mode,
    group_id: Option<i64>,
}

async fn read_form(mut multipart: Multipart) -> Result<Form, ApiError> {
    let mut form = Form::default();
    let bad = |e: axum::extract::multipart::MultipartError| ApiError::BadRequest(e.body_text());
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" => {
                let ct = field.content_type().map(str::to_owned);
                let bytes = field.bytes().await.map_err(bad)?;
                form.file = Some((ct, bytes.to_vec()));
            }
            "mapping" => {
                let text = field.text().await.map_err(bad)?;
                if !text.trim().is_empty() {
                    let map: BTreeMap<String, String> =
                        serde_json::from_str(&text).map_err(|e| {
                            ApiError::field("mapping", format!("not a JSON object of strings: {e}"))
                        })?;
                    form.mapping = Mapping(map);
                }
            }
            "mode" => {
                let text = field.text().await.map_err(bad)?;
                form.mode = match text.trim() {
                    "" | "all-or-nothing" => Mode::AllOrNothing,
                    "skip-invalid" => Mode::SkipInvalid,
                    other => {
                        return Err(ApiError::field(
                            "mode",
                            format!("{other:?}: expected all-or-nothing or skip-invalid"),
                        ));
                    }
                };
            }
            "group_id" => {
                let text = field.text().await.map_err(bad)?;
                let id = text
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| ApiError::field("group_id", "not a number"))?;
                form.group_id = Some(id);
            }
            other => return Err(ApiError::field(other, "unknown form field")),
        }
    }
    Ok(form)
}

/// Imports subscribers from CSV or XLSX.
#[utoipa::path(post, path = "/subscribers/import", tag = "subscribers",
    request_body(content = ImportForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Imported (see `errors` for skipped rows)", body = ImportResult),
        (status = 404, description = "No such group", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Broken file, unknown columns, or invalid rows in all-or-nothing mode (nothing imported)", body = ImportRejected, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn import_subscribers(
    State(state): State<AppState>,
    caller: Caller,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<JsonOut<ImportResult>, ImportError> {
    caller.require(Role::Operator)?;
    let multipart = multipart.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let form = read_form(multipart).await?;
    let (content_type, bytes) = form
        .file
        .ok_or_else(|| ApiError::field("file", "the form has no file"))?;
    let country = caller.country(&state).await?;
    let group = match form.group_id {
        Some(id) => Some(
            state
                .store()
                .get_group(caller.company, GroupId(id))
                .await
                .map_err(ApiError::from)?
                .ok_or(ApiError::NotFound)?
                .id,
        ),
        None => None,
    };
    let format = Format::detect(content_type.as_deref(), &bytes);
    let table = import::table::read(format, &bytes, MAX_ROWS)
        .map_err(|e| ApiError::field("file", e.to_string()))?;
    drop(bytes);
    let known = known_fields(&form.mapping);
    let known_refs: Vec<&str> = known.iter().map(String::as_str).collect();
    let mapped = import::map(&table, &form.mapping, &known_refs, &["phone"])
        .map_err(|e| ApiError::field("mapping", e.to_string()))?;

    let mut errors = Vec::new();
    let mut rows = Vec::with_capacity(mapped.len());
    let mut row_numbers = Vec::with_capacity(mapped.len());
    for (row, fields) in mapped.rows() {
        let get = |f: &str| fields.get(f).map(|(_, v)| *v);
        let column = |f: &str| fields.get(f).map_or(f, |(c, _)| *c).to_owned();
        let attributes: BTreeMap<String, String> = fields
            .iter()
            .filter_map(|(f, (_, v))| {
                f.strip_prefix("attr.")
                    .map(|a| (a.to_owned(), (*v).to_owned()))
            })
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let consent = match get("consent").map(str::trim) {
            None | Some("") => Ok(Consent::Unknown),
            Some(c) => parse_consent(c),
        };
        let consent = match consent {
            Ok(c) => c,
            Err(reason) => {
                errors.push(RowError {
                    row,
                    column: column("consent"),
                    reason,
                });
                continue;
            }
        };
        let name = get("name").unwrap_or_default();
        let tckn = get("tckn").filter(|t| !t.trim().is_empty());
        match NewSubscriber::new(
            name,
            get("phone").unwrap_or_default(),
            country,
            tckn,
            attributes,
            consent,
        ) {
            Ok(s) => {
                rows.push(s);
                row_numbers.push(row);
            }
            Err(v) => errors.extend(v.0.into_iter().map(|f| RowError {
                row,
                column: column(f.field.split('.').next().unwrap_or(&f.field)),
                reason: f.message,
            })),
        }
    }
    let total = mapped.len();
    if form.mode == Mode::AllOrNothing && !errors.is_empty() {
        return Err(ImportError::Rejected(ImportRejected::new(total, errors)));
    }
    let mode = match form.mode {
        Mode::AllOrNothing => ImportMode::AllOrNothing,
        Mode::SkipInvalid => ImportMode::SkipInvalid,
    };
    let report = match state
        .store()
        .import_subscribers(caller.company, rows, mode, group)
        .await
    {
        Ok(r) => r,
        Err(ulak_store::StoreError::ImportRejected { rows: rejected }) => {
            errors.extend(rejected.iter().map(|r| store_row_error(r, &row_numbers)));
            errors.sort_by_key(|e| e.row);
            return Err(ImportError::Rejected(ImportRejected::new(total, errors)));
        }
        Err(e) => return Err(ApiError::from(e).into()),
    };
    errors.extend(
        report
            .rejected
            .iter()
            .map(|r| store_row_error(r, &row_numbers)),
    );
    errors.sort_by_key(|e| e.row);
    Ok(JsonOut(ImportResult {
        rows: total,
        imported: report.inserted,
        skipped: total - report.inserted as usize,
        errors,
        mode: form.mode,
    }))
}

fn known_fields(mapping: &Mapping) -> Vec<String> {
    let mut known: Vec<String> = SUBSCRIBER_FIELDS.iter().map(|s| (*s).to_owned()).collect();
    known.extend(
        mapping
            .0
            .keys()
            .filter(|k| k.starts_with("attr.") && k.len() > 5)
            .cloned(),
    );
    known
}

fn parse_consent(c: &str) -> Result<Consent, String> {
    match c.to_lowercase().as_str() {
        "unknown" => Ok(Consent::Unknown),
        "opted_in" | "evet" | "yes" | "1" | "true" => Ok(Consent::OptedIn),
        "opted_out" | "hayır" | "hayir" | "no" | "0" | "false" => Ok(Consent::OptedOut),
        other => Err(format!(
            "{other:?} is not a consent value (opted_in, opted_out, unknown)"
        )),
    }
}

fn store_row_error(r: &ulak_store::ImportRowError, row_numbers: &[usize]) -> RowError {
    let row = row_numbers.get(r.index).copied().unwrap_or(0);
    let reason = match (r.reason, r.first_index.and_then(|i| row_numbers.get(i))) {
        ("duplicate_in_batch", Some(first)) => format!("the same phone as row {first}"),
        ("exists", _) => "a subscriber with this phone already exists".to_owned(),
        (other, _) => other.to_owned(),
    };
    RowError {
        row,
        column: "phone".to_owned(),
        reason,
    }
}

/// A refused import: a problem document; when rows were invalid in all-or-nothing mode it
/// also lists them (`rows`, `row_errors`) and nothing was written.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportRejected {
    /// Problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Summary.
    pub title: String,
    /// 422.
    pub status: u16,
    /// What happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Field-level messages (file, mapping, mode).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub errors: Vec<crate::error::FieldError>,
    /// Data rows in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<usize>,
    /// Every problem, per row.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub row_errors: Vec<RowError>,
}

impl ImportRejected {
    fn new(rows: usize, row_errors: Vec<RowError>) -> Self {
        ImportRejected {
            kind: "https://ulak.dev/problems/import-rejected".to_owned(),
            title: "Unprocessable Entity".to_owned(),
            status: 422,
            detail: Some(format!(
                "{} of {rows} rows are invalid; nothing was imported (mode all-or-nothing)",
                row_errors
                    .iter()
                    .map(|e| e.row)
                    .collect::<std::collections::BTreeSet<_>>()
                    .len()
            )),
            errors: Vec::new(),
            rows: Some(rows),
            row_errors,
        }
    }
}

/// What the import handler fails with.
pub enum ImportError {
    /// A general problem.
    Api(ApiError),
    /// Rows were invalid in all-or-nothing mode.
    Rejected(ImportRejected),
}

impl From<ApiError> for ImportError {
    fn from(e: ApiError) -> Self {
        ImportError::Api(e)
    }
}

impl axum::response::IntoResponse for ImportError {
    fn into_response(self) -> axum::response::Response {
        match self {
            ImportError::Api(e) => e.into_response(),
            ImportError::Rejected(r) => {
                let body = serde_json::to_vec(&r).unwrap_or_default();
                let mut res = (axum::http::StatusCode::UNPROCESSABLE_ENTITY, body).into_response();
                res.headers_mut().insert(
                    axum::http::header::CONTENT_TYPE,
                    axum::http::HeaderValue::from_static("application/problem+json"),
                );
                res
            }
        }
    }
}
