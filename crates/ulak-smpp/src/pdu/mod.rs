//! SMPP 3.4 PDUs: the 16-octet header, every standard body, encode and decode.
//!
//! Decoding works on one complete frame (header included) and never panics: every read is
//! bounds-checked, counts are checked against the bytes present before anything is allocated,
//! and unknown command ids and TLVs are kept rather than rejected.

mod body;
mod ops;
mod tlv;
mod wire;

use bytes::{BufMut, Bytes, BytesMut};

pub use body::{
    Address, Bind, BindResp, DataSm, INTERFACE_VERSION_34, MessageIdResp, Outbind, ShortMessage,
};
pub use ops::{
    AlertNotification, CancelSm, MultiDest, QuerySm, QuerySmResp, ReplaceSm, SubmitMulti,
    SubmitMultiResp, Unsuccess,
};
pub use tlv::{Sar, Tlv, Tlvs, tag};
pub use wire::DecodeError;

use crate::CommandStatus;
use wire::Reader;

/// Length of the PDU header.
pub const HEADER_LEN: usize = 16;

/// command_id values (section 5.1.2).
#[allow(missing_docs)]
pub mod command_id {
    pub const GENERIC_NACK: u32 = 0x8000_0000;
    pub const BIND_RECEIVER: u32 = 0x0000_0001;
    pub const BIND_RECEIVER_RESP: u32 = 0x8000_0001;
    pub const BIND_TRANSMITTER: u32 = 0x0000_0002;
    pub const BIND_TRANSMITTER_RESP: u32 = 0x8000_0002;
    pub const QUERY_SM: u32 = 0x0000_0003;
    pub const QUERY_SM_RESP: u32 = 0x8000_0003;
    pub const SUBMIT_SM: u32 = 0x0000_0004;
    pub const SUBMIT_SM_RESP: u32 = 0x8000_0004;
    pub const DELIVER_SM: u32 = 0x0000_0005;
    pub const DELIVER_SM_RESP: u32 = 0x8000_0005;
    pub const UNBIND: u32 = 0x0000_0006;
    pub const UNBIND_RESP: u32 = 0x8000_0006;
    pub const REPLACE_SM: u32 = 0x0000_0007;
    pub const REPLACE_SM_RESP: u32 = 0x8000_0007;
    pub const CANCEL_SM: u32 = 0x0000_0008;
    pub const CANCEL_SM_RESP: u32 = 0x8000_0008;
    pub const BIND_TRANSCEIVER: u32 = 0x0000_0009;
    pub const BIND_TRANSCEIVER_RESP: u32 = 0x8000_0009;
    pub const OUTBIND: u32 = 0x0000_000B;
    pub const ENQUIRE_LINK: u32 = 0x0000_0015;
    pub const ENQUIRE_LINK_RESP: u32 = 0x8000_0015;
    pub const SUBMIT_MULTI: u32 = 0x0000_0021;
    pub const SUBMIT_MULTI_RESP: u32 = 0x8000_0021;
    pub const ALERT_NOTIFICATION: u32 = 0x0000_0102;
    pub const DATA_SM: u32 = 0x0000_0103;
    pub const DATA_SM_RESP: u32 = 0x8000_0103;
}

/// A PDU body, one variant per command.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Body {
    BindTransmitter(Bind),
    BindTransmitterResp(BindResp),
    BindReceiver(Bind),
    BindReceiverResp(BindResp),
    BindTransceiver(Bind),
    BindTransceiverResp(BindResp),
    Outbind(Outbind),
    Unbind,
    UnbindResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    SubmitSm(ShortMessage),
    SubmitSmResp(MessageIdResp),
    SubmitMulti(SubmitMulti),
    SubmitMultiResp(SubmitMultiResp),
    DeliverSm(ShortMessage),
    DeliverSmResp(MessageIdResp),
    DataSm(DataSm),
    DataSmResp(MessageIdResp),
    QuerySm(QuerySm),
    QuerySmResp(QuerySmResp),
    CancelSm(CancelSm),
    CancelSmResp,
    ReplaceSm(ReplaceSm),
    ReplaceSmResp,
    AlertNotification(AlertNotification),
    /// A command id this stack does not know; the body is kept raw.
    Unknown {
        command_id: u32,
        body: Bytes,
    },
}

impl Body {
    /// This body's command_id.
    pub fn command_id(&self) -> u32 {
        use crate::pdu::command_id as c;
        match self {
            Body::BindTransmitter(_) => c::BIND_TRANSMITTER,
            Body::BindTransmitterResp(_) => c::BIND_TRANSMITTER_RESP,
            Body::BindReceiver(_) => c::BIND_RECEIVER,
            Body::BindReceiverResp(_) => c::BIND_RECEIVER_RESP,
            Body::BindTransceiver(_) => c::BIND_TRANSCEIVER,
            Body::BindTransceiverResp(_) => c::BIND_TRANSCEIVER_RESP,
            Body::Outbind(_) => c::OUTBIND,
            Body::Unbind => c::UNBIND,
            Body::UnbindResp => c::UNBIND_RESP,
            Body::EnquireLink => c::ENQUIRE_LINK,
            Body::EnquireLinkResp => c::ENQUIRE_LINK_RESP,
            Body::GenericNack => c::GENERIC_NACK,
            Body::SubmitSm(_) => c::SUBMIT_SM,
            Body::SubmitSmResp(_) => c::SUBMIT_SM_RESP,
            Body::SubmitMulti(_) => c::SUBMIT_MULTI,
            Body::SubmitMultiResp(_) => c::SUBMIT_MULTI_RESP,
            Body::DeliverSm(_) => c::DELIVER_SM,
            Body::DeliverSmResp(_) => c::DELIVER_SM_RESP,
            Body::DataSm(_) => c::DATA_SM,
            Body::DataSmResp(_) => c::DATA_SM_RESP,
            Body::QuerySm(_) => c::QUERY_SM,
            Body::QuerySmResp(_) => c::QUERY_SM_RESP,
            Body::CancelSm(_) => c::CANCEL_SM,
            Body::CancelSmResp => c::CANCEL_SM_RESP,
            Body::ReplaceSm(_) => c::REPLACE_SM,
            Body::ReplaceSmResp => c::REPLACE_SM_RESP,
            Body::AlertNotification(_) => c::ALERT_NOTIFICATION,
            Body::Unknown { command_id, .. } => *command_id,
        }
    }

    fn decode(command_id: u32, body: Bytes) -> Result<Body, DecodeError> {
        use crate::pdu::command_id as c;
        let mut r = Reader::new(body);
        let out = match command_id {
            c::BIND_TRANSMITTER => Body::BindTransmitter(Bind::decode(&mut r)?),
            c::BIND_RECEIVER => Body::BindReceiver(Bind::decode(&mut r)?),
            c::BIND_TRANSCEIVER => Body::BindTransceiver(Bind::decode(&mut r)?),
            c::BIND_TRANSMITTER_RESP => Body::BindTransmitterResp(BindResp::decode(&mut r)?),
            c::BIND_RECEIVER_RESP => Body::BindReceiverResp(BindResp::decode(&mut r)?),
            c::BIND_TRANSCEIVER_RESP => Body::BindTransceiverResp(BindResp::decode(&mut r)?),
            c::OUTBIND => Body::Outbind(Outbind::decode(&mut r)?),
            c::UNBIND => Body::Unbind,
            c::UNBIND_RESP => Body::UnbindResp,
            c::ENQUIRE_LINK => Body::EnquireLink,
            c::ENQUIRE_LINK_RESP => Body::EnquireLinkResp,
            c::GENERIC_NACK => Body::GenericNack,
            c::SUBMIT_SM => Body::SubmitSm(ShortMessage::decode(&mut r)?),
            c::SUBMIT_SM_RESP => Body::SubmitSmResp(MessageIdResp::decode(&mut r)?),
            c::SUBMIT_MULTI => Body::SubmitMulti(SubmitMulti::decode(&mut r)?),
            c::SUBMIT_MULTI_RESP => Body::SubmitMultiResp(SubmitMultiResp::decode(&mut r)?),
            c::DELIVER_SM => Body::DeliverSm(ShortMessage::decode(&mut r)?),
            c::DELIVER_SM_RESP => Body::DeliverSmResp(MessageIdResp::decode(&mut r)?),
            c::DATA_SM => Body::DataSm(DataSm::decode(&mut r)?),
            c::DATA_SM_RESP => Body::DataSmResp(MessageIdResp::decode(&mut r)?),
            c::QUERY_SM => Body::QuerySm(QuerySm::decode(&mut r)?),
            c::QUERY_SM_RESP => Body::QuerySmResp(QuerySmResp::decode(&mut r)?),
            c::CANCEL_SM => Body::CancelSm(CancelSm::decode(&mut r)?),
            c::CANCEL_SM_RESP => Body::CancelSmResp,
            c::REPLACE_SM => Body::ReplaceSm(ReplaceSm::decode(&mut r)?),
            c::REPLACE_SM_RESP => Body::ReplaceSmResp,
            c::ALERT_NOTIFICATION => Body::AlertNotification(AlertNotification::decode(&mut r)?),
            other => Body::Unknown {
                command_id: other,
                body: r.rest(),
            },
        };
        // Bodies without TLVs (the empty ones, query_sm, ...) may still carry trailing octets
        // from sloppy peers; they are ignored rather than failing the PDU.
        Ok(out)
    }

    fn encode(&self, out: &mut BytesMut) {
        match self {
            Body::BindTransmitter(b) | Body::BindReceiver(b) | Body::BindTransceiver(b) => {
                b.encode(out)
            }
            Body::BindTransmitterResp(b)
            | Body::BindReceiverResp(b)
            | Body::BindTransceiverResp(b) => b.encode(out),
            Body::Outbind(b) => b.encode(out),
            Body::Unbind
            | Body::UnbindResp
            | Body::EnquireLink
            | Body::EnquireLinkResp
            | Body::GenericNack
            | Body::CancelSmResp
            | Body::ReplaceSmResp => {}
            Body::SubmitSm(b) | Body::DeliverSm(b) => b.encode(out),
            Body::SubmitSmResp(b) | Body::DeliverSmResp(b) | Body::DataSmResp(b) => b.encode(out),
            Body::SubmitMulti(b) => b.encode(out),
            Body::SubmitMultiResp(b) => b.encode(out),
            Body::DataSm(b) => b.encode(out),
            Body::QuerySm(b) => b.encode(out),
            Body::QuerySmResp(b) => b.encode(out),
            Body::CancelSm(b) => b.encode(out),
            Body::ReplaceSm(b) => b.encode(out),
            Body::AlertNotification(b) => b.encode(out),
            Body::Unknown { body, .. } => out.put_slice(body),
        }
    }
}

/// The response command_id for a request command_id, if it has one.
pub fn response_id(command_id: u32) -> Option<u32> {
    use crate::pdu::command_id as c;
    match command_id {
        c::BIND_RECEIVER
        | c::BIND_TRANSMITTER
        | c::QUERY_SM
        | c::SUBMIT_SM
        | c::DELIVER_SM
        | c::UNBIND
        | c::REPLACE_SM
        | c::CANCEL_SM
        | c::BIND_TRANSCEIVER
        | c::ENQUIRE_LINK
        | c::SUBMIT_MULTI
        | c::DATA_SM => Some(command_id | 0x8000_0000),
        _ => None,
    }
}

/// One PDU: header fields and body (command_length is computed when encoding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pdu {
    /// command_status; zero in requests.
    pub status: CommandStatus,
    /// sequence_number that pairs a response with its request.
    pub sequence: u32,
    /// The command and its fields.
    pub body: Body,
}

impl Pdu {
    /// A request or OK response with this sequence number.
    pub fn new(sequence: u32, body: Body) -> Self {
        Pdu {
            status: CommandStatus::ESME_ROK,
            sequence,
            body,
        }
    }

    /// A response with an error status and an empty body, answering `command_id`:
    /// its *_resp when it is a request with one, otherwise generic_nack.
    pub fn error_response(command_id: u32, sequence: u32, status: CommandStatus) -> Self {
        let body = match response_id(command_id) {
            // An error response carries no body; Unknown with an empty body writes exactly that.
            Some(id) => Body::Unknown {
                command_id: id,
                body: Bytes::new(),
            },
            None => Body::GenericNack,
        };
        Pdu {
            status,
            sequence,
            body,
        }
    }

    /// The command_id.
    pub fn command_id(&self) -> u32 {
        self.body.command_id()
    }

    /// Appends the encoded PDU (header included) to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        let start = out.len();
        out.put_u32(0);
        out.put_u32(self.command_id());
        out.put_u32(self.status.0);
        out.put_u32(self.sequence);
        self.body.encode(out);
        let len = (out.len() - start) as u32;
        out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// The encoded PDU as bytes.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(64);
        self.encode(&mut out);
        out.freeze()
    }

    /// Decodes one complete frame; its length must equal the command_length in it.
    pub fn decode(frame: Bytes) -> Result<Pdu, PduError> {
        let header = Header::parse(&frame).ok_or(PduError::Length(frame.len() as u32))?;
        if header.command_length as usize != frame.len() {
            return Err(PduError::Length(header.command_length));
        }
        Pdu::decode_body(header, frame.slice(HEADER_LEN..))
    }

    /// Decodes the body of a frame whose header was already parsed.
    pub(crate) fn decode_body(header: Header, body: Bytes) -> Result<Pdu, PduError> {
        let body = Body::decode(header.command_id, body).map_err(|error| PduError::Body {
            command_id: header.command_id,
            sequence: header.sequence,
            error,
        })?;
        Ok(Pdu {
            status: CommandStatus(header.status),
            sequence: header.sequence,
            body,
        })
    }
}

/// The four header fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Total length of the PDU, header included.
    pub command_length: u32,
    /// The command.
    pub command_id: u32,
    /// The status.
    pub status: u32,
    /// The sequence number.
    pub sequence: u32,
}

impl Header {
    /// Reads the header from the first 16 octets, if present.
    pub fn parse(b: &[u8]) -> Option<Header> {
        let h = b.get(..HEADER_LEN)?;
        let word = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        Some(Header {
            command_length: word(0),
            command_id: word(4),
            status: word(8),
            sequence: word(12),
        })
    }
}

/// Why a frame could not become a PDU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PduError {
    /// command_length is below 16, above the configured maximum, or not the frame's length.
    /// The stream cannot be resynchronised after this.
    #[error("invalid command_length {0}")]
    Length(u32),
    /// The header was fine but the body was not; the sequence number allows an answer.
    #[error("malformed body of command 0x{command_id:08X} (sequence {sequence}): {error}")]
    Body {
        /// The command_id from the header.
        command_id: u32,
        /// The sequence_number from the header.
        sequence: u32,
        /// What was wrong.
        error: DecodeError,
    },
}

impl PduError {
    /// The PDU to send back for this error: the request's *_resp with an error status,
    /// or generic_nack.
    pub fn response(&self) -> Option<Pdu> {
        match self {
            PduError::Length(_) => None,
            PduError::Body {
                command_id,
                sequence,
                error,
            } => {
                // Responses are never answered; a broken one is only logged.
                if command_id & 0x8000_0000 != 0 {
                    return None;
                }
                Some(Pdu::error_response(
                    *command_id,
                    *sequence,
                    error.command_status(),
                ))
            }
        }
    }
}
