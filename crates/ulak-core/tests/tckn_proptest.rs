//! Property tests for TC kimlik no validation: numbers built from nine random
//! digits with the published check-digit rules must parse, and changing any
//! single digit must make them fail.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use ulak_core::Tckn;

/// Builds a valid number from its first nine digits. Written independently of
/// the library (signed arithmetic + `rem_euclid`) so a shared bug in the check
/// digit formula would not cancel out.
fn build(first_nine: &[u8; 9]) -> String {
    let d: Vec<i64> = first_nine.iter().map(|&x| i64::from(x)).collect();
    let odd = d[0] + d[2] + d[4] + d[6] + d[8];
    let even = d[1] + d[3] + d[5] + d[7];
    let d10 = (7 * odd - even).rem_euclid(10);
    let d11 = (d.iter().sum::<i64>() + d10).rem_euclid(10);
    let mut s: String = first_nine.iter().map(|x| char::from(b'0' + x)).collect();
    s.push(char::from(b'0' + d10 as u8));
    s.push(char::from(b'0' + d11 as u8));
    s
}

/// Nine digits with a non-zero first digit.
fn first_nine() -> impl Strategy<Value = [u8; 9]> {
    (1u8..=9, proptest::array::uniform8(0u8..=9)).prop_map(|(first, rest)| {
        let mut out = [0u8; 9];
        out[0] = first;
        out[1..].copy_from_slice(&rest);
        out
    })
}

proptest! {
    #[test]
    fn generated_numbers_parse(nine in first_nine()) {
        let s = build(&nine);
        let t = Tckn::parse(&s).unwrap();
        prop_assert_eq!(t.to_string(), s.clone());
        prop_assert_eq!(t.masked(), format!("{}******{}", &s[..3], &s[9..]));
    }

    #[test]
    fn any_single_digit_change_fails(nine in first_nine(), pos in 0usize..11, delta in 1u8..=9) {
        let s = build(&nine);
        let mut bytes = s.into_bytes();
        // Adding 1..=9 mod 10 always yields a different digit.
        bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert!(Tckn::parse(&changed).is_err(), "{} parsed", changed);
    }
}
