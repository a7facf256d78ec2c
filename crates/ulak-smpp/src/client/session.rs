//! One bind: connect, bind, then a loop over the socket, the submit queue and the timers.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::ack::{Ack, Target};
use super::connect::connect;
use super::{BindError, Event, Job, Shared, Stats, SubmitError, Submitted};
use crate::CommandStatus;
use crate::conn::{Reader, Writer};
use crate::inbound::decode_part;
use crate::pdu::{Bind, Body, Pdu, ShortMessage};
use crate::receipt::Receipt;

/// What a link is bound as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    Transceiver,
    Transmitter,
    Receiver,
}

impl Role {
    fn submits(self) -> bool {
        self != Role::Receiver
    }

    pub(super) fn bind(self, b: Bind) -> Body {
        match self {
            Role::Transceiver => Body::BindTransceiver(b),
            Role::Transmitter => Body::BindTransmitter(b),
            Role::Receiver => Body::BindReceiver(b),
        }
    }
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// Unbound on request: the worker stops.
    Stopped,
    /// The link failed: the worker reconnects.
    Lost,
}

/// Keeps one bind up until the client stops: connect, bind, serve, back off, repeat.
pub(super) async fn worker(shared: Arc<Shared>, index: usize, role: Role) {
    let mut failures: u32 = 0;
    loop {
        let connected = tokio::select! {
            _ = shared.stop.cancelled() => break,
            c = connect(&shared.cfg, role) => c,
        };
        match connected {
            Ok((reader, writer, wtask)) => {
                failures = 0;
                Stats::inc(&shared.stats.binds);
                tracing::info!(index, ?role, addr = %shared.cfg.addr, "bound");
                if role.submits() {
                    shared.bound_tx.send_modify(|n| *n += 1);
                }
                let end = Session::new(shared.clone(), role, reader, writer, wtask)
                    .run()
                    .await;
                if role.submits() {
                    shared.bound_tx.send_modify(|n| *n = n.saturating_sub(1));
                }
                if end == End::Stopped {
                    break;
                }
                Stats::inc(&shared.stats.link_losses);
                tracing::warn!(index, ?role, "link lost; reconnecting");
            }
            Err(e) => {
                Stats::inc(&shared.stats.bind_failures);
                tracing::warn!(index, ?role, error = %e, "connect/bind failed");
                shared.bind_error.send_replace(Some(BindError::from(e)));
            }
        }
        failures = failures.saturating_add(1);
        let delay = backoff(&shared, failures, index);
        tokio::select! {
            _ = shared.stop.cancelled() => break,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// Exponential backoff with "equal jitter": half fixed, half random, so a fleet of binds
/// dropped together does not reconnect in lockstep.
fn backoff(shared: &Shared, failures: u32, index: usize) -> Duration {
    let cfg = &shared.cfg;
    let exp = cfg
        .reconnect_min
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let d = exp.min(cfg.reconnect_max);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos() as u64);
    let r = crate::sim::mix64(nanos ^ index as u64);
    let half = d / 2;
    half + Duration::from_nanos(r % (half.as_nanos() as u64).max(1))
}

struct Session {
    shared: Arc<Shared>,
    role: Role,
    reader: Reader,
    writer: Writer,
    wtask: JoinHandle<()>,
    seq: u32,
    inflight: HashMap<u32, Job>,
    /// (response deadline, sequence) in send order; answered entries are skipped lazily.
    order: VecDeque<(Instant, u32)>,
    last_rx: Instant,
    enquire: Option<u32>,
    paused_until: Option<Instant>,
    throttle_backoff: Duration,
    next_send: Instant,
    interval: Option<Duration>,
    draining: bool,
    /// When a draining link stops waiting for answers.
    drain_until: Option<Instant>,
    jobs_closed: bool,
    unbind: Option<(u32, Instant)>,
}

/// How far ahead of its pace a rate-limited link may send: nothing below 200 submits/s
/// (one at a time, as configured), 5 ms worth of submits above.
fn burst_tolerance(interval: Duration) -> Duration {
    if interval < Duration::from_millis(5) {
        Duration::from_millis(5)
    } else {
        Duration::ZERO
    }
}

impl Session {
    fn new(
        shared: Arc<Shared>,
        role: Role,
        reader: Reader,
        writer: Writer,
        wtask: JoinHandle<()>,
    ) -> Self {
        let now = Instant::now();
        let interval = shared
            .cfg
            .rate_per_s
            .filter(|r| *r > 0.0)
            .map(|r| Duration::from_secs_f64(1.0 / r));
        let throttle_backoff = shared.cfg.throttle_backoff_min;
        Session {
            shared,
            role,
            reader,
            writer,
            wtask,
            seq: 1,
            inflight: HashMap::new(),
            order: VecDeque::new(),
            last_rx: now,
            enquire: None,
            paused_until: None,
            throttle_backoff,
            next_send: now,
            interval,
            draining: false,
            drain_until: None,
            jobs_closed: false,
            unbind: None,
        }
    }

    fn next_seq(&mut self) -> u32 {
        // Sequence numbers run 1..=0x7FFFFFFF (section 3.2).
        self.seq = if self.seq >= 0x7FFF_FFFF {
            1
        } else {
            self.seq + 1
        };
        self.seq
    }

    /// How many submits may go out now.
    fn room(&self, now: Instant) -> usize {
        let cfg = &self.shared.cfg;
        if !self.role.submits() || self.draining || self.jobs_closed {
            return 0;
        }
        if self.paused_until.is_some_and(|p| p > now) {
            return 0;
        }
        let free = cfg.window.max(1).saturating_sub(self.inflight.len());
        match self.interval {
            Some(iv) => {
                // Paced by "virtual scheduling": each submit moves `next_send` on by one
                // interval, and may go while `next_send` is at most a small tolerance ahead.
                // Above 200/s the tolerance is 5 ms, so several go per wake-up: the timer's
                // 1 ms resolution would otherwise cap a link at about 1,000 submits/s
                // whatever its rate.
                let tol = burst_tolerance(iv);
                let base = self.next_send.max(now);
                if base > now + tol {
                    return 0;
                }
                let ahead = (now + tol).duration_since(base);
                let n = ahead.as_nanos() / iv.as_nanos().max(1) + 1;
                free.min(usize::try_from(n).unwrap_or(usize::MAX))
            }
            None => free,
        }
    }

    fn next_wake(&self, now: Instant) -> Instant {
        let cfg = &self.shared.cfg;
        let mut wake = now + Duration::from_secs(1);
        let mut at = |t: Instant| wake = wake.min(t);
        if let Some((d, _)) = self.order.front() {
            at(*d);
        }
        if self.enquire.is_none() {
            at(self.last_rx + cfg.enquire_link_interval);
        }
        at(self.last_rx + cfg.dead_peer_timeout);
        if let Some(p) = self.paused_until {
            at(p);
        }
        if self.interval.is_some() && self.inflight.len() < cfg.window {
            let tol = self.interval.map_or(Duration::ZERO, burst_tolerance);
            at(self.next_send.checked_sub(tol).unwrap_or(self.next_send));
        }
        if let Some((_, d)) = self.unbind {
            at(d);
        }
        if let Some(d) = self.drain_until {
            at(d);
        }
        wake.max(now)
    }

    async fn run(mut self) -> End {
        let shared = self.shared.clone();
        loop {
            let now = Instant::now();
            if let Some(end) = self.timers(now) {
                return self.finish(end).await;
            }
            if self.draining && self.inflight.is_empty() && self.unbind.is_none() {
                let seq = self.next_seq();
                self.writer.send(Pdu::new(seq, Body::Unbind));
                self.unbind = Some((seq, now + shared.cfg.unbind_timeout));
            }
            let room = self.room(now);
            let wake = self.next_wake(now);
            tokio::select! {
                biased;
                _ = shared.stop.cancelled(), if !self.draining => {
                    self.draining = true;
                    self.drain_until = Some(Instant::now() + shared.cfg.drain_timeout);
                }
                item = self.reader.next() => {
                    self.last_rx = Instant::now();
                    match item {
                        Ok(Some(Ok(pdu))) => {
                            if let Some(end) = self.on_pdu(pdu) {
                                return self.finish(end).await;
                            }
                        }
                        Ok(Some(Err(e))) => {
                            Stats::inc(&shared.stats.malformed);
                            tracing::warn!(error = %e, "malformed PDU from SMSC");
                            if let Some(resp) = e.response() {
                                self.writer.send(resp);
                            }
                        }
                        Ok(None) => return self.finish(End::Lost).await,
                        Err(e) => {
                            tracing::warn!(error = %e, "link error");
                            return self.finish(End::Lost).await;
                        }
                    }
                }
                jobs = take_jobs(&shared, room), if room > 0 => match jobs {
                    Some(jobs) => {
                        let now = Instant::now();
                        for job in jobs {
                            self.send_job(job, now);
                        }
                    }
                    None => self.jobs_closed = true,
                },
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
        }
    }

    fn send_job(&mut self, mut job: Job, now: Instant) {
        if !job.claim_for_writing() {
            job.finish(Err(SubmitError::Withdrawn));
            return;
        }
        let seq = self.next_seq();
        job.attempts += 1;
        // A failed send means the link is gone; the reader notices and the job is requeued
        // from `inflight` with the others.
        self.writer.send(Pdu::new(seq, job.body.clone()));
        self.inflight.insert(seq, job);
        self.order
            .push_back((now + self.shared.cfg.response_timeout, seq));
        if let Some(iv) = self.interval {
            self.next_send = self.next_send.max(now) + iv;
        }
    }

    /// Response timeouts, keep-alive, dead peer, unbind timeout.
    fn timers(&mut self, now: Instant) -> Option<End> {
        let cfg = &self.shared.cfg;
        while let Some(&(deadline, seq)) = self.order.front() {
            if !self.inflight.contains_key(&seq) {
                self.order.pop_front();
                continue;
            }
            if deadline > now {
                break;
            }
            self.order.pop_front();
            if let Some(job) = self.inflight.remove(&seq) {
                Stats::inc(&self.shared.stats.timeouts);
                tracing::warn!(seq, "submit response timeout; outcome unknown");
                job.finish(Err(SubmitError::Timeout));
            }
        }
        if now.duration_since(self.last_rx) >= cfg.dead_peer_timeout {
            Stats::inc(&self.shared.stats.dead_peers);
            tracing::warn!("no PDU from the SMSC within the dead-peer timeout");
            return Some(End::Lost);
        }
        if self.enquire.is_none() && now.duration_since(self.last_rx) >= cfg.enquire_link_interval {
            let seq = self.next_seq();
            self.writer.send(Pdu::new(seq, Body::EnquireLink));
            self.enquire = Some(seq);
            Stats::inc(&self.shared.stats.enquire_links);
        }
        if self.paused_until.is_some_and(|p| p <= now) {
            self.paused_until = None;
        }
        if self.unbind.is_some_and(|(_, d)| d <= now) {
            return Some(End::Stopped);
        }
        if self.unbind.is_none() && self.drain_until.is_some_and(|d| d <= now) {
            tracing::warn!(
                unanswered = self.inflight.len(),
                "stopping without the answers to every submit"
            );
            return Some(End::Stopped);
        }
        None
    }

    fn on_pdu(&mut self, pdu: Pdu) -> Option<End> {
        let seq = pdu.sequence;
        match pdu.body {
            Body::SubmitSmResp(r) | Body::DataSmResp(r) => {
                self.on_response(seq, pdu.status, r.message_id)
            }
            Body::SubmitMultiResp(r) => self.on_response(seq, pdu.status, r.message_id),
            Body::GenericNack => {
                if self.enquire == Some(seq) {
                    self.enquire = None;
                } else if self.inflight.contains_key(&seq) {
                    self.on_response(seq, pdu.status, String::new());
                } else {
                    tracing::warn!(seq, status = %pdu.status, "generic_nack");
                }
            }
            Body::EnquireLinkResp => {
                if self.enquire == Some(seq) {
                    self.enquire = None;
                }
            }
            Body::EnquireLink => {
                self.writer.send(Pdu::new(seq, Body::EnquireLinkResp));
            }
            Body::DeliverSm(sm) => self.on_deliver(seq, sm, false),
            Body::DataSm(d) => {
                let sm = ShortMessage {
                    service_type: d.service_type,
                    source: d.source,
                    dest: d.dest,
                    esm_class: d.esm_class,
                    registered_delivery: d.registered_delivery,
                    data_coding: d.data_coding,
                    tlvs: d.tlvs,
                    ..Default::default()
                };
                self.on_deliver(seq, sm, true);
            }
            Body::Unbind => {
                self.writer.send(Pdu::new(seq, Body::UnbindResp));
                return Some(if self.draining {
                    End::Stopped
                } else {
                    End::Lost
                });
            }
            Body::UnbindResp => {
                if self.unbind.is_some_and(|(s, _)| s == seq) {
                    return Some(End::Stopped);
                }
            }
            Body::AlertNotification(a) => {
                tracing::info!(source = %a.source.addr, "alert_notification");
            }
            other => {
                let id = other.command_id();
                if id & 0x8000_0000 == 0 {
                    self.writer
                        .send(Pdu::error_response(id, seq, CommandStatus::ESME_RINVCMDID));
                }
            }
        }
        None
    }

    fn on_response(&mut self, seq: u32, status: CommandStatus, message_id: String) {
        let stats = &self.shared.stats;
        let Some(mut job) = self.inflight.remove(&seq) else {
            tracing::debug!(
                seq,
                "response for no outstanding request (late after timeout?)"
            );
            return;
        };
        if status.is_ok() {
            Stats::inc(&stats.submitted);
            self.throttle_backoff = self.shared.cfg.throttle_backoff_min;
            let attempts = job.attempts;
            job.finish(Ok(Submitted {
                message_id,
                attempts,
            }));
        } else if status.is_throttling() {
            Stats::inc(&stats.throttled);
            // Slow the whole bind down, not just this message, and retry it first.
            let now = Instant::now();
            let until = now + self.throttle_backoff;
            self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
            self.throttle_backoff =
                (self.throttle_backoff * 2).min(self.shared.cfg.throttle_backoff_max);
            job.throttle_retries += 1;
            if job.throttle_retries > self.shared.cfg.max_throttle_retries {
                let n = job.throttle_retries - 1;
                job.finish(Err(SubmitError::Throttled(n)));
            } else {
                self.shared.requeue_front(vec![job]);
            }
        } else {
            Stats::inc(&stats.rejected);
            job.finish(Err(SubmitError::Rejected(status)));
        }
    }

    /// A receipt or inbound part: handed to the application with an [`Ack`] that answers
    /// this PDU when the application accepts (or drops) it.
    fn on_deliver(&mut self, seq: u32, sm: ShortMessage, data_sm: bool) {
        let stats = &self.shared.stats;
        let target = Target::new(self.writer.downgrade(), seq, data_sm);
        // A send to a closed channel (nobody listening) hands the event back; dropping it
        // drops the Ack, which answers ESME_RX_T_APPN so the SMSC delivers it again later.
        if sm.is_receipt() {
            match Receipt::from_deliver(&sm) {
                Ok(r) => {
                    Stats::inc(&stats.receipts);
                    let _ = self.shared.events.send(Event::Receipt(r, Ack::one(target)));
                }
                Err(e) => {
                    // Nothing a retry would fix; acknowledge and keep the text in the log.
                    tracing::warn!(error = %e, text = %String::from_utf8_lossy(sm.user_data()), "unreadable receipt");
                    Ack::one(target).accept();
                }
            }
        } else {
            Stats::inc(&stats.inbound_parts);
            let part = decode_part(&sm);
            // An incomplete message keeps its parts unanswered: each is acknowledged with the
            // whole message, so a crash before that loses none of them.
            let done = self
                .shared
                .reassembler
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_tagged(part, target, Instant::now());
            if let Some((m, targets)) = done {
                let _ = self
                    .shared
                    .events
                    .send(Event::Inbound(m, Ack::many(targets)));
            }
        }
    }

    /// Settles what is still in flight and closes the link.
    async fn finish(mut self, end: End) -> End {
        let mut left: Vec<Job> = Vec::with_capacity(self.inflight.len());
        for (_, seq) in self.order.drain(..) {
            if let Some(job) = self.inflight.remove(&seq) {
                left.push(job);
            }
        }
        left.extend(self.inflight.drain().map(|(_, j)| j));
        if !left.is_empty() {
            if self.shared.cfg.resend_on_link_loss && end == End::Lost {
                for _ in &left {
                    Stats::inc(&self.shared.stats.resent);
                }
                self.shared.requeue_front(left);
            } else {
                for job in left {
                    job.finish(Err(SubmitError::Unknown));
                }
            }
        }
        match end {
            End::Stopped => {
                // Let the unbind(_resp) reach the peer before the socket closes.
                drop(self.writer);
                let _ = tokio::time::timeout(Duration::from_secs(1), self.wtask).await;
            }
            End::Lost => self.wtask.abort(),
        }
        end
    }
}

/// Up to `room` jobs: retries first, then the queue; `None` once the queue is closed.
async fn take_jobs(shared: &Shared, room: usize) -> Option<Vec<Job>> {
    loop {
        if let Some(v) = shared.take_retries(room) {
            return Some(v);
        }
        let mut rx = tokio::select! {
            g = shared.jobs.lock() => g,
            _ = shared.retry_notify.notified() => continue,
        };
        let first = tokio::select! {
            j = rx.recv() => j?,
            _ = shared.retry_notify.notified() => continue,
        };
        let mut v = Vec::with_capacity(room.min(64));
        v.push(first);
        while v.len() < room {
            match rx.try_recv() {
                Ok(j) => v.push(j),
                Err(_) => break,
            }
        }
        return Some(v);
    }
}
