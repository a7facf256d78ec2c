//! Field-level validation errors shared by every input type.

use std::fmt;

use serde::Serialize;

/// One rule a field broke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The input field name as the API spells it (e.g. `phone`, `attributes.ad`).
    pub field: String,
    /// A stable machine-readable code (e.g. `too_long`, `invalid_number`).
    pub code: &'static str,
    /// A human message; never contains the rejected value (it may be personal data).
    pub message: String,
}

/// Every rule an input broke; never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, thiserror::Error)]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid input: ")?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.field, e.message)?;
        }
        Ok(())
    }
}

impl ValidationErrors {
    /// One error for one field.
    pub fn single(
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        let mut e = Self::default();
        e.push(field, code, message);
        e
    }

    /// Adds an error.
    pub fn push(
        &mut self,
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) {
        self.0.push(FieldError {
            field: field.into(),
            code,
            message: message.into(),
        });
    }

    /// Whether no rule was broken.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Records the error of `r` under `field` and returns its value, if any; lets a
    /// constructor check every field and report all failures at once.
    pub fn take<T, E: fmt::Display + ErrorCode>(
        &mut self,
        field: &str,
        r: Result<T, E>,
    ) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(field, e.code(), e.to_string());
                None
            }
        }
    }

    /// `Ok(v)` if nothing was recorded, else all the errors.
    pub fn finish<T>(self, v: impl FnOnce() -> Option<T>) -> Result<T, Self> {
        if !self.is_empty() {
            return Err(self);
        }
        // When nothing was recorded every `take` returned Some, so `v` yields a value; the
        // fallback only guards against a constructor forgetting to record an error.
        v().ok_or_else(|| Self::single("input", "invalid", "invalid input"))
    }

    /// Moves every error of `other` in, with `prefix.` before the field names.
    pub fn absorb(&mut self, prefix: &str, other: ValidationErrors) {
        for mut e in other.0 {
            e.field = format!("{prefix}.{}", e.field);
            self.0.push(e);
        }
    }
}

/// Errors that have a stable machine-readable code.
pub trait ErrorCode {
    /// The code, e.g. `too_short`.
    fn code(&self) -> &'static str;
}

impl ErrorCode for crate::PhoneError {
    fn code(&self) -> &'static str {
        crate::PhoneError::code(self)
    }
}

impl ErrorCode for crate::TcknError {
    fn code(&self) -> &'static str {
        crate::TcknError::code(self)
    }
}

/// A simple rule failure: code plus message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuleError {
    /// Machine-readable code.
    pub code: &'static str,
    /// Human message.
    pub message: String,
}

impl RuleError {
    /// Builds one.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl ErrorCode for RuleError {
    fn code(&self) -> &'static str {
        self.code
    }
}

/// Trims `s` and checks it is non-empty and at most `max` characters.
pub(crate) fn text(s: &str, max: usize) -> Result<String, RuleError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(RuleError::new("empty", "must not be empty"));
    }
    let n = t.chars().count();
    if n > max {
        return Err(RuleError::new(
            "too_long",
            format!("{n} characters, at most {max} allowed"),
        ));
    }
    if t.chars().any(char::is_control) {
        return Err(RuleError::new(
            "control_character",
            "contains a control character",
        ));
    }
    Ok(t.to_owned())
}

/// Like [`text`], but an empty or blank input is `None`.
pub(crate) fn opt_text(s: Option<&str>, max: usize) -> Result<Option<String>, RuleError> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => text(t, max).map(Some),
    }
}
