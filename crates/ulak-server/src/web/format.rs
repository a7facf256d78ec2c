//! Numbers as people read them: Turkish groups thousands with dots (1.234.567), English with
//! commas (1,234,567).

use ulak_core::model::Language;

/// `n` with its thousands grouped the way `language` writes them.
pub fn integer(n: i64, language: Language) -> String {
    let sep = match language {
        Language::Tr => '.',
        Language::En => ',',
    };
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands_per_language() {
        assert_eq!(integer(0, Language::Tr), "0");
        assert_eq!(integer(999, Language::Tr), "999");
        assert_eq!(integer(1_234, Language::Tr), "1.234");
        assert_eq!(integer(1_234_567, Language::En), "1,234,567");
        assert_eq!(integer(-1_000, Language::Tr), "-1.000");
        assert_eq!(
            integer(i64::MIN, Language::Tr),
            "-9.223.372.036.854.775.808"
        );
    }
}
