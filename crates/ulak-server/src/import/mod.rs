//! Imports of subscribers and customer accounts from CSV and XLSX: reading the table, mapping
//! its columns to fields, and a per-row error report (row number, column, reason).

pub mod pipeline;
pub mod run;
pub mod table;
pub mod workbook;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use pipeline::Gauge;
pub use table::{Format, ReadError, TableError};

/// How invalid rows are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Any invalid row rejects the whole import; nothing is written.
    #[default]
    AllOrNothing,
    /// Valid rows are imported; invalid ones are reported and skipped.
    SkipInvalid,
}

/// One problem in one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RowError {
    /// Row number in the file (the header is row 1).
    pub row: usize,
    /// The file's column (or the field when no column maps to it).
    pub column: String,
    /// What is wrong.
    pub reason: String,
}

/// Which file column feeds which field: field name → column name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct Mapping(pub BTreeMap<String, String>);

/// Why a mapping does not fit a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// A field the import does not know.
    #[error("unknown field {field:?}; known fields: {known}")]
    UnknownField {
        /// The field.
        field: String,
        /// The fields this import takes.
        known: String,
    },
    /// A column the file does not have.
    #[error("column {column:?} (for {field}) is not in the file; its columns are: {available}")]
    UnknownColumn {
        /// The field it was mapped to.
        field: String,
        /// The column asked for.
        column: String,
        /// The file's columns.
        available: String,
    },
    /// A required field with no column.
    #[error("no column for the required field {0:?}")]
    Missing(String),
    /// More `attr.*` fields than a row may have attributes.
    #[error("{0} attributes mapped (attr.*), at most {max} allowed", max = ulak_core::model::MAX_ATTRIBUTES)]
    TooManyAttributes(usize),
}

/// The file's columns for an error message: the first few, then how many more.
fn list_columns(header: &[String]) -> String {
    const SHOWN: usize = 30;
    let mut s = header
        .iter()
        .take(SHOWN)
        .map(|h| h.chars().take(100).collect::<String>())
        .collect::<Vec<_>>()
        .join(", ");
    if header.len() > SHOWN {
        s.push_str(&format!(" and {} more", header.len() - SHOWN));
    }
    s
}

/// Which column feeds which field, worked out from a file's header and a mapping.
#[derive(Debug, Clone)]
pub struct Columns {
    /// Column names, as in the file.
    header: Vec<String>,
    /// field → column index.
    columns: Vec<(String, usize)>,
}

impl Columns {
    /// A row's cells as field → (column name, value).
    pub fn fields<'a>(&'a self, cells: &'a [String]) -> BTreeMap<&'a str, (&'a str, &'a str)> {
        self.columns
            .iter()
            .map(|(field, i)| {
                let column = self.header[*i].as_str();
                let value = cells.get(*i).map_or("", String::as_str);
                (field.as_str(), (column, value))
            })
            .collect()
    }
}

/// Applies `mapping` to a file's `header`. Fields without a mapping are matched to a column
/// of the same name (case-insensitive), so a file whose header already uses the field names
/// needs none. Linear in the header's length: each name is looked up in maps built once.
pub fn map(
    header: &[String],
    mapping: &Mapping,
    known: &[&str],
    required: &[&str],
) -> Result<Columns, MappingError> {
    let attrs = mapping.0.keys().filter(|k| k.starts_with("attr.")).count();
    if attrs > ulak_core::model::MAX_ATTRIBUTES {
        return Err(MappingError::TooManyAttributes(attrs));
    }
    // The first column of each name, as written and in lower case.
    let mut exact: HashMap<&str, usize> = HashMap::with_capacity(header.len());
    let mut lower: HashMap<String, usize> = HashMap::with_capacity(header.len());
    for (i, h) in header.iter().enumerate() {
        exact.entry(h.as_str()).or_insert(i);
        lower.entry(h.to_lowercase()).or_insert(i);
    }
    let mut columns = Vec::new();
    for (field, column) in &mapping.0 {
        if !known.contains(&field.as_str()) {
            return Err(MappingError::UnknownField {
                field: field.clone(),
                known: known.join(", "),
            });
        }
        let i = exact
            .get(column.as_str())
            .or_else(|| lower.get(&column.to_lowercase()))
            .ok_or_else(|| MappingError::UnknownColumn {
                field: field.clone(),
                column: column.clone(),
                available: list_columns(header),
            })?;
        columns.push((field.clone(), *i));
    }
    for field in known {
        if mapping.0.contains_key(*field) {
            continue;
        }
        if let Some(i) = lower.get(*field) {
            columns.push(((*field).to_owned(), *i));
        }
    }
    for field in required {
        if !columns.iter().any(|(f, _)| f == field) {
            return Err(MappingError::Missing((*field).to_owned()));
        }
    }
    Ok(Columns {
        header: header.to_vec(),
        columns,
    })
}

/// Reads a customer kind as accounting files write it.
pub fn parse_customer_kind(s: &str) -> Result<ulak_core::model::CustomerKind, String> {
    use ulak_core::model::CustomerKind;
    match ulak_core::model::search_fold(s.trim()).as_str() {
        "customer" | "musteri" | "alici" | "c" => Ok(CustomerKind::Customer),
        "supplier" | "tedarikci" | "satici" | "s" => Ok(CustomerKind::Supplier),
        _ => Err(format!("{s:?} is not a kind (customer or supplier)")),
    }
}

/// Splits a cell holding several phones (`,` `;` `/` `|` or a line break between them).
pub fn split_phones(s: &str) -> Vec<&str> {
    s.split([',', ';', '/', '|', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

/// Reads an amount of Turkish lira into kuruş: `1.234,56`, `1,234.56`, `120,5`, `-50`,
/// `75 TL`, `₺75`. The last `.` or `,` is the decimal mark when one or two digits follow it;
/// otherwise separators group thousands (`1.234` is one thousand two hundred and thirty-four).
pub fn parse_money(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?} is not an amount (e.g. 1.234,56)");
    let t: String = s
        .trim()
        .trim_end_matches("TL")
        .trim_end_matches("TRY")
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '₺')
        .collect();
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.as_str()),
    };
    if t.is_empty()
        || !t
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
    {
        return Err(bad());
    }
    let (whole, frac) = match t.rfind(['.', ',']) {
        Some(i) if (1..=2).contains(&(t.len() - i - 1)) => (&t[..i], &t[i + 1..]),
        _ => (t, ""),
    };
    let digits: String = whole.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() || !frac.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let lira: i64 = digits.parse().map_err(|_| bad())?;
    let kurus: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().map_err(|_| bad())? * 10,
        _ => frac.parse().map_err(|_| bad())?,
    };
    let v = lira
        .checked_mul(100)
        .and_then(|v| v.checked_add(kurus))
        .ok_or_else(bad)?;
    Ok(if neg { -v } else { v })
}

/// The header and the first `n` data rows of `file`, for the web wizard's preview of the
/// column mapping (the same reader the import uses, so the preview shows what it will read).
pub fn preview(
    format: Format,
    file: std::fs::File,
    n: usize,
) -> Result<(Vec<String>, Vec<Vec<String>>), TableError> {
    let mut header = Vec::new();
    let mut rows = Vec::new();
    let never = tokio_util::sync::CancellationToken::new();
    let read = table::read_rows(
        format,
        file,
        usize::MAX,
        &never,
        |h: &[String]| {
            header = h.to_vec();
            Ok(())
        },
        |_, cells: &[String]| {
            if rows.len() >= n {
                return Err(());
            }
            rows.push(cells.to_vec());
            Ok(())
        },
    );
    match read {
        Ok(_) | Err(table::ReadError::Stopped(())) => Ok((header, rows)),
        Err(table::ReadError::Table(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn header() -> Vec<String> {
        vec!["Ad Soyad".into(), "Telefon".into(), "name".into()]
    }

    #[test]
    fn mapping_by_name_and_by_column() {
        let h = header();
        let m = Mapping(
            [("phone".to_owned(), "telefon".to_owned())]
                .into_iter()
                .collect(),
        );
        let cols = map(&h, &m, &["name", "phone", "tckn"], &["phone"]).unwrap();
        let cells = vec!["Ali".to_owned(), "0532".to_owned(), "x".to_owned()];
        let f = cols.fields(&cells);
        assert_eq!(f["phone"], ("Telefon", "0532"));
        assert_eq!(f["name"], ("name", "x"));
        assert!(!f.contains_key("tckn"));
    }

    #[test]
    fn unknown_fields_and_columns_are_named() {
        let t = header();
        let m = Mapping(
            [("fax".to_owned(), "Telefon".to_owned())]
                .into_iter()
                .collect(),
        );
        let e = map(&t, &m, &["name", "phone"], &[]).unwrap_err();
        assert!(e.to_string().contains("known fields: name, phone"), "{e}");
        let m = Mapping(
            [("phone".to_owned(), "GSM".to_owned())]
                .into_iter()
                .collect(),
        );
        let e = map(&t, &m, &["name", "phone"], &[]).unwrap_err();
        assert!(
            e.to_string()
                .contains("its columns are: Ad Soyad, Telefon, name"),
            "{e}"
        );
        let e = map(&t, &Mapping::default(), &["name", "phone"], &["phone"]).unwrap_err();
        assert_eq!(e, MappingError::Missing("phone".to_owned()));
    }
}
