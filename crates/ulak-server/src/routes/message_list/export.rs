//! `GET /api/v1/campaigns/{id}/export`: a campaign's messages as CSV, streamed.
//!
//! The body is written page by page (1,000 rows per read of the campaign's index, nothing
//! held open between reads), so memory stays the same at a million rows. A client that
//! leaves drops the body and with it the read in progress; a stopping server ends the body
//! with an error, so the client sees a cut transfer rather than a file that looks whole.
//!
//! Spreadsheets run a cell that begins with `=`, `+`, `-` or `@` as a formula (CSV
//! injection). Free-text columns (`state_reason`, `error_code`: operators write those)
//! that begin so get a leading `'`. So does `recipient`, unless it is what a valid one is:
//! an E.164 number (`+905321234567`, which a spreadsheet reads as that number, no formula)
//! or 11 digits, left as they are so the file still matches other data. A pasted entry that
//! was no number is stored as typed on its skipped message, so it may be anything.

use std::io;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ulak_core::model::CompanyId;
use ulak_store::{MessageCursor, MessageSummary, rfc3339};

use crate::auth::Caller;
use crate::error::{ApiError, Path};
use crate::startup::AppState;

/// Rows per read.
const PAGE_ROWS: u32 = 1000;

/// The header row.
const COLUMNS: [&str; 10] = [
    "id",
    "recipient",
    "state",
    "state_reason",
    "error_code",
    "segments",
    "cost",
    "created_at",
    "submitted_at",
    "final_at",
];

/// A free-text cell a spreadsheet would not run as a formula.
pub(crate) fn inert(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

/// A recipient cell: a valid address (`+` and digits, or digits) as it is, anything else
/// made inert.
fn recipient(s: &str) -> String {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        s.to_owned()
    } else {
        inert(s)
    }
}

/// CSV of `rows` (with the header row first when `header`), RFC 4180 quoting.
pub(super) fn csv_rows(rows: &[MessageSummary], header: bool) -> io::Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(rows.len() * 128 + 128));
    if header {
        w.write_record(COLUMNS)?;
    }
    let time = |t: Option<i64>| t.map(rfc3339).unwrap_or_default();
    for m in rows {
        w.write_record([
            m.id.to_string(),
            recipient(&m.recipient),
            m.state.as_str().to_owned(),
            m.state_reason.as_deref().map(inert).unwrap_or_default(),
            m.error_code.as_deref().map(inert).unwrap_or_default(),
            m.segments.to_string(),
            m.cost.to_string(),
            time(Some(m.created_at)),
            time(m.submitted_at),
            time(m.final_at),
        ])?;
    }
    w.into_inner().map_err(|e| e.into_error())
}

/// Where the export is.
struct Export {
    state: AppState,
    company: CompanyId,
    campaign: i64,
    after: Option<MessageCursor>,
    header: bool,
    done: bool,
}

impl Export {
    /// The next piece of the body; `None` at the end.
    async fn next(mut self) -> Option<(io::Result<Bytes>, Export)> {
        if self.done {
            return None;
        }
        let stop = self.state.shutdown().clone();
        let read = self.state.store().campaign_messages_after(
            self.company,
            self.campaign,
            self.after,
            PAGE_ROWS,
        );
        let rows = tokio::select! {
            () = stop.cancelled() => {
                self.done = true;
                return Some((Err(io::Error::other("the server is stopping")), self));
            }
            r = read => r,
        };
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, campaign = self.campaign, "campaign export failed");
                self.done = true;
                return Some((Err(io::Error::other("the export failed")), self));
            }
        };
        if rows.is_empty() && !self.header {
            return None;
        }
        self.done = rows.len() < PAGE_ROWS as usize;
        self.after = rows.last().map(MessageSummary::cursor).or(self.after);
        let chunk = csv_rows(&rows, std::mem::take(&mut self.header));
        Some((chunk.map(Bytes::from), self))
    }
}

/// Downloads a campaign's messages as CSV (`text/csv; charset=utf-8`, comma-separated,
/// CRLF lines, RFC 4180 quoting): a header row, then one row per message oldest first —
/// id, recipient, state, state_reason, error_code, segments, cost, created_at,
/// submitted_at, final_at (times RFC 3339 UTC, empty when not yet). Free-text cells that
/// begin with `=`, `+`, `-` or `@` get a leading `'` so spreadsheets do not run them;
/// a valid recipient (E.164 or 11 digits) is left as it is, any other (a pasted entry that
/// was skipped, stored as typed) made inert the same way. Streamed: any size, constant
/// memory; a transfer cut short (the server stopped) ends without the final chunk.
#[utoipa::path(get, path = "/campaigns/{id}/export", tag = "campaigns",
    params(("id" = i64, Path, description = "Campaign id")),
    responses((status = 200, description = "The campaign's messages as CSV", content_type = "text/csv", body = String,
        headers(("Content-Disposition" = String, description = "attachment; filename=\"campaign-<id>.csv\"")))),
    security(("api_key" = [])))]
pub(super) async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    state
        .store()
        .get_campaign_lean(caller.company, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(stream(state, caller.company, id))
}

/// The streamed CSV answer of campaign `id` of `company` (the caller checked that it is the
/// company's); the web UI's download answers with it too.
pub(crate) fn stream(state: AppState, company: CompanyId, id: i64) -> Response {
    let start = Export {
        state,
        company,
        campaign: id,
        after: None,
        header: true,
        done: false,
    };
    let body = Body::from_stream(futures_util::stream::unfold(start, Export::next));
    let disposition = format!("attachment; filename=\"campaign-{id}.csv\"");
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    // Digits only: always a valid header value.
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(CONTENT_DISPOSITION, v);
    }
    res
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use ulak_core::model::MessageState;

    use super::*;

    fn row(reason: Option<&str>, code: Option<&str>) -> MessageSummary {
        MessageSummary {
            id: 7,
            campaign_id: Some(1),
            state: MessageState::Failed,
            state_reason: reason.map(Into::into),
            state_at: 0,
            recipient_kind: "msisdn".into(),
            recipient: "+905321234567".into(),
            sender: "ULAK".into(),
            segments: 2,
            cost: 2,
            error_code: code.map(Into::into),
            created_at: 1_674_087_231_123,
            submitted_at: None,
            final_at: Some(1_674_087_232_000),
            provider_account_id: Some(1),
            route_id: None,
        }
    }

    #[test]
    fn rows_are_quoted_and_formulas_made_inert() {
        let out = csv_rows(
            &[
                row(Some("=HYPERLINK(\"http://x\")"), Some("@SUM(1)")),
                row(Some("a, \"b\"\nc"), Some("-1")),
                row(None, None),
            ],
            true,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines[0], COLUMNS.join(","));
        assert_eq!(
            lines[1],
            "7,+905321234567,failed,\"'=HYPERLINK(\"\"http://x\"\")\",'@SUM(1),2,2,\
             2023-01-19T00:13:51.123Z,,2023-01-19T00:13:52.000Z"
        );
        // A line break inside a quoted cell stays in the cell.
        assert!(lines[2].starts_with("7,+905321234567,failed,\"a, \"\"b\"\"\nc\",'-1,"));
        assert_eq!(
            lines[3],
            "7,+905321234567,failed,,,2,2,2023-01-19T00:13:51.123Z,,2023-01-19T00:13:52.000Z"
        );
        assert_eq!(lines[4], "");
    }

    /// A skipped recipient is stored as it was pasted: only a real number passes untouched.
    #[test]
    fn recipients_that_are_no_number_are_made_inert() {
        for (stored, cell) in [
            ("+905321234567", "+905321234567"),
            ("10000000078", "10000000078"),
            ("+cmd|x!A0", "'+cmd|x!A0"),
            ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(1)", "'@SUM(1)"),
            ("+", "'+"),
            ("0532 123", "0532 123"),
        ] {
            assert_eq!(recipient(stored), cell, "{stored}");
        }
    }
}
