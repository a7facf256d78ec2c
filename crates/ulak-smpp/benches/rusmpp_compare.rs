//! The same frames through rusmpp 0.4.0's codec, for the codec decision record.
//! Run: cargo bench -p ulak-smpp --features bench-rusmpp --bench rusmpp_compare
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio_util::codec::{Decoder, Encoder};
use ulak_smpp::framing::SmppCodec;
use ulak_smpp::pdu::*;

fn submit_sm() -> Pdu {
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

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("compare");
    g.throughput(Throughput::Elements(1));
    let bytes = submit_sm().to_bytes();
    g.bench_function("ulak decode submit_sm", |b| {
        let mut codec = SmppCodec::default();
        let mut buf = BytesMut::with_capacity(4096);
        b.iter(|| {
            buf.extend_from_slice(&bytes);
            black_box(codec.decode(&mut buf).unwrap().unwrap().unwrap());
        })
    });
    g.bench_function("rusmpp decode submit_sm", |b| {
        let mut codec = rusmpp::tokio_codec::CommandCodec::new();
        let mut buf = BytesMut::with_capacity(4096);
        b.iter(|| {
            buf.extend_from_slice(&bytes);
            black_box(codec.decode(&mut buf).unwrap().unwrap());
        })
    });
    let ours = submit_sm();
    g.bench_function("ulak encode submit_sm", |b| {
        let mut buf = BytesMut::with_capacity(4096);
        b.iter(|| {
            buf.clear();
            black_box(&ours).encode(&mut buf);
        })
    });
    let mut buf = BytesMut::from(&bytes[..]);
    let theirs = rusmpp::tokio_codec::CommandCodec::new()
        .decode(&mut buf)
        .unwrap()
        .unwrap();
    // Both sides must produce the same octets, or the comparison means nothing.
    let mut check = BytesMut::new();
    rusmpp::tokio_codec::CommandCodec::new()
        .encode(&theirs, &mut check)
        .unwrap();
    assert_eq!(&check[..], &bytes[..]);
    g.bench_function("rusmpp encode submit_sm", |b| {
        let mut codec = rusmpp::tokio_codec::CommandCodec::new();
        let mut buf = BytesMut::with_capacity(4096);
        b.iter(|| {
            buf.clear();
            codec.encode(black_box(&theirs), &mut buf).unwrap();
        })
    });
    g.finish();
    facts();
}

/// Behaviour checks quoted in the decision record (printed, not asserted: they describe rusmpp).
fn facts() {
    let mut codec = rusmpp::tokio_codec::CommandCodec::new();
    // An error submit_sm_resp with no body, as many SMSCs send it.
    let empty_resp: &[u8] = &[0, 0, 0, 16, 0x80, 0, 0, 4, 0, 0, 0, 0x58, 0, 0, 0, 9];
    let r = codec.decode(&mut BytesMut::from(empty_resp));
    eprintln!(
        "rusmpp: bodiless ESME_RTHROTTLED submit_sm_resp -> ok={}",
        matches!(r, Ok(Some(_)))
    );
    // A bind_transmitter whose body is one stray octet: error or item?
    let bad: &[u8] = &[0, 0, 0, 17, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 9, b'x'];
    let r = codec.decode(&mut BytesMut::from(bad));
    eprintln!("rusmpp: malformed bind body -> stream error={}", r.is_err());
    // The default bind interface_version.
    let bind = rusmpp::pdus::BindTransmitter::builder().build();
    eprintln!(
        "rusmpp: default interface_version = {:?}",
        bind.interface_version
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
