//! What a user or API key may do.

use crate::Code;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::validation::RuleError;

/// A role within a company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything within the company, including users, keys and settings.
    Admin,
    /// Sends messages and manages subscribers, groups and templates.
    Operator,
    /// Reads only.
    Viewer,
}

impl Role {
    /// The stable name: `admin`, `operator` or `viewer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Operator => "operator",
            Self::Viewer => "viewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = RuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Self::Admin),
            "operator" => Ok(Self::Operator),
            "viewer" => Ok(Self::Viewer),
            _ => Err(RuleError::new(
                Code::ValueInvalid,
                "expected admin, operator or viewer",
            )),
        }
    }
}
