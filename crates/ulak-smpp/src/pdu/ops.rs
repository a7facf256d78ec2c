//! Bodies of the less common PDUs: submit_multi, query_sm, cancel_sm, replace_sm and
//! alert_notification (SMPP 3.4 sections 4.5, 4.8-4.10, 4.12).

use bytes::{BufMut, Bytes, BytesMut};

use super::body::{Address, ShortMessage, max};
use super::tlv::Tlvs;
use super::wire::{DecodeError, Reader, put_cstring};
use crate::CommandStatus;

/// One destination of submit_multi.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MultiDest {
    /// dest_flag 1: an SME address.
    Sme(Address),
    /// dest_flag 2: a distribution list name.
    List(String),
}

/// submit_multi (section 4.5.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubmitMulti {
    /// The common fields; `sm.dest` is unused and not encoded.
    pub sm: ShortMessage,
    /// The destinations (at most 254).
    pub dests: Vec<MultiDest>,
}

impl SubmitMulti {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let service_type = r.cstring(max::SERVICE_TYPE, "service_type")?;
        let source = Address::decode(r, max::ADDR, "source_addr")?;
        let n = r.u8("number_of_dests")?;
        // Each entry is at least 2 octets, so a count the body cannot hold is caught before
        // allocating for it.
        if usize::from(n) * 2 > r.remaining() {
            return Err(DecodeError::Invalid {
                field: "number_of_dests",
            });
        }
        let mut dests = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            match r.u8("dest_flag")? {
                1 => dests.push(MultiDest::Sme(Address::decode(
                    r,
                    max::ADDR,
                    "dest_address",
                )?)),
                2 => dests.push(MultiDest::List(r.cstring(max::DL_NAME, "dl_name")?)),
                _ => return Err(DecodeError::Invalid { field: "dest_flag" }),
            }
        }
        let mut rest = ShortMessage {
            service_type,
            source,
            ..Default::default()
        };
        rest.esm_class = r.u8("esm_class")?;
        rest.protocol_id = r.u8("protocol_id")?;
        rest.priority_flag = r.u8("priority_flag")?;
        rest.schedule_delivery_time = r.cstring(max::TIME, "schedule_delivery_time")?;
        rest.validity_period = r.cstring(max::TIME, "validity_period")?;
        rest.registered_delivery = r.u8("registered_delivery")?;
        rest.replace_if_present_flag = r.u8("replace_if_present_flag")?;
        rest.data_coding = r.u8("data_coding")?;
        rest.sm_default_msg_id = r.u8("sm_default_msg_id")?;
        let sm_length = r.u8("sm_length")?;
        rest.short_message = r.take(usize::from(sm_length), "short_message")?;
        rest.tlvs = Tlvs::decode(r)?;
        Ok(SubmitMulti { sm: rest, dests })
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        let sm = &self.sm;
        put_cstring(out, &sm.service_type, max::SERVICE_TYPE);
        sm.source.encode(out, max::ADDR);
        let n = self.dests.len().min(254);
        out.put_u8(n as u8);
        for d in &self.dests[..n] {
            match d {
                MultiDest::Sme(a) => {
                    out.put_u8(1);
                    a.encode(out, max::ADDR);
                }
                MultiDest::List(name) => {
                    out.put_u8(2);
                    put_cstring(out, name, max::DL_NAME);
                }
            }
        }
        out.put_u8(sm.esm_class);
        out.put_u8(sm.protocol_id);
        out.put_u8(sm.priority_flag);
        put_cstring(out, &sm.schedule_delivery_time, max::TIME);
        put_cstring(out, &sm.validity_period, max::TIME);
        out.put_u8(sm.registered_delivery);
        out.put_u8(sm.replace_if_present_flag);
        out.put_u8(sm.data_coding);
        out.put_u8(sm.sm_default_msg_id);
        let len = sm.short_message.len().min(255);
        out.put_u8(len as u8);
        out.put_slice(&sm.short_message[..len]);
        sm.tlvs.encode(out);
    }
}

/// One failed destination in submit_multi_resp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsuccess {
    /// The destination.
    pub addr: Address,
    /// Why it failed.
    pub error_status: CommandStatus,
}

/// submit_multi_resp (section 4.5.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubmitMultiResp {
    /// The SMSC's message id.
    pub message_id: String,
    /// Destinations that failed.
    pub unsuccess: Vec<Unsuccess>,
}

impl SubmitMultiResp {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        if r.remaining() == 0 {
            return Ok(SubmitMultiResp::default());
        }
        let message_id = r.cstring(max::MESSAGE_ID, "message_id")?;
        let n = r.u8("no_unsuccess")?;
        // Each entry is at least 7 octets.
        if usize::from(n) * 7 > r.remaining() {
            return Err(DecodeError::Invalid {
                field: "no_unsuccess",
            });
        }
        let mut unsuccess = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            let addr = Address::decode(r, max::ADDR, "unsuccess_sme")?;
            let error_status = CommandStatus(r.u32("error_status_code")?);
            unsuccess.push(Unsuccess { addr, error_status });
        }
        Ok(SubmitMultiResp {
            message_id,
            unsuccess,
        })
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        put_cstring(out, &self.message_id, max::MESSAGE_ID);
        let n = self.unsuccess.len().min(254);
        out.put_u8(n as u8);
        for u in &self.unsuccess[..n] {
            u.addr.encode(out, max::ADDR);
            out.put_u32(u.error_status.0);
        }
    }
}

/// query_sm (section 4.8.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuerySm {
    /// The message asked about.
    pub message_id: String,
    /// Its originator, as submitted.
    pub source: Address,
}

impl QuerySm {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(QuerySm {
            message_id: r.cstring(max::MESSAGE_ID, "message_id")?,
            source: Address::decode(r, max::ADDR, "source_addr")?,
        })
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        put_cstring(out, &self.message_id, max::MESSAGE_ID);
        self.source.encode(out, max::ADDR);
    }
}

/// query_sm_resp (section 4.8.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuerySmResp {
    /// The message asked about.
    pub message_id: String,
    /// When it reached a final state, or empty.
    pub final_date: String,
    /// Its state (section 5.2.28).
    pub message_state: u8,
    /// Network error code, when failed.
    pub error_code: u8,
}

impl QuerySmResp {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        if r.remaining() == 0 {
            return Ok(QuerySmResp::default());
        }
        Ok(QuerySmResp {
            message_id: r.cstring(max::MESSAGE_ID, "message_id")?,
            final_date: r.cstring(max::TIME, "final_date")?,
            message_state: r.u8("message_state")?,
            error_code: r.u8("error_code")?,
        })
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        put_cstring(out, &self.message_id, max::MESSAGE_ID);
        put_cstring(out, &self.final_date, max::TIME);
        out.put_u8(self.message_state);
        out.put_u8(self.error_code);
    }
}

/// cancel_sm (section 4.9.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CancelSm {
    /// service_type.
    pub service_type: String,
    /// The message to cancel, or empty to cancel by addresses.
    pub message_id: String,
    /// Originator.
    pub source: Address,
    /// Recipient.
    pub dest: Address,
}

impl CancelSm {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(CancelSm {
            service_type: r.cstring(max::SERVICE_TYPE, "service_type")?,
            message_id: r.cstring(max::MESSAGE_ID, "message_id")?,
            source: Address::decode(r, max::ADDR, "source_addr")?,
            dest: Address::decode(r, max::ADDR, "destination_addr")?,
        })
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        put_cstring(out, &self.service_type, max::SERVICE_TYPE);
        put_cstring(out, &self.message_id, max::MESSAGE_ID);
        self.source.encode(out, max::ADDR);
        self.dest.encode(out, max::ADDR);
    }
}

/// replace_sm (section 4.10.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplaceSm {
    /// The message to replace.
    pub message_id: String,
    /// Its originator.
    pub source: Address,
    /// New schedule_delivery_time.
    pub schedule_delivery_time: String,
    /// New validity_period.
    pub validity_period: String,
    /// New registered_delivery.
    pub registered_delivery: u8,
    /// sm_default_msg_id.
    pub sm_default_msg_id: u8,
    /// New user data.
    pub short_message: Bytes,
}

impl ReplaceSm {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let message_id = r.cstring(max::MESSAGE_ID, "message_id")?;
        let source = Address::decode(r, max::ADDR, "source_addr")?;
        let schedule_delivery_time = r.cstring(max::TIME, "schedule_delivery_time")?;
        let validity_period = r.cstring(max::TIME, "validity_period")?;
        let registered_delivery = r.u8("registered_delivery")?;
        let sm_default_msg_id = r.u8("sm_default_msg_id")?;
        let n = r.u8("sm_length")?;
        Ok(ReplaceSm {
            message_id,
            source,
            schedule_delivery_time,
            validity_period,
            registered_delivery,
            sm_default_msg_id,
            short_message: r.take(usize::from(n), "short_message")?,
        })
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        put_cstring(out, &self.message_id, max::MESSAGE_ID);
        self.source.encode(out, max::ADDR);
        put_cstring(out, &self.schedule_delivery_time, max::TIME);
        put_cstring(out, &self.validity_period, max::TIME);
        out.put_u8(self.registered_delivery);
        out.put_u8(self.sm_default_msg_id);
        let n = self.short_message.len().min(255);
        out.put_u8(n as u8);
        out.put_slice(&self.short_message[..n]);
    }
}

/// alert_notification (section 4.12.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertNotification {
    /// The MS that became available.
    pub source: Address,
    /// The ESME that asked to be alerted.
    pub esme: Address,
    /// Optional parameters (ms_availability_status).
    pub tlvs: Tlvs,
}

impl AlertNotification {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(AlertNotification {
            source: Address::decode(r, max::ADDR_65, "source_addr")?,
            esme: Address::decode(r, max::ADDR_65, "esme_addr")?,
            tlvs: Tlvs::decode(r)?,
        })
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        self.source.encode(out, max::ADDR_65);
        self.esme.encode(out, max::ADDR_65);
        self.tlvs.encode(out);
    }
}
