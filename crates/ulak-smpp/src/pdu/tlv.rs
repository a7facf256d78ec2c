//! Tag-length-value optional parameters (SMPP 3.4 section 5.3).
//!
//! Values stay raw so any TLV, standard or vendor, round-trips byte for byte; typed accessors
//! read the standard ones on demand and answer `None` when a value has the wrong size.

use bytes::{BufMut, Bytes, BytesMut};

use super::wire::{DecodeError, Reader};

/// Standard TLV tags of SMPP 3.4 (section 5.3.2).
#[allow(missing_docs)]
pub mod tag {
    pub const DEST_ADDR_SUBUNIT: u16 = 0x0005;
    pub const DEST_NETWORK_TYPE: u16 = 0x0006;
    pub const DEST_BEARER_TYPE: u16 = 0x0007;
    pub const DEST_TELEMATICS_ID: u16 = 0x0008;
    pub const SOURCE_ADDR_SUBUNIT: u16 = 0x000D;
    pub const SOURCE_NETWORK_TYPE: u16 = 0x000E;
    pub const SOURCE_BEARER_TYPE: u16 = 0x000F;
    pub const SOURCE_TELEMATICS_ID: u16 = 0x0010;
    pub const QOS_TIME_TO_LIVE: u16 = 0x0017;
    pub const PAYLOAD_TYPE: u16 = 0x0019;
    pub const ADDITIONAL_STATUS_INFO_TEXT: u16 = 0x001D;
    pub const RECEIPTED_MESSAGE_ID: u16 = 0x001E;
    pub const MS_MSG_WAIT_FACILITIES: u16 = 0x0030;
    pub const PRIVACY_INDICATOR: u16 = 0x0201;
    pub const SOURCE_SUBADDRESS: u16 = 0x0202;
    pub const DEST_SUBADDRESS: u16 = 0x0203;
    pub const USER_MESSAGE_REFERENCE: u16 = 0x0204;
    pub const USER_RESPONSE_CODE: u16 = 0x0205;
    pub const SOURCE_PORT: u16 = 0x020A;
    pub const DESTINATION_PORT: u16 = 0x020B;
    pub const SAR_MSG_REF_NUM: u16 = 0x020C;
    pub const LANGUAGE_INDICATOR: u16 = 0x020D;
    pub const SAR_TOTAL_SEGMENTS: u16 = 0x020E;
    pub const SAR_SEGMENT_SEQNUM: u16 = 0x020F;
    pub const SC_INTERFACE_VERSION: u16 = 0x0210;
    pub const CALLBACK_NUM_PRES_IND: u16 = 0x0302;
    pub const CALLBACK_NUM_ATAG: u16 = 0x0303;
    pub const NUMBER_OF_MESSAGES: u16 = 0x0304;
    pub const CALLBACK_NUM: u16 = 0x0381;
    pub const DPF_RESULT: u16 = 0x0420;
    pub const SET_DPF: u16 = 0x0421;
    pub const MS_AVAILABILITY_STATUS: u16 = 0x0422;
    pub const NETWORK_ERROR_CODE: u16 = 0x0423;
    pub const MESSAGE_PAYLOAD: u16 = 0x0424;
    pub const DELIVERY_FAILURE_REASON: u16 = 0x0425;
    pub const MORE_MESSAGES_TO_SEND: u16 = 0x0426;
    pub const MESSAGE_STATE: u16 = 0x0427;
    pub const USSD_SERVICE_OP: u16 = 0x0501;
    pub const DISPLAY_TIME: u16 = 0x1201;
    pub const SMS_SIGNAL: u16 = 0x1203;
    pub const MS_VALIDITY: u16 = 0x1204;
    pub const ALERT_ON_MESSAGE_DELIVERY: u16 = 0x130C;
    pub const ITS_REPLY_TYPE: u16 = 0x1380;
    pub const ITS_SESSION_INFO: u16 = 0x1383;
}

/// One optional parameter, value kept as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tlv {
    /// The tag.
    pub tag: u16,
    /// The raw value.
    pub value: Bytes,
}

/// The optional parameters of a PDU, in wire order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tlvs(pub Vec<Tlv>);

/// SAR concatenation TLVs (sar_msg_ref_num, sar_total_segments, sar_segment_seqnum).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sar {
    /// Reference shared by all segments.
    pub reference: u16,
    /// Number of segments.
    pub total: u8,
    /// This segment's number, from 1.
    pub seq: u8,
}

impl Tlvs {
    /// Reads TLVs until the body ends.
    pub(crate) fn decode(r: &mut Reader) -> Result<Tlvs, DecodeError> {
        let mut out = Vec::new();
        while r.remaining() > 0 {
            // A lone trailing octet or a cut header is a broken stream, not a TLV.
            if r.remaining() < 4 {
                return Err(DecodeError::TlvTruncated { tag: 0 });
            }
            let tag = r.u16("tlv tag")?;
            let len = usize::from(r.u16("tlv length")?);
            let value = r
                .take(len, "tlv value")
                .map_err(|_| DecodeError::TlvTruncated { tag })?;
            out.push(Tlv { tag, value });
        }
        Ok(Tlvs(out))
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        for t in &self.0 {
            // Values longer than a u16 cannot be expressed; cut rather than corrupt the frame.
            let len = t.value.len().min(usize::from(u16::MAX));
            out.put_u16(t.tag);
            out.put_u16(len as u16);
            out.put_slice(&t.value[..len]);
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first value with this tag.
    pub fn get(&self, tag: u16) -> Option<&Bytes> {
        self.0.iter().find(|t| t.tag == tag).map(|t| &t.value)
    }

    /// Sets a value, replacing an earlier one with the same tag.
    pub fn set(&mut self, tag: u16, value: impl Into<Bytes>) {
        let value = value.into();
        match self.0.iter_mut().find(|t| t.tag == tag) {
            Some(t) => t.value = value,
            None => self.0.push(Tlv { tag, value }),
        }
    }

    /// A one-octet value.
    pub fn get_u8(&self, tag: u16) -> Option<u8> {
        match self.get(tag)?.as_ref() {
            [b] => Some(*b),
            _ => None,
        }
    }

    /// A two-octet value.
    pub fn get_u16(&self, tag: u16) -> Option<u16> {
        match self.get(tag)?.as_ref() {
            [a, b] => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        }
    }

    /// A C-octet string value, tolerating a missing NUL (some SMSCs omit it).
    pub fn get_cstring(&self, tag: u16) -> Option<String> {
        let v = self.get(tag)?;
        let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
        std::str::from_utf8(&v[..end]).ok().map(str::to_owned)
    }

    /// message_payload: the whole user data when short_message is empty.
    pub fn message_payload(&self) -> Option<&Bytes> {
        self.get(tag::MESSAGE_PAYLOAD)
    }

    /// receipted_message_id: the SMSC id a delivery receipt is about.
    pub fn receipted_message_id(&self) -> Option<String> {
        self.get_cstring(tag::RECEIPTED_MESSAGE_ID)
    }

    /// message_state (section 5.2.28) of a receipt or query_sm_resp-like TLV.
    pub fn message_state(&self) -> Option<u8> {
        self.get_u8(tag::MESSAGE_STATE)
    }

    /// network_error_code: (network type, error code).
    pub fn network_error_code(&self) -> Option<(u8, u16)> {
        match self.get(tag::NETWORK_ERROR_CODE)?.as_ref() {
            [t, a, b] => Some((*t, u16::from_be_bytes([*a, *b]))),
            _ => None,
        }
    }

    /// user_message_reference set by the ESME.
    pub fn user_message_reference(&self) -> Option<u16> {
        self.get_u16(tag::USER_MESSAGE_REFERENCE)
    }

    /// source_port (WAP/application port addressing).
    pub fn source_port(&self) -> Option<u16> {
        self.get_u16(tag::SOURCE_PORT)
    }

    /// destination_port (WAP/application port addressing).
    pub fn destination_port(&self) -> Option<u16> {
        self.get_u16(tag::DESTINATION_PORT)
    }

    /// sc_interface_version announced in a bind_*_resp.
    pub fn sc_interface_version(&self) -> Option<u8> {
        self.get_u8(tag::SC_INTERFACE_VERSION)
    }

    /// The three SAR TLVs, when all are present and well formed.
    pub fn sar(&self) -> Option<Sar> {
        Some(Sar {
            reference: self.get_u16(tag::SAR_MSG_REF_NUM)?,
            total: self.get_u8(tag::SAR_TOTAL_SEGMENTS)?,
            seq: self.get_u8(tag::SAR_SEGMENT_SEQNUM)?,
        })
    }

    /// Sets the three SAR TLVs.
    pub fn set_sar(&mut self, sar: Sar) {
        self.set(tag::SAR_MSG_REF_NUM, sar.reference.to_be_bytes().to_vec());
        self.set(tag::SAR_TOTAL_SEGMENTS, vec![sar.total]);
        self.set(tag::SAR_SEGMENT_SEQNUM, vec![sar.seq]);
    }
}
