//! Reading an uploaded table (CSV or XLSX) into a header and rows of text cells.
//!
//! Turkish spreadsheets come with traps: Excel's CSV uses `;` and often Windows-1254, a UTF-8
//! BOM may lead, and phone numbers typed into Excel come back as floats (905321234567.0).
//! Each is handled here so the rest of the import sees plain strings.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};

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
}

/// A table: header names and rows of cells, with each row's 1-based line number in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Column names, trimmed.
    pub header: Vec<String>,
    /// (row number in the file, cells); short rows are padded with empty cells.
    pub rows: Vec<(usize, Vec<String>)>,
}

/// Reads `bytes` as `format`, refusing more than `max_rows` data rows.
pub fn read(format: Format, bytes: &[u8], max_rows: usize) -> Result<Table, TableError> {
    let mut table = match format {
        Format::Csv => read_csv(bytes, max_rows)?,
        Format::Xlsx => read_xlsx(bytes, max_rows)?,
    };
    check_header(&table.header)?;
    let width = table.header.len();
    for (_, cells) in &mut table.rows {
        cells.resize(width.max(cells.len()), String::new());
    }
    // Trailing blank lines are common in exports; they are not rows.
    table
        .rows
        .retain(|(_, cells)| cells.iter().any(|c| !c.trim().is_empty()));
    Ok(table)
}

fn check_header(header: &[String]) -> Result<(), TableError> {
    if header.is_empty() {
        return Err(TableError::Empty);
    }
    for (i, name) in header.iter().enumerate() {
        if name.is_empty() {
            return Err(TableError::BadHeader {
                column: i + 1,
                problem: "empty".to_owned(),
            });
        }
        if header[..i].contains(name) {
            return Err(TableError::BadHeader {
                column: i + 1,
                problem: format!("a repeat of {name:?}"),
            });
        }
    }
    Ok(())
}

/// UTF-8 (BOM stripped) when valid, else Windows-1254 (Turkish), the other encoding in use.
fn decode_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1254
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

/// The delimiter of the header line: whichever of `;`, tab and `,` occurs most.
fn sniff_delimiter(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or_default();
    [b';', b'\t', b',']
        .into_iter()
        .max_by_key(|&d| (first.bytes().filter(|&b| b == d).count(), d == b','))
        .unwrap_or(b',')
}

fn read_csv(bytes: &[u8], max_rows: usize) -> Result<Table, TableError> {
    let text = decode_text(bytes);
    if text.trim().is_empty() {
        return Err(TableError::Empty);
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sniff_delimiter(&text))
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| TableError::Csv {
            row: 1,
            message: e.to_string(),
        })?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| TableError::Csv {
            row: e.position().map_or(0, |p| p.line() as usize),
            message: e.to_string(),
        })?;
        if rows.len() == max_rows {
            return Err(TableError::TooManyRows(max_rows));
        }
        let line = record
            .position()
            .map_or(rows.len() + 2, |p| p.line() as usize);
        rows.push((line, record.iter().map(|c| c.trim().to_owned()).collect()));
    }
    Ok(Table { header, rows })
}

fn read_xlsx(bytes: &[u8], max_rows: usize) -> Result<Table, TableError> {
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|e: calamine::XlsxError| TableError::Xlsx(e.to_string()))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| TableError::Xlsx("the workbook has no sheet".to_owned()))?
        .map_err(|e| TableError::Xlsx(e.to_string()))?;
    let (first_row, _) = range.start().unwrap_or((0, 0));
    let mut lines = range.rows();
    let header = lines
        .next()
        .ok_or(TableError::Empty)?
        .iter()
        .map(|c| cell_text(c).trim().to_owned())
        .collect();
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        if rows.len() == max_rows {
            return Err(TableError::TooManyRows(max_rows));
        }
        // Row numbers as Excel shows them: 1-based, the header is the first.
        let row = first_row as usize + i + 2;
        rows.push((
            row,
            line.iter()
                .map(|c| cell_text(c).trim().to_owned())
                .collect(),
        ));
    }
    Ok(Table { header, rows })
}

/// A cell as text; whole floats lose their ".0" so phone numbers stay digits.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn semicolon_bom_and_turkish_encoding() {
        let utf8 = "\u{FEFF}Ad Soyad;Telefon\nŞule Işık;0532 123 45 67\n\n";
        let t = read(Format::Csv, utf8.as_bytes(), 10).unwrap();
        assert_eq!(t.header, vec!["Ad Soyad", "Telefon"]);
        assert_eq!(
            t.rows,
            vec![(2, vec!["Şule Işık".to_owned(), "0532 123 45 67".to_owned()])]
        );
        let (cp1254, _, _) = encoding_rs::WINDOWS_1254.encode("Ad;Tel\nŞule Işık;5321234567\n");
        let t = read(Format::Csv, &cp1254, 10).unwrap();
        assert_eq!(t.rows[0].1[0], "Şule Işık");
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
    fn whole_floats_lose_their_fraction() {
        assert_eq!(cell_text(&Data::Float(905_321_234_567.0)), "905321234567");
        assert_eq!(cell_text(&Data::Float(12.5)), "12.5");
        assert_eq!(cell_text(&Data::Int(42)), "42");
    }
}
