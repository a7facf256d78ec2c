//! Splitting a byte stream into PDU frames (a tokio_util codec).
//!
//! Unlike a codec that returns `Err` for a malformed body (which ends a `Framed` stream and
//! loses the sequence number), a bad body here is an `Ok(Some(Err(..)))` item: the session
//! answers it and keeps the link. Only a bad command_length, after which the stream cannot
//! be resynchronised, is a stream error.

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::pdu::{HEADER_LEN, Header, Pdu, PduError};

/// Default largest accepted command_length: 64 KiB covers a full message_payload.
pub const DEFAULT_MAX_COMMAND_LENGTH: u32 = 64 * 1024;

/// A fatal framing error: the connection must be closed.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// command_length outside 16..=max; the header's sequence number is kept for generic_nack.
    #[error("invalid command_length {length} (sequence {sequence})")]
    Length {
        /// The length read.
        length: u32,
        /// The sequence number of the offending header.
        sequence: u32,
    },
    /// The socket failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// SMPP framing codec: `Decoder<Item = Result<Pdu, PduError>>`, `Encoder<&Pdu>`.
#[derive(Clone, Debug)]
pub struct SmppCodec {
    max_len: u32,
}

impl Default for SmppCodec {
    fn default() -> Self {
        SmppCodec::new(DEFAULT_MAX_COMMAND_LENGTH)
    }
}

impl SmppCodec {
    /// A codec accepting command_length in 16..=max_len.
    pub fn new(max_len: u32) -> Self {
        SmppCodec {
            max_len: max_len.max(HEADER_LEN as u32),
        }
    }
}

impl Decoder for SmppCodec {
    type Item = Result<Pdu, PduError>;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, FrameError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let length = u32::from_be_bytes([src[0], src[1], src[2], src[3]]);
        if length < HEADER_LEN as u32 || length > self.max_len {
            let sequence = Header::parse(src).map_or(0, |h| h.sequence);
            return Err(FrameError::Length { length, sequence });
        }
        let length = length as usize;
        if src.len() < length {
            // Reserve only what this bounded frame needs, never more than max_len.
            src.reserve(length - src.len());
            return Ok(None);
        }
        let frame = src.split_to(length).freeze();
        let Some(header) = Header::parse(&frame) else {
            return Ok(Some(Err(PduError::Length(length as u32))));
        };
        let mut body = frame;
        body.advance(HEADER_LEN);
        Ok(Some(Pdu::decode_body(header, body)))
    }
}

impl Encoder<&Pdu> for SmppCodec {
    type Error = FrameError;

    fn encode(&mut self, pdu: &Pdu, dst: &mut BytesMut) -> Result<(), FrameError> {
        pdu.encode(dst);
        Ok(())
    }
}

impl Encoder<Pdu> for SmppCodec {
    type Error = FrameError;

    fn encode(&mut self, pdu: Pdu, dst: &mut BytesMut) -> Result<(), FrameError> {
        pdu.encode(dst);
        Ok(())
    }
}
