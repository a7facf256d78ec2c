//! A company's SMS settings: provider (operator) accounts, sender headers and the OTP and
//! TC-ID sending options. Secrets enter here in clear and leave only encrypted (ulak-store).

use crate::Code;
use std::fmt;

use serde::Serialize;

use super::limits;
use super::validation::{Lines, RuleError, ValidationErrors, check_controls, check_length, text};
use super::{CompanyId, SenderHeaderId};
use crate::CountryType;

/// A secret in clear (operator password), held only until it is encrypted; `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// 1..=256 characters, no control character.
    pub fn parse(s: &str) -> Result<Self, RuleError> {
        Self::parse_within(s, limits::SECRET)
    }

    /// 1..=`max` characters, no control character (tokens are longer than passwords).
    pub fn parse_within(s: &str, max: usize) -> Result<Self, RuleError> {
        if s.is_empty() {
            return Err(RuleError::new(Code::ValueEmpty, "must not be empty"));
        }
        check_length(s, max)?;
        check_controls(s, Lines::One)?;
        Ok(Self(s.to_owned()))
    }

    /// The clear text, for encryption or for the sending engine.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A sender header (originator): alphanumeric, 1..=11 of ASCII letters, digits, space and
/// `.-_&` with at least one letter (operators reject Turkish letters here), or numeric,
/// 3..=15 digits. Surrounding spaces are trimmed; at most 15 characters as typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct SenderName(String);

impl SenderName {
    /// Checks the rules above.
    pub fn parse(s: &str) -> Result<Self, RuleError> {
        check_length(s, limits::SENDER)?;
        check_controls(s, Lines::One)?;
        let s = s.trim();
        if s.is_empty() {
            return Err(RuleError::new(Code::ValueEmpty, "must not be empty"));
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            if !(3..=15).contains(&s.len()) {
                return Err(RuleError::new(
                    Code::SenderNumericLength,
                    "a numeric sender has 3..=15 digits",
                ));
            }
            return Ok(Self(s.to_owned()));
        }
        if s.chars().any(|c| "çğıöşüÇĞİÖŞÜ".contains(c)) {
            return Err(RuleError::new(
                Code::SenderTurkishLetter,
                "Turkish letters are not allowed",
            ));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " .-_&".contains(c))
        {
            return Err(RuleError::new(
                Code::SenderInvalidCharacter,
                "only A-Z, a-z, 0-9, space and .-_&",
            ));
        }
        if s.len() > limits::SENDER_ALPHANUMERIC {
            return Err(RuleError::new(
                Code::SenderTooLong,
                "an alphanumeric sender has at most 11 characters",
            ));
        }
        if !s.bytes().any(|b| b.is_ascii_alphabetic()) {
            return Err(RuleError::new(
                Code::SenderNoLetter,
                "an alphanumeric sender has at least one letter (or is 3 to 15 digits)",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// Rebuilds a stored name without re-checking it.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    /// The header.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it is a numeric originator (TON/NPI differ for those).
    pub fn is_numeric(&self) -> bool {
        self.0.bytes().all(|b| b.is_ascii_digit())
    }
}

/// Input for a sender header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSenderHeader {
    /// The header, unique per company.
    pub name: SenderName,
    /// Make it the company's default.
    pub is_default: bool,
}

impl NewSenderHeader {
    /// Validates `name`.
    pub fn new(name: &str, is_default: bool) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let name = e.take("name", SenderName::parse(name));
        e.finish(|| {
            Some(Self {
                name: name?,
                is_default,
            })
        })
    }
}

/// A stored sender header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SenderHeader {
    /// Row id.
    pub id: SenderHeaderId,
    /// Owning company.
    pub company_id: CompanyId,
    /// The header.
    pub name: SenderName,
    /// Whether it is the default (at most one per company).
    pub is_default: bool,
    /// Creation time, unix milliseconds.
    pub created_at: i64,
}

/// The per-company SMS settings that are not lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmsSettings {
    /// Owning company.
    pub company_id: CompanyId,
    /// How national numbers are read; default text policy.
    pub country_type: CountryType,
    /// The sender header used for TC-ID addressed messages.
    pub tckn_sender: Option<SenderName>,
    /// Whether the company's TC-ID sending subscription is active.
    pub tckn_subscription_active: bool,
    /// OTP account user name.
    pub otp_username: Option<String>,
    /// Whether an OTP password is stored (it is never returned).
    pub has_otp_password: bool,
    /// Words that, as the first word of an inbound message, put its sender on the opt-out
    /// list (default `RET`, `IPTAL`).
    pub opt_out_keywords: Vec<String>,
}

/// Changes to the SMS settings; `None` leaves a field, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmsSettingsPatch {
    /// New country type.
    pub country_type: Option<CountryType>,
    /// New TC-ID sender header.
    pub tckn_sender: Option<Option<SenderName>>,
    /// New TC-ID subscription flag.
    pub tckn_subscription_active: Option<bool>,
    /// New OTP user name.
    pub otp_username: Option<Option<String>>,
    /// New OTP password.
    pub otp_password: Option<Option<Secret>>,
    /// New opt-out keywords.
    pub opt_out_keywords: Option<Vec<String>>,
}

/// Raw changes to the SMS settings as the API receives them; `None` leaves a field,
/// `Some(None)` clears it. Checked by [`SmsSettingsPatch::new`].
#[derive(Debug, Clone, Default)]
pub struct SmsSettingsDraft {
    /// `TR`, `AZ` or `KKTC`.
    pub country_type: Option<CountryType>,
    /// TC-ID sender header.
    pub tckn_sender: Option<Option<String>>,
    /// TC-ID subscription flag.
    pub tckn_subscription_active: Option<bool>,
    /// OTP user name.
    pub otp_username: Option<Option<String>>,
    /// OTP password in clear.
    pub otp_password: Option<Option<String>>,
    /// Opt-out keywords (1 to 10 words of letters and digits).
    pub opt_out_keywords: Option<Vec<String>>,
}

impl SmsSettingsPatch {
    /// Validates the given fields: the TC-ID header follows the sender header rules, the OTP
    /// user name is 1..=64 characters and the password 1..=256.
    pub fn new(d: SmsSettingsDraft) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let tckn_sender = match d.tckn_sender {
            None => Some(None),
            Some(None) => Some(Some(None)),
            Some(Some(s)) => e
                .take("tckn_sender", SenderName::parse(&s))
                .map(|s| Some(Some(s))),
        };
        let otp_username = match d.otp_username {
            None => Some(None),
            Some(None) => Some(Some(None)),
            Some(Some(s)) => e
                .take("otp_username", text(&s, limits::OTP_USERNAME))
                .map(|s| Some(Some(s))),
        };
        let otp_password = match d.otp_password {
            None => Some(None),
            Some(None) => Some(Some(None)),
            Some(Some(s)) => e
                .take("otp_password", Secret::parse(&s))
                .map(|s| Some(Some(s))),
        };
        let keywords = match d.opt_out_keywords {
            None => Some(None),
            Some(k) => opt_out_keywords(&k, &mut e).map(Some),
        };
        e.finish(|| {
            Some(Self {
                opt_out_keywords: keywords?,
                country_type: d.country_type,
                tckn_sender: tckn_sender?,
                tckn_subscription_active: d.tckn_subscription_active,
                otp_username: otp_username?,
                otp_password: otp_password?,
            })
        })
    }
}

/// Checks opt-out keywords: 1 to 10, each one word of letters and digits of at most 20
/// characters as typed (surrounding spaces included), kept in upper case.
fn opt_out_keywords(k: &[String], e: &mut ValidationErrors) -> Option<Vec<String>> {
    if k.is_empty() || k.len() > 10 {
        e.push(
            "opt_out_keywords",
            Code::ValueOutOfRange,
            "1 to 10 keywords",
        );
        return None;
    }
    let mut ok = true;
    for (i, w) in k.iter().enumerate() {
        let field = format!("opt_out_keywords[{i}]");
        let rules = check_length(w, limits::OPT_OUT_KEYWORD)
            .and_then(|()| check_controls(w, Lines::One))
            .and_then(|()| {
                let t = w.trim();
                if t.is_empty() || !t.chars().all(char::is_alphanumeric) {
                    Err(RuleError::new(
                        Code::ValueInvalid,
                        "a keyword is one word of letters and digits (at most 20)",
                    ))
                } else {
                    Ok(())
                }
            });
        ok &= e.take(&field, rules).is_some();
    }
    ok.then(|| k.iter().map(|w| w.trim().to_uppercase()).collect())
}
