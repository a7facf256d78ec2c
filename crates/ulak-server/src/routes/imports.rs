//! `POST /api/v1/subscribers/import` and `POST /api/v1/customers/import`: a CSV or XLSX file,
//! a column mapping, all-or-nothing or skip-invalid, and a per-row error report (row number,
//! column, reason).

use std::collections::BTreeMap;

use axum::Json as JsonOut;
use axum::extract::{Multipart, State};
use serde::Serialize;
use ulak_core::model::{Consent, CustomerKind, GroupId, NewCustomerAccount, NewSubscriber, Role};
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

/// Fields a customer account import fills; `attr.<name>` mappings add attributes.
const CUSTOMER_FIELDS: &[&str] = &[
    "code",
    "title",
    "kind",
    "phones",
    "balance",
    "balance_minor",
];

/// The multipart form of an import.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the form; the handler reads the parts as they stream in
pub struct ImportForm {
    /// The CSV (`,` `;` or tab separated; UTF-8 or Windows-1254) or XLSX file; first row is the header.
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    pub file: String,
    /// JSON object field → column, e.g. `{"phone": "Telefon", "name": "Ad Soyad", "attr.bakiye": "Bakiye"}`.
    /// Columns named like a field need no mapping. Subscribers: `name`, `phone`, `tckn`,
    /// `consent`. Customer accounts: `code`, `title`, `kind` (customer/supplier, müşteri/tedarikçi),
    /// `phones` (several separated by `,` `;` `/` or `|`), `balance` (TL, e.g. `1.234,56`) or
    /// `balance_minor` (kuruş).
    pub mapping: Option<String>,
    /// `all-or-nothing` (default) or `skip-invalid`.
    pub mode: Option<String>,
    /// Subscribers only: add every imported subscriber to this group, and the subscribers
    /// that already exist too (they are left as they are otherwise).
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
    /// Why, per row (row numbers as in the file, the header being row 1).
    pub errors: Vec<RowError>,
    /// The mode applied.
    pub mode: Mode,
}

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_subscribers))
        .routes(routes!(import_customers))
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
    let table = read_table(form.file)?;
    let known = known_fields(SUBSCRIBER_FIELDS, &form.mapping);
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
        let keys = rows.iter().map(|r| r.phone.e164());
        errors.extend(batch_duplicates(keys, &row_numbers, SUBSCRIBER_KEY));
        errors.sort_by_key(|e| e.row);
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
            errors.extend(
                rejected
                    .iter()
                    .map(|r| store_row_error(r, &row_numbers, SUBSCRIBER_KEY)),
            );
            errors.sort_by_key(|e| e.row);
            return Err(ImportError::Rejected(ImportRejected::new(total, errors)));
        }
        Err(e) => return Err(ApiError::from(e).into()),
    };
    errors.extend(
        report
            .rejected
            .iter()
            .map(|r| store_row_error(r, &row_numbers, SUBSCRIBER_KEY)),
    );
    errors.sort_by_key(|e| e.row);
    Ok(JsonOut(ImportResult {
        rows: total,
        imported: report.inserted,
        added_to_group: report.grouped_existing,
        skipped: total.saturating_sub((report.inserted + report.grouped_existing) as usize),
        errors,
        mode: form.mode,
    }))
}

/// Reads the uploaded file as a table; a missing or unreadable file is a 422 on `file`.
fn read_table(file: Option<(Option<String>, Vec<u8>)>) -> Result<import::Table, ApiError> {
    let (content_type, bytes) =
        file.ok_or_else(|| ApiError::field("file", "the form has no file"))?;
    let format = Format::detect(content_type.as_deref(), &bytes);
    import::table::read(format, &bytes, MAX_ROWS)
        .map_err(|e| ApiError::field("file", e.to_string()))
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

/// Repeats of a unique key among the valid rows, so that an import refused for invalid rows
/// also names its duplicates at once (the store finds them only when it gets to run).
fn batch_duplicates<'a>(
    keys: impl Iterator<Item = &'a str>,
    row_numbers: &[usize],
    (column, what, _): KeyNames,
) -> Vec<RowError> {
    let mut first = std::collections::HashMap::new();
    let mut out = Vec::new();
    for (i, key) in keys.enumerate() {
        let row = row_numbers.get(i).copied().unwrap_or(0);
        match first.get(key) {
            Some(f) => out.push(RowError {
                row,
                column: column.to_owned(),
                reason: format!("the same {what} as row {f}"),
            }),
            None => {
                first.insert(key, row);
            }
        }
    }
    out
}

/// A row the store refused, as a row error with the file's row number.
fn store_row_error(
    r: &ulak_store::ImportRowError,
    row_numbers: &[usize],
    (column, what, owner): KeyNames,
) -> RowError {
    let row = row_numbers.get(r.index).copied().unwrap_or(0);
    let reason = match (r.reason, r.first_index.and_then(|i| row_numbers.get(i))) {
        ("duplicate_in_batch", Some(first)) => format!("the same {what} as row {first}"),
        ("exists", _) => format!("{owner} with this {what} already exists"),
        (other, _) => other.to_owned(),
    };
    RowError {
        row,
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
        (status = 422, description = "Broken file, unknown columns, or invalid rows in all-or-nothing mode (nothing imported)", body = ImportRejected, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
async fn import_customers(
    State(state): State<AppState>,
    caller: Caller,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<JsonOut<ImportResult>, ImportError> {
    caller.require(Role::Operator)?;
    let multipart = multipart.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let form = read_form(multipart).await?;
    if form.group_id.is_some() {
        return Err(ApiError::field("group_id", "customer accounts have no groups").into());
    }
    let country = caller.country(&state).await?;
    let table = read_table(form.file)?;
    let known = known_fields(CUSTOMER_FIELDS, &form.mapping);
    let known_refs: Vec<&str> = known.iter().map(String::as_str).collect();
    let mapped = import::map(
        &table,
        &form.mapping,
        &known_refs,
        &["code", "title", "phones"],
    )
    .map_err(|e| ApiError::field("mapping", e.to_string()))?;

    let mut errors = Vec::new();
    let mut rows = Vec::with_capacity(mapped.len());
    let mut row_numbers = Vec::with_capacity(mapped.len());
    for (row, fields) in mapped.rows() {
        let get = |f: &str| fields.get(f).map(|(_, v)| v.trim());
        let column = |f: &str| fields.get(f).map_or(f, |(c, _)| *c).to_owned();
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
            (_, Some(b)) if !b.is_empty() => {
                import::parse_money(b).map_err(|r| bad("balance", r)).ok()
            }
            _ => Some(0),
        };
        let (Some(kind), Some(balance)) = (kind, balance) else {
            continue;
        };
        let attributes: BTreeMap<String, String> = fields
            .iter()
            .filter_map(|(f, (_, v))| {
                f.strip_prefix("attr.")
                    .map(|a| (a.to_owned(), (*v).to_owned()))
            })
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let phones = import::split_phones(get("phones").unwrap_or_default());
        match NewCustomerAccount::new(
            get("code").unwrap_or_default(),
            get("title").unwrap_or_default(),
            kind,
            &phones,
            country,
            balance,
            attributes,
        ) {
            Ok(c) => {
                rows.push(c);
                row_numbers.push(row);
            }
            Err(v) => errors.extend(v.0.into_iter().map(|f| {
                let field = f.field.split(['.', '[']).next().unwrap_or(&f.field);
                RowError {
                    row,
                    column: fields.get(field).map_or(field, |(c, _)| *c).to_owned(),
                    reason: f.message,
                }
            })),
        }
    }
    let total = mapped.len();
    if form.mode == Mode::AllOrNothing && !errors.is_empty() {
        let keys = rows.iter().map(|r| r.code.as_str());
        errors.extend(batch_duplicates(keys, &row_numbers, CUSTOMER_KEY));
        errors.sort_by_key(|e| e.row);
        return Err(ImportError::Rejected(ImportRejected::new(total, errors)));
    }
    let mode = match form.mode {
        Mode::AllOrNothing => ImportMode::AllOrNothing,
        Mode::SkipInvalid => ImportMode::SkipInvalid,
    };
    let report = match state
        .store()
        .import_customer_accounts(caller.company, rows, mode)
        .await
    {
        Ok(r) => r,
        Err(ulak_store::StoreError::ImportRejected { rows: rejected }) => {
            errors.extend(
                rejected
                    .iter()
                    .map(|r| store_row_error(r, &row_numbers, CUSTOMER_KEY)),
            );
            errors.sort_by_key(|e| e.row);
            return Err(ImportError::Rejected(ImportRejected::new(total, errors)));
        }
        Err(e) => return Err(ApiError::from(e).into()),
    };
    errors.extend(
        report
            .rejected
            .iter()
            .map(|r| store_row_error(r, &row_numbers, CUSTOMER_KEY)),
    );
    errors.sort_by_key(|e| e.row);
    Ok(JsonOut(ImportResult {
        rows: total,
        imported: report.inserted,
        added_to_group: 0,
        skipped: total.saturating_sub(report.inserted as usize),
        errors,
        mode: form.mode,
    }))
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
