//! Typed rejection reasons for phone numbers.

use std::fmt;

use super::Zone;

/// What kind of non-mobile number was given (other than a landline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberKind {
    /// Free-phone (e.g. TR 800).
    TollFree,
    /// Premium-rate (e.g. TR 900).
    PremiumRate,
    /// Shared-cost.
    SharedCost,
    /// VoIP / nomadic numbers (TR 850).
    Voip,
    /// Personal numbers.
    PersonalNumber,
    /// Pagers.
    Pager,
    /// Universal access numbers (TR 444).
    Uan,
    /// Voicemail access.
    Voicemail,
    /// Any other non-mobile service number.
    Other,
}

impl fmt::Display for NumberKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TollFree => "toll-free",
            Self::PremiumRate => "premium-rate",
            Self::SharedCost => "shared-cost",
            Self::Voip => "VoIP",
            Self::PersonalNumber => "personal",
            Self::Pager => "pager",
            Self::Uan => "universal access",
            Self::Voicemail => "voicemail",
            Self::Other => "service",
        })
    }
}

/// Why a phone number was rejected. Messages never contain the number itself,
/// so they are safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Nothing but whitespace was given.
    #[error("empty phone number")]
    Empty,
    /// A character that is neither a digit nor accepted punctuation.
    #[error("invalid character {ch:?} at position {position}")]
    InvalidCharacter {
        /// The offending character.
        ch: char,
        /// 1-based character position in the trimmed input.
        position: usize,
    },
    /// Fewer digits than a number of that country has.
    #[error("too short: {digits} digits, a {zone} number has {expected}")]
    TooShort {
        /// Digits found in the national part.
        digits: usize,
        /// Digits the national part must have.
        expected: usize,
        /// The zone the number was read in.
        zone: Zone,
    },
    /// More digits than a number of that country has.
    #[error("too long: {digits} digits, a {zone} number has {expected}")]
    TooLong {
        /// Digits found in the national part.
        digits: usize,
        /// Digits the national part must have.
        expected: usize,
        /// The zone the number was read in.
        zone: Zone,
    },
    /// A fixed-line (geographic) number; SMS cannot be delivered to it.
    #[error("not a mobile number: {zone} landline")]
    Landline {
        /// The zone of the landline.
        zone: Zone,
    },
    /// A valid non-geographic service number that is not a mobile.
    #[error("not a mobile number: {kind} number")]
    NotMobile {
        /// What kind of number it is.
        kind: NumberKind,
    },
    /// A real country code Ulak does not send to.
    #[error("unsupported country: +{code} (Ulak sends to TR, KKTC and AZ)")]
    UnsupportedCountry {
        /// The country calling code.
        code: u16,
    },
    /// The international number starts with no known country code.
    #[error("unknown country code")]
    UnknownCountryCode,
    /// Right length and country, but not an assigned mobile range.
    #[error("invalid number: not an assigned {zone} mobile range")]
    InvalidNumber {
        /// The zone the number was read in.
        zone: Zone,
    },
}

impl PhoneError {
    /// A stable machine-readable code for APIs and `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::InvalidCharacter { .. } => "invalid_character",
            Self::TooShort { .. } => "too_short",
            Self::TooLong { .. } => "too_long",
            Self::Landline { .. } => "landline",
            Self::NotMobile { .. } => "not_mobile",
            Self::UnsupportedCountry { .. } => "unsupported_country",
            Self::UnknownCountryCode => "unknown_country_code",
            Self::InvalidNumber { .. } => "invalid_number",
        }
    }
}
