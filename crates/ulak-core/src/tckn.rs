//! TC kimlik numarası (Turkish citizen ID number) checksum validation.
//!
//! A passing checksum does not prove the number was issued; only NVİ's KPS
//! service can say that. This type only stops typos and made-up numbers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Number of digits in a TC kimlik no.
const LEN: usize = 11;

/// Why a TC kimlik no was rejected. Messages never contain the number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TcknError {
    /// Nothing but whitespace was given.
    #[error("empty TC kimlik no")]
    Empty,
    /// A character other than an ASCII digit.
    #[error("non-digit character {ch:?} at position {position}")]
    NonDigit {
        /// The offending character.
        ch: char,
        /// 1-based character position in the trimmed input.
        position: usize,
    },
    /// Not exactly 11 digits.
    #[error("wrong length: got {got} digits, expected 11")]
    WrongLength {
        /// Number of digits given.
        got: usize,
    },
    /// The first digit is 0, which is never issued.
    #[error("first digit must not be 0")]
    LeadingZero,
    /// The 10th digit does not match the checksum of digits 1-9.
    #[error("10th check digit wrong (expected {expected})")]
    Check10 {
        /// The digit the checksum requires.
        expected: u8,
    },
    /// The 11th digit does not match the checksum of digits 1-10.
    #[error("11th check digit wrong (expected {expected})")]
    Check11 {
        /// The digit the checksum requires.
        expected: u8,
    },
}

impl TcknError {
    /// A stable machine-readable code for APIs and `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::NonDigit { .. } => "non_digit",
            Self::WrongLength { .. } => "wrong_length",
            Self::LeadingZero => "leading_zero",
            Self::Check10 { .. } => "check_digit_10",
            Self::Check11 { .. } => "check_digit_11",
        }
    }
}

/// A TC kimlik no whose format and both check digits are valid.
///
/// `Display` and `Serialize` give the 11 digits; `Debug` is masked so the
/// number does not end up in logs by accident.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tckn([u8; LEN]);

impl Tckn {
    /// Parses 11 digits (surrounding whitespace ignored, nothing else allowed).
    pub fn parse(input: &str) -> Result<Self, TcknError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(TcknError::Empty);
        }
        if let Some((i, ch)) = s.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
            return Err(TcknError::NonDigit {
                ch,
                position: i + 1,
            });
        }
        // All ASCII digits now, so bytes == chars.
        let bytes = s.as_bytes();
        if bytes.len() != LEN {
            return Err(TcknError::WrongLength { got: bytes.len() });
        }
        let mut d = [0u8; LEN];
        for (slot, b) in d.iter_mut().zip(bytes) {
            *slot = b - b'0';
        }
        if d[0] == 0 {
            return Err(TcknError::LeadingZero);
        }
        let mut first_nine = [0u8; 9];
        first_nine.copy_from_slice(&d[..9]);
        let [c10, c11] = check_digits(first_nine);
        if d[9] != c10 {
            return Err(TcknError::Check10 { expected: c10 });
        }
        if d[10] != c11 {
            return Err(TcknError::Check11 { expected: c11 });
        }
        Ok(Self(d))
    }

    /// The 11 digits as a string.
    pub fn as_string(&self) -> String {
        self.0.iter().map(|d| char::from(b'0' + d)).collect()
    }

    /// A masked form for logs: first three and last two digits, e.g.
    /// `123******50`.
    pub fn masked(&self) -> String {
        let s = self.as_string();
        format!("{}******{}", &s[..3], &s[9..])
    }
}

/// Computes check digits 10 and 11 from the first nine digits (each 0..=9).
///
/// d10 = (7 × (d1+d3+d5+d7+d9) − (d2+d4+d6+d8)) mod 10, non-negative;
/// d11 = (d1+…+d10) mod 10, using the computed d10.
pub fn check_digits(first_nine: [u8; 9]) -> [u8; 2] {
    let odd: i32 = first_nine.iter().step_by(2).map(|&d| i32::from(d)).sum();
    let even: i32 = first_nine
        .iter()
        .skip(1)
        .step_by(2)
        .map(|&d| i32::from(d))
        .sum();
    // rem_euclid: the difference can be negative and we need 0..=9.
    let c10 = (7 * odd - even).rem_euclid(10);
    let c11 = (odd + even + c10).rem_euclid(10);
    // Both are in 0..=9, so the casts cannot truncate.
    [c10 as u8, c11 as u8]
}

impl fmt::Display for Tckn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_string())
    }
}

impl fmt::Debug for Tckn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tckn({})", self.masked())
    }
}

impl FromStr for Tckn {
    type Err = TcknError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Tckn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.as_string())
    }
}

impl<'de> Deserialize<'de> for Tckn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn valid_examples() {
        for s in ["10000000146", "12345678950", " 12345678950\n"] {
            let t = Tckn::parse(s).unwrap();
            assert_eq!(t.to_string(), s.trim());
        }
    }

    #[test]
    fn masked_and_debug_hide_the_middle() {
        let t = Tckn::parse("12345678950").unwrap();
        assert_eq!(t.masked(), "123******50");
        assert_eq!(format!("{t:?}"), "Tckn(123******50)");
    }

    #[test]
    fn reasons() {
        assert_eq!(Tckn::parse(""), Err(TcknError::Empty));
        assert_eq!(Tckn::parse("   "), Err(TcknError::Empty));
        assert_eq!(
            Tckn::parse("1234567895a"),
            Err(TcknError::NonDigit {
                ch: 'a',
                position: 11
            })
        );
        assert_eq!(
            Tckn::parse("123 45678950"),
            Err(TcknError::NonDigit {
                ch: ' ',
                position: 4
            })
        );
        assert_eq!(
            Tckn::parse("-12345678950"),
            Err(TcknError::NonDigit {
                ch: '-',
                position: 1
            })
        );
        // Non-ASCII digits (Arabic-Indic) are not accepted.
        assert_eq!(
            Tckn::parse("١2345678950"),
            Err(TcknError::NonDigit {
                ch: '١',
                position: 1
            })
        );
        assert_eq!(
            Tckn::parse("1234567895"),
            Err(TcknError::WrongLength { got: 10 })
        );
        assert_eq!(
            Tckn::parse("123456789500"),
            Err(TcknError::WrongLength { got: 12 })
        );
        assert_eq!(Tckn::parse("02345678950"), Err(TcknError::LeadingZero));
        assert_eq!(
            Tckn::parse("12345678940"),
            Err(TcknError::Check10 { expected: 5 })
        );
        assert_eq!(
            Tckn::parse("12345678951"),
            Err(TcknError::Check11 { expected: 0 })
        );
        assert_eq!(
            Tckn::parse("10000000147"),
            Err(TcknError::Check11 { expected: 6 })
        );
    }

    #[test]
    fn messages_name_the_reason() {
        assert_eq!(
            Tckn::parse("12345678940").unwrap_err().to_string(),
            "10th check digit wrong (expected 5)"
        );
        assert_eq!(
            Tckn::parse("12345678951").unwrap_err().to_string(),
            "11th check digit wrong (expected 0)"
        );
        assert_eq!(
            Tckn::parse("123").unwrap_err().to_string(),
            "wrong length: got 3 digits, expected 11"
        );
        assert_eq!(Tckn::parse("1x").unwrap_err().code(), "non_digit");
    }

    #[test]
    fn negative_difference_uses_non_negative_modulo() {
        // Odd positions all 0 except d1=1, even positions 9: 7*1 - 36 = -29 → 1.
        assert_eq!(check_digits([1, 9, 0, 9, 0, 9, 0, 9, 0]), [1, 8]);
        assert!(Tckn::parse("19090909018").is_ok());
    }

    #[test]
    fn serde_round_trip() {
        let t = Tckn::parse("10000000146").unwrap();
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"10000000146\"");
        assert_eq!(serde_json::from_str::<Tckn>(&json).unwrap(), t);
        assert!(serde_json::from_str::<Tckn>("\"10000000147\"").is_err());
    }
}
