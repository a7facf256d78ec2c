//! The reading side of an import: a blocking thread reads the spooled file row by row, maps
//! and validates each row, and hands valid ones over in batches through a small channel, so
//! the rows in memory at any time are a few batches, whatever the file's length. The thread
//! checks a stop token at every row, so it ends within a row when the client leaves or the
//! server stops.

use std::collections::BTreeMap;
use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::table::{self, Format, ReadError, TableError};
use super::{Columns, Mapping, MappingError, RowError};

/// Valid rows handed over at a time.
pub const BATCH: usize = 2_000;
/// Bytes of cells after which a batch is handed over even when it has fewer rows.
pub const BATCH_BYTES: usize = 4 << 20;
/// Row errors reported in one answer; the rest are counted.
pub const MAX_REPORTED: usize = 10_000;

/// A row's cells by field: field → (column name, value).
pub type Fields<'a> = BTreeMap<&'a str, (&'a str, &'a str)>;

/// Row errors, the first [`MAX_REPORTED`] kept, the rest counted.
#[derive(Debug, Default)]
pub struct Errors {
    /// The kept errors.
    pub list: Vec<RowError>,
    /// Errors beyond the kept ones.
    pub omitted: usize,
}

impl Errors {
    /// Adds one error.
    pub fn push(&mut self, e: RowError) {
        if self.list.len() < MAX_REPORTED {
            self.list.push(e);
        } else {
            self.omitted += 1;
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Sorted by row, and cut to [`MAX_REPORTED`] again after merging.
    pub fn finish(mut self) -> Errors {
        self.list.sort_by_key(|e| e.row);
        if self.list.len() > MAX_REPORTED {
            self.omitted += self.list.len() - MAX_REPORTED;
            self.list.truncate(MAX_REPORTED);
        }
        self
    }
}

/// What the reading thread found.
#[derive(Debug)]
pub struct Parsed {
    /// Data rows in the file.
    pub rows: usize,
    /// Invalid rows' errors.
    pub errors: Errors,
}

/// Valid rows in batches of (row number, value).
pub type Batches<T> = mpsc::Receiver<Vec<(usize, T)>>;
/// The reading thread; gives what it found once the file is read.
pub type Reader = JoinHandle<Result<Parsed, FileError>>;

/// Why the file as a whole cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Not a readable table.
    #[error(transparent)]
    Table(TableError),
    /// The mapping does not fit the header.
    #[error(transparent)]
    Mapping(#[from] MappingError),
    /// The import was stopped: the client left, the server is stopping, or the receiving
    /// side went away.
    #[error("the import was stopped")]
    Stopped,
}

impl From<TableError> for FileError {
    fn from(e: TableError) -> Self {
        match e {
            TableError::Stopped => FileError::Stopped,
            other => FileError::Table(other),
        }
    }
}

/// Imports in progress, for `/metrics`: each holds a [`Running`] until its work, including
/// its reading threads, has ended.
#[derive(Debug, Clone, Default)]
pub struct Gauge(Arc<AtomicUsize>);

impl Gauge {
    /// Counts one import until the returned guard (and every clone of it) is dropped.
    pub fn start(&self) -> Arc<Running> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Arc::new(Running(self.0.clone()))
    }

    /// Imports in progress.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// One import in progress (see [`Gauge`]).
#[derive(Debug)]
pub struct Running(Arc<AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What reading a file needs besides the file.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The file's format.
    pub format: Format,
    /// Field → column.
    pub mapping: Mapping,
    /// The fields the import takes.
    pub known: Vec<String>,
    /// The fields that need a column.
    pub required: &'static [&'static str],
    /// Most data rows.
    pub max_rows: usize,
}

/// Starts reading `file`: valid rows arrive on the receiver in batches of (row number,
/// value); the handle gives the row count and the invalid rows' errors once the file is read.
/// `convert` turns one row's fields into a value or its errors. The thread ends with
/// [`FileError::Stopped`] within a row of `stop` firing, and holds `running` until it ends.
pub fn stream<T, F>(
    spec: Spec,
    file: File,
    stop: CancellationToken,
    running: Arc<Running>,
    convert: F,
) -> (Batches<T>, Reader)
where
    T: Send + 'static,
    F: Fn(usize, &Fields<'_>) -> Result<T, Vec<RowError>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(2);
    let handle = tokio::task::spawn_blocking(move || {
        let _running = running;
        let Spec {
            format,
            mapping,
            known,
            required,
            max_rows,
        } = spec;
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        let columns: std::cell::OnceCell<Columns> = std::cell::OnceCell::new();
        let mut errors = Errors::default();
        let mut batch = Vec::with_capacity(BATCH);
        let mut batch_bytes = 0usize;
        let rows = table::read_rows(
            format,
            file,
            max_rows,
            &stop,
            |header| {
                let _ = columns.set(super::map(header, &mapping, &known, required)?);
                Ok(())
            },
            |row, cells| {
                let Some(cols) = columns.get() else {
                    return Ok(());
                };
                let fields = cols.fields(cells);
                match convert(row, &fields) {
                    Ok(v) => {
                        batch_bytes += fields.values().map(|(_, v)| v.len()).sum::<usize>();
                        batch.push((row, v));
                    }
                    Err(errs) => errs.into_iter().for_each(|e| errors.push(e)),
                }
                if batch.len() == BATCH || batch_bytes >= BATCH_BYTES {
                    batch_bytes = 0;
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    tx.blocking_send(full).map_err(|_| FileError::Stopped)?;
                }
                Ok(())
            },
        )
        .map_err(|e| match e {
            ReadError::Table(t) => FileError::from(t),
            ReadError::Stopped(s) => s,
        })?;
        if !batch.is_empty() {
            tx.blocking_send(batch).map_err(|_| FileError::Stopped)?;
        }
        Ok(Parsed { rows, errors })
    });
    (rx, handle)
}
