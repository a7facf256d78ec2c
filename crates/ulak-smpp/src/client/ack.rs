//! Answering the SMSC's deliver_sm / data_sm once the application holds what they carried.

use std::fmt;

use crate::CommandStatus;
use crate::conn::WeakWriter;
use crate::pdu::{Body, MessageIdResp, Pdu, command_id};

/// One deliver_sm (or data_sm) still waiting for its response.
pub(super) struct Target {
    /// The link it came on; answers nothing once that link is gone.
    link: WeakWriter,
    seq: u32,
    data_sm: bool,
}

impl Target {
    pub(super) fn new(link: WeakWriter, seq: u32, data_sm: bool) -> Self {
        Target { link, seq, data_sm }
    }

    fn answer(&self, accept: bool) {
        let (id, body) = match self.data_sm {
            true => (
                command_id::DATA_SM,
                Body::DataSmResp(MessageIdResp::default()),
            ),
            false => (
                command_id::DELIVER_SM,
                Body::DeliverSmResp(MessageIdResp::default()),
            ),
        };
        let pdu = match accept {
            true => Pdu::new(self.seq, body),
            // Temporary: the SMSC keeps it and delivers it again later.
            false => Pdu::error_response(id, self.seq, CommandStatus::ESME_RX_T_APPN),
        };
        // A link that is gone cannot carry the answer; the SMSC delivers it again on the
        // next bind, which is the point.
        let _ = self.link.send(pdu);
    }
}

/// The acknowledgement of one receipt or inbound message, owed to the SMSC.
///
/// [`Ack::accept`] answers ESME_ROK to every deliver_sm (or data_sm) the event was made of,
/// on the link each came from: call it only once the event is safely stored. [`Ack::reject`],
/// or dropping the `Ack` unanswered, answers ESME_RX_T_APPN, a temporary error after which
/// the SMSC delivers it again. When the link it came on has gone meanwhile, nothing is sent:
/// the SMSC delivers it again on a later bind. Either way the application may see an event
/// more than once and must treat repeats as such.
///
/// Cheap to hold and to answer: a weak handle on the link's writer and a sequence number per
/// PDU, no allocation for a single-PDU event.
#[must_use = "dropping an Ack makes the SMSC deliver the event again (ESME_RX_T_APPN)"]
pub struct Ack {
    first: Option<Target>,
    rest: Vec<Target>,
}

impl Ack {
    pub(super) fn one(target: Target) -> Ack {
        Ack {
            first: Some(target),
            rest: Vec::new(),
        }
    }

    pub(super) fn many(targets: Vec<Target>) -> Ack {
        let mut it = targets.into_iter();
        let first = it.next();
        Ack {
            first,
            rest: it.collect(),
        }
    }

    /// An `Ack` that answers nothing, for events made by hand (tests, replays).
    pub fn detached() -> Ack {
        Ack {
            first: None,
            rest: Vec::new(),
        }
    }

    /// How many PDUs this answers (one per part for a reassembled inbound message, repeats
    /// included; 0 when detached).
    pub fn pdus(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    /// The application has it: answer ESME_ROK, so the SMSC will not deliver it again.
    pub fn accept(mut self) {
        self.answer(true);
    }

    /// The application cannot take it now: answer ESME_RX_T_APPN so the SMSC delivers it
    /// again later. Dropping the `Ack` does the same.
    pub fn reject(mut self) {
        self.answer(false);
    }

    fn answer(&mut self, accept: bool) {
        if let Some(t) = self.first.take() {
            t.answer(accept);
        }
        for t in std::mem::take(&mut self.rest) {
            t.answer(accept);
        }
    }
}

impl Drop for Ack {
    fn drop(&mut self) {
        self.answer(false);
    }
}

impl fmt::Debug for Ack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seqs: Vec<u32> = self.first.iter().chain(&self.rest).map(|t| t.seq).collect();
        f.debug_struct("Ack").field("sequences", &seqs).finish()
    }
}
