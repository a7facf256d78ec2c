//! Codec throughput: encode and decode (framing included) of the PDUs on the hot path.
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio_util::codec::Decoder;
use ulak_smpp::framing::SmppCodec;
use ulak_smpp::pdu::*;

pub fn submit_sm() -> Pdu {
    Pdu::new(
        123_456,
        Body::SubmitSm(ShortMessage {
            source: Address::new(5, 0, "ULAK"),
            dest: Address::new(1, 1, "905321234567"),
            registered_delivery: 1,
            short_message: Bytes::from_static(
                b"Merhaba, siparisiniz yola cikti. Takip kodu: 1234567890. Iyi gunler dileriz!",
            ),
            ..Default::default()
        }),
    )
}

fn receipt() -> Pdu {
    let mut tlvs = Tlvs::default();
    tlvs.set(tag::RECEIPTED_MESSAGE_ID, b"1f2e3d4c\0".to_vec());
    tlvs.set(tag::MESSAGE_STATE, vec![2]);
    Pdu::new(
        9,
        Body::DeliverSm(ShortMessage {
            source: Address::new(1, 1, "905321234567"),
            dest: Address::new(5, 0, "ULAK"),
            esm_class: 0x04,
            short_message: Bytes::from_static(
                b"id:1f2e3d4c sub:001 dlvrd:001 submit date:2511251230 done date:2511251231 stat:DELIVRD err:000 text:Merhaba",
            ),
            tlvs,
            ..Default::default()
        }),
    )
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Elements(1));
    let sm = submit_sm();
    g.bench_function("encode submit_sm", |b| {
        let mut buf = BytesMut::with_capacity(4096);
        b.iter(|| {
            buf.clear();
            black_box(&sm).encode(&mut buf);
            black_box(buf.len());
        })
    });
    for (name, pdu) in [("submit_sm", sm.clone()), ("deliver_sm receipt", receipt())] {
        let bytes = pdu.to_bytes();
        g.bench_function(format!("decode {name} (framed)"), |b| {
            let mut codec = SmppCodec::default();
            let mut buf = BytesMut::with_capacity(4096);
            b.iter(|| {
                buf.extend_from_slice(&bytes);
                black_box(codec.decode(&mut buf).unwrap().unwrap().unwrap());
            })
        });
    }
    let resp = Pdu::new(5, Body::SubmitSmResp(MessageIdResp::new("0000a1b2c3"))).to_bytes();
    g.bench_function("decode submit_sm_resp (framed)", |b| {
        let mut codec = SmppCodec::default();
        let mut buf = BytesMut::with_capacity(4096);
        b.iter(|| {
            buf.extend_from_slice(&resp);
            black_box(codec.decode(&mut buf).unwrap().unwrap().unwrap());
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
