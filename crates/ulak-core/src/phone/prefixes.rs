//! Ulak's own number-range table: the one place where we correct or extend
//! the libphonenumber metadata bundled in the `phonenumber` crate.
//!
//! Why this exists: the metadata lags reality and knows nothing about
//! Northern Cyprus as a network zone. Every rule here works on the E.164
//! string (`+90…`, `+994…`) so it can be read and reviewed without knowing the
//! crate's internals. When the metadata catches up, delete the override, not
//! the tests.
//!
//! Sources are in `shared/research/turkey.md` §4 and `crates.md` §7.

use super::Zone;

/// Number ranges that are real mobile ranges although the bundled metadata
/// (9.0.33) rejects them. Matched as E.164 prefixes.
///
/// - `+90561`: Turkcell's 561 code. The metadata only accepts `5616…`, but
///   Turkcell issues numbers across the whole code (e.g. `561 1…`), so we
///   accept all of 561.
const TR_MOBILE_OVERRIDES: &[&str] = &["+90561"];

/// Northern Cyprus (KKTC) mobile ranges inside Turkey's +90 plan, as E.164
/// prefixes. KKTC has no region of its own in libphonenumber, so numbers here
/// are valid "TR" numbers to the crate and only this table tells them apart.
///
/// - `+905338[3-7]`: Kuzey Kıbrıs Turkcell (libphonenumber carrier data,
///   533 83x–87x).
/// - `+905428[5-8]`: KKTC Telsim / Vodafone (libphonenumber carrier data,
///   542 85x–88x).
/// - `+905488`: KKTC Telsim's second block (548 8xx). Not in the carrier
///   data; included because Telsim issues 0548 8xx numbers and third-party
///   Turkish validators list `05488` as KKTC Telsim. Counting a real KKTC
///   number as TR would price it at the domestic tariff, which is the costlier
///   mistake for the business, so we err on the KKTC side here.
const KKTC_MOBILE_PREFIXES: &[&str] = &[
    "+9053383", "+9053384", "+9053385", "+9053386", "+9053387", "+9054285", "+9054286", "+9054287",
    "+9054288", "+905488",
];

/// Northern Cyprus geographic (landline) numbers: area code 392 inside +90.
const KKTC_LANDLINE_PREFIXES: &[&str] = &["+90392"];

/// Azerbaijani mobile operator codes (first two digits of the 9-digit
/// national significant number) that Ulak delivers to: Azercell 10/50/51,
/// Bakcell 55/99, Naxtel 60, Nar 70/77.
///
/// This is a restriction as well as a list: the metadata also calls some
/// other ranges (e.g. `40`) mobile; we reject those until an operator route
/// exists for them.
const AZ_MOBILE_CODES: &[&str] = &["10", "50", "51", "55", "60", "70", "77", "99"];

/// Returns true when `e164` is in a mobile range the metadata wrongly rejects.
pub(crate) fn is_mobile_override(e164: &str) -> bool {
    TR_MOBILE_OVERRIDES.iter().any(|p| e164.starts_with(p))
}

/// Returns true when the Azerbaijani national significant number starts with
/// one of the accepted mobile operator codes.
pub(crate) fn is_az_mobile_code(nsn: &str) -> bool {
    AZ_MOBILE_CODES.iter().any(|code| nsn.starts_with(code))
}

/// Classifies a valid E.164 number into its network zone.
///
/// `+994…` is Azerbaijan; within `+90`, the KKTC tables win and everything
/// else is Turkey.
pub(crate) fn zone_of(e164: &str) -> Zone {
    if e164.starts_with("+994") {
        Zone::Az
    } else if KKTC_MOBILE_PREFIXES
        .iter()
        .chain(KKTC_LANDLINE_PREFIXES)
        .any(|p| e164.starts_with(p))
    {
        Zone::Kktc
    } else {
        Zone::Tr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kktc_turkcell_block_is_83_to_87() {
        assert_eq!(zone_of("+905338201234"), Zone::Tr);
        for d in '3'..='7' {
            assert_eq!(zone_of(&format!("+905338{d}01234")), Zone::Kktc);
        }
        assert_eq!(zone_of("+905338801234"), Zone::Tr);
    }

    #[test]
    fn kktc_telsim_blocks() {
        assert_eq!(zone_of("+905428401234"), Zone::Tr);
        for d in '5'..='8' {
            assert_eq!(zone_of(&format!("+905428{d}01234")), Zone::Kktc);
        }
        assert_eq!(zone_of("+905428901234"), Zone::Tr);
        assert_eq!(zone_of("+905488001234"), Zone::Kktc);
        assert_eq!(zone_of("+905487001234"), Zone::Tr);
    }

    #[test]
    fn landlines_and_az() {
        assert_eq!(zone_of("+903922281234"), Zone::Kktc);
        assert_eq!(zone_of("+902122281234"), Zone::Tr);
        assert_eq!(zone_of("+994501234567"), Zone::Az);
    }

    #[test]
    fn overrides_and_az_codes() {
        assert!(is_mobile_override("+905611234567"));
        assert!(!is_mobile_override("+905621234567"));
        assert!(is_az_mobile_code("501234567"));
        assert!(is_az_mobile_code("101234567"));
        assert!(!is_az_mobile_code("401234567"));
        assert!(!is_az_mobile_code("124981234"));
    }
}
