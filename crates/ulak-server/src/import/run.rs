//! Running an import: the file is read twice, and the database's writer is only taken for
//! short transactions in the second reading.
//!
//! 1. Every row is read, validated and checked by the store session with reads only
//!    (repeats, existing keys). An all-or-nothing import with any refused row ends here, and
//!    nothing was written.
//! 2. The file is read again (reading and validating cost less than holding what they give:
//!    a million validated rows take hundreds of megabytes) and the rows not refused are
//!    written in short transactions.
//!
//! The work runs in its own task, so that a client that leaves (its request future is
//! dropped) or a server that stops never leaves half an import behind: the task notices the
//! stop token, stops reading within a row and writing within a transaction, and undoes what
//! it wrote.

use std::fs::File;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use ulak_store::{ImportMode, ImportReport, ImportRowError, ImportSession, StoreError};

use super::Mode;
use super::RowError;
use super::pipeline::{self, Fields, FileError, Parsed, Running, Spec};

/// How an import ended, when it ran to the end.
#[derive(Debug)]
pub enum Outcome {
    /// Stored (skip-invalid, or all-or-nothing with every row good).
    Done {
        /// What the reading found.
        parsed: Parsed,
        /// What the store did.
        report: ImportReport,
    },
    /// Nothing stored: all-or-nothing, and some rows were refused.
    Rejected {
        /// What the reading found.
        parsed: Parsed,
        /// The rows the store refused.
        rejected: Vec<ImportRowError>,
    },
}

/// Why an import did not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The file or the mapping cannot be imported.
    #[error(transparent)]
    File(FileError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stopped by the client leaving or the server stopping; nothing is left behind.
    #[error("the import was stopped")]
    Stopped,
    /// The import's task failed.
    #[error("import task: {0}")]
    Task(String),
}

impl From<FileError> for RunError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::Stopped => RunError::Stopped,
            other => RunError::File(other),
        }
    }
}

/// An import to run: how to read the file, and how to turn a row into a value.
pub struct Job<F> {
    /// How to read the file.
    pub spec: Spec,
    /// The spooled upload.
    pub file: File,
    /// The mode asked for.
    pub mode: Mode,
    /// One row's fields to a value, or its errors.
    pub convert: F,
}

/// Runs `job` into `session` in a task of its own; `stop` (a child of the server's shutdown
/// token, cancelled too when the caller's future is dropped) ends it early, with the import
/// undone. `running` counts it in `/metrics` until its work has ended.
pub async fn run<T, S, F>(
    session: S,
    job: Job<F>,
    stop: CancellationToken,
    running: Arc<Running>,
) -> Result<Outcome, RunError>
where
    T: Send + Sync + 'static,
    S: ImportSession<T> + 'static,
    F: Fn(usize, &Fields<'_>) -> Result<T, Vec<RowError>> + Clone + Send + 'static,
{
    // Dropping the caller's future (the client left) cancels the work.
    let _cancel = stop.clone().drop_guard();
    let task = tokio::spawn(work(session, job, stop, running));
    task.await.map_err(|e| RunError::Task(e.to_string()))?
}

async fn work<T, S, F>(
    mut session: S,
    job: Job<F>,
    stop: CancellationToken,
    running: Arc<Running>,
) -> Result<Outcome, RunError>
where
    T: Send + Sync + 'static,
    S: ImportSession<T>,
    F: Fn(usize, &Fields<'_>) -> Result<T, Vec<RowError>> + Clone + Send + 'static,
{
    // However this ends, its reading threads stop with it.
    let reading = stop.child_token();
    let _end_reading = reading.clone().drop_guard();
    let copy = job
        .file
        .try_clone()
        .map_err(|e| RunError::Task(format!("reopening the spooled upload: {e}")))?;
    // Nothing is written in the first pass: an error leaves nothing to undo.
    let first = pipeline::stream(
        job.spec.clone(),
        copy,
        reading.clone(),
        running.clone(),
        job.convert.clone(),
    );
    let parsed = check_pass(&mut session, first).await?;
    if job.mode == Mode::AllOrNothing && (!parsed.errors.is_empty() || session.rejected() > 0) {
        let report = session.abort().await?;
        return Ok(Outcome::Rejected {
            parsed,
            rejected: report.rejected,
        });
    }
    let mode = match job.mode {
        Mode::AllOrNothing => ImportMode::AllOrNothing,
        Mode::SkipInvalid => ImportMode::SkipInvalid,
    };
    if let Err(e) = write_pass(&mut session, job, mode, &reading, running).await {
        // Undo even when the reason is a store error: what is left would be half an import.
        if let Err(undo) = session.abort().await {
            tracing::error!(error = %undo, "undoing a failed import failed");
        }
        return Err(e);
    }
    match session.finish(mode).await {
        Ok(report) => Ok(Outcome::Done { parsed, report }),
        Err(StoreError::ImportRejected { rows }) => Ok(Outcome::Rejected {
            parsed,
            rejected: rows,
        }),
        Err(e) => Err(e.into()),
    }
}

/// The first reading: every valid row checked by the store (reads only).
async fn check_pass<T, S>(
    session: &mut S,
    (mut batches, reader): (pipeline::Batches<T>, pipeline::Reader),
) -> Result<Parsed, RunError>
where
    T: Send + 'static,
    S: ImportSession<T>,
{
    while let Some(batch) = batches.recv().await {
        session.check(batch).await?;
    }
    finish_reading(reader).await
}

/// The second reading: the rows the first did not refuse, written in short transactions.
/// Stops between batches when `stop` fires, or when a refusal in all-or-nothing mode means
/// everything will be undone anyway.
async fn write_pass<T, S, F>(
    session: &mut S,
    job: Job<F>,
    mode: ImportMode,
    stop: &CancellationToken,
    running: Arc<Running>,
) -> Result<(), RunError>
where
    T: Send + 'static,
    S: ImportSession<T>,
    F: Fn(usize, &Fields<'_>) -> Result<T, Vec<RowError>> + Clone + Send + 'static,
{
    let refused = session.rejected();
    let (mut batches, reader) =
        pipeline::stream(job.spec, job.file, stop.clone(), running, job.convert);
    while let Some(batch) = batches.recv().await {
        if stop.is_cancelled() {
            return Err(RunError::Stopped);
        }
        session.write(batch, mode).await?;
        if mode == ImportMode::AllOrNothing && session.rejected() > refused {
            return Ok(());
        }
    }
    finish_reading(reader).await?;
    if stop.is_cancelled() {
        return Err(RunError::Stopped);
    }
    Ok(())
}

/// What the reading thread found, once it has ended.
async fn finish_reading(reader: pipeline::Reader) -> Result<Parsed, RunError> {
    match reader.await {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(e)) => Err(e.into()),
        Err(e) => Err(RunError::Task(format!("import reader: {e}"))),
    }
}
