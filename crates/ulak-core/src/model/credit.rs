//! The credit ledger: every change of a company's SMS credit is an entry; the balance is their
//! sum, so it can always be explained.

use crate::Code;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::limits;
use super::validation::{RuleError, ValidationErrors, opt_text};
use super::{CompanyId, CreditEntryId};

/// What a ledger entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    /// Credit bought (positive).
    Purchase,
    /// Manual correction (either sign, not zero).
    Adjustment,
    /// Held for a send in progress (negative; for the sending issue).
    Reservation,
    /// Spent on sent messages (negative; for the sending issue).
    Charge,
    /// A reservation given back (positive; for the sending issue).
    Release,
}

impl LedgerKind {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Purchase => "purchase",
            Self::Adjustment => "adjustment",
            Self::Reservation => "reservation",
            Self::Charge => "charge",
            Self::Release => "release",
        }
    }
}

impl FromStr for LedgerKind {
    type Err = RuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::Purchase,
            Self::Adjustment,
            Self::Reservation,
            Self::Charge,
            Self::Release,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| RuleError::new(Code::ValueInvalid, "unknown ledger entry kind"))
    }
}

/// Input for a ledger entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCreditEntry {
    /// Kind.
    pub kind: LedgerKind,
    /// Credits (SMS units); the sign follows the kind.
    pub amount: i64,
    /// Free note (invoice number, reason).
    pub note: Option<String>,
}

impl NewCreditEntry {
    /// Checks the sign of `amount` against `kind`, and that it has a negation: `i64::MIN`
    /// has no positive counterpart, so a debit of it could not be checked against the
    /// balance.
    pub fn new(
        kind: LedgerKind,
        amount: i64,
        note: Option<&str>,
    ) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let ok = match kind {
            LedgerKind::Purchase | LedgerKind::Release => amount > 0,
            LedgerKind::Reservation | LedgerKind::Charge => amount < 0,
            LedgerKind::Adjustment => amount != 0,
        };
        if amount.checked_neg().is_none() {
            e.push(
                "amount",
                Code::ValueOutOfRange,
                format!("must be {} to {}", -i64::MAX, i64::MAX),
            );
        } else if !ok {
            e.push(
                "amount",
                Code::CreditInvalidSign,
                format!("wrong sign or zero for {}", kind.as_str()),
            );
        }
        let note = e.take("note", opt_text(note, limits::CREDIT_NOTE));
        e.finish(|| {
            Some(Self {
                kind,
                amount,
                note: note?,
            })
        })
    }
}

/// A stored ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreditEntry {
    /// Row id.
    pub id: CreditEntryId,
    /// Owning company.
    pub company_id: CompanyId,
    /// Kind.
    pub kind: LedgerKind,
    /// Signed amount.
    pub amount: i64,
    /// Note.
    pub note: Option<String>,
    /// Balance right after this entry.
    pub balance_after: i64,
    /// When it was written, unix milliseconds.
    pub created_at: i64,
}
