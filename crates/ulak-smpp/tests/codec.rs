//! PDU codec: round trips for every PDU, known byte vectors, malformed input, framing.
#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use tokio_util::codec::Decoder;
use ulak_smpp::CommandStatus;
use ulak_smpp::framing::{FrameError, SmppCodec};
use ulak_smpp::pdu::*;

fn sm() -> ShortMessage {
    let mut tlvs = Tlvs::default();
    tlvs.set_sar(Sar {
        reference: 0x1234,
        total: 3,
        seq: 2,
    });
    tlvs.set(tag::USER_MESSAGE_REFERENCE, vec![0, 7]);
    tlvs.set(0x1401, b"vendor".to_vec());
    ShortMessage {
        service_type: "CMT".into(),
        source: Address::new(5, 0, "ULAK"),
        dest: Address::new(1, 1, "905321234567"),
        esm_class: 0x40,
        protocol_id: 0,
        priority_flag: 1,
        schedule_delivery_time: String::new(),
        validity_period: "000001000000000R".into(),
        registered_delivery: 1,
        replace_if_present_flag: 0,
        data_coding: 8,
        sm_default_msg_id: 0,
        short_message: Bytes::from_static(b"\x05\x00\x03\x01\x02\x01hello"),
        tlvs,
    }
}

fn all_pdus() -> Vec<Body> {
    let bind = Bind {
        system_id: "ulak".into(),
        password: "secret".into(),
        system_type: "SMPP".into(),
        interface_version: INTERFACE_VERSION_34,
        addr_ton: 1,
        addr_npi: 1,
        address_range: "^90".into(),
    };
    let mut bresp_tlvs = Tlvs::default();
    bresp_tlvs.set(tag::SC_INTERFACE_VERSION, vec![0x34]);
    let bresp = BindResp {
        system_id: "SMSC".into(),
        tlvs: bresp_tlvs,
    };
    let mut receipt_tlvs = Tlvs::default();
    receipt_tlvs.set(tag::RECEIPTED_MESSAGE_ID, b"abc123\0".to_vec());
    receipt_tlvs.set(tag::MESSAGE_STATE, vec![2]);
    receipt_tlvs.set(tag::NETWORK_ERROR_CODE, vec![3, 0, 1]);
    let mut payload_tlvs = Tlvs::default();
    payload_tlvs.set(tag::MESSAGE_PAYLOAD, vec![b'x'; 600]);
    payload_tlvs.set(tag::SOURCE_PORT, vec![0x0B, 0x84]);
    payload_tlvs.set(tag::DESTINATION_PORT, vec![0x23, 0xF0]);
    vec![
        Body::BindTransmitter(bind.clone()),
        Body::BindReceiver(bind.clone()),
        Body::BindTransceiver(bind),
        Body::BindTransmitterResp(bresp.clone()),
        Body::BindReceiverResp(bresp.clone()),
        Body::BindTransceiverResp(bresp),
        Body::Outbind(Outbind {
            system_id: "SMSC".into(),
            password: "pw".into(),
        }),
        Body::Unbind,
        Body::UnbindResp,
        Body::EnquireLink,
        Body::EnquireLinkResp,
        Body::GenericNack,
        Body::SubmitSm(sm()),
        Body::SubmitSmResp(MessageIdResp::new("4f2a")),
        Body::SubmitMulti(SubmitMulti {
            sm: ShortMessage {
                dest: Address::default(),
                ..sm()
            },
            dests: vec![
                MultiDest::Sme(Address::new(1, 1, "905321111111")),
                MultiDest::List("friends".into()),
            ],
        }),
        Body::SubmitMultiResp(SubmitMultiResp {
            message_id: "m1".into(),
            unsuccess: vec![Unsuccess {
                addr: Address::new(1, 1, "905000000000"),
                error_status: CommandStatus::ESME_RINVDSTADR,
            }],
        }),
        Body::DeliverSm(ShortMessage {
            esm_class: 0x04,
            tlvs: receipt_tlvs,
            ..sm()
        }),
        Body::DeliverSmResp(MessageIdResp::new("")),
        Body::DataSm(DataSm {
            service_type: String::new(),
            source: Address::new(1, 1, "905321234567"),
            dest: Address::new(0, 0, "4545"),
            esm_class: 0,
            registered_delivery: 1,
            data_coding: 0,
            tlvs: payload_tlvs,
        }),
        Body::DataSmResp(MessageIdResp::new("d1")),
        Body::QuerySm(QuerySm {
            message_id: "q1".into(),
            source: Address::new(5, 0, "ULAK"),
        }),
        Body::QuerySmResp(QuerySmResp {
            message_id: "q1".into(),
            final_date: "251125123000000+".into(),
            message_state: 2,
            error_code: 0,
        }),
        Body::CancelSm(CancelSm {
            service_type: String::new(),
            message_id: "c1".into(),
            source: Address::new(5, 0, "ULAK"),
            dest: Address::new(1, 1, "905321234567"),
        }),
        Body::CancelSmResp,
        Body::ReplaceSm(ReplaceSm {
            message_id: "r1".into(),
            source: Address::new(5, 0, "ULAK"),
            schedule_delivery_time: String::new(),
            validity_period: String::new(),
            registered_delivery: 1,
            sm_default_msg_id: 0,
            short_message: Bytes::from_static(b"new text"),
        }),
        Body::ReplaceSmResp,
        Body::AlertNotification(AlertNotification {
            source: Address::new(1, 1, "905321234567"),
            esme: Address::new(0, 0, "ulak"),
            tlvs: Tlvs::default(),
        }),
        Body::Unknown {
            command_id: 0x0001_0200,
            body: Bytes::from_static(b"\x01\x02\x03"),
        },
    ]
}

#[test]
fn every_pdu_round_trips() {
    for (i, body) in all_pdus().into_iter().enumerate() {
        let pdu = Pdu::new(i as u32 + 1, body);
        let bytes = pdu.to_bytes();
        assert_eq!(
            Header::parse(&bytes).unwrap().command_length as usize,
            bytes.len()
        );
        let back = Pdu::decode(bytes.clone()).unwrap();
        assert_eq!(back, pdu, "round trip of {:?}", pdu.body);
        // Through the framing codec too, with two PDUs in one buffer.
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&bytes);
        buf.extend_from_slice(&bytes);
        let mut codec = SmppCodec::default();
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap().unwrap(), pdu);
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap().unwrap(), pdu);
        assert!(codec.decode(&mut buf).unwrap().is_none());
    }
}

#[test]
fn known_bytes() {
    // enquire_link, sequence 1: the smallest PDU.
    let bytes = Pdu::new(1, Body::EnquireLink).to_bytes();
    assert_eq!(
        &bytes[..],
        &[0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 1]
    );
    // bind_transceiver with interface_version 0x34.
    let bind = Pdu::new(
        7,
        Body::BindTransceiver(Bind {
            system_id: "a".into(),
            password: "b".into(),
            ..Default::default()
        }),
    )
    .to_bytes();
    assert_eq!(&bind[16..], b"a\0b\0\0\x34\0\0\0");
    assert_eq!(bind[3] as usize, bind.len());
}

#[test]
fn error_responses_without_body_decode() {
    // A submit_sm_resp with ESME_RTHROTTLED and no body at all, as many SMSCs send it.
    let bytes: &[u8] = &[0, 0, 0, 16, 0x80, 0, 0, 4, 0, 0, 0, 0x58, 0, 0, 0, 9];
    let pdu = Pdu::decode(Bytes::copy_from_slice(bytes)).unwrap();
    assert_eq!(pdu.status, CommandStatus::ESME_RTHROTTLED);
    assert_eq!(pdu.body, Body::SubmitSmResp(MessageIdResp::default()));
    let nack = Pdu::error_response(command_id::SUBMIT_SM, 9, CommandStatus::ESME_RTHROTTLED);
    assert_eq!(&nack.to_bytes()[..], bytes);
}

#[test]
fn malformed_bodies_are_typed_errors_with_sequence() {
    // submit_sm whose body is cut inside source_addr.
    let mut good = Pdu::new(42, Body::SubmitSm(sm())).to_bytes().to_vec();
    good.truncate(24);
    let len = good.len() as u32;
    good[..4].copy_from_slice(&len.to_be_bytes());
    let err = Pdu::decode(Bytes::from(good)).unwrap_err();
    match &err {
        PduError::Body {
            command_id,
            sequence,
            error,
        } => {
            assert_eq!(*command_id, command_id::SUBMIT_SM);
            assert_eq!(*sequence, 42);
            assert!(matches!(error, DecodeError::Truncated { .. }));
        }
        other => panic!("unexpected {other:?}"),
    }
    let resp = err.response().unwrap();
    assert_eq!(resp.command_id(), command_id::SUBMIT_SM_RESP);
    assert_eq!(resp.sequence, 42);
    assert_eq!(resp.status, CommandStatus::ESME_RINVMSGLEN);

    // A system_id longer than 16 octets with no NUL in reach.
    let mut b = vec![0u8; 16];
    b.extend_from_slice(&[b'x'; 40]);
    b.push(0);
    let len = b.len() as u32;
    b[..4].copy_from_slice(&len.to_be_bytes());
    b[4..8].copy_from_slice(&command_id::BIND_TRANSMITTER.to_be_bytes());
    assert!(matches!(
        Pdu::decode(Bytes::from(b)),
        Err(PduError::Body {
            error: DecodeError::CString { max: 16, .. },
            ..
        })
    ));

    // A TLV whose length runs past the end.
    let mut p = Pdu::new(5, Body::SubmitSm(sm())).to_bytes().to_vec();
    p.extend_from_slice(&[0x04, 0x24, 0x01, 0x00, b'a']);
    let len = p.len() as u32;
    p[..4].copy_from_slice(&len.to_be_bytes());
    let err = Pdu::decode(Bytes::from(p)).unwrap_err();
    assert_eq!(
        err.response().unwrap().status,
        CommandStatus::ESME_RINVOPTPARSTREAM
    );
}

#[test]
fn submit_multi_count_beyond_body_is_rejected_before_allocating() {
    let mut b = vec![0u8; 16];
    b.extend_from_slice(b"\0\x01\x01x\0\xFE");
    let len = b.len() as u32;
    b[..4].copy_from_slice(&len.to_be_bytes());
    b[4..8].copy_from_slice(&command_id::SUBMIT_MULTI.to_be_bytes());
    assert!(matches!(
        Pdu::decode(Bytes::from(b)),
        Err(PduError::Body {
            error: DecodeError::Invalid { .. },
            ..
        })
    ));
}

#[test]
fn framing_rejects_bad_lengths_and_waits_for_partial_frames() {
    let mut codec = SmppCodec::new(1024);
    let mut buf = BytesMut::from(&[0u8, 0, 0, 8, 0, 0, 0, 0x15][..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(FrameError::Length { length: 8, .. })
    ));
    let mut buf = BytesMut::from(&[0u8, 0, 0x10, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 77][..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(FrameError::Length {
            length: 4096,
            sequence: 77
        })
    ));
    let whole = Pdu::new(3, Body::SubmitSm(sm())).to_bytes();
    let mut buf = BytesMut::new();
    for (i, b) in whole.iter().enumerate() {
        assert!(codec.decode(&mut buf).unwrap().is_none(), "early at {i}");
        buf.extend_from_slice(&[*b]);
    }
    assert_eq!(
        codec.decode(&mut buf).unwrap().unwrap().unwrap().sequence,
        3
    );
}

#[test]
fn body_error_keeps_the_stream_going() {
    let mut bad = vec![0u8, 0, 0, 17, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 9, b'x'];
    bad.extend_from_slice(&Pdu::new(10, Body::EnquireLink).to_bytes());
    let mut buf = BytesMut::from(&bad[..]);
    let mut codec = SmppCodec::default();
    let first = codec.decode(&mut buf).unwrap().unwrap();
    assert!(matches!(first, Err(PduError::Body { sequence: 9, .. })));
    let second = codec.decode(&mut buf).unwrap().unwrap().unwrap();
    assert_eq!(second.body, Body::EnquireLink);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn random_frames_never_panic(cmd in prop::sample::select(vec![
        1u32, 2, 3, 4, 5, 6, 7, 8, 9, 0xB, 0x15, 0x21, 0x102, 0x103,
        0x8000_0000, 0x8000_0001, 0x8000_0004, 0x8000_0021, 0x8000_0003, 0x8000_0103, 0x777,
    ]), body in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut b = Vec::with_capacity(16 + body.len());
        b.extend_from_slice(&((16 + body.len()) as u32).to_be_bytes());
        b.extend_from_slice(&cmd.to_be_bytes());
        b.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        b.extend_from_slice(&body);
        if let Ok(pdu) = Pdu::decode(Bytes::from(b)) {
            // Whatever decodes must encode and decode to the same value.
            let again = Pdu::decode(pdu.to_bytes());
            prop_assert!(again.is_ok());
        }
    }

    #[test]
    fn random_streams_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut codec = SmppCodec::new(4096);
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = codec.decode(&mut buf) {}
    }
}

/// Writes one seed file per PDU kind for the fuzzer (run with ULAK_WRITE_FUZZ_SEEDS=1).
#[test]
fn write_fuzz_seeds() {
    if std::env::var("ULAK_WRITE_FUZZ_SEEDS").is_err() {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/pdu_decode");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, body) in all_pdus().into_iter().enumerate() {
        let bytes = Pdu::new(i as u32 + 1, body).to_bytes();
        std::fs::write(dir.join(format!("seed-{i:02}")), &bytes).unwrap();
    }
}
