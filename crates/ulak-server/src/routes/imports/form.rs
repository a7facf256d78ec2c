//! An import's multipart form, read as it arrives: the file spooled to disk, the mapping, the
//! mode and the group.

use std::collections::BTreeMap;

use axum::extract::Multipart;
use ulak_core::Code;

use crate::error::ApiError;
use crate::import::{Format, Mapping, Mode};

/// The read form: the file spooled to disk, and the other fields.
#[derive(Default)]
pub(super) struct Form {
    pub(super) file: Option<(Option<String>, std::fs::File)>,
    pub(super) mapping: Mapping,
    pub(super) mode: Mode,
    pub(super) group_id: Option<i64>,
}

/// A multipart error as a problem: 413 when the body is over the limit, else 400.
fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge(e.body_text())
    } else {
        ApiError::BadRequest(e.body_text())
    }
}

/// Reads the form; the file goes to a temporary file in `spool_dir` as it arrives (never
/// whole in memory), which is deleted when dropped.
pub(super) async fn read_form(
    mut multipart: Multipart,
    spool_dir: &std::path::Path,
) -> Result<Form, ApiError> {
    use tokio::io::AsyncWriteExt;
    let mut form = Form::default();
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" => {
                let ct = field.content_type().map(str::to_owned);
                let spool = tempfile::tempfile_in(spool_dir)
                    .map_err(|e| ApiError::Internal(format!("cannot spool the upload: {e}")))?;
                let mut out = tokio::fs::File::from_std(spool);
                let write =
                    |e: std::io::Error| ApiError::Internal(format!("spooling the upload: {e}"));
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    out.write_all(&chunk).await.map_err(write)?;
                }
                out.flush().await.map_err(write)?;
                form.file = Some((ct, out.into_std().await));
            }
            "mapping" => {
                let text = field.text().await.map_err(multipart_error)?;
                if !text.trim().is_empty() {
                    let map: BTreeMap<String, String> =
                        serde_json::from_str(&text).map_err(|e| {
                            ApiError::field(
                                "mapping",
                                Code::ImportColumn,
                                format!("not a JSON object of strings: {e}"),
                            )
                        })?;
                    form.mapping = Mapping(map);
                }
            }
            "mode" => {
                let text = field.text().await.map_err(multipart_error)?;
                form.mode = match text.trim() {
                    "" | "all-or-nothing" => Mode::AllOrNothing,
                    "skip-invalid" => Mode::SkipInvalid,
                    other => {
                        return Err(ApiError::field(
                            "mode",
                            Code::ValueInvalid,
                            format!("{other:?}: expected all-or-nothing or skip-invalid"),
                        ));
                    }
                };
            }
            "group_id" => {
                let text = field.text().await.map_err(multipart_error)?;
                let id = text
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| ApiError::field("group_id", Code::ValueInvalid, "not a number"))?;
                form.group_id = Some(id);
            }
            other => {
                return Err(ApiError::field(
                    other,
                    Code::ValueInvalid,
                    "unknown form field",
                ));
            }
        }
    }
    Ok(form)
}

/// The spooled file rewound, with its format (from the content type or the first bytes).
pub(crate) fn open_file(
    file: Option<(Option<String>, std::fs::File)>,
) -> Result<(Format, std::fs::File), ApiError> {
    use std::io::{Read, Seek, SeekFrom};
    let (content_type, mut f) =
        file.ok_or_else(|| ApiError::field("file", Code::ValueEmpty, "the form has no file"))?;
    let io = |e: std::io::Error| ApiError::Internal(format!("reading the spooled upload: {e}"));
    f.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut magic = [0u8; 4];
    let n = f.read(&mut magic).map_err(io)?;
    f.seek(SeekFrom::Start(0)).map_err(io)?;
    Ok((Format::detect(content_type.as_deref(), &magic[..n]), f))
}
