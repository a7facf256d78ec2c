//! Bodies of the SMPP 3.4 PDUs (section 4), one struct per distinct layout.

use bytes::{BufMut, Bytes, BytesMut};

use super::tlv::Tlvs;
use super::wire::{DecodeError, Reader, put_cstring};

/// Maximum field sizes including the NUL (section 4 tables).
pub(super) mod max {
    pub(crate) const SYSTEM_ID: usize = 16;
    pub(crate) const PASSWORD: usize = 9;
    pub(crate) const SYSTEM_TYPE: usize = 13;
    pub(crate) const ADDRESS_RANGE: usize = 41;
    pub(crate) const SERVICE_TYPE: usize = 6;
    pub(crate) const ADDR: usize = 21;
    pub(crate) const ADDR_65: usize = 65;
    pub(crate) const TIME: usize = 17;
    pub(crate) const MESSAGE_ID: usize = 65;
    pub(crate) const DL_NAME: usize = 21;
}

/// The SMPP version this stack speaks, sent in binds (0x34).
pub const INTERFACE_VERSION_34: u8 = 0x34;

/// A type-of-number / numbering-plan / address triple.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Address {
    /// Type of number (0 unknown, 1 international, 5 alphanumeric, ...).
    pub ton: u8,
    /// Numbering plan indicator (0 unknown, 1 E.164, ...).
    pub npi: u8,
    /// The address digits or alphanumeric sender.
    pub addr: String,
}

impl Address {
    /// An address with the given TON, NPI and value.
    pub fn new(ton: u8, npi: u8, addr: impl Into<String>) -> Self {
        Address {
            ton,
            npi,
            addr: addr.into(),
        }
    }

    pub(super) fn decode(
        r: &mut Reader,
        max: usize,
        field: &'static str,
    ) -> Result<Self, DecodeError> {
        Ok(Address {
            ton: r.u8(field)?,
            npi: r.u8(field)?,
            addr: r.cstring(max, field)?,
        })
    }

    pub(super) fn encode(&self, out: &mut BytesMut, max: usize) {
        out.put_u8(self.ton);
        out.put_u8(self.npi);
        put_cstring(out, &self.addr, max);
    }
}

/// bind_transmitter, bind_receiver and bind_transceiver (section 4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bind {
    /// Account name.
    pub system_id: String,
    /// Account password.
    pub password: String,
    /// ESME type, often empty.
    pub system_type: String,
    /// SMPP version; 0x34 for this stack.
    pub interface_version: u8,
    /// TON of address_range.
    pub addr_ton: u8,
    /// NPI of address_range.
    pub addr_npi: u8,
    /// Addresses served by a receiver, often empty.
    pub address_range: String,
}

impl Default for Bind {
    fn default() -> Self {
        Bind {
            system_id: String::new(),
            password: String::new(),
            system_type: String::new(),
            interface_version: INTERFACE_VERSION_34,
            addr_ton: 0,
            addr_npi: 0,
            address_range: String::new(),
        }
    }
}

impl Bind {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(Bind {
            system_id: r.cstring(max::SYSTEM_ID, "system_id")?,
            password: r.cstring(max::PASSWORD, "password")?,
            system_type: r.cstring(max::SYSTEM_TYPE, "system_type")?,
            interface_version: r.u8("interface_version")?,
            addr_ton: r.u8("addr_ton")?,
            addr_npi: r.u8("addr_npi")?,
            address_range: r.cstring(max::ADDRESS_RANGE, "address_range")?,
        })
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        put_cstring(out, &self.system_id, max::SYSTEM_ID);
        put_cstring(out, &self.password, max::PASSWORD);
        put_cstring(out, &self.system_type, max::SYSTEM_TYPE);
        out.put_u8(self.interface_version);
        out.put_u8(self.addr_ton);
        out.put_u8(self.addr_npi);
        put_cstring(out, &self.address_range, max::ADDRESS_RANGE);
    }
}

/// bind_*_resp (section 4.1.2): the SMSC's system_id and sc_interface_version TLV.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BindResp {
    /// SMSC identifier.
    pub system_id: String,
    /// Optional parameters (sc_interface_version).
    pub tlvs: Tlvs,
}

impl BindResp {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        // An error bind_resp often comes with no body at all.
        if r.remaining() == 0 {
            return Ok(BindResp::default());
        }
        Ok(BindResp {
            system_id: r.cstring(max::SYSTEM_ID, "system_id")?,
            tlvs: Tlvs::decode(r)?,
        })
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        put_cstring(out, &self.system_id, max::SYSTEM_ID);
        self.tlvs.encode(out);
    }
}

/// outbind (section 4.1.7).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outbind {
    /// SMSC identifier.
    pub system_id: String,
    /// Password the ESME checks.
    pub password: String,
}

impl Outbind {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(Outbind {
            system_id: r.cstring(max::SYSTEM_ID, "system_id")?,
            password: r.cstring(max::PASSWORD, "password")?,
        })
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        put_cstring(out, &self.system_id, max::SYSTEM_ID);
        put_cstring(out, &self.password, max::PASSWORD);
    }
}

/// submit_sm and deliver_sm (sections 4.4.1 and 4.6.1) share this layout.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShortMessage {
    /// service_type, usually empty.
    pub service_type: String,
    /// Originator.
    pub source: Address,
    /// Recipient.
    pub dest: Address,
    /// esm_class: 0x40 UDHI, 0x04 delivery receipt, ...
    pub esm_class: u8,
    /// protocol_id (TP-PID).
    pub protocol_id: u8,
    /// priority_flag.
    pub priority_flag: u8,
    /// schedule_delivery_time, empty for immediate.
    pub schedule_delivery_time: String,
    /// validity_period, empty for the SMSC default.
    pub validity_period: String,
    /// registered_delivery: 0x01 receipt on final state, 0x02 on failure only.
    pub registered_delivery: u8,
    /// replace_if_present_flag.
    pub replace_if_present_flag: u8,
    /// data_coding: 0 SMSC default (GSM 7-bit), 8 UCS-2, 4 binary, ...
    pub data_coding: u8,
    /// sm_default_msg_id.
    pub sm_default_msg_id: u8,
    /// User data (at most 254 octets; longer data goes in message_payload).
    pub short_message: Bytes,
    /// Optional parameters.
    pub tlvs: Tlvs,
}

impl ShortMessage {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let service_type = r.cstring(max::SERVICE_TYPE, "service_type")?;
        let source = Address::decode(r, max::ADDR, "source_addr")?;
        let dest = Address::decode(r, max::ADDR, "destination_addr")?;
        let esm_class = r.u8("esm_class")?;
        let protocol_id = r.u8("protocol_id")?;
        let priority_flag = r.u8("priority_flag")?;
        let schedule_delivery_time = r.cstring(max::TIME, "schedule_delivery_time")?;
        let validity_period = r.cstring(max::TIME, "validity_period")?;
        let registered_delivery = r.u8("registered_delivery")?;
        let replace_if_present_flag = r.u8("replace_if_present_flag")?;
        let data_coding = r.u8("data_coding")?;
        let sm_default_msg_id = r.u8("sm_default_msg_id")?;
        let sm_length = r.u8("sm_length")?;
        let short_message = r.take(usize::from(sm_length), "short_message")?;
        Ok(ShortMessage {
            service_type,
            source,
            dest,
            esm_class,
            protocol_id,
            priority_flag,
            schedule_delivery_time,
            validity_period,
            registered_delivery,
            replace_if_present_flag,
            data_coding,
            sm_default_msg_id,
            short_message,
            tlvs: Tlvs::decode(r)?,
        })
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        put_cstring(out, &self.service_type, max::SERVICE_TYPE);
        self.source.encode(out, max::ADDR);
        self.dest.encode(out, max::ADDR);
        out.put_u8(self.esm_class);
        out.put_u8(self.protocol_id);
        out.put_u8(self.priority_flag);
        put_cstring(out, &self.schedule_delivery_time, max::TIME);
        put_cstring(out, &self.validity_period, max::TIME);
        out.put_u8(self.registered_delivery);
        out.put_u8(self.replace_if_present_flag);
        out.put_u8(self.data_coding);
        out.put_u8(self.sm_default_msg_id);
        // sm_length is one octet; longer data must travel in message_payload.
        let n = self.short_message.len().min(255);
        out.put_u8(n as u8);
        out.put_slice(&self.short_message[..n]);
        self.tlvs.encode(out);
    }

    /// The user data: short_message, or message_payload when short_message is empty.
    pub fn user_data(&self) -> &Bytes {
        match self.tlvs.message_payload() {
            Some(p) if self.short_message.is_empty() => p,
            _ => &self.short_message,
        }
    }

    /// Whether esm_class marks a delivery receipt (or another SMSC/intermediate notification).
    pub fn is_receipt(&self) -> bool {
        matches!((self.esm_class >> 2) & 0x0F, 0x01 | 0x02 | 0x04 | 0x08)
    }

    /// Whether esm_class has UDHI set (user data starts with a UDH).
    pub fn udhi(&self) -> bool {
        self.esm_class & 0x40 != 0
    }
}

/// submit_sm_resp, deliver_sm_resp and data_sm_resp: a message_id and (data_sm_resp) TLVs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageIdResp {
    /// The SMSC's id for the message (empty in deliver_sm_resp).
    pub message_id: String,
    /// Optional parameters (data_sm_resp only in 3.4).
    pub tlvs: Tlvs,
}

impl MessageIdResp {
    /// A response carrying `message_id`.
    pub fn new(message_id: impl Into<String>) -> Self {
        MessageIdResp {
            message_id: message_id.into(),
            tlvs: Tlvs::default(),
        }
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        // Error responses and many deliver_sm_resp have no body; read that as an empty id.
        if r.remaining() == 0 {
            return Ok(MessageIdResp::default());
        }
        Ok(MessageIdResp {
            message_id: r.cstring(max::MESSAGE_ID, "message_id")?,
            tlvs: Tlvs::decode(r)?,
        })
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        put_cstring(out, &self.message_id, max::MESSAGE_ID);
        self.tlvs.encode(out);
    }
}

/// data_sm (section 4.7.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DataSm {
    /// service_type.
    pub service_type: String,
    /// Originator (up to 64 characters).
    pub source: Address,
    /// Recipient (up to 64 characters).
    pub dest: Address,
    /// esm_class.
    pub esm_class: u8,
    /// registered_delivery.
    pub registered_delivery: u8,
    /// data_coding.
    pub data_coding: u8,
    /// Optional parameters; the text is in message_payload.
    pub tlvs: Tlvs,
}

impl DataSm {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(DataSm {
            service_type: r.cstring(max::SERVICE_TYPE, "service_type")?,
            source: Address::decode(r, max::ADDR_65, "source_addr")?,
            dest: Address::decode(r, max::ADDR_65, "destination_addr")?,
            esm_class: r.u8("esm_class")?,
            registered_delivery: r.u8("registered_delivery")?,
            data_coding: r.u8("data_coding")?,
            tlvs: Tlvs::decode(r)?,
        })
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        put_cstring(out, &self.service_type, max::SERVICE_TYPE);
        self.source.encode(out, max::ADDR_65);
        self.dest.encode(out, max::ADDR_65);
        out.put_u8(self.esm_class);
        out.put_u8(self.registered_delivery);
        out.put_u8(self.data_coding);
        self.tlvs.encode(out);
    }
}
