//! Users, passwords and API keys.

use crate::Code;
use std::fmt;

use serde::Serialize;

use super::limits;
use super::validation::{
    self, Lines, RuleError, ValidationErrors, check_controls, check_length, opt_text, text,
};
use super::{ApiKeyId, CompanyId, Role, UserId};
use crate::{CountryType, Msisdn};

/// A login name: 1..=64 of letters, digits, `.`, `_`, `-`, `@`; compared in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct LoginName(String);

impl LoginName {
    /// Checks the rules above.
    pub fn parse(s: &str) -> Result<Self, RuleError> {
        check_length(s, limits::LOGIN)?;
        check_controls(s, Lines::One)?;
        let s = super::fold(s.trim());
        if s.is_empty() {
            return Err(RuleError::new(Code::ValueEmpty, "must not be empty"));
        }
        if !s
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
        {
            return Err(RuleError::new(
                Code::ValueInvalid,
                "only letters, digits, '.', '_', '-' and '@' are allowed",
            ));
        }
        Ok(Self(s))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LoginName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An e-mail address, checked only for shape (`local@domain.tld`: one `@`, a dot inside the
/// domain, no spaces or control characters anywhere, ≤ 254).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Checks the shape.
    pub fn parse(s: &str) -> Result<Self, RuleError> {
        check_length(s, limits::EMAIL)?;
        check_controls(s, Lines::One)?;
        let bad = || RuleError::new(Code::EmailInvalid, "not an e-mail address");
        if s.chars().any(char::is_whitespace) {
            return Err(bad());
        }
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        if local.is_empty() || domain.contains('@') || !domain.contains('.') {
            return Err(bad());
        }
        if domain.starts_with('.') || domain.ends_with('.') {
            return Err(bad());
        }
        Ok(Self(s.to_owned()))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password in clear, held only until it is hashed; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// At least 8 and at most 256 characters, no control character.
    pub fn parse(s: &str) -> Result<Self, RuleError> {
        check_length(s, limits::PASSWORD)?;
        check_controls(s, Lines::One)?;
        if s.chars().count() < 8 {
            return Err(RuleError::new(
                Code::PasswordTooShort,
                "at least 8 characters",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The clear text, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Parses an optional phone; the empty string is `None`.
fn opt_phone(s: Option<&str>, country: CountryType) -> Result<Option<Msisdn>, RuleError> {
    match s {
        None | Some("") => Ok(None),
        Some(p) => validation::phone(p, country).map(Some),
    }
}

/// Parses an optional e-mail; the empty string is `None`.
fn opt_email(s: Option<&str>) -> Result<Option<Email>, RuleError> {
    match s {
        None | Some("") => Ok(None),
        Some(p) => Email::parse(p).map(Some),
    }
}

/// Input for a new user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Unique per company.
    pub login: LoginName,
    /// Hashed with Argon2id before it is stored.
    pub password: Password,
    /// Name shown to people.
    pub display_name: Option<String>,
    /// Mobile phone (for alerts and OTP).
    pub phone: Option<Msisdn>,
    /// E-mail address.
    pub email: Option<Email>,
    /// What the user may do.
    pub role: Role,
}

impl NewUser {
    /// Validates every field (`login`, `password`, `display_name`, `phone`, `email`); a
    /// national phone number is read by `country`.
    pub fn new(
        login: &str,
        password: &str,
        display_name: Option<&str>,
        phone: Option<&str>,
        email: Option<&str>,
        role: Role,
        country: CountryType,
    ) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let login = e.take("login", LoginName::parse(login));
        let password = e.take("password", Password::parse(password));
        let display_name = e.take(
            "display_name",
            opt_text(display_name, limits::USER_DISPLAY_NAME),
        );
        let phone = e.take("phone", opt_phone(phone, country));
        let email = e.take("email", opt_email(email));
        e.finish(|| {
            Some(Self {
                login: login?,
                password: password?,
                display_name: display_name?,
                phone: phone?,
                email: email?,
                role,
            })
        })
    }
}

/// Changes to a user; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    /// New password.
    pub password: Option<Password>,
    /// New display name.
    pub display_name: Option<Option<String>>,
    /// New phone.
    pub phone: Option<Option<Msisdn>>,
    /// New e-mail.
    pub email: Option<Option<Email>>,
    /// New role.
    pub role: Option<Role>,
    /// Deactivate (`false`) or reactivate (`true`): a deactivated user cannot sign in.
    pub active: Option<bool>,
}

impl UserPatch {
    /// Validates the given fields; `Some("")` clears an optional field.
    pub fn new(
        password: Option<&str>,
        display_name: Option<&str>,
        phone: Option<&str>,
        email: Option<&str>,
        role: Option<Role>,
        country: CountryType,
    ) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let password = password.and_then(|p| e.take("password", Password::parse(p)));
        let display_name = display_name
            .and_then(|d| e.take("display_name", opt_text(Some(d), limits::USER_DISPLAY_NAME)));
        let phone = phone.and_then(|p| e.take("phone", opt_phone(Some(p), country)));
        let email = email.and_then(|m| e.take("email", opt_email(Some(m))));
        e.finish(|| {
            Some(Self {
                password,
                display_name,
                phone,
                email,
                role,
                active: None,
            })
        })
    }

    /// The same patch, also deactivating (`Some(false)`) or reactivating (`Some(true)`).
    #[must_use]
    pub fn with_active(mut self, active: Option<bool>) -> Self {
        self.active = active;
        self
    }

    /// Whether applying it to `current` leaves one active administrator fewer: it demotes
    /// or deactivates an active administrator. A company must keep at least one
    /// ([`Code::UserLastAdmin`]); the store checks the count under a lock.
    pub fn removes_admin(&self, current: &User) -> bool {
        current.is_active_admin()
            && (self.role.is_some_and(|r| r != Role::Admin) || self.active == Some(false))
    }
}

/// A stored user (never with the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Row id.
    pub id: UserId,
    /// Owning company.
    pub company_id: CompanyId,
    /// Login name.
    pub login: LoginName,
    /// Name shown to people.
    pub display_name: Option<String>,
    /// Mobile phone.
    pub phone: Option<Msisdn>,
    /// E-mail address.
    pub email: Option<Email>,
    /// Role.
    pub role: Role,
    /// Whether the user may sign in (deactivated users keep their row and history).
    pub active: bool,
    /// A system administrator (manages companies and sells credit on the web, as the system
    /// administrator's API key does); only ever a user of company `default`.
    pub system_admin: bool,
    /// Creation time, unix milliseconds.
    pub created_at: i64,
    /// Last change, unix milliseconds.
    pub updated_at: i64,
}

impl User {
    /// Whether a caller may change or delete this user: a system administrator's account
    /// (password, role, active, removal) only by a system administrator, so a company
    /// administrator of `default` cannot take the server's administration over.
    pub fn changeable_by(&self, by_system_admin: bool) -> bool {
        !self.system_admin || by_system_admin
    }

    /// Whether the user is an administrator who may sign in.
    pub fn is_active_admin(&self) -> bool {
        self.active && self.role == Role::Admin
    }

    /// Rebuilds stored text fields without re-checking them (they were checked on write).
    pub fn stored_login(s: String) -> LoginName {
        LoginName(s)
    }

    /// Rebuilds a stored e-mail without re-checking it.
    pub fn stored_email(s: String) -> Email {
        Email(s)
    }
}

/// Input for a new API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// Name shown in the key list.
    pub name: String,
    /// What the key may do.
    pub role: Role,
    /// A system administrator key (the bootstrap key): may manage companies.
    pub system_admin: bool,
}

impl NewApiKey {
    /// Validates `name`.
    pub fn new(name: &str, role: Role, system_admin: bool) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let name = e.take("name", text(name, limits::API_KEY_NAME));
        e.finish(|| {
            Some(Self {
                name: name?,
                role,
                system_admin,
            })
        })
    }
}

/// A stored API key's metadata; the key itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    /// Row id.
    pub id: ApiKeyId,
    /// Owning company.
    pub company_id: CompanyId,
    /// Name.
    pub name: String,
    /// The first characters of the key, to tell keys apart in lists (not secret).
    pub prefix: String,
    /// Role.
    pub role: Role,
    /// Whether this is a system administrator key.
    pub system_admin: bool,
    /// Creation time, unix milliseconds.
    pub created_at: i64,
    /// Last successful use, unix milliseconds.
    pub last_used_at: Option<i64>,
    /// When it was revoked; a revoked key no longer authenticates.
    pub revoked_at: Option<i64>,
}

/// Who a presented API key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ApiKeyAuth {
    /// The key.
    pub key_id: ApiKeyId,
    /// Its company.
    pub company_id: CompanyId,
    /// Its role.
    pub role: Role,
    /// Whether it is a system administrator key.
    pub system_admin: bool,
}
