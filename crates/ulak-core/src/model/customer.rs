//! Customer accounts ("cari hesap").

use crate::Code;
use std::collections::BTreeMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::limits;
use super::validation::{self, RuleError, ValidationErrors, text};
use super::{Attributes, CompanyId, CustomerAccountId};
use crate::{CountryType, Msisdn};

/// Customer or supplier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerKind {
    /// A customer (alıcı).
    Customer,
    /// A supplier (satıcı).
    Supplier,
}

impl CustomerKind {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Supplier => "supplier",
        }
    }
}

impl FromStr for CustomerKind {
    type Err = RuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "customer" => Ok(Self::Customer),
            "supplier" => Ok(Self::Supplier),
            _ => Err(RuleError::new(
                Code::ValueInvalid,
                "expected customer or supplier",
            )),
        }
    }
}

/// Most phones one customer account has.
pub const MAX_PHONES: usize = 20;

/// Parses phones, reporting each as `phones[i]` (or the list once when it is too long).
fn phones(e: &mut ValidationErrors, raw: &[&str], country: CountryType) -> Option<Vec<Msisdn>> {
    if raw.len() > MAX_PHONES {
        e.push(
            "phones",
            Code::ValueTooMany,
            format!("{} phones, at most {MAX_PHONES} allowed", raw.len()),
        );
        return None;
    }
    let mut out = Vec::with_capacity(raw.len());
    for (i, p) in raw.iter().enumerate() {
        if let Some(m) = e.take(&format!("phones[{i}]"), validation::phone(p, country)) {
            out.push(m);
        }
    }
    (out.len() == raw.len()).then_some(out)
}

/// Input for a new customer account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCustomerAccount {
    /// Code, unique per company (the accounting system's key).
    pub code: String,
    /// Title (ünvan).
    pub title: String,
    /// Customer or supplier.
    pub kind: CustomerKind,
    /// One or more phones.
    pub phones: Vec<Msisdn>,
    /// Balance in minor units (kuruş); positive = the account owes.
    pub balance_minor: i64,
    /// Free attributes.
    pub attributes: Attributes,
}

impl NewCustomerAccount {
    /// Validates `code`, `title`, `phones` (at least one) and `attributes`.
    pub fn new(
        code: &str,
        title: &str,
        kind: CustomerKind,
        raw_phones: &[&str],
        country: CountryType,
        balance_minor: i64,
        attributes: BTreeMap<String, String>,
    ) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let code = e.take("code", text(code, limits::CUSTOMER_CODE));
        let title = e.take("title", text(title, limits::CUSTOMER_TITLE));
        if raw_phones.is_empty() {
            e.push("phones", Code::ValueEmpty, "at least one phone");
        }
        let phones = phones(&mut e, raw_phones, country);
        let attributes = match Attributes::new(attributes) {
            Ok(a) => Some(a),
            Err(errs) => {
                e.0.extend(errs.0);
                None
            }
        };
        e.finish(|| {
            Some(Self {
                code: code?,
                title: title?,
                kind,
                phones: phones?,
                balance_minor,
                attributes: attributes?,
            })
        })
    }
}

/// Changes to a customer account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerAccountPatch {
    /// New title.
    pub title: Option<String>,
    /// New kind.
    pub kind: Option<CustomerKind>,
    /// Replaces the phones.
    pub phones: Option<Vec<Msisdn>>,
    /// New balance (kuruş).
    pub balance_minor: Option<i64>,
    /// Replaces the attributes.
    pub attributes: Option<Attributes>,
}

impl CustomerAccountPatch {
    /// Validates the given fields.
    pub fn new(
        title: Option<&str>,
        kind: Option<CustomerKind>,
        raw_phones: Option<&[&str]>,
        country: CountryType,
        balance_minor: Option<i64>,
        attributes: Option<BTreeMap<String, String>>,
    ) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let title = title.and_then(|t| e.take("title", text(t, limits::CUSTOMER_TITLE)));
        if raw_phones.is_some_and(<[&str]>::is_empty) {
            e.push("phones", Code::ValueEmpty, "at least one phone");
        }
        let phones = raw_phones.and_then(|p| phones(&mut e, p, country));
        let attributes = attributes.and_then(|a| match Attributes::new(a) {
            Ok(a) => Some(a),
            Err(errs) => {
                e.0.extend(errs.0);
                None
            }
        });
        e.finish(|| {
            Some(Self {
                title,
                kind,
                phones,
                balance_minor,
                attributes,
            })
        })
    }
}

/// A stored customer account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerAccount {
    /// Row id.
    pub id: CustomerAccountId,
    /// Owning company.
    pub company_id: CompanyId,
    /// Code.
    pub code: String,
    /// Title.
    pub title: String,
    /// Kind.
    pub kind: CustomerKind,
    /// Phones.
    pub phones: Vec<Msisdn>,
    /// Balance in kuruş.
    pub balance_minor: i64,
    /// Free attributes.
    pub attributes: Attributes,
    /// Creation time, unix milliseconds.
    pub created_at: i64,
    /// Last change, unix milliseconds.
    pub updated_at: i64,
}
