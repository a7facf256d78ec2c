//! The import wizard. `GET /import` (step 1: the file, subscribers or customer accounts, the
//! group), `POST /import` (the file spooled under the data directory as the API spools its
//! uploads, never sent back to the browser; step 2: the column mapping over a preview of the
//! first rows), `POST /import/run` (step 3: the API's own import run on the spooled file, with
//! the per-row errors) and `GET /import/{token}/errors.csv`. Operator role or above posts.

use std::path::PathBuf;
use std::time::Duration;

use askama::Template;
use axum::extract::multipart::{Field, MultipartRejection};
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use ulak_core::model::{ListQuery, Role, User};

use super::dashboard::other;
use super::i18n::Texts;
use super::pages::{self, render};
use super::session::{WebUser, random_token};
use crate::import;
use crate::routes::imports as api;
use crate::startup::AppState;

/// Data rows the mapping step shows.
const PREVIEW_ROWS: usize = 5;
/// Uploads and error reports older than this are removed when the next upload comes.
const KEEP: Duration = Duration::from_secs(24 * 3600);
/// Groups offered in the group list (the API's largest page).
const GROUPS_SHOWN: u32 = 500;
/// Uploads of one company waiting for their import at most, finished or still arriving: with
/// each under the body limit this bounds the disk one company's users can fill (abandoned
/// wizards otherwise stay a day). A new upload past it drops the company's oldest finished
/// one; when all are still arriving it is refused (429).
pub(super) const PENDING_MAX: usize = 5;

/// Held while an upload takes its place (counts the company's, makes room, creates its
/// files): a short folder read, so that uploads arriving at once count each other.
static PLACES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
/// An upload whose file has not grown for this long counts as abandoned, not arriving.
const STALLED: Duration = Duration::from_secs(600);

/// What step 1 chose, kept beside the spooled file until the import runs.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Meta {
    pub company: i64,
    /// The file has arrived (step 1 answered); before that the upload is in flight.
    #[serde(default)]
    pub complete: bool,
    pub customers: bool,
    pub group: Option<i64>,
    pub new_group: String,
    pub content_type: Option<String>,
}

/// The wizard's folder in the data directory.
pub(super) fn folder(state: &AppState) -> PathBuf {
    state.settings().data_dir.join("web-imports")
}

/// Whether `token` is one [`random_token`] makes (it names files, so nothing else may pass).
pub(super) fn token_ok(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Removes what abandoned wizards left behind.
async fn sweep(dir: &std::path::Path) {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return;
    };
    while let Ok(Some(e)) = entries.next_entry().await {
        let old = e
            .metadata()
            .await
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age > KEEP);
        if old {
            let _ = tokio::fs::remove_file(e.path()).await;
        }
    }
}

/// Makes room for one more upload of `company` (under [`PLACES`]): of its uploads waiting
/// (a `.upload` file whose meta data names the company) the oldest finished ones go until
/// fewer than [`PENDING_MAX`] are left; `false` when that is not possible, all of them still
/// arriving.
async fn make_room(dir: &std::path::Path, company: i64) -> bool {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return true;
    };
    let (mut arriving, mut finished) = (0, Vec::new());
    while let Ok(Some(e)) = entries.next_entry().await {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "upload") {
            continue;
        }
        let meta = path.with_extension("json");
        let Ok(bytes) = tokio::fs::read(&meta).await else {
            continue;
        };
        let Ok(m) = serde_json::from_slice::<Meta>(&bytes) else {
            continue;
        };
        let at = e.metadata().await.ok().and_then(|m| m.modified().ok());
        // One whose file has not grown for a while was left by a client gone or a crash.
        let stalled = at
            .and_then(|at| at.elapsed().ok())
            .is_some_and(|idle| idle > STALLED);
        match (m.company == company, m.complete || stalled, at) {
            (true, true, Some(at)) => finished.push((at, path, meta)),
            (true, _, _) => arriving += 1,
            _ => {}
        }
    }
    if arriving >= PENDING_MAX {
        return false;
    }
    finished.sort();
    let extra = (arriving + finished.len() + 1).saturating_sub(PENDING_MAX);
    for (_, upload, meta) in finished.into_iter().take(extra) {
        let _ = tokio::fs::remove_file(upload).await;
        let _ = tokio::fs::remove_file(meta).await;
    }
    true
}

/// Takes a place for upload `token` of `company`: room made, its meta data and an empty file
/// written, so that it counts from now on. `Err` with the page to answer.
async fn take_place(
    t: Texts,
    dir: &std::path::Path,
    token: &str,
    meta: &Meta,
) -> Result<(), Refusal> {
    let _place = PLACES.lock().await;
    if !make_room(dir, meta.company).await {
        return Err(pages::error(
            StatusCode::TOO_MANY_REQUESTS,
            t,
            "import.busy",
        ));
    }
    let written = async {
        tokio::fs::write(dir.join(format!("{token}.json")), serde_json::to_vec(meta)?).await?;
        tokio::fs::File::create(dir.join(format!("{token}.upload"))).await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    };
    written.await.map_err(|e| {
        tracing::error!(error = %e, "cannot place an upload");
        pages::internal(t)
    })
}

#[derive(Template)]
#[template(path = "web/import.html")]
struct StartPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a User,
    csrf: &'a str,
    other_language: &'a str,
    may_edit: bool,
    groups: Vec<(i64, String)>,
    alert: Option<String>,
}

/// `GET /import`: step 1 (a viewer reads that importing needs the operator role).
pub async fn start(State(state): State<AppState>, user: WebUser) -> Response {
    start_page(&state, &user, StatusCode::OK, None).await
}

async fn start_page(
    state: &AppState,
    user: &WebUser,
    status: StatusCode,
    alert: Option<String>,
) -> Response {
    let t = user.texts();
    let company = user.session.user.company_id;
    let groups = match ListQuery::parse(Some(GROUPS_SHOWN), None, None, None) {
        Ok(q) => match state.store().list_groups(company, &q).await {
            Ok(page) => page
                .items
                .into_iter()
                .map(|g| (g.id.0, g.name.as_str().to_owned()))
                .collect(),
            Err(e) => {
                tracing::error!(error = %e, "listing groups failed");
                return pages::internal(t);
            }
        },
        Err(_) => Vec::new(),
    };
    render(
        status,
        &StartPage {
            t,
            active: "import",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: other(t.language()).as_str(),
            may_edit: user.may(Role::Operator),
            groups,
            alert,
        },
    )
}

/// A field of the mapping step.
struct FieldChoice {
    name: &'static str,
    label: &'static str,
    chosen: String,
}

#[derive(Template)]
#[template(path = "web/import_map.html")]
struct MapPage<'a> {
    t: Texts,
    active: &'a str,
    who: &'a User,
    csrf: &'a str,
    other_language: &'a str,
    token: String,
    customers: bool,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    fields: Vec<FieldChoice>,
}

/// Why an upload ended early: the answer to give.
type Refusal = Response;

/// The CSRF token, which the form sends first so nothing is read or stored before it is
/// checked.
async fn check_csrf(user: &WebUser, mp: &mut Multipart) -> Option<Refusal> {
    let t = user.texts();
    let Ok(Some(first)) = mp.next_field().await else {
        return Some(pages::csrf_refused(t));
    };
    if first.name() != Some("csrf") {
        return Some(pages::csrf_refused(t));
    }
    let sent = first.text().await.unwrap_or_default();
    user.csrf_refusal(&sent)
}

/// A multipart failure: the 413 page when the body is over the API's limit, else 400.
fn multipart_refusal(t: Texts, e: &axum::extract::multipart::MultipartError) -> Refusal {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        pages::error(StatusCode::PAYLOAD_TOO_LARGE, t, "import.too_large")
    } else {
        pages::bad_request(t)
    }
}

/// Writes the file part to `path`; `false` when the form had no file chosen.
async fn spool(t: Texts, mut field: Field<'_>, path: &std::path::Path) -> Result<bool, Refusal> {
    use tokio::io::AsyncWriteExt;
    if field.file_name().is_none_or(str::is_empty) {
        return Ok(false);
    }
    let mut out = tokio::fs::File::create(path).await.map_err(|e| {
        tracing::error!(error = %e, "cannot spool an upload");
        pages::internal(t)
    })?;
    let mut bytes = 0usize;
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_refusal(t, &e))? {
        bytes += chunk.len();
        out.write_all(&chunk)
            .await
            .map_err(|_| pages::internal(t))?;
    }
    out.flush().await.map_err(|_| pages::internal(t))?;
    Ok(bytes > 0)
}

/// Reads step 1's fields after the CSRF token, the file into `path`.
async fn read_upload(
    t: Texts,
    mp: &mut Multipart,
    meta: &mut Meta,
    path: &std::path::Path,
) -> Result<bool, Refusal> {
    let mut got_file = false;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(got_file),
            Err(e) => return Err(multipart_refusal(t, &e)),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            meta.content_type = field.content_type().map(str::to_owned);
            got_file = spool(t, field, path).await?;
            continue;
        }
        let text = field.text().await.map_err(|e| multipart_refusal(t, &e))?;
        match name.as_str() {
            "kind" => meta.customers = text == "customers",
            "group" => meta.group = text.trim().parse().ok(),
            "new_group" => text.trim().clone_into(&mut meta.new_group),
            _ => return Err(pages::bad_request(t)),
        }
    }
}

/// `POST /import` (multipart): spools the file and shows the mapping step.
pub async fn upload(
    State(state): State<AppState>,
    user: WebUser,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let t = user.texts();
    let Ok(mut mp) = multipart else {
        return pages::bad_request(t);
    };
    if let Some(r) = check_csrf(&user, &mut mp).await {
        return r;
    }
    if !user.may(Role::Operator) {
        return pages::error(StatusCode::FORBIDDEN, t, "error.forbidden");
    }
    let dir = folder(&state);
    if let Err(e) = tokio::fs::create_dir_all(&dir).await {
        tracing::error!(error = %e, "cannot create the import folder");
        return pages::internal(t);
    }
    sweep(&dir).await;
    let Some(token) = random_token() else {
        return pages::internal(t);
    };
    let path = dir.join(format!("{token}.upload"));
    let meta_path = dir.join(format!("{token}.json"));
    let mut meta = Meta {
        company: user.session.user.company_id.0,
        ..Meta::default()
    };
    if let Err(r) = take_place(t, &dir, &token, &meta).await {
        return r;
    }
    let got_file = match read_upload(t, &mut mp, &mut meta, &path).await {
        Ok(g) => g,
        Err(r) => {
            let _ = tokio::fs::remove_file(&path).await;
            let _ = tokio::fs::remove_file(&meta_path).await;
            return r;
        }
    };
    if !got_file {
        let _ = tokio::fs::remove_file(&path).await;
        let _ = tokio::fs::remove_file(&meta_path).await;
        let alert = Some(t.get("import.no_file").to_owned());
        return start_page(&state, &user, StatusCode::UNPROCESSABLE_ENTITY, alert).await;
    }
    if meta.customers {
        meta.group = None;
        meta.new_group.clear();
    }
    match preview(&path, &meta).await {
        Ok((header, rows)) => {
            meta.complete = true;
            let meta_json = serde_json::to_vec(&meta).unwrap_or_default();
            if tokio::fs::write(&meta_path, meta_json).await.is_err() {
                return pages::internal(t);
            }
            map_page(&user, token, meta.customers, header, rows)
        }
        Err(()) => {
            let _ = tokio::fs::remove_file(&path).await;
            let _ = tokio::fs::remove_file(&meta_path).await;
            let alert = Some(t.get("import.unreadable").to_owned());
            start_page(&state, &user, StatusCode::UNPROCESSABLE_ENTITY, alert).await
        }
    }
}

/// The header and first rows of the spooled file, read as the import reads it.
pub(super) async fn preview(
    path: &std::path::Path,
    meta: &Meta,
) -> Result<(Vec<String>, Vec<Vec<String>>), ()> {
    let file = std::fs::File::open(path).map_err(|_| ())?;
    let (format, file) = api::open_file(Some((meta.content_type.clone(), file))).map_err(|_| ())?;
    tokio::task::spawn_blocking(move || import::preview(format, file, PREVIEW_ROWS))
        .await
        .map_err(|_| ())?
        .map_err(|_| ())
}

/// The catalogue key of an import field's label.
fn field_key(field: &str) -> &'static str {
    match field {
        "name" => "import.field.name",
        "phone" => "import.field.phone",
        "tckn" => "import.field.tckn",
        "consent" => "import.field.consent",
        "code" => "import.field.code",
        "title" => "import.field.title",
        "kind" => "import.field.kind",
        "phones" => "import.field.phones",
        "balance" => "import.field.balance",
        _ => "import.field.balance_minor",
    }
}

fn map_page(
    user: &WebUser,
    token: String,
    customers: bool,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
) -> Response {
    let t = user.texts();
    let names = if customers {
        api::CUSTOMER_FIELDS
    } else {
        api::SUBSCRIBER_FIELDS
    };
    // A column named like a field needs no mapping (as in the API): it is preselected.
    let fields = names
        .iter()
        .map(|name| FieldChoice {
            name,
            label: t.get(field_key(name)),
            chosen: header
                .iter()
                .find(|c| c.eq_ignore_ascii_case(name))
                .cloned()
                .unwrap_or_default(),
        })
        .collect();
    render(
        StatusCode::OK,
        &MapPage {
            t,
            active: "import",
            who: &user.session.user,
            csrf: &user.csrf,
            other_language: other(t.language()).as_str(),
            token,
            customers,
            header,
            rows,
            fields,
        },
    )
}
