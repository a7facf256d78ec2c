//! Companies (tenants).

use crate::Code;
use std::fmt;

use serde::Serialize;

use super::limits;
use super::validation::{Lines, RuleError, ValidationErrors, check_controls, check_length, text};
use super::{CompanyId, CountryType};

/// A company's short name: 1..=63 of `a-z`, `0-9`, `-`, starting with a letter or digit
/// (used in URLs and logs, so ASCII only).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct CompanyName(String);

impl CompanyName {
    /// Checks the rules above; upper case is folded to lower.
    pub fn parse(s: &str) -> Result<Self, RuleError> {
        check_length(s, limits::COMPANY_NAME)?;
        check_controls(s, Lines::One)?;
        let s = s.trim().to_ascii_lowercase();
        if s.is_empty() {
            return Err(RuleError::new(Code::ValueEmpty, "must not be empty"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            || s.starts_with('-')
        {
            return Err(RuleError::new(
                Code::ValueInvalid,
                "only a-z, 0-9 and '-' (not first) are allowed",
            ));
        }
        Ok(Self(s))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CompanyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Input for a new company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCompany {
    /// Unique short name.
    pub name: CompanyName,
    /// Name shown to people.
    pub display_name: String,
    /// Decides how national phone numbers are read and the default text policy.
    pub country_type: CountryType,
}

impl NewCompany {
    /// Validates every field (`name`, `display_name`).
    pub fn new(
        name: &str,
        display_name: &str,
        country_type: CountryType,
    ) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let name = e.take("name", CompanyName::parse(name));
        let display_name = e.take(
            "display_name",
            text(display_name, limits::COMPANY_DISPLAY_NAME),
        );
        e.finish(|| {
            Some(Self {
                name: name?,
                display_name: display_name?,
                country_type,
            })
        })
    }
}

/// A stored company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Company {
    /// Row id.
    pub id: CompanyId,
    /// Unique short name.
    pub name: CompanyName,
    /// Name shown to people.
    pub display_name: String,
    /// Country type of its SMS settings.
    pub country_type: CountryType,
    /// Creation time, unix milliseconds.
    pub created_at: i64,
}

impl Company {
    /// Rebuilds a stored row; the name was checked when it was written.
    pub fn from_stored(
        id: CompanyId,
        name: String,
        display_name: String,
        country_type: CountryType,
        created_at: i64,
    ) -> Self {
        Self {
            id,
            name: CompanyName(name),
            display_name,
            country_type,
            created_at,
        }
    }
}
