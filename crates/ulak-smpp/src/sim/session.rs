//! One simulator link: bind checks, answers, the per-link outstanding count, and the
//! deliver_sm waiting for their answer (put back for redelivery when the link closes).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::{
    Delivery, Link, Outstanding, Shared, SubmitRecord, lock_outstanding, mix64, receipt_for,
};
use crate::CommandStatus;
use crate::conn::{self, Writer};
use crate::pdu::{Bind, BindResp, Body, MessageIdResp, Pdu, QuerySmResp, ShortMessage, Tlvs, tag};

pub use super::LinkRole as Role;

struct Session {
    shared: Arc<Shared>,
    id: u64,
    writer: Writer,
    seq: Arc<AtomicU32>,
    bound: Option<(Role, String)>,
    outstanding: Arc<AtomicU64>,
    /// deliver_sm sent on this link, not answered yet.
    deliveries: Outstanding,
    delayed: Option<mpsc::UnboundedSender<(Instant, Pdu)>>,
}

/// Serves one connection until it closes, unbinds or is killed.
pub(super) async fn run(shared: Arc<Shared>, stream: TcpStream, id: u64) {
    let kill = shared.kill_token();
    let root = shared.root.clone();
    let (mut reader, writer, wtask) = conn::split(stream, shared.cfg.max_command_length);
    let outstanding = Arc::new(AtomicU64::new(0));
    let delayed = match shared.cfg.resp_delay.is_zero() {
        true => None,
        false => {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(delay_loop(rx, writer.clone(), outstanding.clone()));
            Some(tx)
        }
    };
    let mut s = Session {
        shared,
        id,
        writer,
        seq: Arc::new(AtomicU32::new(1)),
        bound: None,
        outstanding,
        deliveries: Outstanding::default(),
        delayed,
    };
    let mut killed = false;
    loop {
        let item = tokio::select! {
            _ = kill.cancelled() => { killed = true; break }
            _ = root.cancelled() => { killed = true; break }
            item = reader.next() => item,
        };
        match item {
            Ok(Some(Ok(pdu))) => {
                if !s.handle(pdu) {
                    break;
                }
            }
            Ok(Some(Err(e))) => {
                s.shared.counts.errors.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(error = %e, "malformed PDU");
                if let Some(resp) = e.response() {
                    s.writer.send(resp);
                }
            }
            Ok(None) => break,
            Err(e) => {
                s.shared.counts.errors.fetch_add(1, Ordering::Relaxed);
                if let crate::framing::FrameError::Length { sequence, .. } = e {
                    s.writer.send(Pdu::error_response(
                        crate::pdu::command_id::GENERIC_NACK,
                        sequence,
                        CommandStatus::ESME_RINVCMDLEN,
                    ));
                }
                break;
            }
        }
    }
    s.shared.lock_links().remove(&s.id);
    // Gone from the map first, so no delivery is added after this drain: whatever the ESME
    // did not acknowledge is delivered again, on this or another link.
    let unanswered: Vec<Delivery> = {
        let mut d = lock_outstanding(&s.deliveries);
        let mut v: Vec<(u32, Delivery)> = d.drain().collect();
        v.sort_by_key(|(seq, _)| *seq);
        v.into_iter().map(|(_, d)| d).collect()
    };
    for d in unanswered {
        s.shared.redeliver_later(d);
    }
    // Fault injection may have fired from inside `handle` (drop_after_submits).
    killed |= kill.is_cancelled();
    if killed {
        s.shared
            .counts
            .dropped_links
            .fetch_add(1, Ordering::Relaxed);
        wtask.abort();
    } else {
        // Let queued answers (unbind_resp, generic_nack) reach the peer before closing.
        drop(s);
        let _ = wtask.await;
    }
}

/// Sends delayed responses when due (one fixed delay, so FIFO order is due order).
async fn delay_loop(
    mut rx: mpsc::UnboundedReceiver<(Instant, Pdu)>,
    writer: Writer,
    outstanding: Arc<AtomicU64>,
) {
    while let Some((due, pdu)) = rx.recv().await {
        tokio::time::sleep_until(due.into()).await;
        outstanding.fetch_sub(1, Ordering::Relaxed);
        if !writer.send(pdu) {
            return;
        }
    }
}

impl Session {
    fn reply(&self, req: &Pdu, body: Body) {
        self.writer.send(Pdu::new(req.sequence, body));
    }

    fn error(&self, req: &Pdu, status: CommandStatus) {
        self.writer
            .send(Pdu::error_response(req.command_id(), req.sequence, status));
    }

    /// Handles one PDU; false when the link should close.
    fn handle(&mut self, pdu: Pdu) -> bool {
        let c = &self.shared.counts;
        match &pdu.body {
            Body::BindTransmitter(b) => self.bind(&pdu, b, Role::Transmitter),
            Body::BindReceiver(b) => self.bind(&pdu, b, Role::Receiver),
            Body::BindTransceiver(b) => self.bind(&pdu, b, Role::Transceiver),
            Body::EnquireLink => {
                c.enquire_links.fetch_add(1, Ordering::Relaxed);
                if self.shared.cfg.answer_enquire_link {
                    self.reply(&pdu, Body::EnquireLinkResp);
                }
            }
            Body::Unbind => {
                c.unbinds.fetch_add(1, Ordering::Relaxed);
                self.reply(&pdu, Body::UnbindResp);
                return false;
            }
            Body::SubmitSm(sm) => return self.submit(&pdu, sm.clone()),
            Body::DataSm(d) => {
                let sm = ShortMessage {
                    service_type: d.service_type.clone(),
                    source: d.source.clone(),
                    dest: d.dest.clone(),
                    esm_class: d.esm_class,
                    registered_delivery: d.registered_delivery,
                    data_coding: d.data_coding,
                    tlvs: d.tlvs.clone(),
                    ..Default::default()
                };
                return self.submit(&pdu, sm);
            }
            Body::SubmitMulti(m) => return self.submit(&pdu, m.sm.clone()),
            Body::QuerySm(q) => {
                if self.can_transmit() {
                    self.reply(
                        &pdu,
                        Body::QuerySmResp(QuerySmResp {
                            message_id: q.message_id.clone(),
                            final_date: String::new(),
                            message_state: 1,
                            error_code: 0,
                        }),
                    );
                } else {
                    self.error(&pdu, CommandStatus::ESME_RINVBNDSTS);
                }
            }
            Body::CancelSm(_) => self.reply(&pdu, Body::CancelSmResp),
            Body::ReplaceSm(_) => self.reply(&pdu, Body::ReplaceSmResp),
            Body::DeliverSmResp(_) => self.delivery_answered(pdu.sequence, pdu.status),
            Body::GenericNack if lock_outstanding(&self.deliveries).contains_key(&pdu.sequence) => {
                self.delivery_answered(pdu.sequence, pdu.status);
            }
            Body::EnquireLinkResp | Body::GenericNack | Body::UnbindResp => {}
            _ => {
                c.errors.fetch_add(1, Ordering::Relaxed);
                if pdu.command_id() & 0x8000_0000 == 0 {
                    self.error(&pdu, CommandStatus::ESME_RINVCMDID);
                }
            }
        }
        true
    }

    /// A deliver_sm answered: done when ESME_ROK, else delivered again later.
    fn delivery_answered(&self, seq: u32, status: CommandStatus) {
        let c = &self.shared.counts;
        let d = lock_outstanding(&self.deliveries).remove(&seq);
        match (d, status.is_ok()) {
            (Some(_), true) => {
                c.deliver_acked.fetch_add(1, Ordering::Relaxed);
            }
            (Some(d), false) => {
                c.deliver_nacked.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(seq, %status, "deliver_sm refused; delivering again later");
                self.shared.redeliver_later(d);
            }
            (None, _) => {
                c.errors.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(seq, %status, "deliver_sm_resp for no outstanding deliver_sm");
            }
        }
    }

    fn can_transmit(&self) -> bool {
        matches!(self.bound, Some((Role::Transmitter | Role::Transceiver, _)))
    }

    fn bind(&mut self, pdu: &Pdu, b: &Bind, role: Role) {
        let c = &self.shared.counts;
        let status = if self.bound.is_some() {
            CommandStatus::ESME_RALYBND
        } else {
            self.shared.accounts.check(&b.system_id, &b.password)
        };
        if !status.is_ok() {
            c.bind_failures.fetch_add(1, Ordering::Relaxed);
            self.error(pdu, status);
            return;
        }
        c.binds.fetch_add(1, Ordering::Relaxed);
        let mut tlvs = Tlvs::default();
        tlvs.set(tag::SC_INTERFACE_VERSION, vec![0x34]);
        let resp = BindResp {
            system_id: "ulaksim".into(),
            tlvs,
        };
        let body = match role {
            Role::Transmitter => Body::BindTransmitterResp(resp),
            Role::Receiver => Body::BindReceiverResp(resp),
            Role::Transceiver => Body::BindTransceiverResp(resp),
        };
        self.reply(pdu, body);
        self.bound = Some((role, b.system_id.clone()));
        self.shared.lock_links().insert(
            self.id,
            Link {
                system_id: b.system_id.clone(),
                receiver: role != Role::Transmitter,
                role,
                writer: self.writer.clone(),
                seq: self.seq.clone(),
                outstanding: self.deliveries.clone(),
            },
        );
    }

    /// Answers a submit; false when fault injection closes the link instead.
    fn submit(&mut self, pdu: &Pdu, sm: ShortMessage) -> bool {
        let shared = self.shared.clone();
        let c = &shared.counts;
        let Some((_, system_id)) = self.bound.clone().filter(|_| self.can_transmit()) else {
            c.errors.fetch_add(1, Ordering::Relaxed);
            self.error(pdu, CommandStatus::ESME_RINVBNDSTS);
            return true;
        };
        let n = c.submits.load(Ordering::Relaxed) + c.throttled.load(Ordering::Relaxed) + 1;
        if shared.cfg.drop_after_submits.is_some_and(|d| n >= d)
            && !shared.drop_fired.swap(true, Ordering::Relaxed)
        {
            tracing::info!(n, "fault injection: dropping every link");
            shared.drop_all();
            return false;
        }
        if shared.over_rate() {
            c.throttled.fetch_add(1, Ordering::Relaxed);
            self.error(pdu, CommandStatus::ESME_RTHROTTLED);
            return true;
        }
        if let Some(rule) = shared.cfg.refuse_segment
            && shared.refusals.refuse(rule, &system_id, &sm)
        {
            c.refused_segments.fetch_add(1, Ordering::Relaxed);
            self.error(pdu, CommandStatus::ESME_RSYSERR);
            return true;
        }
        let message_id = shared.new_message_id();
        let count = c.submits.fetch_add(1, Ordering::Relaxed);
        let body = match pdu.body {
            Body::DataSm(_) => Body::DataSmResp(MessageIdResp::new(message_id.clone())),
            Body::SubmitMulti(_) => Body::SubmitMultiResp(crate::pdu::SubmitMultiResp {
                message_id: message_id.clone(),
                unsuccess: Vec::new(),
            }),
            _ => Body::SubmitSmResp(MessageIdResp::new(message_id.clone())),
        };
        // Recorded before the answer goes out, so a caller that saw the answer sees the record.
        if shared.cfg.record_submits {
            shared
                .records
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(SubmitRecord {
                    message_id: message_id.clone(),
                    system_id: system_id.clone(),
                    sm: sm.clone(),
                });
        }
        let now_out = self.outstanding.fetch_add(1, Ordering::Relaxed) + 1;
        c.max_outstanding.fetch_max(now_out, Ordering::Relaxed);
        let resp = Pdu::new(pdu.sequence, body);
        match &self.delayed {
            Some(tx) => {
                let _ = tx.send((Instant::now() + shared.cfg.resp_delay, resp));
            }
            None => {
                self.outstanding.fetch_sub(1, Ordering::Relaxed);
                self.writer.send(resp);
            }
        }
        let wants = sm.registered_delivery & 0x03;
        if wants != 0 {
            let outcome = shared.cfg.dlr_mix.pick(&sm.dest.addr, mix64(count));
            // registered_delivery 2 asks for a receipt on failure only.
            if !(wants == 2 && outcome == super::Outcome::Delivered) {
                let _ = shared.dlr_tx.send(Delivery {
                    due: Instant::now() + shared.cfg.dlr_delay,
                    system_id: Some(system_id.clone()),
                    sm: Box::new(receipt_for(&sm, &message_id, outcome)),
                    receipt: true,
                    attempts: 0,
                });
            }
        }
        true
    }
}
