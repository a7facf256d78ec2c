//! Receipt parsing against the variants operators send, and inbound reassembly edge cases.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use ulak_smpp::inbound::{Reassembler, decode_part};
use ulak_smpp::pdu::{Address, Sar, ShortMessage, tag};
use ulak_smpp::receipt::{Receipt, ReceiptError, ReceiptState, ids_match, parse_text};

fn dlr(text: &str) -> ShortMessage {
    ShortMessage {
        source: Address::new(1, 1, "905321234567"),
        dest: Address::new(5, 0, "ULAK"),
        esm_class: 0x04,
        short_message: Bytes::from(text.as_bytes().to_vec()),
        ..Default::default()
    }
}

#[test]
fn appendix_b_form() {
    let r = Receipt::from_deliver(&dlr(
        "id:0123456789 sub:001 dlvrd:001 submit date:2511251230 done date:2511251231 stat:DELIVRD err:000 text:Merhaba dunya",
    ))
    .unwrap();
    assert_eq!(r.message_id, "0123456789");
    assert_eq!(r.state, ReceiptState::Delivered);
    assert_eq!(r.submitted, Some(1));
    assert_eq!(r.delivered, Some(1));
    assert_eq!(r.submit_date.as_deref(), Some("2511251230"));
    assert_eq!(r.done_date.as_deref(), Some("2511251231"));
    assert_eq!(r.error.as_deref(), Some("000"));
    assert_eq!(r.text.as_deref(), Some("Merhaba dunya"));
}

#[test]
fn operator_variants() {
    // Upper-case keys, `Text:`, 12-digit dates, hex id.
    let r = Receipt::from_deliver(&dlr(
        "ID:7F3A2B1C SUB:001 DLVRD:000 SUBMIT DATE:251125123045 DONE DATE:251125123112 STAT:UNDELIV ERR:034 Text:hello: world",
    ))
    .unwrap();
    assert_eq!(r.message_id, "7F3A2B1C");
    assert_eq!(r.state, ReceiptState::Undeliverable);
    assert_eq!(r.submit_date.as_deref(), Some("251125123045"));
    assert_eq!(r.error.as_deref(), Some("034"));
    assert_eq!(r.text.as_deref(), Some("hello: world"));

    // Missing sub/dlvrd/text, fields out of order, extra spaces.
    let r =
        Receipt::from_deliver(&dlr("stat:EXPIRED  id:42   err:0 done date:2511251231")).unwrap();
    assert_eq!(
        (r.message_id.as_str(), r.state.clone()),
        ("42", ReceiptState::Expired)
    );
    assert_eq!(r.submitted, None);
    assert_eq!(r.text, None);

    // Lower-case state word and a long form.
    assert_eq!(
        Receipt::from_deliver(&dlr("id:1 stat:delivered"))
            .unwrap()
            .state,
        ReceiptState::Delivered
    );
    assert_eq!(
        Receipt::from_deliver(&dlr("id:1 stat:ACCEPTD"))
            .unwrap()
            .state,
        ReceiptState::Accepted
    );
    assert_eq!(
        Receipt::from_deliver(&dlr("id:1 stat:WEIRD"))
            .unwrap()
            .state,
        ReceiptState::Other("WEIRD".into())
    );
}

#[test]
fn tlvs_win_over_text_and_fill_gaps() {
    let mut sm = dlr("id:255 stat:DELIVRD");
    sm.tlvs.set(tag::RECEIPTED_MESSAGE_ID, b"ff\0".to_vec());
    sm.tlvs.set(tag::MESSAGE_STATE, vec![5]);
    sm.tlvs.set(tag::NETWORK_ERROR_CODE, vec![3, 0, 1]);
    let r = Receipt::from_deliver(&sm).unwrap();
    assert_eq!(r.message_id, "ff");
    assert_eq!(r.text_id.as_deref(), Some("255"));
    assert_eq!(r.state, ReceiptState::Undeliverable);
    assert_eq!(r.network_error, Some((3, 1)));
    // Hex in the TLV, decimal in the text: both match the submit id either way round.
    assert!(r.matches("FF"));
    assert!(r.matches("255"));
    assert!(r.matches("000000ff"));
    assert!(!r.matches("256"));

    // TLVs only, empty text.
    let mut sm = dlr("");
    sm.tlvs.set(tag::RECEIPTED_MESSAGE_ID, b"abc".to_vec());
    sm.tlvs.set(tag::MESSAGE_STATE, vec![2]);
    assert_eq!(
        Receipt::from_deliver(&sm).unwrap().state,
        ReceiptState::Delivered
    );

    assert_eq!(
        Receipt::from_deliver(&dlr("stat:DELIVRD")),
        Err(ReceiptError::NoId)
    );
    assert_eq!(
        Receipt::from_deliver(&dlr("id:5")),
        Err(ReceiptError::NoState)
    );
}

#[test]
fn id_forms() {
    assert!(ids_match("0042", "42"));
    assert!(ids_match("abc", "ABC"));
    assert!(ids_match("1f", "31"));
    assert!(!ids_match("x1", "y1"));
    // `msgid:` inside another token is not `id:`.
    assert_eq!(
        parse_text("msgid:9 id:7 stat:DELIVRD").id.as_deref(),
        Some("7")
    );
}

fn part(reference: u16, total: u8, seq: u8, text: &str) -> ShortMessage {
    let mut sm = ShortMessage {
        source: Address::new(1, 1, "905321234567"),
        dest: Address::new(0, 0, "4545"),
        short_message: Bytes::from(text.as_bytes().to_vec()),
        ..Default::default()
    };
    sm.tlvs.set_sar(Sar {
        reference,
        total,
        seq,
    });
    sm
}

#[test]
fn reassembly_out_of_order_duplicates_and_timeout() {
    let now = Instant::now();
    let mut r = Reassembler::new(Duration::from_secs(10));
    assert!(r.push(decode_part(&part(1, 3, 3, "c")), now).is_none());
    assert!(r.push(decode_part(&part(1, 3, 1, "a")), now).is_none());
    // A redelivered part does not duplicate text.
    assert!(r.push(decode_part(&part(1, 3, 1, "a")), now).is_none());
    // A different reference is another message.
    assert!(r.push(decode_part(&part(2, 2, 1, "x")), now).is_none());
    let m = r.push(decode_part(&part(1, 3, 2, "b")), now).unwrap();
    assert_eq!(m.text.as_deref(), Some("abc"));
    assert!(m.complete);
    assert_eq!(r.pending(), 1);
    assert!(r.expire(now + Duration::from_secs(5)).is_empty());
    let late = r.expire(now + Duration::from_secs(11));
    assert_eq!(late.len(), 1);
    assert!(!late[0].complete);
    assert_eq!(late[0].text.as_deref(), Some("x"));
    // seq 0 or seq > total cannot be placed and is released alone.
    assert!(r.push(decode_part(&part(3, 2, 5, "z")), now).is_some());
}

#[test]
fn ucs2_parts_split_inside_a_surrogate_pair_are_joined_before_decoding() {
    let units: Vec<u8> = "a😀".encode_utf16().flat_map(u16::to_be_bytes).collect();
    let (a, b) = units.split_at(4);
    let mk = |seq: u8, d: &[u8]| {
        let mut sm = part(7, 2, seq, "");
        sm.data_coding = 8;
        sm.short_message = Bytes::from(d.to_vec());
        sm
    };
    let now = Instant::now();
    let mut r = Reassembler::new(Duration::from_secs(10));
    assert!(r.push(decode_part(&mk(1, a)), now).is_none());
    let m = r.push(decode_part(&mk(2, b)), now).unwrap();
    assert_eq!(m.text.as_deref(), Some("a😀"));
}

#[test]
fn pending_messages_are_capped() {
    let now = Instant::now();
    let mut r = Reassembler::new(Duration::from_secs(600));
    for i in 0..(ulak_smpp::inbound::MAX_PENDING as u32 + 5) {
        let mut p = part((i % 60_000) as u16, 2, 1, "x");
        p.source.addr = format!("9053{i:08}");
        assert!(r.push(decode_part(&p), now).is_none());
    }
    assert_eq!(r.pending(), ulak_smpp::inbound::MAX_PENDING);
    assert_eq!(r.expire(now).len(), 5);
}
