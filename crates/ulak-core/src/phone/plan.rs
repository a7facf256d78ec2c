//! What the number plan says of a number (mobile, landline, another kind, or no number),
//! remembered by its first digits. Asking libphonenumber parses the number and runs its
//! patterns, about 10 µs a number: a tenth of the server's work for a single send. In the
//! metadata bundled for +90 and +994 every pattern decides on at most [`DECIDING`] digits of
//! a national number of the country's one length (checked over a sample of numbers by the
//! tests), so a number's verdict is its prefix's.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use phonenumber::Type;

use super::{NumberKind, metadata};

/// Leading digits of the national number that decide its kind.
pub(super) const DECIDING: usize = 6;

/// Prefixes remembered at most (then the memo starts over): the plan's mobile ranges of both
/// countries hold a few tens of thousands.
const REMEMBERED: usize = 1 << 16;

/// What the plan says of a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// A mobile number (or one that may be either).
    Mobile,
    /// A landline.
    Landline,
    /// Another kind that cannot take SMS.
    Other(NumberKind),
    /// No number of the plan.
    Invalid,
}

type Memo = Mutex<HashMap<(&'static str, [u8; DECIDING]), Verdict>>;

fn memo() -> &'static Memo {
    static MEMO: OnceLock<Memo> = OnceLock::new();
    MEMO.get_or_init(Memo::default)
}

/// The verdict on `+{cc}{nsn}` (`nsn` of the country's length, at least [`DECIDING`]
/// digits), from the memo or from libphonenumber.
pub(super) fn verdict(cc: &'static str, nsn: &str, e164: &str) -> Verdict {
    let Some(key) = nsn
        .as_bytes()
        .get(..DECIDING)
        .and_then(|p| <[u8; DECIDING]>::try_from(p).ok())
    else {
        return asked(e164);
    };
    let known = memo()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&(cc, key))
        .copied();
    if let Some(v) = known {
        return v;
    }
    let v = asked(e164);
    let mut m = memo().lock().unwrap_or_else(PoisonError::into_inner);
    if m.len() >= REMEMBERED {
        m.clear();
    }
    m.insert((cc, key), v);
    v
}

/// The verdict of libphonenumber itself.
pub(super) fn asked(e164: &str) -> Verdict {
    let kind = match phonenumber::parse(None, e164) {
        Ok(number) if number.is_valid_with(metadata()) => number.number_type(metadata()),
        _ => return Verdict::Invalid,
    };
    match kind {
        Type::Mobile | Type::FixedLineOrMobile => Verdict::Mobile,
        Type::FixedLine => Verdict::Landline,
        other => Verdict::Other(number_kind(other)),
    }
}

/// Maps the crate's number type onto our error detail.
fn number_kind(t: Type) -> NumberKind {
    match t {
        Type::TollFree => NumberKind::TollFree,
        Type::PremiumRate => NumberKind::PremiumRate,
        Type::SharedCost => NumberKind::SharedCost,
        Type::Voip => NumberKind::Voip,
        Type::PersonalNumber => NumberKind::PersonalNumber,
        Type::Pager => NumberKind::Pager,
        Type::Uan => NumberKind::Uan,
        Type::Voicemail => NumberKind::Voicemail,
        _ => NumberKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (no dependency for a test).
    struct Lcg(u64);
    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % n
        }
    }

    /// Every prefix that starts one of the bundled patterns' longer alternatives, and a
    /// sample of all others: for each, numbers that differ after the deciding digits get the
    /// same verdict from libphonenumber — so remembering it by prefix is exact.
    #[test]
    fn the_deciding_digits_decide() {
        let mut rng = Lcg(7);
        let special = [
            "561011", "561610", "561619", "561612", "592211", "592212", "592461", "592213",
            "512000", "850000", "900000", "898000", "800000", "444000", "532000",
        ];
        let az_special = [
            "212428", "365502", "365540", "365549", "222000", "263000", "900200",
        ];
        let mut prefixes: Vec<(&'static str, String)> = special
            .iter()
            .map(|p| (super::super::CC_TR, p.to_string()))
            .chain(
                az_special
                    .iter()
                    .map(|p| (super::super::CC_AZ, p.to_string())),
            )
            .collect();
        for _ in 0..1_500 {
            prefixes.push((super::super::CC_TR, format!("{:06}", rng.below(1_000_000))));
            prefixes.push((super::super::CC_AZ, format!("{:06}", rng.below(1_000_000))));
            // The mobile ranges, densely.
            prefixes.push((super::super::CC_TR, format!("5{:05}", rng.below(100_000))));
        }
        for (cc, prefix) in prefixes {
            let tail_len = if cc == super::super::CC_AZ { 3 } else { 4 };
            let tails = [
                "0".repeat(tail_len),
                "9".repeat(tail_len),
                format!(
                    "{:0w$}",
                    rng.below(10u64.pow(tail_len as u32)),
                    w = tail_len
                ),
            ];
            let verdicts: Vec<Verdict> = tails
                .iter()
                .map(|t| asked(&format!("+{cc}{prefix}{t}")))
                .collect();
            assert!(
                verdicts.windows(2).all(|w| w[0] == w[1]),
                "+{cc} {prefix}: {verdicts:?}"
            );
            let nsn = format!("{prefix}{}", tails[2]);
            assert_eq!(verdict(cc, &nsn, &format!("+{cc}{nsn}")), verdicts[2]);
            // Asked again: from the memo, the same.
            assert_eq!(verdict(cc, &nsn, &format!("+{cc}{nsn}")), verdicts[2]);
        }
    }
}
