//! Reading an uploaded table (CSV or XLSX) into a header and rows of text cells.
//!
//! Turkish spreadsheets come with traps: Excel's CSV uses `;` and often Windows-1254, a UTF-8
//! BOM may lead, and phone numbers typed into Excel come back as floats (905321234567.0).
//! Each is handled here so the rest of the import sees plain strings.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use calamine::{DataRef, Reader, Xlsx, open_workbook_from_rs};
use tokio_util::sync::CancellationToken;

/// Most columns a table may have; a row with more is refused.
pub const MAX_COLUMNS: usize = 1_000;
/// Longest cell, in bytes (an attribute value is at most 1,000 characters).
pub const MAX_CELL_BYTES: usize = 8 * 1024;

/// The kind of file uploaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-, semicolon- or tab-separated text.
    Csv,
    /// Office Open XML workbook (the first sheet is read).
    Xlsx,
}

impl Format {
    /// The format a content type names, or that the bytes start with (XLSX files are zip).
    pub fn detect(content_type: Option<&str>, bytes: &[u8]) -> Format {
        let ct = content_type.unwrap_or_default();
        if ct.contains("spreadsheetml") || ct.contains("excel") || bytes.starts_with(b"PK\x03\x04")
        {
            Format::Xlsx
        } else {
            Format::Csv
        }
    }
}

/// Why a file could not be read as a table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// Nothing in the file.
    #[error("the file is empty")]
    Empty,
    /// The header row has an empty or repeated column name.
    #[error("header column {column} is {problem}")]
    BadHeader {
        /// 1-based column number.
        column: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// CSV that cannot be parsed.
    #[error("CSV row {row}: {message}")]
    Csv {
        /// 1-based line of the record.
        row: usize,
        /// What the parser said.
        message: String,
    },
    /// A workbook that cannot be opened or has no sheet.
    #[error("XLSX: {0}")]
    Xlsx(String),
    /// More rows than allowed.
    #[error("the file has more than {0} rows")]
    TooManyRows(usize),
    /// A row with more cells than allowed.
    #[error("row {row} has more than {max} columns")]
    TooManyColumns {
        /// 1-based row number in the file.
        row: usize,
        /// The limit.
        max: usize,
    },
    /// A cell longer than allowed.
    #[error("row {row}, column {column}: a cell of more than {max} bytes")]
    CellTooLarge {
        /// 1-based row number in the file.
        row: usize,
        /// 1-based column number.
        column: usize,
        /// The limit.
        max: usize,
    },
    /// A workbook whose parts are larger than allowed (a zip bomb, or close to one).
    #[error("{0}")]
    TooLarge(String),
    /// The reading was stopped (the client left, or the server is stopping).
    #[error("the import was stopped")]
    Stopped,
}

/// Reads a table row by row from `file` (from its start) without holding it in memory:
/// `on_header` gets the column names once, then `on_row` every data row as (1-based row
/// number in the file, cells), short rows padded to the header's width and blank rows left
/// out. Either callback may stop the reading with its own error; `stop` ends it with
/// [`TableError::Stopped`] within a row. Returns the number of data rows.
pub fn read_rows<E>(
    format: Format,
    mut file: File,
    max_rows: usize,
    stop: &CancellationToken,
    on_header: impl FnOnce(&[String]) -> Result<(), E>,
    mut on_row: impl FnMut(usize, &[String]) -> Result<(), E>,
) -> Result<usize, ReadError<E>> {
    let mut header: Option<Vec<String>> = None;
    let mut on_header = Some(on_header);
    let mut rows = 0usize;
    file.seek(SeekFrom::Start(0)).map_err(|e| TableError::Csv {
        row: 0,
        message: e.to_string(),
    })?;
    let mut emit = |line: usize, mut cells: Vec<String>| -> Result<(), ReadError<E>> {
        if stop.is_cancelled() {
            return Err(TableError::Stopped.into());
        }
        check_cells(line, &cells)?;
        let Some(h) = &header else {
            check_header(&cells)?;
            if let Some(f) = on_header.take() {
                f(&cells).map_err(ReadError::Stopped)?;
            }
            header = Some(cells);
            return Ok(());
        };
        // Trailing blank lines are common in exports; they are not rows.
        if cells.iter().all(|c| c.is_empty()) {
            return Ok(());
        }
        if rows == max_rows {
            return Err(TableError::TooManyRows(max_rows).into());
        }
        rows += 1;
        cells.resize(h.len().max(cells.len()), String::new());
        on_row(line, &cells).map_err(ReadError::Stopped)
    };
    match format {
        Format::Csv => read_csv(file, &mut emit)?,
        Format::Xlsx => read_xlsx(file, stop, &mut emit)?,
    }
    if header.is_none() {
        return Err(TableError::Empty.into());
    }
    Ok(rows)
}

/// Why reading stopped: the table, or a callback.
#[derive(Debug)]
pub enum ReadError<E> {
    /// The file is not a readable table.
    Table(TableError),
    /// A callback stopped it.
    Stopped(E),
}

impl<E> From<TableError> for ReadError<E> {
    fn from(e: TableError) -> Self {
        ReadError::Table(e)
    }
}

/// A row's cells against [`MAX_COLUMNS`] and [`MAX_CELL_BYTES`].
fn check_cells(row: usize, cells: &[String]) -> Result<(), TableError> {
    if cells.len() > MAX_COLUMNS {
        return Err(TableError::TooManyColumns {
            row,
            max: MAX_COLUMNS,
        });
    }
    match cells.iter().position(|c| c.len() > MAX_CELL_BYTES) {
        Some(i) => Err(TableError::CellTooLarge {
            row,
            column: i + 1,
            max: MAX_CELL_BYTES,
        }),
        None => Ok(()),
    }
}

/// Every column has a name, and no name repeats (one pass over a set of the names).
fn check_header(header: &[String]) -> Result<(), TableError> {
    if header.is_empty() || header.iter().all(String::is_empty) {
        return Err(TableError::Empty);
    }
    let mut seen = std::collections::HashSet::with_capacity(header.len());
    for (i, name) in header.iter().enumerate() {
        if name.is_empty() {
            return Err(TableError::BadHeader {
                column: i + 1,
                problem: "empty".to_owned(),
            });
        }
        if !seen.insert(name.as_str()) {
            return Err(TableError::BadHeader {
                column: i + 1,
                problem: format!("a repeat of {name:?}"),
            });
        }
    }
    Ok(())
}

/// How big a piece of the file is read at a time.
const CHUNK: usize = 64 * 1024;

/// Whether the whole file is UTF-8, checked a piece at a time (a character may straddle
/// two pieces).
fn is_utf8(file: &mut File) -> std::io::Result<bool> {
    let mut buf = vec![0u8; CHUNK];
    let mut carry = 0usize;
    loop {
        let n = file.read(&mut buf[carry..])?;
        let end = carry + n;
        if n == 0 {
            return Ok(carry == 0);
        }
        match std::str::from_utf8(&buf[..end]) {
            Ok(_) => carry = 0,
            Err(e) if e.error_len().is_none() => {
                // An incomplete character at the end: keep it for the next piece.
                let valid = e.valid_up_to();
                buf.copy_within(valid..end, 0);
                carry = end - valid;
            }
            Err(_) => return Ok(false),
        }
    }
}

/// Windows-1254 (Turkish) bytes read as UTF-8. A single-byte encoding, so any piece of the
/// input decodes on its own.
struct Cp1254<R> {
    inner: R,
    out: Vec<u8>,
    pos: usize,
}

impl<R: Read> Read for Cp1254<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.out.len() {
            let mut raw = vec![0u8; CHUNK];
            let n = self.inner.read(&mut raw)?;
            if n == 0 {
                return Ok(0);
            }
            let (text, _) = encoding_rs::WINDOWS_1254.decode_without_bom_handling(&raw[..n]);
            self.out = text.into_owned().into_bytes();
            self.pos = 0;
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The delimiter of the header line: whichever of `;`, tab and `,` occurs most.
fn sniff_delimiter(first_line: &[u8]) -> u8 {
    [b';', b'\t', b',']
        .into_iter()
        .max_by_key(|&d| (first_line.iter().filter(|&&b| b == d).count(), d == b','))
        .unwrap_or(b',')
}

fn io_error(e: std::io::Error) -> TableError {
    TableError::Csv {
        row: 0,
        message: e.to_string(),
    }
}

fn read_csv<E>(
    mut file: File,
    emit: &mut impl FnMut(usize, Vec<String>) -> Result<(), ReadError<E>>,
) -> Result<(), ReadError<E>> {
    // UTF-8 (BOM skipped) when the whole file is valid UTF-8, else Windows-1254, the other
    // encoding Turkish exports use.
    let utf8 = is_utf8(&mut file).map_err(io_error)?;
    file.seek(SeekFrom::Start(0)).map_err(io_error)?;
    let mut head = vec![0u8; CHUNK];
    let n = file.read(&mut head).map_err(io_error)?;
    head.truncate(n);
    let bom = usize::from(head.starts_with(b"\xEF\xBB\xBF")) * 3;
    let first_line = head[bom..]
        .split(|&b| b == b'\n')
        .next()
        .unwrap_or_default();
    let delimiter = sniff_delimiter(first_line);
    file.seek(SeekFrom::Start(bom as u64)).map_err(io_error)?;
    let input: Box<dyn Read> = if utf8 {
        Box::new(std::io::BufReader::with_capacity(CHUNK, file))
    } else {
        Box::new(Cp1254 {
            inner: file,
            out: Vec::new(),
            pos: 0,
        })
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(false)
        .from_reader(input);
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line() as usize);
                if record.len() > MAX_COLUMNS {
                    return Err(TableError::TooManyColumns {
                        row: line,
                        max: MAX_COLUMNS,
                    }
                    .into());
                }
                emit(line, record.iter().map(|c| c.trim().to_owned()).collect())?;
            }
            Err(e) => {
                return Err(TableError::Csv {
                    row: e.position().map_or(0, |p| p.line() as usize),
                    message: e.to_string(),
                }
                .into());
            }
        }
    }
}

fn read_xlsx<E>(
    mut file: File,
    stop: &CancellationToken,
    emit: &mut impl FnMut(usize, Vec<String>) -> Result<(), ReadError<E>>,
) -> Result<(), ReadError<E>> {
    let xlsx = |e: calamine::XlsxError| TableError::Xlsx(e.to_string());
    super::workbook::check(&mut file, stop)?;
    file.seek(SeekFrom::Start(0)).map_err(io_error)?;
    let mut book: Xlsx<_> = open_workbook_from_rs(std::io::BufReader::new(file)).map_err(xlsx)?;
    let sheet = book
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| TableError::Xlsx("the workbook has no sheet".to_owned()))?;
    // Cells come in sheet order; a row is complete when the next one starts. Only the
    // shared strings table is held whole (the format requires it), never the sheet.
    let mut cells = book.worksheet_cells_reader(&sheet).map_err(xlsx)?;
    let mut current: Option<(u32, Vec<String>)> = None;
    while let Some(cell) = cells.next_cell().map_err(xlsx)? {
        let (row, col) = cell.get_position();
        let text = cell_text(cell.get_value()).trim().to_owned();
        if current.as_ref().is_some_and(|(r, _)| *r != row)
            && let Some((r, done)) = current.take()
        {
            // Row numbers as Excel shows them: 1-based.
            emit(r as usize + 1, done)?;
        }
        let (_, line) = current.get_or_insert_with(|| (row, Vec::new()));
        let col = col as usize;
        if col >= MAX_COLUMNS {
            return Err(TableError::TooManyColumns {
                row: row as usize + 1,
                max: MAX_COLUMNS,
            }
            .into());
        }
        if line.len() <= col {
            line.resize(col + 1, String::new());
        }
        line[col] = text;
    }
    if let Some((r, done)) = current {
        emit(r as usize + 1, done)?;
    }
    Ok(())
}

/// A cell as text; whole floats lose their ".0" so phone numbers stay digits.
fn cell_text(cell: &DataRef<'_>) -> String {
    match cell {
        DataRef::Empty => String::new(),
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        DataRef::Float(f) => f.to_string(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) => d.to_string(),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::io::Write;

    use super::*;

    type Rows = Vec<(usize, Vec<String>)>;

    /// The header and rows of `bytes` read as `format`.
    fn read(format: Format, bytes: &[u8], max: usize) -> Result<(Vec<String>, Rows), TableError> {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        let mut header = Vec::new();
        let mut rows = Vec::new();
        let n = read_rows::<()>(
            format,
            f,
            max,
            &CancellationToken::new(),
            |h| {
                header = h.to_vec();
                Ok(())
            },
            |line, cells| {
                rows.push((line, cells.to_vec()));
                Ok(())
            },
        )
        .map_err(|e| match e {
            ReadError::Table(t) => t,
            ReadError::Stopped(()) => unreachable!(),
        })?;
        assert_eq!(n, rows.len());
        Ok((header, rows))
    }

    #[test]
    fn semicolon_bom_and_turkish_encoding() {
        let utf8 = "\u{FEFF}Ad Soyad;Telefon\nŞule Işık;0532 123 45 67\n\n";
        let (h, rows) = read(Format::Csv, utf8.as_bytes(), 10).unwrap();
        assert_eq!(h, vec!["Ad Soyad", "Telefon"]);
        assert_eq!(
            rows,
            vec![(2, vec!["Şule Işık".to_owned(), "0532 123 45 67".to_owned()])]
        );
        let (cp1254, _, _) = encoding_rs::WINDOWS_1254.encode("Ad;Tel\nŞule Işık;5321234567\n");
        let (_, rows) = read(Format::Csv, &cp1254, 10).unwrap();
        assert_eq!(rows[0].1[0], "Şule Işık");
    }

    #[test]
    fn long_files_keep_characters_across_pieces() {
        // Multi-byte characters straddle the 64 KiB pieces of the UTF-8 check.
        let mut csv = String::from("ad,telefon\n");
        for i in 0..20_000 {
            csv.push_str(&format!("Çağrı Öztürk {i},0532{i:07}\n"));
        }
        let (_, rows) = read(Format::Csv, csv.as_bytes(), 100_000).unwrap();
        assert_eq!(rows.len(), 20_000);
        assert_eq!(rows[19_999].1[0], "Çağrı Öztürk 19999");
        assert_eq!(rows[19_999].0, 20_001);
        let (cp, _, _) = encoding_rs::WINDOWS_1254.encode(&csv);
        let (_, rows) = read(Format::Csv, &cp, 100_000).unwrap();
        assert_eq!(rows[12_345].1[0], "Çağrı Öztürk 12345");
    }

    #[test]
    fn broken_files_are_clear_errors() {
        assert_eq!(read(Format::Csv, b"", 10).unwrap_err(), TableError::Empty);
        assert!(matches!(
            read(Format::Csv, b"ad,ad\nx,y\n", 10),
            Err(TableError::BadHeader { column: 2, .. })
        ));
        assert!(matches!(
            read(Format::Csv, b"ad,\nx,y\n", 10),
            Err(TableError::BadHeader { column: 2, .. })
        ));
        assert_eq!(
            read(Format::Csv, b"a\n1\n2\n3\n", 2).unwrap_err(),
            TableError::TooManyRows(2)
        );
        assert!(matches!(
            read(Format::Xlsx, b"PK\x03\x04garbage", 10),
            Err(TableError::Xlsx(_))
        ));
    }

    #[test]
    fn xlsx_rows_are_streamed_with_excel_row_numbers() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(1, 0, "Ad").unwrap();
        sheet.write_string(1, 2, "Telefon").unwrap();
        sheet.write_string(1, 1, "Not").unwrap();
        sheet.write_string(2, 0, "Ayşe").unwrap();
        sheet.write_number(2, 2, 905_321_234_567.0).unwrap();
        sheet.write_string(4, 2, "05421234567").unwrap();
        let bytes = book.save_to_buffer().unwrap();
        let (h, rows) = read(Format::Xlsx, &bytes, 10).unwrap();
        assert_eq!(h, vec!["Ad", "Not", "Telefon"]);
        assert_eq!(
            rows,
            vec![
                (
                    3,
                    vec!["Ayşe".to_owned(), String::new(), "905321234567".to_owned()]
                ),
                (
                    5,
                    vec![String::new(), String::new(), "05421234567".to_owned()]
                ),
            ]
        );
    }

    #[test]
    fn columns_and_cells_are_capped() {
        let mut wide: String = (0..=MAX_COLUMNS).map(|i| format!("c{i},")).collect();
        wide.push_str("x\n");
        assert_eq!(
            read(Format::Csv, wide.as_bytes(), 10).unwrap_err(),
            TableError::TooManyColumns {
                row: 1,
                max: MAX_COLUMNS
            }
        );
        // The last of 1,000 names repeats the first: found, naming the column.
        let mut names: Vec<String> = (0..MAX_COLUMNS - 1).map(|i| format!("c{i}")).collect();
        names.push("c0".to_owned());
        let header = format!("{}\n", names.join(","));
        assert!(matches!(
            read(Format::Csv, header.as_bytes(), 10),
            Err(TableError::BadHeader { column: 1000, .. })
        ));
        let long = format!("ad,tel\nx,{}\n", "9".repeat(MAX_CELL_BYTES + 1));
        assert_eq!(
            read(Format::Csv, long.as_bytes(), 10).unwrap_err(),
            TableError::CellTooLarge {
                row: 2,
                column: 2,
                max: MAX_CELL_BYTES
            }
        );
    }

    #[test]
    fn a_stop_ends_the_reading_within_a_row() {
        let mut csv = String::from("ad\n");
        for i in 0..10_000 {
            csv.push_str(&format!("{i}\n"));
        }
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(csv.as_bytes()).unwrap();
        let stop = CancellationToken::new();
        let mut seen = 0;
        let r = read_rows::<()>(
            Format::Csv,
            f,
            100_000,
            &stop,
            |_| Ok(()),
            |_, _| {
                seen += 1;
                if seen == 10 {
                    stop.cancel();
                }
                Ok(())
            },
        );
        assert!(matches!(r, Err(ReadError::Table(TableError::Stopped))));
        assert_eq!(seen, 10);
    }

    #[test]
    fn whole_floats_lose_their_fraction() {
        assert_eq!(
            cell_text(&DataRef::Float(905_321_234_567.0)),
            "905321234567"
        );
        assert_eq!(cell_text(&DataRef::Float(12.5)), "12.5");
        assert_eq!(cell_text(&DataRef::Int(42)), "42");
    }
}
