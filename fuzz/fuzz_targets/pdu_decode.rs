//! Fuzz the SMPP PDU decoder: any bytes, as one frame and as a stream through the framing
//! codec, must give a PDU or a typed error, never a panic or an unbounded allocation; what
//! decodes must encode and decode again.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;
use ulak_smpp::framing::SmppCodec;
use ulak_smpp::pdu::Pdu;

fuzz_target!(|data: &[u8]| {
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
});
