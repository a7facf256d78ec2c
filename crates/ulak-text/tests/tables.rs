//! Every character of every table, both ways, and the policies' choices.
#![allow(clippy::unwrap_used)]

use ulak_text::{
    Alphabet, ConcatRef, DEFAULT_BASIC, DEFAULT_EXTENSION, Encoding, LockingTable, Options, Policy,
    Septets, ShiftTable, TURKISH_LOCKING, TURKISH_SINGLE_SHIFT, count, decode_septets, encode,
};

fn opts(policy: Policy) -> Options {
    Options {
        policy,
        concat_ref: ConcatRef::Eight,
    }
}

/// Each (alphabet, basic table, extension table) as a receiver decodes it.
type Table = (
    Alphabet,
    &'static [Option<char>; 128],
    &'static [(u8, char)],
);

fn alphabets() -> [Table; 3] {
    [
        (Alphabet::Default, &DEFAULT_BASIC, DEFAULT_EXTENSION),
        (
            Alphabet::TurkishSingleShift,
            &DEFAULT_BASIC,
            TURKISH_SINGLE_SHIFT,
        ),
        (
            Alphabet::TurkishLockingShift,
            &TURKISH_LOCKING,
            DEFAULT_EXTENSION,
        ),
    ]
}

#[test]
fn every_basic_character_encodes_to_its_septet_and_back() {
    for (alphabet, basic, ext) in alphabets() {
        let (locking, shift) = alphabet.tables();
        for (septet, c) in basic.iter().enumerate() {
            let Some(c) = *c else {
                assert_eq!(septet, 0x1B, "only ESC is empty");
                continue;
            };
            assert_eq!(
                alphabet.encode_char(c),
                Some(Septets::One(septet as u8)),
                "{alphabet:?} {c:?}"
            );
            let text = decode_septets(&[septet as u8], locking, shift).unwrap();
            assert_eq!(text, c.to_string());
            assert!(!ext.iter().any(|&(_, e)| e == c) || alphabet.cost(c) == 1);
        }
    }
}

#[test]
fn every_extension_character_encodes_escaped_and_back() {
    for (alphabet, basic, ext) in alphabets() {
        let (locking, shift) = alphabet.tables();
        for &(septet, c) in ext {
            let in_basic = basic.contains(&Some(c));
            let expected = if in_basic {
                // € sits in the Turkish locking table itself: one septet beats an escape.
                Septets::One(basic.iter().position(|b| *b == Some(c)).unwrap() as u8)
            } else {
                Septets::Escaped(septet)
            };
            assert_eq!(
                alphabet.encode_char(c),
                Some(expected),
                "{alphabet:?} {c:?}"
            );
            assert_eq!(
                decode_septets(&[0x1B, septet], locking, shift).unwrap(),
                c.to_string()
            );
        }
    }
}

#[test]
fn table_sizes_match_the_standard() {
    assert_eq!(DEFAULT_EXTENSION.len(), 10);
    assert_eq!(TURKISH_SINGLE_SHIFT.len(), 17);
    assert_eq!(DEFAULT_BASIC.iter().flatten().count(), 127);
    assert_eq!(TURKISH_LOCKING.iter().flatten().count(), 127);
}

#[test]
fn turkish_letters_are_where_the_standard_puts_them() {
    let t = Alphabet::TurkishSingleShift;
    for (c, s) in [
        ('Ğ', 0x47),
        ('İ', 0x49),
        ('Ş', 0x53),
        ('ç', 0x63),
        ('ğ', 0x67),
        ('ı', 0x69),
        ('ş', 0x73),
    ] {
        assert_eq!(t.encode_char(c), Some(Septets::Escaped(s)), "{c}");
        assert_eq!(Alphabet::Default.encode_char(c), None, "{c} not in default");
    }
    let l = Alphabet::TurkishLockingShift;
    for (c, s) in [
        ('€', 0x04),
        ('ı', 0x07),
        ('Ğ', 0x0B),
        ('ğ', 0x0C),
        ('Ş', 0x1C),
        ('ş', 0x1D),
        ('İ', 0x40),
        ('ç', 0x60),
    ] {
        assert_eq!(l.encode_char(c), Some(Septets::One(s)), "{c}");
    }
    // Characters the Turkish locking table gives up.
    for c in ['è', 'ì', 'Ø', 'ø', 'Æ', 'æ', '¡', '¿'] {
        assert_eq!(l.encode_char(c), None, "{c}");
        assert!(Alphabet::Default.encode_char(c).is_some());
    }
    // Ö ö Ü ü Ç are in the default alphabet: no Turkish mode for them.
    for c in ['Ö', 'ö', 'Ü', 'ü', 'Ç'] {
        assert!(matches!(
            Alphabet::Default.encode_char(c),
            Some(Septets::One(_))
        ));
    }
}

#[test]
fn unmapped_escape_shows_the_basic_character_and_lone_escape_is_dropped() {
    assert_eq!(
        decode_septets(&[0x1B, 0x41], LockingTable::Default, ShiftTable::Default).unwrap(),
        "A"
    );
    assert_eq!(
        decode_septets(&[0x1B, 0x1B], LockingTable::Default, ShiftTable::Default).unwrap(),
        " "
    );
    assert_eq!(
        decode_septets(&[0x41, 0x1B], LockingTable::Default, ShiftTable::Default).unwrap(),
        "A"
    );
    assert!(decode_septets(&[0x80], LockingTable::Default, ShiftTable::Default).is_err());
}

#[test]
fn policies_choose_as_specified() {
    let cases: &[(&str, Policy, Encoding)] = &[
        ("Merhaba dünya", Policy::TurkishShift, Encoding::Gsm7),
        ("Şifreniz 123456", Policy::Gsm7OrUcs2, Encoding::Ucs2),
        (
            "Şifreniz 123456",
            Policy::TurkishSingleShift,
            Encoding::Gsm7TurkishSingleShift,
        ),
        // Single shift and locking tie at one segment: the earlier wins.
        (
            "Şifreniz 123456",
            Policy::TurkishShift,
            Encoding::Gsm7TurkishSingleShift,
        ),
        ("Emoji 😀", Policy::TurkishShift, Encoding::Ucs2),
        (
            "Şeker è",
            Policy::TurkishShift,
            Encoding::Gsm7TurkishSingleShift,
        ),
        (
            "ş è ¿",
            Policy::TurkishSingleShift,
            Encoding::Gsm7TurkishSingleShift,
        ),
        ("привет", Policy::TurkishSingleShift, Encoding::Ucs2),
        ("", Policy::TurkishShift, Encoding::Gsm7),
    ];
    for &(text, policy, expected) in cases {
        assert_eq!(
            count(text, &opts(policy)).unwrap().encoding,
            expected,
            "{text:?} {policy}"
        );
    }
}

#[test]
fn turkish_shift_takes_locking_when_it_saves_a_segment() {
    // 80 Turkish letters: 160 septets with the single shift (2 segments), 80 locking (1).
    let text = "ş".repeat(80);
    let c = count(&text, &opts(Policy::TurkishShift)).unwrap();
    assert_eq!(c.encoding, Encoding::Gsm7TurkishLockingShift);
    assert_eq!(c.segments, 1);
    let single = count(&text, &opts(Policy::TurkishSingleShift)).unwrap();
    assert_eq!(
        (single.encoding, single.segments),
        (Encoding::Gsm7TurkishSingleShift, 2)
    );
    // € is 2 septets in GSM-7 but 1 in the Turkish locking table.
    let euros = "€".repeat(100);
    assert_eq!(
        count(&euros, &opts(Policy::TurkishShift)).unwrap().encoding,
        Encoding::Gsm7TurkishLockingShift
    );
    assert_eq!(
        count(&euros, &opts(Policy::Gsm7OrUcs2)).unwrap().encoding,
        Encoding::Gsm7
    );
}

#[test]
fn turkish_shift_takes_ucs2_when_it_is_fewest() {
    // Short text with a character no GSM table has.
    let c = count("ş😀", &opts(Policy::TurkishShift)).unwrap();
    assert_eq!(c.encoding, Encoding::Ucs2);
    assert_eq!(c.per_segment_units, vec![3]);
}

#[test]
fn encoded_turkish_segment_carries_the_shift_ie() {
    let e = encode("Şifre", &opts(Policy::TurkishSingleShift), 7).unwrap();
    assert_eq!(e.segments.len(), 1);
    assert_eq!(e.segments[0].udh, vec![3, 0x24, 1, 1]);
    let e = encode(&"ş".repeat(80), &opts(Policy::TurkishShift), 7).unwrap();
    assert_eq!(e.segments[0].udh, vec![3, 0x25, 1, 1]);
}
