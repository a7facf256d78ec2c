//! Recipient phone numbers: parsing what people type into a validated,
//! SMS-capable [`Msisdn`] in E.164 form for Turkey, Northern Cyprus (KKTC)
//! and Azerbaijan.
//!
//! Validation is the `phonenumber` crate (libphonenumber metadata); its gaps
//! and the KKTC zone live in `prefixes.rs` so they are fixed in one place.

mod error;
mod plan;
mod prefixes;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use phonenumber::metadata::{DATABASE, Database};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use error::{NumberKind, PhoneError};

/// The country type configured on a recipient or account: decides how a
/// national number (without country code) is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CountryType {
    /// Turkey (+90).
    #[serde(rename = "TR")]
    Tr,
    /// Azerbaijan (+994).
    #[serde(rename = "AZ")]
    Az,
    /// Northern Cyprus (KKTC); uses Turkey's +90 numbering.
    #[serde(rename = "KKTC")]
    Kktc,
}

impl CountryType {
    /// The IANA time zone its companies' times are shown in: Europe/Istanbul (TR),
    /// Asia/Baku (AZ), Asia/Famagusta (KKTC: Northern Cyprus keeps EU summer time, one hour
    /// behind Türkiye in winter).
    pub fn time_zone(self) -> &'static str {
        match self {
            Self::Tr => "Europe/Istanbul",
            Self::Az => "Asia/Baku",
            Self::Kktc => "Asia/Famagusta",
        }
    }

    /// The canonical upper-case name: "TR", "AZ" or "KKTC".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tr => "TR",
            Self::Az => "AZ",
            Self::Kktc => "KKTC",
        }
    }

    /// The text policy a provider account of this country starts with: Turkish operators
    /// (Turkey and KKTC) take the Turkish national shift tables; Azerbaijan's do not, so plain
    /// GSM-7 or UCS-2 there (Turkish providers forbid the Turkish table abroad).
    pub fn default_text_policy(self) -> ulak_text::Policy {
        match self {
            Self::Tr | Self::Kktc => ulak_text::Policy::TurkishShift,
            Self::Az => ulak_text::Policy::Gsm7OrUcs2,
        }
    }
}

impl fmt::Display for CountryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for an unknown country type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown country type {0:?}: expected TR, AZ or KKTC")]
pub struct UnknownCountryType(pub String);

impl FromStr for CountryType {
    type Err = UnknownCountryType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // ASCII-only comparison on purpose: Turkish locale casing ("tr" vs "TR"
        // with dotted/dotless i) must not matter for these ASCII names.
        let s = s.trim();
        if s.eq_ignore_ascii_case("TR") {
            Ok(Self::Tr)
        } else if s.eq_ignore_ascii_case("AZ") {
            Ok(Self::Az)
        } else if s.eq_ignore_ascii_case("KKTC") {
            Ok(Self::Kktc)
        } else {
            Err(UnknownCountryType(s.to_owned()))
        }
    }
}

/// The network/tariff zone a number belongs to. KKTC is a zone inside +90,
/// not a country code of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Zone {
    /// Turkey (mainland +90 numbers).
    #[serde(rename = "TR")]
    Tr,
    /// Northern Cyprus (+90 392 and the KKTC mobile blocks).
    #[serde(rename = "KKTC")]
    Kktc,
    /// Azerbaijan (+994).
    #[serde(rename = "AZ")]
    Az,
}

impl Zone {
    /// The canonical upper-case name: "TR", "KKTC" or "AZ".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tr => "TR",
            Self::Kktc => "KKTC",
            Self::Az => "AZ",
        }
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Forces the lazily built libphonenumber metadata to load now.
///
/// The first parse pays ~100 ms (more in debug builds) to build the database;
/// call this at server start so no request pays it.
pub fn preload() {
    let _ = metadata();
    PRELOADED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Whether [`preload`] ran in this process.
pub fn preloaded() -> bool {
    PRELOADED.load(std::sync::atomic::Ordering::Relaxed)
}

static PRELOADED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The crate's metadata database; built once on first use.
fn metadata() -> &'static Database {
    &DATABASE
}

/// Turkey's and Northern Cyprus's country calling code.
const CC_TR: &str = "90";
/// Azerbaijan's country calling code.
const CC_AZ: &str = "994";

/// A validated, SMS-capable mobile number (MSISDN) in E.164 form.
///
/// `Display` and `Serialize` give the full E.164 string (needed to send);
/// `Debug` is masked so `?msisdn` in logs does not leak personal data.
///
/// ```
/// use ulak_core::{CountryType, Msisdn, Zone};
///
/// let m = Msisdn::parse("0533 840 12 34", CountryType::Kktc).unwrap();
/// assert_eq!(m.e164(), "+905338401234");
/// assert_eq!(m.zone(), Zone::Kktc);
/// assert_eq!(m.masked(), "+90533*****34");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Msisdn {
    e164: String,
    zone: Zone,
}

impl Msisdn {
    /// Parses a number as written by a person; `default` decides how a
    /// national form (no country code) is read.
    pub fn parse(input: &str, default: CountryType) -> Result<Self, PhoneError> {
        let digits = extract_digits(input)?;
        let (cc, nsn) = split_country_code(&digits, default)?;
        validate(cc, nsn)
    }

    /// Parses a stored E.164 string (must start with `+`).
    pub fn from_e164(e164: &str) -> Result<Self, PhoneError> {
        if !e164.trim_start().starts_with('+') {
            return Err(PhoneError::UnknownCountryCode);
        }
        // The default is irrelevant once the country code is explicit.
        Self::parse(e164, CountryType::Tr)
    }

    /// The E.164 form, e.g. `+905321234567`.
    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// The network/tariff zone: TR, KKTC or AZ.
    pub fn zone(&self) -> Zone {
        self.zone
    }

    /// The country calling code: 90 or 994.
    pub fn country_code(&self) -> u16 {
        match self.zone {
            Zone::Az => 994,
            Zone::Tr | Zone::Kktc => 90,
        }
    }

    /// The national significant number without trunk 0, e.g. `5321234567`
    /// (the 10-digit form Turkish providers ask for).
    pub fn nsn(&self) -> &str {
        let cc_len = if self.zone == Zone::Az {
            CC_AZ.len()
        } else {
            CC_TR.len()
        };
        &self.e164[1 + cc_len..]
    }

    /// The national form as dialled at home, e.g. `0532 123 45 67` or
    /// `050 123 45 67`.
    pub fn national(&self) -> String {
        let nsn = self.nsn();
        // Operator code is 3 digits in TR/KKTC and 2 in AZ; the rest is
        // grouped 3-2-2 in both countries.
        let op = if self.zone == Zone::Az { 2 } else { 3 };
        let (code, rest) = nsn.split_at(op);
        let (a, rest) = rest.split_at(3);
        let (b, c) = rest.split_at(2);
        format!("0{code} {a} {b} {c}")
    }

    /// A masked form for logs, e.g. `+90532*****67`: country and operator
    /// code plus the last two digits.
    pub fn masked(&self) -> String {
        let op = if self.zone == Zone::Az { 2 } else { 3 };
        let nsn = self.nsn();
        let cc = &self.e164[..self.e164.len() - nsn.len()];
        let hidden = nsn.len() - op - 2;
        format!(
            "{cc}{}{}{}",
            &nsn[..op],
            "*".repeat(hidden),
            &nsn[nsn.len() - 2..]
        )
    }
}

impl fmt::Display for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.e164)
    }
}

impl fmt::Debug for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Msisdn({}, {})", self.masked(), self.zone)
    }
}

impl Serialize for Msisdn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.e164)
    }
}

impl<'de> Deserialize<'de> for Msisdn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::from_e164(&s).map_err(serde::de::Error::custom)
    }
}

/// Checks the characters and returns the digits, with a leading `+` kept.
///
/// Accepted punctuation is what people and spreadsheets actually use:
/// whitespace (incl. no-break space), `-`, `.`, `/`, and parentheses.
fn extract_digits(input: &str) -> Result<String, PhoneError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(PhoneError::Empty);
    }
    let mut out = String::with_capacity(trimmed.len());
    for (i, ch) in trimmed.chars().enumerate() {
        match ch {
            '0'..='9' => out.push(ch),
            // '+' only means "international" as the very first character.
            '+' if i == 0 => out.push('+'),
            '-' | '.' | '/' | '(' | ')' => {}
            c if c.is_whitespace() => {}
            _ => {
                return Err(PhoneError::InvalidCharacter {
                    ch,
                    position: i + 1,
                });
            }
        }
    }
    Ok(out)
}

/// Splits `digits` (optionally `+`-prefixed) into a supported country code
/// and a national significant number (trunk 0 removed, not yet length-checked).
fn split_country_code(
    digits: &str,
    default: CountryType,
) -> Result<(&'static str, &str), PhoneError> {
    let international = if let Some(rest) = digits.strip_prefix('+') {
        Some(rest)
    } else if let Some(rest) = digits.strip_prefix("00") {
        // 00 is the international prefix in both TR and AZ.
        Some(rest)
    } else if digits.len() >= 12 && (digits.starts_with(CC_TR) || digits.starts_with(CC_AZ)) {
        // "905321234567" / "994501234567": country code without "+". No
        // national form in either country is 12 digits long, so this cannot
        // be mistaken for one.
        Some(digits)
    } else {
        None
    };

    let (cc, nsn) = match international {
        Some(rest) => {
            let cc = country_code_of(rest)?;
            (cc, &rest[cc.len()..])
        }
        None => match default {
            CountryType::Tr | CountryType::Kktc => (CC_TR, digits),
            CountryType::Az => (CC_AZ, digits),
        },
    };
    if nsn.is_empty() && international.is_none() {
        // Only punctuation, no digits at all.
        return Err(PhoneError::TooShort {
            digits: 0,
            expected: expected_len(cc),
            zone: zone_for_cc(cc),
        });
    }
    // One trunk 0 is dropped in both national ("0532…") and mixed forms
    // ("+90 (0532) …"), which people write often.
    Ok((cc, nsn.strip_prefix('0').unwrap_or(nsn)))
}

/// Finds the country code at the start of an international number; only
/// +90 and +994 are supported, other real codes are reported as such.
fn country_code_of(rest: &str) -> Result<&'static str, PhoneError> {
    if rest.starts_with(CC_TR) {
        return Ok(CC_TR);
    }
    if rest.starts_with(CC_AZ) {
        return Ok(CC_AZ);
    }
    // Country codes are prefix-free, so the first 1-3 digit prefix known to
    // the metadata is the code.
    for len in 1..=3.min(rest.len()) {
        if let Ok(code) = rest[..len].parse::<u16>()
            && metadata().by_code(&code).is_some()
        {
            return Err(PhoneError::UnsupportedCountry { code });
        }
    }
    // Also covers "+" or "+9": too few digits to hold any country code.
    Err(PhoneError::UnknownCountryCode)
}

/// National significant number length for a supported country code.
fn expected_len(cc: &str) -> usize {
    if cc == CC_AZ { 9 } else { 10 }
}

/// The zone used in errors before the exact zone is known.
fn zone_for_cc(cc: &str) -> Zone {
    if cc == CC_AZ { Zone::Az } else { Zone::Tr }
}

/// Length check, then libphonenumber validation, then mobile-only rules.
fn validate(cc: &'static str, nsn: &str) -> Result<Msisdn, PhoneError> {
    let e164 = format!("+{cc}{nsn}");
    let zone = if cc == CC_AZ {
        Zone::Az
    } else {
        prefixes::zone_of(&e164)
    };
    let expected = expected_len(cc);
    if nsn.len() < expected {
        return Err(PhoneError::TooShort {
            digits: nsn.len(),
            expected,
            zone,
        });
    }
    if nsn.len() > expected {
        return Err(PhoneError::TooLong {
            digits: nsn.len(),
            expected,
            zone,
        });
    }

    if prefixes::is_mobile_override(&e164) {
        return Ok(Msisdn { e164, zone });
    }

    match plan::verdict(cc, nsn, &e164) {
        plan::Verdict::Mobile => {
            if zone == Zone::Az && !prefixes::is_az_mobile_code(nsn) {
                return Err(PhoneError::InvalidNumber { zone });
            }
            Ok(Msisdn { e164, zone })
        }
        plan::Verdict::Landline => Err(PhoneError::Landline { zone }),
        plan::Verdict::Other(kind) => Err(PhoneError::NotMobile { kind }),
        plan::Verdict::Invalid => Err(PhoneError::InvalidNumber { zone }),
    }
}
