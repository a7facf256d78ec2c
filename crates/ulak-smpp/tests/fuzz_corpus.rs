//! Replays the checked-in fuzz corpus (fuzz/corpus/pdu_decode) through the decoder on stable
//! Rust, so CI keeps every input the fuzzer ever found interesting from regressing.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;
use ulak_smpp::framing::SmppCodec;
use ulak_smpp::pdu::Pdu;

fn check(data: &[u8]) {
    if let Ok(pdu) = Pdu::decode(Bytes::copy_from_slice(data)) {
        assert!(Pdu::decode(pdu.to_bytes()).is_ok());
    }
    let mut codec = SmppCodec::new(4096);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(item)) = codec.decode(&mut buf) {
        if let Ok(pdu) = item {
            assert!(Pdu::decode(pdu.to_bytes()).is_ok());
        }
    }
}

#[test]
fn replay_fuzz_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut n = 0;
    for dir in ["corpus/pdu_decode", "artifacts/pdu_decode"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            check(&std::fs::read(&path).unwrap());
            n += 1;
        }
    }
    assert!(
        n >= 20,
        "fuzz corpus missing: only {n} inputs under fuzz/corpus"
    );
}
