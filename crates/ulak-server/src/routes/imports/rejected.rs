//! An import refused as a whole: the problem document, with the invalid rows when the mode was
//! all-or-nothing.

use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::import::RowError;
use crate::import::pipeline;

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
    /// Every problem, per row (at most 10,000).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub row_errors: Vec<RowError>,
    /// Row errors beyond the 10,000 listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row_errors_omitted: Option<usize>,
}

impl ImportRejected {
    pub(super) fn new(rows: usize, errors: pipeline::Errors) -> Self {
        let listed_rows = errors
            .list
            .iter()
            .map(|e| e.row)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let more = if errors.omitted > 0 {
            format!(" (and {} more problems not listed)", errors.omitted)
        } else {
            String::new()
        };
        ImportRejected {
            kind: "https://ulak.dev/problems/import-rejected".to_owned(),
            title: "Unprocessable Entity".to_owned(),
            status: 422,
            detail: Some(format!(
                "{listed_rows} of {rows} rows are invalid{more}; nothing was imported (mode all-or-nothing)"
            )),
            errors: Vec::new(),
            rows: Some(rows),
            row_errors: errors.list,
            row_errors_omitted: (errors.omitted > 0).then_some(errors.omitted),
        }
    }
}

/// What the import handler fails with.
pub enum ImportError {
    /// A general problem.
    Api(ApiError),
    /// Rows were invalid in all-or-nothing mode (boxed: it is large and rare).
    Rejected(Box<ImportRejected>),
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
