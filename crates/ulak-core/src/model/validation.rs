//! Field-level validation errors shared by every input type.

use std::fmt;

use serde::Serialize;

use super::limits;
use crate::{Code, CountryType, Msisdn, Tckn};

/// One rule a field broke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The input field name as the API spells it (e.g. `phone`, `attributes.ad`).
    pub field: String,
    /// A stable machine-readable code (e.g. `value.too_long`, `phone.landline`).
    pub code: Code,
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
    pub fn single(field: impl Into<String>, code: Code, message: impl Into<String>) -> Self {
        let mut e = Self::default();
        e.push(field, code, message);
        e
    }

    /// Adds an error.
    pub fn push(&mut self, field: impl Into<String>, code: Code, message: impl Into<String>) {
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
        v().ok_or_else(|| Self::single("input", Code::ValueInvalid, "invalid input"))
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
    /// The code, e.g. `phone.too_short`.
    fn code(&self) -> Code;
}

impl ErrorCode for crate::PhoneError {
    fn code(&self) -> Code {
        Code::from(self)
    }
}

impl ErrorCode for crate::TcknError {
    fn code(&self) -> Code {
        Code::from(self)
    }
}

/// A simple rule failure: code plus message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuleError {
    /// Machine-readable code.
    pub code: Code,
    /// Human message.
    pub message: String,
}

impl RuleError {
    /// Builds one.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl ErrorCode for RuleError {
    fn code(&self) -> Code {
        self.code
    }
}

/// Whether a text field may span lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// One line (names, codes, phones, URLs, keys): no control character at all.
    One,
    /// Prose that may span lines (message texts, template bodies, attribute values): tab,
    /// line feed and carriage return are allowed, other control characters are not.
    Many,
}

/// The one rule on control characters, for every text field of every input: Unicode's
/// control characters (C0 U+0000–U+001F, DEL U+007F, C1 U+0080–U+009F) are refused wherever
/// they stand — PostgreSQL cannot store NUL, and the others are invisible, break terminals,
/// CSV exports and SMS encoders. [`Lines::Many`] fields allow tab, line feed and carriage
/// return.
pub fn check_controls(s: &str, lines: Lines) -> Result<(), RuleError> {
    match s.chars().position(|c| refused(c, lines)) {
        None => Ok(()),
        Some(i) => Err(RuleError::new(
            Code::ValueControlCharacter,
            format!("control character at position {}", i + 1),
        )),
    }
}

/// Whether [`check_controls`] refuses `c` in a field of `lines`.
pub fn refused(c: char, lines: Lines) -> bool {
    c.is_control() && !(lines == Lines::Many && matches!(c, '\t' | '\n' | '\r'))
}

/// Checks `s` has at most `max` characters (Unicode scalar values), counted as given.
pub fn check_length(s: &str, max: usize) -> Result<(), RuleError> {
    // Counting stops one past the maximum: a huge input costs no more than a small one.
    let n = s.chars().take(max + 1).count();
    if n > max {
        return Err(RuleError::new(
            Code::ValueTooLong,
            format!("at most {max} characters allowed"),
        ));
    }
    Ok(())
}

/// A one-line text field: at most `max` characters as given, no control character, and not
/// blank; surrounding spaces are trimmed off.
pub fn text(s: &str, max: usize) -> Result<String, RuleError> {
    check_length(s, max)?;
    check_controls(s, Lines::One)?;
    let t = s.trim();
    if t.is_empty() {
        return Err(RuleError::new(Code::ValueEmpty, "must not be empty"));
    }
    Ok(t.to_owned())
}

/// Like [`text`], but an empty or blank input is `None`.
pub fn opt_text(s: Option<&str>, max: usize) -> Result<Option<String>, RuleError> {
    match s {
        None => Ok(None),
        Some(t) => {
            check_length(t, max)?;
            check_controls(t, Lines::One)?;
            let t = t.trim();
            Ok((!t.is_empty()).then(|| t.to_owned()))
        }
    }
}

/// A phone number as a person typed it: at most [`limits::PHONE`] characters, no control
/// character (surrounding spaces are fine), then the phone rules of [`Msisdn::parse`].
pub fn phone(s: &str, country: CountryType) -> Result<Msisdn, RuleError> {
    check_length(s, limits::PHONE)?;
    check_controls(s, Lines::One)?;
    Msisdn::parse(s, country).map_err(|e| RuleError::new(Code::from(&e), e.to_string()))
}

/// A TC ID number as typed: at most [`limits::TCKN`] characters, no control character, then
/// the rules of [`Tckn::parse`].
pub fn tckn(s: &str) -> Result<Tckn, RuleError> {
    check_length(s, limits::TCKN)?;
    check_controls(s, Lines::One)?;
    Tckn::parse(s).map_err(|e| RuleError::new(Code::from(&e), e.to_string()))
}
