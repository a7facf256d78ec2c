//! Property tests: encode → decode gives the text back exactly, for every policy.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use ulak_text::{
    ConcatRef, DEFAULT_BASIC, DEFAULT_EXTENSION, DcsAlphabet, Options, Policy, TURKISH_LOCKING,
    TURKISH_SINGLE_SHIFT, Udh, count, decode_unpacked, decode_user_data, encode,
};

/// Characters from every table, plus a few that force UCS-2 (incl. outside the BMP).
fn alphabet() -> Vec<char> {
    let mut v: Vec<char> = DEFAULT_BASIC
        .iter()
        .chain(TURKISH_LOCKING.iter())
        .flatten()
        .copied()
        .chain(DEFAULT_EXTENSION.iter().map(|&(_, c)| c))
        .chain(TURKISH_SINGLE_SHIFT.iter().map(|&(_, c)| c))
        .collect();
    v.extend(['😀', '𝄞', 'ж', '→', '\u{a0}', 'ā']);
    v.sort_unstable();
    v.dedup();
    v
}

fn text_strategy() -> impl Strategy<Value = String> {
    let chars = alphabet();
    // Weighted towards plain letters so all encodings occur, with long texts too.
    let plain = prop::sample::select(vec!['a', 'e', ' ', 'ş', 'ı', 'Ğ', '€', '{']);
    let any = prop::sample::select(chars);
    prop::collection::vec(prop_oneof![4 => plain, 1 => any], 0..700)
        .prop_map(|v| v.into_iter().collect())
}

fn gsm_only_strategy() -> impl Strategy<Value = String> {
    let chars: Vec<char> = alphabet()
        .into_iter()
        .filter(|c| (*c as u32) < 0x2000 && !matches!(*c, 'ж' | '\u{a0}' | 'ā'))
        .collect();
    prop::collection::vec(prop::sample::select(chars), 0..500).prop_map(|v| v.into_iter().collect())
}

fn check_round_trip(text: &str, policy: Policy, concat_ref: ConcatRef, reference: u16) {
    let opts = Options { policy, concat_ref };
    let enc = encode(text, &opts, reference).unwrap();
    assert_eq!(enc.segments.len(), enc.count.segments);
    let mut over_air = String::new();
    let mut over_smpp = String::new();
    for (i, seg) in enc.segments.iter().enumerate() {
        let d = decode_user_data(seg.dcs, seg.udhi(), &seg.user_data, seg.udl as usize).unwrap();
        assert!(seg.user_data.len() <= 140, "TP-UD fits 140 octets");
        if enc.segments.len() > 1 {
            let concat = d.udh.as_ref().unwrap().concat.unwrap();
            assert_eq!(usize::from(concat.seq), i + 1);
            assert_eq!(usize::from(concat.total), enc.segments.len());
        }
        over_air.push_str(&d.text.unwrap());
        let alphabet = DcsAlphabet::from_tp_dcs(seg.dcs);
        let d2 = decode_unpacked(alphabet, seg.udhi(), &seg.short_message()).unwrap();
        over_smpp.push_str(&d2.text.unwrap());
        assert_eq!(
            d2.payload.len(),
            enc.count.per_segment_units[i] * if seg.dcs == 8 { 2 } else { 1 }
        );
    }
    assert_eq!(over_air, text);
    assert_eq!(over_smpp, text);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn round_trip_every_policy(text in text_strategy(), r in any::<u16>(), sixteen in any::<bool>()) {
        let concat = if sixteen { ConcatRef::Sixteen } else { ConcatRef::Eight };
        for policy in Policy::ALL {
            check_round_trip(&text, policy, concat, r);
        }
    }

    #[test]
    fn round_trip_gsm_texts(text in gsm_only_strategy()) {
        for policy in Policy::ALL {
            check_round_trip(&text, policy, ConcatRef::Eight, 0xAB);
        }
    }

    #[test]
    fn counts_are_consistent(text in text_strategy()) {
        for policy in Policy::ALL {
            let c = count(&text, &Options { policy, concat_ref: ConcatRef::Eight }).unwrap();
            prop_assert_eq!(c.per_segment_chars.iter().sum::<usize>(), text.chars().count());
            prop_assert_eq!(c.per_segment_units.iter().sum::<usize>(), c.total_units);
            prop_assert_eq!(c.split_points.len() + 1, c.segments);
            prop_assert!(c.per_segment_units.iter().all(|&u| u <= c.capacity_per_segment));
            prop_assert_eq!(c.remaining, c.capacity_per_segment - c.per_segment_units[c.segments - 1]);
        }
    }

    #[test]
    fn decoders_never_panic_on_garbage(dcs in any::<u8>(), udhi in any::<bool>(), data in prop::collection::vec(any::<u8>(), 0..200), udl in 0usize..300) {
        let _ = decode_user_data(dcs, udhi, &data, udl);
        let _ = decode_unpacked(DcsAlphabet::from_tp_dcs(dcs), udhi, &data);
        let _ = Udh::parse(&data);
    }
}

#[test]
fn known_packing_vector() {
    // "hellohello" packed without a header, the classic TS 23.038 example.
    let opts = Options {
        policy: Policy::Gsm7OrUcs2,
        concat_ref: ConcatRef::Eight,
    };
    let enc = encode("hellohello", &opts, 0).unwrap();
    assert_eq!(
        enc.segments[0].user_data,
        vec![0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]
    );
    assert_eq!(enc.segments[0].udl, 10);
}

#[test]
fn fill_bits_follow_a_six_octet_udh() {
    // A 6-octet UDH (48 bits) is followed by 1 fill bit: the first septet starts at bit 49.
    let opts = Options {
        policy: Policy::Gsm7OrUcs2,
        concat_ref: ConcatRef::Eight,
    };
    let enc = encode(&"A".repeat(200), &opts, 0x42).unwrap();
    let s = &enc.segments[0];
    assert_eq!(&s.user_data[..6], &[5, 0, 3, 0x42, 2, 1]);
    // 'A' = 0x41 shifted left by one fill bit.
    assert_eq!(s.user_data[6], 0x82);
    assert_eq!(s.udl as usize, 7 + 153);
    assert_eq!(s.user_data.len(), 140);
}
