//! The reading side of an import: a blocking thread reads the spooled file row by row, maps
//! and validates each row, and hands valid ones over in batches through a small channel, so
//! the rows in memory at any time are a few batches, whatever the file's length.

use std::collections::BTreeMap;
use std::fs::File;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::table::{self, Format, ReadError, TableError};
use super::{Columns, Mapping, MappingError, RowError};

/// Valid rows handed over at a time.
pub const BATCH: usize = 2_000;
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
    Table(#[from] TableError),
    /// The mapping does not fit the header.
    #[error(transparent)]
    Mapping(#[from] MappingError),
    /// The receiving side went away (the store failed).
    #[error("the import was stopped")]
    Stopped,
}

/// Starts reading `file`: valid rows arrive on the receiver in batches of (row number,
/// value); the handle gives the row count and the invalid rows' errors once the file is read.
/// `convert` turns one row's fields into a value or its errors.
pub fn stream<T, F>(
    format: Format,
    file: File,
    mapping: Mapping,
    known: Vec<String>,
    required: &'static [&'static str],
    max_rows: usize,
    convert: F,
) -> (Batches<T>, Reader)
where
    T: Send + 'static,
    F: Fn(usize, &Fields<'_>) -> Result<T, Vec<RowError>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(2);
    let handle = tokio::task::spawn_blocking(move || {
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        let columns: std::cell::OnceCell<Columns> = std::cell::OnceCell::new();
        let mut errors = Errors::default();
        let mut batch = Vec::with_capacity(BATCH);
        let rows = table::read_rows(
            format,
            file,
            max_rows,
            |header| {
                let _ = columns.set(super::map(header, &mapping, &known, required)?);
                Ok(())
            },
            |row, cells| {
                let Some(cols) = columns.get() else {
                    return Ok(());
                };
                match convert(row, &cols.fields(cells)) {
                    Ok(v) => batch.push((row, v)),
                    Err(errs) => errs.into_iter().for_each(|e| errors.push(e)),
                }
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    tx.blocking_send(full).map_err(|_| FileError::Stopped)?;
                }
                Ok(())
            },
        )
        .map_err(|e| match e {
            ReadError::Table(t) => FileError::Table(t),
            ReadError::Stopped(s) => s,
        })?;
        if !batch.is_empty() {
            tx.blocking_send(batch).map_err(|_| FileError::Stopped)?;
        }
        Ok(Parsed { rows, errors })
    });
    (rx, handle)
}
