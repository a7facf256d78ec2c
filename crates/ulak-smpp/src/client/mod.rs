//! ESME client: several binds per account sharing one submit queue, each with a window,
//! a rate limit, keep-alive, timeouts, reconnect with backoff and throttling handling.
//!
//! Every submit handed to [`Client::enqueue`] gets exactly one outcome on its [`Pending`]:
//! a message id, a permanent rejection, a timeout (outcome unknown), or shutdown. Submits in
//! flight when a link drops are resent on another link (or reported unknown, by setting),
//! never both, so the client's own accounting neither loses nor doubles a message.
//!
//! Receipts and inbound messages reach the application as [`Event`]s, each with an [`Ack`].
//! The SMSC's deliver_sm (or data_sm) is answered only through that `Ack`: ESME_ROK when the
//! application accepts it (once it has stored it), ESME_RX_T_APPN (deliver again later) when
//! it rejects or drops it, or when nobody is listening. An inbound message reassembled from
//! several parts answers every part's PDU when it is accepted, so no part is acknowledged
//! before the whole message is safe. If the link is gone by then, nothing is answered and
//! the SMSC delivers it again on a later bind: a crash or link loss between receiving and
//! storing loses nothing, at the price of possible repeats, which the application must
//! tolerate. Only unreadable receipts are acknowledged at once (a retry would not fix them).

mod ack;
mod config;
mod connect;
mod session;
mod text;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU16, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use ack::Ack;
pub use config::{BindMode, ClientConfig, ConnectFilter, LongText};
pub use connect::{ConnectError, probe};
pub use text::TextMessage;

use crate::CommandStatus;
use crate::inbound::{InboundMessage, Reassembler};
use crate::pdu::{Body, ShortMessage};
use crate::receipt::Receipt;

/// What the SMSC (or the link) made of one submit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The SMSC refused it with this status (not a throttling one): do not retry as is.
    #[error("rejected by the SMSC: {0}")]
    Rejected(CommandStatus),
    /// Still throttled after the configured number of retries.
    #[error("still throttled after {0} retries")]
    Throttled(u32),
    /// No response in time: the SMSC may or may not have accepted it.
    #[error("no response within the timeout; outcome unknown")]
    Timeout,
    /// The link dropped while it was in flight and resending is off: outcome unknown.
    #[error("link lost while in flight; outcome unknown")]
    Unknown,
    /// The client shut down before it was sent.
    #[error("client shut down before sending")]
    Shutdown,
    /// The caller withdrew it before it was written to any link ([`Pending::outcome_unless`]):
    /// it never reached the SMSC and never will.
    #[error("withdrawn before it was sent")]
    Withdrawn,
}

/// Why a connect or bind attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    /// The TCP connection could not be made (refused, no route, name not resolved).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The TCP connection was not made within the connect timeout.
    #[error("connect timed out")]
    ConnectTimeout,
    /// The SMSC answered the bind with this error status (wrong password, unknown system
    /// ID, already bound…).
    #[error("the SMSC refused the bind: {}", described(*.0))]
    Refused(CommandStatus),
    /// The SMSC answered the bind with generic_nack.
    #[error("the SMSC answered the bind with generic_nack: {}", described(*.0))]
    GenericNack(CommandStatus),
    /// No bind_resp within the connect timeout.
    #[error("no bind_resp in time")]
    NoResponse,
    /// The SMSC closed the connection before answering the bind.
    #[error("the SMSC closed the connection before answering the bind")]
    Closed,
    /// The link failed (I/O or an unreadable PDU) before the bind_resp.
    #[error("link error before the bind_resp: {0}")]
    Link(String),
    /// Neither bound nor failed within the time [`Client::wait_bound_or_failed`] was given.
    #[error("not bound within {0:?}")]
    Timeout(Duration),
}

impl BindError {
    /// Whether the SMSC answered and said no: binding again as is will not help.
    pub fn is_refusal(&self) -> bool {
        matches!(self, BindError::Refused(_) | BindError::GenericNack(_))
    }
}

/// `ESME_RINVPASWD (0x0000000E): Invalid password`.
fn described(s: CommandStatus) -> String {
    match s.description() {
        Some(d) => format!("{s}: {}", d.trim_end_matches('.')),
        None => s.to_string(),
    }
}

/// A successful submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// The SMSC's message id (receipts refer to it).
    pub message_id: String,
    /// Times it was sent (more than 1 after throttling or a link loss).
    pub attempts: u32,
}

/// Something the SMSC sent that the application must see, with the acknowledgement it owes
/// the SMSC: accept the [`Ack`] once the event is stored; dropping it makes the SMSC deliver
/// the event again.
#[derive(Debug)]
pub enum Event {
    /// A delivery receipt.
    Receipt(Receipt, Ack),
    /// An inbound message, reassembled (or released incomplete after the timeout); its
    /// `Ack` answers every part.
    Inbound(InboundMessage, Ack),
}

impl Event {
    /// Accepts the event without looking at it (tools and tests that only count).
    pub fn accept(self) {
        match self {
            Event::Receipt(_, ack) | Event::Inbound(_, ack) => ack.accept(),
        }
    }
}

/// A job not yet written to a link (it may still be withdrawn).
const WAITING: u8 = 0;
/// A job written to a link at least once (its outcome must be awaited).
const WRITTEN: u8 = 1;
/// A job its caller withdrew before it was written (never sent).
const WITHDRAWN: u8 = 2;

/// The outcome of one enqueued submit, to await.
#[derive(Debug)]
pub struct Pending(
    oneshot::Receiver<Result<Submitted, SubmitError>>,
    Arc<AtomicU8>,
);

impl Pending {
    /// Waits for the outcome.
    pub async fn outcome(self) -> Result<Submitted, SubmitError> {
        // A dropped sender means the job was dropped without an answer, which the workers
        // never do on purpose; report it as unknown rather than panic.
        self.0.await.unwrap_or(Err(SubmitError::Unknown))
    }

    /// Waits for the outcome; if `give_up` ends first and the submit was never written to a
    /// link, withdraws it ([`SubmitError::Withdrawn`]: it will not be sent). One already
    /// written cannot be taken back (the SMSC may have it), so its outcome is awaited as
    /// usual. The check and the link's write exclude each other, so a withdrawn submit is
    /// certain never to have reached the SMSC.
    pub async fn outcome_unless(
        self,
        give_up: impl std::future::Future<Output = ()>,
    ) -> Result<Submitted, SubmitError> {
        let Pending(mut rx, state) = self;
        tokio::select! {
            r = &mut rx => return r.unwrap_or(Err(SubmitError::Unknown)),
            () = give_up => {}
        }
        if state
            .compare_exchange(WAITING, WITHDRAWN, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return Err(SubmitError::Withdrawn);
        }
        rx.await.unwrap_or(Err(SubmitError::Unknown))
    }
}

/// Counters of a client, all links together.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClientStats {
    /// Successful binds (first and after reconnects).
    pub binds: u64,
    /// Failed connect or bind attempts.
    pub bind_failures: u64,
    /// Links lost (closed by the peer, I/O error, dead peer).
    pub link_losses: u64,
    /// Links declared dead for lack of any PDU (enquire_link unanswered).
    pub dead_peers: u64,
    /// Submits answered with ESME_ROK.
    pub submitted: u64,
    /// Submits permanently rejected.
    pub rejected: u64,
    /// Throttling answers received (ESME_RTHROTTLED, ESME_RMSGQFUL).
    pub throttled: u64,
    /// Submits reported as timed out.
    pub timeouts: u64,
    /// Submits resent after a link loss.
    pub resent: u64,
    /// Receipts received.
    pub receipts: u64,
    /// Inbound parts received.
    pub inbound_parts: u64,
    /// enquire_link sent.
    pub enquire_links: u64,
    /// Malformed PDUs received.
    pub malformed: u64,
}

#[derive(Default)]
struct Stats {
    binds: AtomicU64,
    bind_failures: AtomicU64,
    link_losses: AtomicU64,
    dead_peers: AtomicU64,
    submitted: AtomicU64,
    rejected: AtomicU64,
    throttled: AtomicU64,
    timeouts: AtomicU64,
    resent: AtomicU64,
    receipts: AtomicU64,
    inbound_parts: AtomicU64,
    enquire_links: AtomicU64,
    malformed: AtomicU64,
}

impl Stats {
    fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> ClientStats {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ClientStats {
            binds: g(&self.binds),
            bind_failures: g(&self.bind_failures),
            link_losses: g(&self.link_losses),
            dead_peers: g(&self.dead_peers),
            submitted: g(&self.submitted),
            rejected: g(&self.rejected),
            throttled: g(&self.throttled),
            timeouts: g(&self.timeouts),
            resent: g(&self.resent),
            receipts: g(&self.receipts),
            inbound_parts: g(&self.inbound_parts),
            enquire_links: g(&self.enquire_links),
            malformed: g(&self.malformed),
        }
    }
}

/// One submit waiting to be sent or answered.
struct Job {
    body: Body,
    /// [`WAITING`], [`WRITTEN`] or [`WITHDRAWN`], shared with its [`Pending`].
    state: Arc<AtomicU8>,
    reply: oneshot::Sender<Result<Submitted, SubmitError>>,
    attempts: u32,
    throttle_retries: u32,
}

impl Job {
    /// Marks the job as written, unless its caller withdrew it (then `false`: drop it).
    fn claim_for_writing(&self) -> bool {
        match self
            .state
            .compare_exchange(WAITING, WRITTEN, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => true,
            Err(current) => current == WRITTEN,
        }
    }

    fn finish(self, r: Result<Submitted, SubmitError>) {
        // The caller may have stopped waiting; that is its choice, not an error here.
        let _ = self.reply.send(r);
    }
}

/// State the workers share.
struct Shared {
    cfg: ClientConfig,
    jobs: Mutex<mpsc::Receiver<Job>>,
    events: mpsc::UnboundedSender<Event>,
    /// Parts waiting for the rest of their message, each with the PDU to answer.
    reassembler: std::sync::Mutex<Reassembler<ack::Target>>,
    stats: Stats,
    bound_tx: watch::Sender<usize>,
    /// The last failed connect or bind.
    bind_error: watch::Sender<Option<BindError>>,
    stop: CancellationToken,
    /// Jobs to send again (throttled, or in flight on a lost link), ahead of the queue.
    retry: std::sync::Mutex<VecDeque<Job>>,
    retry_notify: Notify,
}

impl Shared {
    fn requeue_front(&self, jobs: Vec<Job>) {
        let mut r = self.retry.lock().unwrap_or_else(|e| e.into_inner());
        for job in jobs.into_iter().rev() {
            r.push_front(job);
        }
        drop(r);
        self.retry_notify.notify_one();
    }

    fn take_retries(&self, room: usize) -> Option<Vec<Job>> {
        let mut r = self.retry.lock().unwrap_or_else(|e| e.into_inner());
        if r.is_empty() {
            return None;
        }
        let n = room.min(r.len());
        Some(r.drain(..n).collect())
    }
}

/// A running ESME client.
pub struct Client {
    shared: Arc<Shared>,
    /// `None` only once `shutdown` has taken it.
    jobs: Option<mpsc::Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
    reference: AtomicU16,
}

impl Drop for Client {
    /// Dropping without `shutdown` stops the binds at once (no unbind, no draining).
    fn drop(&mut self) {
        self.shared.stop.cancel();
    }
}

impl Client {
    /// Starts the binds in the background; events (receipts, inbound) arrive on the receiver.
    pub fn start(cfg: ClientConfig) -> (Client, mpsc::UnboundedReceiver<Event>) {
        let (jobs_tx, jobs_rx) = mpsc::channel(cfg.queue_capacity.max(1));
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (bound_tx, _) = watch::channel(0);
        let (bind_error, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            reassembler: std::sync::Mutex::new(Reassembler::tagged(cfg.reassembly_timeout)),
            cfg,
            jobs: Mutex::new(jobs_rx),
            events: events_tx,
            stats: Stats::default(),
            bound_tx,
            bind_error,
            stop: CancellationToken::new(),
            retry: std::sync::Mutex::new(VecDeque::new()),
            retry_notify: Notify::new(),
        });
        let n = shared.cfg.binds.max(1);
        let roles: Vec<session::Role> = match shared.cfg.bind_mode {
            BindMode::Transceiver => vec![session::Role::Transceiver; n],
            BindMode::TransmitterReceiver => (0..n)
                .flat_map(|_| [session::Role::Transmitter, session::Role::Receiver])
                .collect(),
            BindMode::Transmitter => vec![session::Role::Transmitter; n],
        };
        let mut workers: Vec<JoinHandle<()>> = roles
            .into_iter()
            .enumerate()
            .map(|(i, role)| tokio::spawn(session::worker(shared.clone(), i, role)))
            .collect();
        workers.push(tokio::spawn(expire_loop(shared.clone())));
        // Concatenation references start at a varying value so two runs do not reuse them.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as u16)
            ^ std::process::id() as u16;
        (
            Client {
                shared,
                jobs: Some(jobs_tx),
                workers,
                reference: AtomicU16::new(seed),
            },
            events_rx,
        )
    }

    /// Waits until at least one link that can submit is bound.
    pub async fn wait_bound(&self, timeout: Duration) -> bool {
        let mut rx = self.shared.bound_tx.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|n| *n > 0))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Waits until a link that can submit is bound, or until a connect or bind attempt
    /// fails, whichever comes first, and says why in the second case: for tools that should
    /// report a refused bind (a wrong password) at once rather than keep retrying.
    pub async fn wait_bound_or_failed(&self, timeout: Duration) -> Result<(), BindError> {
        let mut bound = self.shared.bound_tx.subscribe();
        let mut failed = self.shared.bind_error.subscribe();
        let outcome = async {
            loop {
                if *bound.borrow_and_update() > 0 {
                    return Ok(());
                }
                if let Some(e) = failed.borrow_and_update().clone() {
                    return Err(e);
                }
                // The senders live as long as the client, so neither wait ends in an error.
                tokio::select! {
                    _ = bound.changed() => {}
                    _ = failed.changed() => {}
                }
            }
        };
        tokio::time::timeout(timeout, outcome)
            .await
            .unwrap_or(Err(BindError::Timeout(timeout)))
    }

    /// How many links that can submit are bound now.
    pub fn bound_links(&self) -> usize {
        *self.shared.bound_tx.borrow()
    }

    /// The last failed connect or bind attempt, if there was one.
    pub fn last_bind_error(&self) -> Option<BindError> {
        self.shared.bind_error.borrow().clone()
    }

    /// Queues one submit_sm (or data_sm) body; waits only while the queue is full.
    pub async fn enqueue(&self, body: Body) -> Result<Pending, SubmitError> {
        let (tx, rx) = oneshot::channel();
        let state = Arc::new(AtomicU8::new(WAITING));
        let job = Job {
            body,
            state: Arc::clone(&state),
            reply: tx,
            attempts: 0,
            throttle_retries: 0,
        };
        let jobs = self.jobs.as_ref().ok_or(SubmitError::Shutdown)?;
        jobs.send(job).await.map_err(|_| SubmitError::Shutdown)?;
        Ok(Pending(rx, state))
    }

    /// Submits one short message and waits for its outcome.
    pub async fn submit(&self, sm: ShortMessage) -> Result<Submitted, SubmitError> {
        self.enqueue(Body::SubmitSm(sm)).await?.outcome().await
    }

    /// Queues a text as its segments (UDH, message_payload or SAR, by `long_text`).
    pub async fn send_text(&self, msg: &TextMessage) -> Result<Vec<Pending>, ulak_text::TextError> {
        let reference = self.reference.fetch_add(1, Ordering::Relaxed);
        let bodies = self.text_submits(msg, reference)?;
        let mut out = Vec::with_capacity(bodies.len());
        for b in bodies {
            match self.enqueue(b).await {
                Ok(p) => out.push(p),
                Err(e) => {
                    let (tx, rx) = oneshot::channel();
                    let _ = tx.send(Err(e));
                    out.push(Pending(rx, Arc::new(AtomicU8::new(WRITTEN))));
                }
            }
        }
        Ok(out)
    }

    /// The submit_sm bodies of a text, one per part in segment order (UDH, message_payload
    /// or SAR, by `long_text`), with the concatenation `reference` given, not queued: for a
    /// caller that sends a long message's parts itself, such as resending only the parts an
    /// earlier try did not get through, under the reference of that try. The same text,
    /// settings and reference give the same bodies.
    pub fn text_submits(
        &self,
        msg: &TextMessage,
        reference: u16,
    ) -> Result<Vec<Body>, ulak_text::TextError> {
        text::submits(&self.shared.cfg, msg, reference)
    }

    /// Counters so far.
    pub fn stats(&self) -> ClientStats {
        self.shared.stats.snapshot()
    }

    /// Stops taking new submits, waits for every window to drain, unbinds, and fails what
    /// was still queued with [`SubmitError::Shutdown`].
    pub async fn shutdown(mut self) -> ClientStats {
        let shared = self.shared.clone();
        drop(self.jobs.take());
        shared.stop.cancel();
        for w in std::mem::take(&mut self.workers) {
            let _ = w.await;
        }
        let mut rx = shared.jobs.lock().await;
        while let Ok(job) = rx.try_recv() {
            job.finish(Err(SubmitError::Shutdown));
        }
        while let Some(v) = shared.take_retries(usize::MAX) {
            for job in v {
                job.finish(Err(SubmitError::Shutdown));
            }
        }
        shared.stats.snapshot()
    }
}

/// Releases inbound messages whose parts did not all arrive in time.
async fn expire_loop(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = shared.stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let late = shared
            .reassembler
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .expire_tagged(Instant::now());
        for (m, targets) in late {
            tracing::warn!(source = %m.source, parts = m.parts, "inbound message incomplete after timeout");
            // Nobody listening: the event comes back and dropping it answers ESME_RX_T_APPN.
            let _ = shared.events.send(Event::Inbound(m, Ack::many(targets)));
        }
    }
}
