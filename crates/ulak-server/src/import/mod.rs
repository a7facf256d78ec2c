//! Imports of subscribers and customer accounts from CSV and XLSX: reading the table, mapping
//! its columns to fields, and a per-row error report (row number, column, reason).

pub mod table;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use table::{Format, Table, TableError};

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
}

/// A table's rows as field → value maps, with the file's row number and column names kept
/// for error reports.
#[derive(Debug)]
pub struct Mapped<'t> {
    table: &'t Table,
    /// field → column index.
    columns: Vec<(String, usize)>,
}

impl Mapped<'_> {
    /// Rows as (row number, field → (column name, value)).
    pub fn rows(&self) -> impl Iterator<Item = (usize, BTreeMap<&str, (&str, &str)>)> + '_ {
        self.table.rows.iter().map(|(row, cells)| {
            let fields = self
                .columns
                .iter()
                .map(|(field, i)| {
                    let column = self.table.header[*i].as_str();
                    let value = cells.get(*i).map_or("", String::as_str);
                    (field.as_str(), (column, value))
                })
                .collect();
            (*row, fields)
        })
    }

    /// How many data rows the table has.
    pub fn len(&self) -> usize {
        self.table.rows.len()
    }

    /// Whether the table has no data rows.
    pub fn is_empty(&self) -> bool {
        self.table.rows.is_empty()
    }
}

/// Applies `mapping` to `table`. Fields without a mapping are matched to a column of the same
/// name (case-insensitive), so a file whose header already uses the field names needs none.
pub fn map<'t>(
    table: &'t Table,
    mapping: &Mapping,
    known: &[&str],
    required: &[&str],
) -> Result<Mapped<'t>, MappingError> {
    let available = || table.header.join(", ");
    let mut columns = Vec::new();
    for (field, column) in &mapping.0 {
        if !known.contains(&field.as_str()) {
            return Err(MappingError::UnknownField {
                field: field.clone(),
                known: known.join(", "),
            });
        }
        let i = table
            .header
            .iter()
            .position(|h| h == column || h.to_lowercase() == column.to_lowercase())
            .ok_or_else(|| MappingError::UnknownColumn {
                field: field.clone(),
                column: column.clone(),
                available: available(),
            })?;
        columns.push((field.clone(), i));
    }
    for field in known {
        if mapping.0.contains_key(*field) {
            continue;
        }
        if let Some(i) = table.header.iter().position(|h| h.to_lowercase() == *field) {
            columns.push(((*field).to_owned(), i));
        }
    }
    for field in required {
        if !columns.iter().any(|(f, _)| f == field) {
            return Err(MappingError::Missing((*field).to_owned()));
        }
    }
    Ok(Mapped { table, columns })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn table() -> Table {
        table::read(
            Format::Csv,
            "Ad Soyad;Telefon;name\nAli;0532;x\n".as_bytes(),
            10,
        )
        .unwrap()
    }

    #[test]
    fn mapping_by_name_and_by_column() {
        let t = table();
        let m = Mapping(
            [("phone".to_owned(), "telefon".to_owned())]
                .into_iter()
                .collect(),
        );
        let mapped = map(&t, &m, &["name", "phone", "tckn"], &["phone"]).unwrap();
        let rows: Vec<_> = mapped.rows().collect();
        assert_eq!(rows[0].0, 2);
        assert_eq!(rows[0].1["phone"], ("Telefon", "0532"));
        assert_eq!(rows[0].1["name"], ("name", "x"));
    }

    #[test]
    fn unknown_fields_and_columns_are_named() {
        let t = table();
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
