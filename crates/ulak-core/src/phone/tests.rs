//! Unit tests for phone-number parsing: every written form people use, and
//! every rejection reason.

#![allow(clippy::unwrap_used)]

use super::*;
use CountryType::{Az, Kktc, Tr};

/// Parses and returns the E.164 string, panicking with the reason.
fn e164(input: &str, country: CountryType) -> String {
    match Msisdn::parse(input, country) {
        Ok(m) => m.e164().to_owned(),
        Err(e) => panic!("{input:?} under {country}: {e}"),
    }
}

fn err(input: &str, country: CountryType) -> PhoneError {
    match Msisdn::parse(input, country) {
        Ok(m) => panic!("{input:?} under {country} unexpectedly valid: {m}"),
        Err(e) => e,
    }
}

#[test]
fn turkish_written_forms() {
    let forms = [
        "05321234567",
        "5321234567",
        "905321234567",
        "+905321234567",
        "00905321234567",
        "+90 532 123 45 67",
        "+90 (532) 123 45 67",
        "+90 (0532) 123 45 67",
        "+90-532-123-45-67",
        "0090 532 123 4567",
        "90 532 123 45 67",
        "0532 123 45 67",
        "0 532 123 45 67",
        "(0532) 123 45 67",
        "0532-123-45-67",
        "0532.123.45.67",
        "532 123 4567",
        "0532/123 45 67",
        "  05321234567 \t",
        "0532\u{a0}123\u{a0}45\u{a0}67",
    ];
    for f in forms {
        assert_eq!(e164(f, Tr), "+905321234567", "form {f:?}");
        // KKTC reads national forms the same way (same +90 plan).
        assert_eq!(e164(f, Kktc), "+905321234567", "form {f:?} under KKTC");
    }
}

#[test]
fn turkish_operators() {
    for n in [
        "05051234567", // Türk Telekom
        "05551234567", // Türk Telekom
        "05301234567", // Turkcell
        "05391234567", // Turkcell
        "05421234567", // Vodafone
        "05491234567", // Vodafone
    ] {
        let m = Msisdn::parse(n, Tr).unwrap();
        assert_eq!(m.zone(), Zone::Tr, "{n}");
        assert_eq!(m.country_code(), 90);
    }
}

#[test]
fn turkcell_561_is_accepted_everywhere() {
    // The bundled metadata only knows 5616…; Turkcell uses all of 561.
    for n in [
        "05611234567",
        "+90 561 1 234567",
        "05616123456",
        "05619999999",
        "05610000000",
    ] {
        let m = Msisdn::parse(n, Tr).unwrap();
        assert!(m.e164().starts_with("+90561"));
        assert_eq!(m.zone(), Zone::Tr);
    }
    // Length is still enforced on the override.
    assert!(matches!(err("0561123456", Tr), PhoneError::TooShort { .. }));
}

#[test]
fn kktc_mobiles_are_zoned() {
    let cases = [
        ("0533 840 12 34", "+905338401234"),
        ("+90 533 830 0000", "+905338300000"),
        ("05338799999", "+905338799999"),
        ("0542 850 12 34", "+905428501234"),
        ("0542 888 12 34", "+905428881234"),
        ("0548 850 12 34", "+905488501234"),
        ("+90 548 800 12 34", "+905488001234"),
    ];
    for (input, want) in cases {
        for country in [Kktc, Tr] {
            let m = Msisdn::parse(input, country).unwrap();
            assert_eq!(m.e164(), want);
            assert_eq!(m.zone(), Zone::Kktc, "{input} under {country}");
        }
    }
}

#[test]
fn near_kktc_blocks_stay_tr() {
    for n in [
        "05338201234",
        "05338801234",
        "05428401234",
        "05428901234",
        "05478801234",
    ] {
        assert_eq!(Msisdn::parse(n, Kktc).unwrap().zone(), Zone::Tr, "{n}");
    }
}

#[test]
fn azerbaijani_written_forms() {
    let forms = [
        "050 123 45 67",
        "0501234567",
        "501234567",
        "+994501234567",
        "+994 50 123 45 67",
        "+994 (50) 123-45-67",
        "+994 (050) 123 45 67",
        "00994501234567",
        "994501234567",
        "994 50 123 45 67",
    ];
    for f in forms {
        assert_eq!(e164(f, Az), "+994501234567", "form {f:?}");
    }
}

#[test]
fn azerbaijani_operator_codes() {
    for code in ["10", "50", "51", "55", "60", "70", "77", "99"] {
        let m = Msisdn::parse(&format!("0{code} 123 45 67"), Az).unwrap();
        assert_eq!(m.e164(), format!("+994{code}1234567"));
        assert_eq!(m.zone(), Zone::Az);
        assert_eq!(m.country_code(), 994);
    }
}

#[test]
fn explicit_country_code_beats_the_default() {
    for input in ["+994 50 123 45 67", "00994501234567", "994501234567"] {
        let m = Msisdn::parse(input, Tr).unwrap();
        assert_eq!(m.e164(), "+994501234567");
        assert_eq!(m.zone(), Zone::Az);
    }
    let m = Msisdn::parse("+90 532 123 45 67", Az).unwrap();
    assert_eq!(m.zone(), Zone::Tr);
    let m = Msisdn::parse("905338401234", Az).unwrap();
    assert_eq!(m.zone(), Zone::Kktc);
}

#[test]
fn national_form_follows_the_default_country() {
    // A Turkish national form read as Azerbaijani is one digit too long.
    assert_eq!(
        err("05321234567", Az),
        PhoneError::TooLong {
            digits: 10,
            expected: 9,
            zone: Zone::Az
        }
    );
    // An Azerbaijani national form read as Turkish is too short.
    assert_eq!(
        err("0501234567", Tr),
        PhoneError::TooShort {
            digits: 9,
            expected: 10,
            zone: Zone::Tr
        }
    );
}

#[test]
fn landlines_are_rejected_with_the_reason() {
    assert_eq!(
        err("0212 123 45 67", Tr),
        PhoneError::Landline { zone: Zone::Tr }
    );
    assert_eq!(
        err("+90 312 123 45 67", Tr),
        PhoneError::Landline { zone: Zone::Tr }
    );
    assert_eq!(
        err("0232 123 45 67", Kktc),
        PhoneError::Landline { zone: Zone::Tr }
    );
    assert_eq!(
        err("0462 123 45 67", Tr),
        PhoneError::Landline { zone: Zone::Tr }
    );
    assert_eq!(
        err("0392 228 12 34", Kktc),
        PhoneError::Landline { zone: Zone::Kktc }
    );
    assert_eq!(
        err("+90 392 228 12 34", Tr),
        PhoneError::Landline { zone: Zone::Kktc }
    );
    assert_eq!(
        err("012 498 12 34", Az),
        PhoneError::Landline { zone: Zone::Az }
    );
    assert_eq!(
        err("+994 12 498 12 34", Tr),
        PhoneError::Landline { zone: Zone::Az }
    );
    let e = err("0392 228 12 34", Kktc);
    assert_eq!(e.code(), "landline");
    assert_eq!(e.to_string(), "not a mobile number: KKTC landline");
}

#[test]
fn service_numbers_are_not_mobiles() {
    assert_eq!(
        err("0850 123 45 67", Tr),
        PhoneError::NotMobile {
            kind: NumberKind::Voip
        }
    );
    assert_eq!(
        err("0800 123 45 67", Tr),
        PhoneError::NotMobile {
            kind: NumberKind::TollFree
        }
    );
    assert_eq!(err("0850 123 45 67", Tr).code(), "not_mobile");
    assert_eq!(
        err("0850 123 45 67", Tr).to_string(),
        "not a mobile number: VoIP number"
    );
}

#[test]
fn invalid_inputs_name_the_reason() {
    assert_eq!(err("", Tr), PhoneError::Empty);
    assert_eq!(err("   ", Tr), PhoneError::Empty);
    assert_eq!(
        err("0532 ABC 45 67", Tr),
        PhoneError::InvalidCharacter {
            ch: 'A',
            position: 6
        }
    );
    assert_eq!(
        err("0532+1234567", Tr),
        PhoneError::InvalidCharacter {
            ch: '+',
            position: 5
        }
    );
    assert_eq!(
        err("tel:05321234567", Tr),
        PhoneError::InvalidCharacter {
            ch: 't',
            position: 1
        }
    );
    assert_eq!(err("0532 123 45 67 ext 5", Tr).code(), "invalid_character");
    assert_eq!(
        err("---", Tr),
        PhoneError::TooShort {
            digits: 0,
            expected: 10,
            zone: Zone::Tr
        }
    );
    assert_eq!(
        err("0532 123", Tr),
        PhoneError::TooShort {
            digits: 6,
            expected: 10,
            zone: Zone::Tr
        }
    );
    assert_eq!(
        err("+90", Tr),
        PhoneError::TooShort {
            digits: 0,
            expected: 10,
            zone: Zone::Tr
        }
    );
    assert_eq!(
        err("0532 123 45 678", Tr),
        PhoneError::TooLong {
            digits: 11,
            expected: 10,
            zone: Zone::Tr
        }
    );
    assert_eq!(
        err("+994 50 123 45 678", Tr),
        PhoneError::TooLong {
            digits: 10,
            expected: 9,
            zone: Zone::Az
        }
    );
    assert_eq!(
        err("+44 7911 123456", Tr),
        PhoneError::UnsupportedCountry { code: 44 }
    );
    assert_eq!(
        err("+1 202 555 0123", Tr),
        PhoneError::UnsupportedCountry { code: 1 }
    );
    assert_eq!(
        err("+357 99 123456", Kktc),
        PhoneError::UnsupportedCountry { code: 357 }
    );
    assert_eq!(
        err("0049 30 123456", Tr),
        PhoneError::UnsupportedCountry { code: 49 }
    );
    assert_eq!(err("+999 123 456 789", Tr), PhoneError::UnknownCountryCode);
    assert_eq!(err("+", Tr), PhoneError::UnknownCountryCode);
    // Right length, but 592 is not an assigned Turkish mobile code.
    assert_eq!(
        err("0592 123 45 67", Tr),
        PhoneError::InvalidNumber { zone: Zone::Tr }
    );
    // A leading 00 is the international prefix, so this reads as +1 2….
    assert_eq!(err("0012 345 67 89", Tr).code(), "unsupported_country");
    // AZ 40 is not an operator code Ulak delivers to.
    assert_eq!(
        err("040 123 45 67", Az),
        PhoneError::InvalidNumber { zone: Zone::Az }
    );
    assert_eq!(
        err("021 123 45 67", Az),
        PhoneError::InvalidNumber { zone: Zone::Az }
    );
}

#[test]
fn error_messages_do_not_contain_the_number() {
    for (input, c) in [
        ("0212 123 45 67", Tr),
        ("0592 123 45 67", Tr),
        ("0532 123", Tr),
    ] {
        let msg = err(input, c).to_string();
        assert!(!msg.contains("123"), "{msg}");
    }
}

#[test]
fn accessors_and_formats() {
    let m = Msisdn::parse("0532 123 45 67", Tr).unwrap();
    assert_eq!(m.e164(), "+905321234567");
    assert_eq!(m.nsn(), "5321234567");
    assert_eq!(m.national(), "0532 123 45 67");
    assert_eq!(m.masked(), "+90532*****67");
    assert_eq!(m.to_string(), "+905321234567");
    assert_eq!(format!("{m:?}"), "Msisdn(+90532*****67, TR)");

    let a = Msisdn::parse("+994501234567", Az).unwrap();
    assert_eq!(a.nsn(), "501234567");
    assert_eq!(a.national(), "050 123 45 67");
    assert_eq!(a.masked(), "+99450*****67");
}

#[test]
fn serde_is_the_e164_string() {
    let m = Msisdn::parse("0533 840 12 34", Kktc).unwrap();
    let json = serde_json::to_string(&m).unwrap();
    assert_eq!(json, "\"+905338401234\"");
    let back: Msisdn = serde_json::from_str(&json).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.zone(), Zone::Kktc);
    // Stored values must be E.164; a national form is refused on the way in.
    assert!(serde_json::from_str::<Msisdn>("\"05321234567\"").is_err());
    assert!(serde_json::from_str::<Msisdn>("\"+902121234567\"").is_err());
    assert_eq!(serde_json::to_string(&Zone::Kktc).unwrap(), "\"KKTC\"");
    assert_eq!(serde_json::to_string(&CountryType::Az).unwrap(), "\"AZ\"");
}

#[test]
fn country_type_from_str() {
    assert_eq!("TR".parse::<CountryType>(), Ok(Tr));
    assert_eq!("tr".parse::<CountryType>(), Ok(Tr));
    assert_eq!("Az".parse::<CountryType>(), Ok(Az));
    assert_eq!("kktc".parse::<CountryType>(), Ok(Kktc));
    assert_eq!("KkTc".parse::<CountryType>(), Ok(Kktc));
    assert!("CY".parse::<CountryType>().is_err());
    assert!("".parse::<CountryType>().is_err());
    assert_eq!(Kktc.to_string(), "KKTC");
}

#[test]
fn preload_is_idempotent() {
    preload();
    preload();
    assert!(Msisdn::parse("05321234567", Tr).is_ok());
}

#[test]
fn turkish_operators_get_the_turkish_shift_policy_and_azerbaijan_does_not() {
    use ulak_text::Policy;
    assert_eq!(CountryType::Tr.default_text_policy(), Policy::TurkishShift);
    assert_eq!(
        CountryType::Kktc.default_text_policy(),
        Policy::TurkishShift
    );
    assert_eq!(CountryType::Az.default_text_policy(), Policy::Gsm7OrUcs2);
}
