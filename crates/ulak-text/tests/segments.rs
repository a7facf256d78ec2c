//! Capacities, boundaries (escape and surrogate pairs at every segment edge), 255/256 segments.
#![allow(clippy::unwrap_used)]

use ulak_text::{ConcatRef, Encoding, Options, Policy, TextError, count, encode_as, layout};

fn cap(e: Encoding, concat: Option<ConcatRef>) -> usize {
    e.capacity(concat)
}

#[test]
fn capacities_are_the_standard_ones() {
    use ConcatRef::*;
    use Encoding::*;
    assert_eq!(cap(Gsm7, None), 160);
    assert_eq!(cap(Gsm7TurkishSingleShift, None), 155);
    assert_eq!(cap(Gsm7TurkishLockingShift, None), 155);
    assert_eq!(cap(Ucs2, None), 70);
    assert_eq!(cap(Gsm7, Some(Eight)), 153);
    assert_eq!(cap(Gsm7TurkishSingleShift, Some(Eight)), 149);
    assert_eq!(cap(Gsm7TurkishLockingShift, Some(Eight)), 149);
    assert_eq!(cap(Ucs2, Some(Eight)), 67);
    assert_eq!(cap(Gsm7, Some(Sixteen)), 152);
    assert_eq!(cap(Gsm7TurkishSingleShift, Some(Sixteen)), 148);
    assert_eq!(cap(Ucs2, Some(Sixteen)), 66);
}

#[test]
fn single_segment_limits_and_the_first_overflow() {
    // Verimor's published "SMS boy" table: 160/306/459, Turkish 155/298/447, Unicode 70/134/201.
    let table: &[(Encoding, &str, [usize; 3])] = &[
        (Encoding::Gsm7, "a", [160, 306, 459]),
        (Encoding::Gsm7TurkishSingleShift, "a", [155, 298, 447]),
        (Encoding::Ucs2, "a", [70, 134, 201]),
    ];
    for &(e, unit, limits) in table {
        for (segments, &limit) in limits.iter().enumerate() {
            let at = layout(&unit.repeat(limit), e, ConcatRef::Eight).unwrap();
            assert_eq!(at.segments, segments + 1, "{e} {limit}");
            assert_eq!(at.remaining, 0, "{e} {limit} fills the last segment");
            let over = layout(&unit.repeat(limit + 1), e, ConcatRef::Eight).unwrap();
            assert_eq!(over.segments, segments + 2, "{e} {}", limit + 1);
        }
    }
}

#[test]
fn split_points_and_per_segment_counts() {
    let c = layout(&"x".repeat(400), Encoding::Gsm7, ConcatRef::Eight).unwrap();
    assert_eq!(c.segments, 3);
    assert_eq!(c.split_points, vec![153, 306]);
    assert_eq!(c.per_segment_chars, vec![153, 153, 94]);
    assert_eq!(c.per_segment_units, vec![153, 153, 94]);
    assert_eq!(c.capacity_per_segment, 153);
    assert_eq!(c.remaining, 153 - 94);
    let c16 = layout(&"x".repeat(400), Encoding::Gsm7, ConcatRef::Sixteen).unwrap();
    assert_eq!(c16.split_points, vec![152, 304]);
}

#[test]
fn escape_pair_never_straddles_a_boundary_at_any_position() {
    // Put the escaped character at every offset around the first and second boundaries.
    for e in [Encoding::Gsm7, Encoding::Gsm7TurkishSingleShift] {
        let multi = cap(e, Some(ConcatRef::Eight));
        for prefix in (multi - 3)..=(2 * multi + 2) {
            let text = format!("{}€{}", "a".repeat(prefix), "b".repeat(200));
            let c = layout(&text, e, ConcatRef::Eight).unwrap();
            assert!(
                c.per_segment_units.iter().all(|&u| u <= multi),
                "{e} {prefix}"
            );
            let expected_split = multi; // first segment ends at capacity or one short
            if prefix == multi - 1 {
                // "a"*152 + € would be 154 septets: the pair moves whole to segment 2.
                assert_eq!(c.split_points[0], multi - 1, "{e}");
                assert_eq!(c.per_segment_units[0], multi - 1);
            } else if prefix >= multi {
                assert_eq!(c.split_points[0], expected_split);
            }
            let back: usize = c.per_segment_chars.iter().sum();
            assert_eq!(back, text.chars().count());
            assert_eq!(
                c.per_segment_units.iter().sum::<usize>(),
                text.chars().count() + 1,
                "the € costs 2 septets, nothing else lost"
            );
            // Encoding agrees: no segment ends with a lone ESC.
            let enc = encode_as(&text, e, ConcatRef::Eight, 1).unwrap();
            for s in &enc.segments {
                assert_ne!(s.payload.last(), Some(&0x1B), "{e} {prefix}");
                assert!(s.payload.len() <= multi);
            }
        }
    }
}

#[test]
fn surrogate_pair_never_straddles_a_boundary_at_any_position() {
    let multi = cap(Encoding::Ucs2, Some(ConcatRef::Eight));
    for prefix in 60..=(2 * multi + 2) {
        let text = format!("{}😀{}", "ç".repeat(prefix), "d".repeat(100));
        let c = layout(&text, Encoding::Ucs2, ConcatRef::Eight).unwrap();
        assert!(c.per_segment_units.iter().all(|&u| u <= multi));
        if prefix == multi - 1 {
            assert_eq!(c.split_points[0], multi - 1);
            assert_eq!(c.per_segment_units[0], multi - 1);
        }
        let enc = encode_as(&text, Encoding::Ucs2, ConcatRef::Eight, 9).unwrap();
        for s in &enc.segments {
            let last = u16::from_be_bytes([
                s.payload[s.payload.len() - 2],
                s.payload[s.payload.len() - 1],
            ]);
            assert!(
                !(0xD800..0xDC00).contains(&last),
                "high surrogate ends a segment at {prefix}"
            );
        }
    }
}

#[test]
fn single_segment_fits_exactly_with_escapes() {
    // 80 escaped characters = 160 septets: still one plain GSM-7 segment.
    let c = layout(&"{".repeat(80), Encoding::Gsm7, ConcatRef::Eight).unwrap();
    assert_eq!((c.segments, c.total_units, c.remaining), (1, 160, 0));
    let c = layout(&"{".repeat(81), Encoding::Gsm7, ConcatRef::Eight).unwrap();
    assert_eq!(c.segments, 2);
    assert_eq!(c.per_segment_units, vec![152, 10]);
}

#[test]
fn two_hundred_fifty_five_segments_is_the_limit() {
    let max = 255 * 153;
    let c = layout(&"a".repeat(max), Encoding::Gsm7, ConcatRef::Eight).unwrap();
    assert_eq!(c.segments, 255);
    let err = layout(&"a".repeat(max + 1), Encoding::Gsm7, ConcatRef::Eight).unwrap_err();
    assert_eq!(
        err,
        TextError::TooManySegments {
            encoding: Encoding::Gsm7,
            segments: 256
        }
    );
    let ucs = layout(&"ş".repeat(255 * 67), Encoding::Ucs2, ConcatRef::Eight).unwrap();
    assert_eq!(ucs.segments, 255);
    assert!(layout(&"ş".repeat(255 * 67 + 1), Encoding::Ucs2, ConcatRef::Eight).is_err());
    // Through a policy too, and no wrap-around of the one-octet sequence number.
    let opts = Options {
        policy: Policy::TurkishShift,
        concat_ref: ConcatRef::Eight,
    };
    assert!(matches!(
        count(&"a".repeat(max + 1), &opts),
        Err(TextError::TooManySegments { .. })
    ));
    let enc = ulak_text::encode(&"a".repeat(max), &opts, 3).unwrap();
    assert_eq!(enc.segments.last().unwrap().udh, vec![5, 0, 3, 3, 255, 255]);
}

#[test]
fn empty_text_is_one_empty_segment() {
    let c = layout("", Encoding::Gsm7, ConcatRef::Eight).unwrap();
    assert_eq!((c.segments, c.total_chars, c.remaining), (1, 0, 160));
    assert!(c.split_points.is_empty());
}

#[test]
fn per_segment_chars_count_code_points_not_units() {
    let text = "😀".repeat(40); // 80 UTF-16 units, 40 code points
    let c = layout(&text, Encoding::Ucs2, ConcatRef::Eight).unwrap();
    assert_eq!(c.segments, 2);
    assert_eq!(c.per_segment_units, vec![66, 14]);
    assert_eq!(c.per_segment_chars, vec![33, 7]);
    assert_eq!(c.split_points, vec![33]);
    assert_eq!(c.total_chars, 40);
}

#[test]
fn unencodable_character_is_a_clear_error() {
    let err = layout("abcş", Encoding::Gsm7, ConcatRef::Eight).unwrap_err();
    assert!(matches!(
        err,
        TextError::Unencodable {
            character: 'ş',
            position: 3,
            ..
        }
    ));
    assert!(err.to_string().contains("position 3"));
}
