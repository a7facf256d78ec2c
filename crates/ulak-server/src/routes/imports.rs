//! `POST /api/v1/subscribers/import` and `POST /api/v1/customers/import`: a CSV or XLSX file,
//! a column mapping, all-or-nothing or skip-invalid, and a per-row error report (row number,
//! column, reason).

use std::collections::BTreeMap;
use ulak_core::Code;

use axum::Json as JsonOut;
use axum::extract::{Multipart, State};
use serde::Serialize;
use ulak_core::model::{Consent, CustomerKind, GroupId, NewCustomerAccount, NewSubscriber, Role};
use ulak_store::ImportSession;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::import::pipeline::{self, Fields, FileError};
use crate::import::run::{self, Job, Outcome, RunError};
use crate::import::{self, Format, Mapping, Mode, RowError, TableError};
use crate::startup::AppState;

mod form;
mod rejected;

pub(crate) use form::open_file;
use form::read_form;
pub use rejected::{ImportError, ImportRejected};

/// Most data rows one import may hold.
pub const MAX_ROWS: usize = 1_000_000;

/// Fields a subscriber import fills; other columns become attributes when mapped as `attr.<name>`.
pub(crate) const SUBSCRIBER_FIELDS: &[&str] = &["name", "phone", "tckn", "consent"];

/// Fields a customer account import fills; `attr.<name>` mappings add attributes.
pub(crate) const CUSTOMER_FIELDS: &[&str] = &[
    "code",
    "title",
    "kind",
    "phones",
    "balance",
    "balance_minor",
];

/// The multipart form of an import.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the form; the handler streams the parts (the file to disk)
#[serde(deny_unknown_fields)] // for the schema: other parts are refused
pub struct ImportForm {
    /// The CSV (`,` `;` or tab separated; UTF-8 or Windows-1254) or XLSX file; first row is the
    /// header. At most 1,000,000 data rows, 1,000 columns and 8 KiB per cell (422 beyond);
    /// an XLSX file may unpack to at most 512 MiB, its shared strings to 64 MiB and
    /// 1,000,000 strings, its styles to 64,000 cell formats (413 beyond).
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    pub file: String,
    /// JSON object field → column, e.g. `{"phone": "Telefon", "name": "Ad Soyad", "attr.bakiye": "Bakiye"}`.
    /// Columns named like a field need no mapping. Subscribers: `name`, `phone`, `tckn`,
    /// `consent`. Customer accounts: `code`, `title`, `kind` (customer/supplier, müşteri/tedarikçi),
    /// `phones` (several separated by `,` `;` `/` or `|`), `balance` (TL, e.g. `1.234,56`) or
    /// `balance_minor` (kuruş). At most 100 `attr.<name>` fields.
    #[schema(value_type = String, required = false)]
    pub mapping: Option<String>,
    /// `all-or-nothing` (default) or `skip-invalid`.
    #[schema(value_type = Mode, required = false)]
    pub mode: Option<String>,
    /// Subscribers only: add every imported subscriber to this group, and the subscribers
    /// that already exist too (they are left as they are otherwise).
    #[schema(value_type = i64, required = false)]
    pub group_id: Option<i64>,
}

/// The outcome of an import.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    /// Data rows in the file.
    pub rows: usize,
    /// Objects created.
    pub imported: u64,
    /// Rows of subscribers that already existed and were added to the group (`group_id`).
    pub added_to_group: u64,
    /// Rows neither imported nor added to the group.
    pub skipped: usize,
    /// Why, per row (row numbers as in the file, the header being row 1); at most 10,000.
    pub errors: Vec<RowError>,
    /// Row errors beyond the 10,000 listed.
    pub errors_omitted: usize,
    /// The mode applied.
    pub mode: Mode,
}

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_subscribers))
        .routes(routes!(import_customers))
}

/// A file-level failure: 413 for a workbook over the size limits, else a 422 on `file` or
/// `mapping`.
fn file_error(e: FileError) -> ApiError {
    match e {
        FileError::Mapping(m) => ApiError::field("mapping", Code::ImportColumn, m.to_string()),
        FileError::Table(TableError::TooLarge(why)) => ApiError::TooLarge(why),
        FileError::Table(t) => ApiError::field("file", Code::ImportUnreadable, t.to_string()),
        FileError::Stopped => stopped(),
    }
}

/// The answer to an import stopped by the server stopping (a client that left gets none).
fn stopped() -> ApiError {
    ApiError::Unavailable(
        "the server is stopping; the import was stopped and nothing was imported".to_owned(),
    )
}

/// The attributes a row's `attr.*` fields give.
fn attributes(fields: &Fields<'_>) -> BTreeMap<String, String> {
    fields
        .iter()
        .filter_map(|(f, (_, v))| {
            f.strip_prefix("attr.")
                .map(|a| (a.to_owned(), (*v).to_owned()))
        })
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// A domain validation failure as row errors, under the file's column names.
fn row_errors(
    row: usize,
    fields: &Fields<'_>,
    v: ulak_core::model::ValidationErrors,
) -> Vec<RowError> {
    v.0.into_iter()
        .map(|f| {
            let field = f.field.split(['.', '[']).next().unwrap_or(&f.field);
            RowError {
                row,
                column: fields.get(field).map_or(field, |(c, _)| *c).to_owned(),
                reason: f.message,
            }
        })
        .collect()
}

/// Imports subscribers from CSV or XLSX.
#[utoipa::path(post, path = "/subscribers/import", tag = "subscribers",
    request_body(content = ImportForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Imported (see `errors` for skipped rows)", body = ImportResult),
        (status = 404, description = "No such group", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The upload, or the workbook unpacked, is larger than allowed (nothing imported)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Broken file, unknown columns, too many columns, a cell too long, or invalid rows in all-or-nothing mode (nothing imported)", body = ImportRejected, content_type = "application/problem+json"),
        (status = 503, description = "The server is stopping; the import was stopped and nothing was imported", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn import_subscribers(
    State(state): State<AppState>,
    caller: Caller,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<JsonOut<ImportResult>, ImportError> {
    caller.require(Role::Operator)?;
    let multipart = multipart.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let form = read_form(multipart, &state.settings().data_dir).await?;
    let country = caller.country(&state).await?;
    let (format, file) = open_file(form.file)?;
    let upload = Upload {
        format,
        file,
        mapping: form.mapping,
        mode: form.mode,
    };
    let group = form.group_id.map(GroupId);
    subscribers(&state, caller.company, country, group, upload)
        .await
        .map(JsonOut)
}

/// A spooled upload ready to import: the file, its format, the mapping and the mode.
pub(crate) struct Upload {
    /// CSV or XLSX.
    pub format: Format,
    /// The file, from its start.
    pub file: std::fs::File,
    /// Field → column.
    pub mapping: Mapping,
    /// All-or-nothing or skip-invalid.
    pub mode: Mode,
}

/// Imports subscribers of `company` from `upload` (into `group` when given): the API's import
/// and the web wizard's.
pub(crate) async fn subscribers(
    state: &AppState,
    company: ulak_core::model::CompanyId,
    country: ulak_core::CountryType,
    group: Option<GroupId>,
    upload: Upload,
) -> Result<ImportResult, ImportError> {
    let session = state
        .store()
        .begin_subscriber_import(company, group)
        .await
        .map_err(ApiError::from)?;
    let spec = pipeline::Spec {
        format: upload.format,
        known: known_fields(SUBSCRIBER_FIELDS, &upload.mapping),
        mapping: upload.mapping,
        required: &["phone"],
        max_rows: MAX_ROWS,
    };
    let convert = move |row: usize, fields: &Fields<'_>| {
        let get = |f: &str| fields.get(f).map(|(_, v)| *v);
        let column = |f: &str| fields.get(f).map_or(f, |(c, _)| *c).to_owned();
        let consent = match get("consent").map(str::trim) {
            None | Some("") => Consent::Unknown,
            Some(c) => parse_consent(c).map_err(|reason| {
                vec![RowError {
                    row,
                    column: column("consent"),
                    reason,
                }]
            })?,
        };
        NewSubscriber::new(
            get("name").unwrap_or_default(),
            get("phone").unwrap_or_default(),
            country,
            get("tckn").filter(|t| !t.trim().is_empty()),
            attributes(fields),
            consent,
        )
        .map_err(|v| row_errors(row, fields, v))
    };
    let job = Job {
        spec,
        file: upload.file,
        mode: upload.mode,
        convert,
    };
    drive(state, session, job, SUBSCRIBER_KEY).await
}

/// Runs the import (see [`crate::import::run`]) and answers with its result, or the
/// rejection listing every problem.
async fn drive<T, S, F>(
    state: &AppState,
    session: S,
    job: Job<F>,
    key: KeyNames,
) -> Result<ImportResult, ImportError>
where
    T: Send + Sync + 'static,
    S: ImportSession<T> + 'static,
    F: Fn(usize, &Fields<'_>) -> Result<T, Vec<RowError>> + Clone + Send + 'static,
{
    let mode = job.mode;
    let stop = state.shutdown().child_token();
    let running = state.imports().start();
    match run::run(session, job, stop, running).await {
        Ok(Outcome::Done { parsed, report }) => respond(parsed, Ok(report), mode, key),
        Ok(Outcome::Rejected { parsed, rejected }) => respond(parsed, Err(rejected), mode, key),
        Err(RunError::File(e)) => Err(file_error(e).into()),
        Err(RunError::Stopped) => Err(stopped().into()),
        Err(RunError::Store(e)) => Err(ApiError::from(e).into()),
        Err(RunError::Task(e)) => Err(ApiError::Internal(e).into()),
    }
}

/// The answer to an import: the result, or the rejection listing every problem.
fn respond(
    parsed: pipeline::Parsed,
    outcome: Result<ulak_store::ImportReport, Vec<ulak_store::ImportRowError>>,
    mode: Mode,
    key: KeyNames,
) -> Result<ImportResult, ImportError> {
    let mut errors = parsed.errors;
    let (report, rejected) = match outcome {
        Ok(mut r) => {
            let rejected = std::mem::take(&mut r.rejected);
            (Some(r), rejected)
        }
        Err(rejected) => (None, rejected),
    };
    for r in &rejected {
        errors.push(store_row_error(r, key));
    }
    let errors = errors.finish();
    let Some(report) = report else {
        return Err(ImportError::Rejected(Box::new(ImportRejected::new(
            parsed.rows,
            errors,
        ))));
    };
    Ok(ImportResult {
        rows: parsed.rows,
        imported: report.inserted,
        added_to_group: report.grouped_existing,
        skipped: parsed
            .rows
            .saturating_sub((report.inserted + report.grouped_existing) as usize),
        errors: errors.list,
        errors_omitted: errors.omitted,
        mode,
    })
}

/// The fields an import takes: its own plus the `attr.*` names the mapping brings.
fn known_fields(fields: &[&str], mapping: &Mapping) -> Vec<String> {
    let mut known: Vec<String> = fields.iter().map(|s| (*s).to_owned()).collect();
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

/// How an import's unique key is named in row errors: (column, what, owner).
type KeyNames = (&'static str, &'static str, &'static str);
/// Subscribers are unique by phone.
const SUBSCRIBER_KEY: KeyNames = ("phone", "phone", "a subscriber");
/// Customer accounts are unique by code.
const CUSTOMER_KEY: KeyNames = ("code", "code", "a customer account");

/// A row the store refused (its index is the file's row number), as a row error.
fn store_row_error(r: &ulak_store::ImportRowError, (column, what, owner): KeyNames) -> RowError {
    let reason = match (r.reason, r.first_index) {
        ("duplicate_in_batch", Some(first)) => format!("the same {what} as row {first}"),
        ("exists", _) => format!("{owner} with this {what} already exists"),
        (other, _) => other.to_owned(),
    };
    RowError {
        row: r.index,
        column: column.to_owned(),
        reason,
    }
}

/// Imports customer accounts ("cari hesap") from CSV or XLSX. Codes already in the company
/// are reported (`exists`), never overwritten.
#[utoipa::path(post, path = "/customers/import", tag = "customers",
    request_body(content = ImportForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Imported (see `errors` for skipped rows)", body = ImportResult),
        (status = 413, description = "The upload, or the workbook unpacked, is larger than allowed (nothing imported)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Broken file, unknown columns, too many columns, a cell too long, or invalid rows in all-or-nothing mode (nothing imported)", body = ImportRejected, content_type = "application/problem+json"),
        (status = 503, description = "The server is stopping; the import was stopped and nothing was imported", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn import_customers(
    State(state): State<AppState>,
    caller: Caller,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<JsonOut<ImportResult>, ImportError> {
    caller.require(Role::Operator)?;
    let multipart = multipart.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let form = read_form(multipart, &state.settings().data_dir).await?;
    if form.group_id.is_some() {
        return Err(ApiError::field(
            "group_id",
            Code::ValueInvalid,
            "customer accounts have no groups",
        )
        .into());
    }
    let country = caller.country(&state).await?;
    let (format, file) = open_file(form.file)?;
    let upload = Upload {
        format,
        file,
        mapping: form.mapping,
        mode: form.mode,
    };
    customers(&state, caller.company, country, upload)
        .await
        .map(JsonOut)
}

/// Imports customer accounts of `company` from `upload`: the API's import and the web
/// wizard's.
pub(crate) async fn customers(
    state: &AppState,
    company: ulak_core::model::CompanyId,
    country: ulak_core::CountryType,
    upload: Upload,
) -> Result<ImportResult, ImportError> {
    let session = state
        .store()
        .begin_customer_import(company)
        .await
        .map_err(ApiError::from)?;
    let spec = pipeline::Spec {
        format: upload.format,
        known: known_fields(CUSTOMER_FIELDS, &upload.mapping),
        mapping: upload.mapping,
        required: &["code", "title", "phones"],
        max_rows: MAX_ROWS,
    };
    let job = Job {
        spec,
        file: upload.file,
        mode: upload.mode,
        convert: move |row: usize, fields: &Fields<'_>| customer_row(row, fields, country),
    };
    drive(state, session, job, CUSTOMER_KEY).await
}

/// One customer account row, or its errors.
fn customer_row(
    row: usize,
    fields: &Fields<'_>,
    country: ulak_core::CountryType,
) -> Result<NewCustomerAccount, Vec<RowError>> {
    let get = |f: &str| fields.get(f).map(|(_, v)| v.trim());
    let column = |f: &str| fields.get(f).map_or(f, |(c, _)| *c).to_owned();
    let mut errors = Vec::new();
    let mut bad = |field: &str, reason: String| {
        errors.push(RowError {
            row,
            column: column(field),
            reason,
        })
    };
    let kind = match get("kind").unwrap_or_default() {
        "" => Some(CustomerKind::Customer),
        k => import::parse_customer_kind(k)
            .map_err(|r| bad("kind", r))
            .ok(),
    };
    let balance = match (get("balance_minor"), get("balance")) {
        (Some(m), _) if !m.is_empty() => m
            .parse::<i64>()
            .map_err(|_| {
                bad(
                    "balance_minor",
                    format!("{m:?} is not a whole number of kuruş"),
                )
            })
            .ok(),
        (_, Some(b)) if !b.is_empty() => import::parse_money(b).map_err(|r| bad("balance", r)).ok(),
        _ => Some(0),
    };
    let (Some(kind), Some(balance)) = (kind, balance) else {
        return Err(errors);
    };
    let phones = import::split_phones(get("phones").unwrap_or_default());
    NewCustomerAccount::new(
        get("code").unwrap_or_default(),
        get("title").unwrap_or_default(),
        kind,
        &phones,
        country,
        balance,
        attributes(fields),
    )
    .map_err(|v| row_errors(row, fields, v))
}
