//! The personal data the test hands to the API, and the secrets it sets.

/// The operator password of the provider account the test creates.
pub const OPERATOR_PASSWORD: &str = "operator-secret-4711";
/// The OTP password the test sets.
pub const OTP_PASSWORD: &str = "otp-secret-0815";

/// The password of the user the test creates.
pub const PASSWORD: &str = "uzun-bir-parola-8517";

/// The campaign's text: personal, and plain enough to be written into SQL as a literal.
pub const CAMPAIGN_TEXT: &str = "Randevunuz 14 Mart 10:30 Dr Selin Kaya ile, kod 58172";
/// A single send's text.
pub const SINGLE_TEXT: &str = "Sifreniz 904417, kimseyle paylasmayin";

/// Every number the test hands over, valid or refused; every form of each must stay out of
/// the log.
pub struct Personal {
    /// Valid TC ID numbers.
    pub tc: [String; 8],
    /// Refused TC ID numbers.
    pub bad_tc: [String; 3],
    /// Phones, as (country code, national significant number).
    pub phones: &'static [(&'static str, &'static str)],
    /// Refused phones, as typed.
    pub bad_phones: [&'static str; 2],
}

impl Personal {
    /// The test's data: fixed numbers, TC ID numbers made valid by their check digits.
    pub fn new() -> Self {
        let tc = [
            tckn([3, 8, 4, 1, 9, 2, 7, 6, 5]),
            tckn([2, 7, 1, 8, 4, 6, 3, 9, 5]),
            tckn([4, 6, 2, 9, 1, 7, 5, 8, 3]),
            tckn([5, 1, 9, 3, 7, 2, 8, 4, 6]),
            tckn([6, 3, 5, 8, 2, 9, 1, 7, 4]),
            tckn([7, 9, 3, 6, 5, 1, 4, 2, 8]),
            tckn([8, 2, 6, 4, 1, 9, 3, 7, 5]), // campaign
            tckn([9, 4, 7, 2, 6, 3, 8, 1, 5]), // campaign
        ];
        // Refused TC IDs: a wrong 11th digit; a wrong 10th digit (83729164550 would be valid);
        // and a JSON number where a string belongs.
        let bad_tc = [
            bad_check_digit(&tc[0]),
            "83729164505".to_owned(),
            "72810946518".to_owned(),
        ];
        // (cc, nsn): every phone the test hands over, valid ones first.
        let phones: &[(&str, &str)] = &[
            ("90", "5327418529"), // subscriber A
            ("90", "5447391826"), // subscriber B
            ("90", "5338642715"), // subscriber C (KKTC)
            ("994", "503184762"), // subscriber D (Azerbaijan)
            ("90", "5359182746"), // A's new phone
            ("90", "5057264183"), // imported
            ("90", "5426381957"), // imported
            ("90", "5528143690"), // imported
            ("90", "5069473825"), // opt-out only
            ("90", "5387152946"), // user
            ("90", "5436291857"), // user's new phone
            ("90", "5376248159"), // sent as a JSON number (refused)
            ("90", "5417826935"), // imported, refused with a bad TC ID (all-or-nothing)
            ("90", "5309671428"), // imported, skipped with a bad TC ID (skip-invalid)
            ("90", "3124567891"), // landline (refused)
            ("90", "5318264975"), // customer account
            ("90", "5467192835"), // customer account's second phone
            ("90", "5324918367"), // customer account, imported
            ("90", "5061837294"), // campaign, pasted
            ("90", "5392817465"), // campaign, pasted
            ("90", "5417263819"), // campaign, pasted
            ("90", "5058264137"), // single send
        ];
        // Refused phone inputs kept as typed (too short, too long): they have no valid form.
        let bad_phones = ["0532 918 27", "+90 532 667 78 89 90 1"];
        Self {
            tc,
            bad_tc,
            phones,
            bad_phones,
        }
    }
}

/// A valid TC ID number from its first nine digits (d1 != 0):
/// d10 = ((d1+d3+d5+d7+d9)*7 - (d2+d4+d6+d8)) mod 10, d11 = (d1+…+d10) mod 10.
fn tckn(first_nine: [u8; 9]) -> String {
    assert_ne!(first_nine[0], 0);
    let odd: i32 = first_nine.iter().step_by(2).map(|&d| i32::from(d)).sum();
    let even: i32 = first_nine
        .iter()
        .skip(1)
        .step_by(2)
        .map(|&d| i32::from(d))
        .sum();
    let d10 = (odd * 7 - even).rem_euclid(10);
    let d11 = (odd + even + d10).rem_euclid(10);
    let mut s: String = first_nine.iter().map(|d| char::from(b'0' + d)).collect();
    s.push(char::from(b'0' + u8::try_from(d10).unwrap()));
    s.push(char::from(b'0' + u8::try_from(d11).unwrap()));
    s
}

/// The same number with a wrong last check digit.
fn bad_check_digit(valid: &str) -> String {
    let (head, last) = valid.split_at(10);
    let d = last.parse::<u8>().unwrap();
    format!("{head}{}", (d + 1) % 10)
}
