//! Mobile subscribers, their groups and the opt-out list.

use crate::Code;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::limits;
use super::template::is_name_char;
use super::validation::{self, Lines, RuleError, ValidationErrors, opt_text, text};
use super::{CompanyId, GroupId, OptOutId, SubscriberId};
use crate::{CountryType, Msisdn, Tckn};

/// Most attributes one subscriber or customer account carries.
pub const MAX_ATTRIBUTES: usize = 100;
/// Longest attribute name, in characters.
pub const MAX_ATTRIBUTE_NAME_CHARS: usize = 64;
/// Longest attribute value, in characters.
pub const MAX_ATTRIBUTE_VALUE_CHARS: usize = 1000;
/// Most bytes (UTF-8) of all attribute names and values together: keeps a row, an import
/// batch and a list page small whatever the count and lengths above allow.
pub const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;

/// Free attributes of a subscriber or customer account, usable in templates as `{{name}}`:
/// at most [`MAX_ATTRIBUTES`]; keys follow the template name rules (≤ 64 characters), values
/// are strings (≤ 1000 characters), ≤ 16 KiB together.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Attributes(BTreeMap<String, String>);

impl Attributes {
    /// Checks every key and value; errors are reported per key (`attributes.<key>`), or once
    /// for the whole set (`attributes`) when there are too many or they are too large.
    pub fn new(map: BTreeMap<String, String>) -> Result<Self, ValidationErrors> {
        if map.len() > MAX_ATTRIBUTES {
            // One error, not one per attribute: the count alone refuses the set.
            return Err(ValidationErrors::single(
                "attributes",
                Code::ValueTooMany,
                format!("{} attributes, at most {MAX_ATTRIBUTES} allowed", map.len()),
            ));
        }
        let mut e = ValidationErrors::default();
        for (k, v) in &map {
            if k.is_empty()
                || k.chars().count() > MAX_ATTRIBUTE_NAME_CHARS
                || !k.chars().all(is_name_char)
            {
                e.push(
                    format!("attributes.{}", field_name(k)),
                    Code::AttributeNameInvalid,
                    "names are 1..=64 letters, digits, '_' or '.'",
                );
            }
            // Values may span lines (an address from a spreadsheet cell).
            if let Err(err) = validation::check_controls(v, Lines::Many) {
                e.push(format!("attributes.{k}"), err.code, err.message);
            }
            if v.chars().count() > MAX_ATTRIBUTE_VALUE_CHARS {
                e.push(
                    format!("attributes.{}", field_name(k)),
                    Code::ValueTooLong,
                    "at most 1000 characters",
                );
            }
        }
        let bytes: usize = map.iter().map(|(k, v)| k.len() + v.len()).sum();
        if bytes > MAX_ATTRIBUTES_BYTES {
            e.push(
                "attributes",
                Code::ValueTooLarge,
                format!(
                    "{bytes} bytes of names and values, at most {MAX_ATTRIBUTES_BYTES} allowed"
                ),
            );
        }
        e.finish(|| Some(Self(map)))
    }

    /// Values a request gives for a template's placeholders (`fields`): they fill the same
    /// placeholders attributes do, so the same rules, with errors named `fields.<name>`.
    pub fn fields(map: BTreeMap<String, String>) -> Result<Self, ValidationErrors> {
        Self::new(map).map_err(|e| {
            ValidationErrors(
                e.0.into_iter()
                    .map(|mut f| {
                        if let Some(name) = f.field.strip_prefix("attributes.") {
                            f.field = format!("fields.{name}");
                        }
                        f
                    })
                    .collect(),
            )
        })
    }

    /// Rebuilds stored attributes without re-checking them.
    pub fn from_stored(map: BTreeMap<String, String>) -> Self {
        Self(map)
    }

    /// The map.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// A value by name.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }
}

/// A key as it may be echoed in an error's field name: cut to a bounded length, so a
/// megabyte-long key does not come back in the answer.
fn field_name(k: &str) -> String {
    let mut cut: String = k.chars().take(MAX_ATTRIBUTE_NAME_CHARS).collect();
    if cut.len() < k.len() {
        cut.push('…');
    }
    cut
}

/// Whether a subscriber may receive commercial messages (İYS consent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Consent {
    /// Not recorded; commercial messages need consent, so treated as no.
    #[default]
    Unknown,
    /// Gave consent.
    OptedIn,
    /// Withdrew consent.
    OptedOut,
}

impl Consent {
    /// Stable name: `unknown`, `opted_in`, `opted_out`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::OptedIn => "opted_in",
            Self::OptedOut => "opted_out",
        }
    }
}

impl FromStr for Consent {
    type Err = RuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "unknown" => Ok(Self::Unknown),
            "opted_in" => Ok(Self::OptedIn),
            "opted_out" => Ok(Self::OptedOut),
            _ => Err(RuleError::new(
                Code::ValueInvalid,
                "expected unknown, opted_in or opted_out",
            )),
        }
    }
}

/// Parses an optional TC ID number; the empty string is `None`.
fn opt_tckn(s: Option<&str>) -> Result<Option<Tckn>, RuleError> {
    match s {
        None | Some("") => Ok(None),
        Some(t) => validation::tckn(t).map(Some),
    }
}

/// Input for a new subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscriber {
    /// Name.
    pub name: String,
    /// Phone, unique per company.
    pub phone: Msisdn,
    /// TC ID number.
    pub tckn: Option<Tckn>,
    /// Free attributes.
    pub attributes: Attributes,
    /// Consent status.
    pub consent: Consent,
}

impl NewSubscriber {
    /// Validates `name`, `phone` (a national number is read by the company's `country`
    /// unless it carries a country code), `tckn` and `attributes`.
    pub fn new(
        name: &str,
        phone: &str,
        country: CountryType,
        tckn: Option<&str>,
        attributes: BTreeMap<String, String>,
        consent: Consent,
    ) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let name = e.take("name", text(name, limits::SUBSCRIBER_NAME));
        let phone = e.take("phone", validation::phone(phone, country));
        let tckn = e.take("tckn", opt_tckn(tckn));
        let attributes = match Attributes::new(attributes) {
            Ok(a) => Some(a),
            Err(errs) => {
                e.0.extend(errs.0);
                None
            }
        };
        e.finish(|| {
            Some(Self {
                name: name?,
                phone: phone?,
                tckn: tckn?,
                attributes: attributes?,
                consent,
            })
        })
    }
}

/// Changes to a subscriber; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriberPatch {
    /// New name.
    pub name: Option<String>,
    /// New phone.
    pub phone: Option<Msisdn>,
    /// New TC ID number; `Some(None)` clears it.
    pub tckn: Option<Option<Tckn>>,
    /// Replaces all attributes.
    pub attributes: Option<Attributes>,
    /// New consent status.
    pub consent: Option<Consent>,
}

impl SubscriberPatch {
    /// Validates the given fields; `tckn: Some("")` clears the TC ID number.
    pub fn new(
        name: Option<&str>,
        phone: Option<&str>,
        country: CountryType,
        tckn: Option<&str>,
        attributes: Option<BTreeMap<String, String>>,
        consent: Option<Consent>,
    ) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let name = name.and_then(|n| e.take("name", text(n, limits::SUBSCRIBER_NAME)));
        let phone = phone.and_then(|p| e.take("phone", validation::phone(p, country)));
        let tckn = tckn.and_then(|t| e.take("tckn", opt_tckn(Some(t))));
        let attributes = attributes.and_then(|a| match Attributes::new(a) {
            Ok(a) => Some(a),
            Err(errs) => {
                e.0.extend(errs.0);
                None
            }
        });
        e.finish(|| {
            Some(Self {
                name,
                phone,
                tckn,
                attributes,
                consent,
            })
        })
    }
}

/// A stored subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subscriber {
    /// Row id.
    pub id: SubscriberId,
    /// Owning company.
    pub company_id: CompanyId,
    /// Name.
    pub name: String,
    /// Phone.
    pub phone: Msisdn,
    /// TC ID number.
    pub tckn: Option<Tckn>,
    /// Free attributes.
    pub attributes: Attributes,
    /// Consent status.
    pub consent: Consent,
    /// Creation time, unix milliseconds.
    pub created_at: i64,
    /// Last change, unix milliseconds.
    pub updated_at: i64,
}

/// A group name: 1..=100 characters, unique per company.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct GroupName(String);

impl GroupName {
    /// Checks the rules above.
    pub fn parse(s: &str) -> Result<Self, RuleError> {
        text(s, limits::GROUP_NAME).map(Self)
    }

    /// Rebuilds a stored name without re-checking it.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// Row id.
    pub id: GroupId,
    /// Owning company.
    pub company_id: CompanyId,
    /// Name.
    pub name: GroupName,
    /// Description.
    pub description: Option<String>,
    /// Creation time, unix milliseconds.
    pub created_at: i64,
}

impl Group {
    /// Validates an optional description (≤ 500 characters).
    pub fn description(s: Option<&str>) -> Result<Option<String>, ValidationErrors> {
        opt_text(s, limits::GROUP_DESCRIPTION)
            .map_err(|e| ValidationErrors::single("description", e.code, e.message))
    }
}

/// The reason of a new opt-out: at most [`limits::OPT_OUT_REASON`] characters on one line;
/// blank is none.
pub fn opt_out_reason(s: Option<&str>) -> Result<Option<String>, ValidationErrors> {
    opt_text(s, limits::OPT_OUT_REASON)
        .map_err(|e| ValidationErrors::single("reason", e.code, e.message))
}

/// A phone on the opt-out list: never sent commercial messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OptOut {
    /// Row id.
    pub id: OptOutId,
    /// Owning company.
    pub company_id: CompanyId,
    /// The phone.
    pub phone: Msisdn,
    /// Why (free text, e.g. "SMS RET reply").
    pub reason: Option<String>,
    /// When it was added, unix milliseconds.
    pub created_at: i64,
}
