//! JSON numbers with a zero fraction read as integers: JSON Schema's `integer` takes `3.0`, so
//! the API does too, exactly (never through a float).

/// Rewrites every number of a JSON text that has a zero fraction (`3.0`, `1.5e3`, `1e+17`)
/// as the integer it spells, when an `i64` holds it. Exact: it works on the digits, never
/// through a float (a float parse of `-3728301622531270.0` may miss by one unit).
pub(crate) fn integral_numbers(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let (mut i, mut in_string) = (0, false);
    while let Some(&b) = json.get(i) {
        if in_string {
            out.push(b);
            if b == b'\\' {
                out.extend(json.get(i + 1));
                i += 1;
            } else if b == b'"' {
                in_string = false;
            }
            i += 1;
        } else if b == b'-' || b.is_ascii_digit() {
            let start = i;
            i += 1;
            while json
                .get(i)
                .is_some_and(|c| matches!(c, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'))
            {
                i += 1;
            }
            let token = &json[start..i];
            match integral(token) {
                Some(n) => out.extend_from_slice(n.to_string().as_bytes()),
                None => out.extend_from_slice(token),
            }
        } else {
            in_string = b == b'"';
            out.push(b);
            i += 1;
        }
    }
    out
}

/// The integer a number token with a fraction or an exponent spells, if it is one.
fn integral(token: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(token).ok()?;
    let (sign, s) = match s.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", s),
    };
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(p) => (&s[..p], s[p + 1..].parse::<i64>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits_only = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits_only(int) || !digits_only(frac) || (frac.is_empty() && exp == 0) {
        return None;
    }
    let digits = format!("{int}{frac}");
    let shift = exp - i64::try_from(frac.len()).ok()?;
    let whole = if shift >= 0 {
        // More than 19 zeros is past any i64.
        if shift > 19 {
            return None;
        }
        format!("{digits}{}", "0".repeat(usize::try_from(shift).ok()?))
    } else {
        let cut = digits.len().checked_sub(usize::try_from(-shift).ok()?)?;
        if !digits[cut..].bytes().all(|b| b == b'0') {
            return None;
        }
        digits[..cut].to_owned()
    };
    let whole = if whole.is_empty() {
        "0".to_owned()
    } else {
        whole
    };
    format!("{sign}{whole}").parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::{integral, integral_numbers};

    #[test]
    fn integral_numbers_are_read_exactly() {
        let cases: [(&str, Option<i64>); 10] = [
            ("3.0", Some(3)),
            ("-3728301622531270.0", Some(-3_728_301_622_531_270)),
            ("1.5e3", Some(1500)),
            ("1e+17", Some(100_000_000_000_000_000)),
            ("-0.0", Some(0)),
            ("2.50e1", Some(25)),
            ("0.5", None),
            ("1e400", None),
            ("9223372036854775808.0", None),
            ("12", None),
        ];
        for (token, want) in cases {
            assert_eq!(integral(token.as_bytes()), want, "{token}");
        }
        let json = br#"{"a": [1.0, -2.5, "3.0 \" 4.0"], "b": 5e2}"#;
        assert_eq!(
            String::from_utf8(integral_numbers(json)).unwrap(),
            r#"{"a": [1, -2.5, "3.0 \" 4.0"], "b": 500}"#
        );
    }
}
