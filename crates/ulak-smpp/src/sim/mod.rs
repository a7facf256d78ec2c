//! SMSC simulator: a real SMPP 3.4 server on TCP for tests, benchmarks and `ulak smsc-sim`.
//!
//! It checks credentials, answers submits with unique ids, sends receipts after a delay with
//! a configurable outcome mix, throttles above a rate, injects inbound messages (concatenated
//! too) and drops links on demand, and counts everything so callers can assert on it.
//!
//! Like a real SMSC it keeps every deliver_sm it sent (receipt or inbound) until the ESME
//! answers it with ESME_ROK: an error answer, or the link closing with it unanswered, puts it
//! back to be delivered again after `redeliver_delay`, on any receiver link of the account.
//! One copy is outstanding at a time, so once everything is acknowledged
//! `deliver_acked == receipts_sent + inbound_sent`.

mod build;
mod config;
mod counts;
mod segments;
mod session;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::CommandStatus;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use build::address;
pub(crate) use build::mix64;
use build::{inbound_parts, receipt_for};
pub use config::{DlrMix, Outcome, SimConfig};
use counts::AtomicCounts;
pub use counts::Counts;
pub use segments::{RefuseSegment, SegmentKey};

use crate::conn::Writer;
use crate::pdu::{Body, Pdu, ShortMessage};

/// A copy of one accepted submit (kept when `record_submits` is on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmitRecord {
    /// The id the simulator answered with.
    pub message_id: String,
    /// The system_id of the link it came on.
    pub system_id: String,
    /// The submit_sm fields (data_sm is recorded with its payload in message_payload).
    pub sm: ShortMessage,
}

/// How an injected inbound message is split when it needs several parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum InboundConcat {
    /// UDH with an 8-bit reference.
    #[default]
    Udh8,
    /// UDH with a 16-bit reference.
    Udh16,
    /// The SAR TLVs.
    Sar,
    /// One deliver_sm with the whole text in message_payload.
    Payload,
}

/// An inbound (MO) message to inject.
#[derive(Clone, Debug)]
pub struct Inject {
    /// Receiver account to deliver to; `None` for any bound receiver.
    pub system_id: Option<String>,
    /// The handset number.
    pub from: String,
    /// The short code or number it was sent to.
    pub to: String,
    /// The text.
    pub text: String,
    /// How to split it if it does not fit one part.
    pub concat: InboundConcat,
    /// Send the parts in reverse order (reassembly tests).
    pub reverse: bool,
}

/// Why the simulator could not do something.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// No receiver or transceiver link is bound for that account.
    #[error("no receiver bound for {0:?}")]
    NoReceiver(Option<String>),
    /// The text could not be encoded.
    #[error(transparent)]
    Text(#[from] ulak_text::TextError),
    /// Listening failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// deliver_sm sent on one link and not answered yet, by sequence number.
type Outstanding = Arc<Mutex<HashMap<u32, Delivery>>>;

fn lock_outstanding(o: &Outstanding) -> std::sync::MutexGuard<'_, HashMap<u32, Delivery>> {
    o.lock().unwrap_or_else(|e| e.into_inner())
}

/// How a link bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkRole {
    /// bind_transmitter: submits only.
    Transmitter,
    /// bind_receiver: receipts and inbound messages only.
    Receiver,
    /// bind_transceiver: both.
    Transceiver,
}

struct Link {
    system_id: String,
    receiver: bool,
    role: LinkRole,
    writer: Writer,
    seq: Arc<AtomicU32>,
    outstanding: Outstanding,
}

/// A deliver_sm to send (receipt or inbound) until the ESME acknowledges it.
struct Delivery {
    /// Not before this time.
    due: Instant,
    /// The account to deliver to; `None` for any receiver.
    system_id: Option<String>,
    /// Boxed: deliveries move around a lot (and come back in `Err`s).
    sm: Box<ShortMessage>,
    receipt: bool,
    /// Times sent so far.
    attempts: u32,
}

/// The (system_id, password) pairs a simulator accepts, shared with whoever adds accounts while
/// it runs (the server gives each `simulator` provider account credentials of its own, so the
/// receipts of one company's messages go only to that company's binds).
#[derive(Clone, Default)]
pub struct SimAccounts(Arc<std::sync::RwLock<HashMap<String, String>>>);

impl std::fmt::Debug for SimAccounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Passwords stay out of debug output.
        f.debug_struct("SimAccounts")
            .field("accounts", &self.read().len())
            .finish()
    }
}

impl SimAccounts {
    /// Accepts `system_id` with `password` from now on (replacing its earlier password).
    pub fn set(&self, system_id: &str, password: &str) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(system_id.to_owned(), password.to_owned());
    }

    /// Stops accepting `system_id`.
    pub fn remove(&self, system_id: &str) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(system_id);
    }

    /// How many accounts are accepted.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no account is accepted.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// The bind status for these credentials.
    fn check(&self, system_id: &str, password: &str) -> CommandStatus {
        match self.read().get(system_id) {
            None => CommandStatus::ESME_RINVSYSID,
            Some(p) if p != password => CommandStatus::ESME_RINVPASWD,
            Some(_) => CommandStatus::ESME_ROK,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, String>> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }
}

struct Shared {
    cfg: SimConfig,
    accounts: SimAccounts,
    counts: AtomicCounts,
    links: Mutex<HashMap<u64, Link>>,
    next_link: AtomicU64,
    rr: AtomicU64,
    next_id: AtomicU64,
    dlr_tx: mpsc::UnboundedSender<Delivery>,
    /// Deliveries to send again (answered with an error, or on a link that closed).
    redeliver_tx: mpsc::UnboundedSender<Delivery>,
    throttle: Mutex<(u64, u32)>,
    started: Instant,
    drop_fired: AtomicBool,
    kill: Mutex<CancellationToken>,
    root: CancellationToken,
    records: Mutex<Vec<SubmitRecord>>,
    /// Long messages seen, for [`SimConfig::refuse_segment`].
    refusals: segments::Refusals,
}

impl Shared {
    fn lock_links(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Link>> {
        // A panic while holding the lock cannot leave the map half-updated; keep serving.
        self.links.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn kill_token(&self) -> CancellationToken {
        self.kill.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn drop_all(&self) {
        let mut k = self.kill.lock().unwrap_or_else(|e| e.into_inner());
        k.cancel();
        *k = self.root.child_token();
    }

    /// Sends `d` as a deliver_sm on a receiver link of its account (round robin) and keeps it
    /// there until answered; gives it back when no such link is bound.
    fn deliver(&self, mut d: Delivery) -> Result<(), Delivery> {
        // Held throughout, so a closing link cannot drain its outstanding map between the
        // insert below and the send (it leaves the map first, under this lock).
        let links = self.lock_links();
        let mut candidates: Vec<&Link> = links
            .values()
            .filter(|l| l.receiver && d.system_id.as_deref().is_none_or(|s| s == l.system_id))
            .collect();
        candidates.sort_by_key(|l| l.seq.as_ref() as *const AtomicU32 as usize);
        let start = self.rr.fetch_add(1, Ordering::Relaxed) as usize;
        for i in 0..candidates.len() {
            let link = candidates[(start + i) % candidates.len()];
            let seq = link.seq.fetch_add(1, Ordering::Relaxed);
            let pdu = Pdu::new(seq, Body::DeliverSm((*d.sm).clone()));
            let counter = match (d.attempts, d.receipt) {
                (0, true) => &self.counts.receipts_sent,
                (0, false) => &self.counts.inbound_sent,
                _ => &self.counts.redelivered,
            };
            d.attempts += 1;
            // Tracked before it is sent, so even an immediate answer finds it.
            lock_outstanding(&link.outstanding).insert(seq, d);
            if link.writer.send(pdu) {
                counter.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            match lock_outstanding(&link.outstanding).remove(&seq) {
                Some(back) => d = back,
                // Unreachable: the link's session cannot answer a PDU it never got.
                None => return Ok(()),
            }
            d.attempts -= 1;
        }
        Err(d)
    }

    /// Puts an unacknowledged delivery back, to be sent again after `redeliver_delay`.
    fn redeliver_later(&self, mut d: Delivery) {
        d.due = Instant::now() + self.cfg.redeliver_delay;
        // Closed only when the simulator is shutting down; then there is no one to send to.
        let _ = self.redeliver_tx.send(d);
    }

    /// Whether this submit is over the configured rate (fixed one-second windows).
    fn over_rate(&self) -> bool {
        let Some(limit) = self.cfg.throttle_per_s else {
            return false;
        };
        let sec = self.started.elapsed().as_secs();
        let mut t = self.throttle.lock().unwrap_or_else(|e| e.into_inner());
        if t.0 != sec {
            *t = (sec, 0);
        }
        t.1 += 1;
        t.1 > limit
    }

    fn new_message_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        match self.cfg.hex_ids {
            true => format!("{n:x}"),
            false => n.to_string(),
        }
    }
}

/// A running simulator.
pub struct SimHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

/// Injects inbound (MO) messages into a running simulator; see [`SimHandle::injector`].
#[derive(Clone)]
pub struct Injector {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Injector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Injector").finish_non_exhaustive()
    }
}

impl Injector {
    /// As [`SimHandle::inject_inbound`].
    pub fn inject_inbound(&self, msg: &Inject) -> Result<usize, SimError> {
        let pdus = inbound_parts(msg, self.shared.next_id.load(Ordering::Relaxed) as u16)?;
        let n = pdus.len();
        for sm in pdus {
            self.inject(msg.system_id.clone(), sm)?;
        }
        Ok(n)
    }

    fn inject(&self, system_id: Option<String>, sm: ShortMessage) -> Result<(), SimError> {
        let d = Delivery {
            due: Instant::now(),
            system_id,
            sm: Box::new(sm),
            receipt: false,
            attempts: 0,
        };
        self.shared
            .deliver(d)
            .map_err(|d| SimError::NoReceiver(d.system_id))
    }
}

/// Entry point: `Simulator::start(config)`.
pub struct Simulator;

impl Simulator {
    /// Binds the listener and starts serving.
    pub async fn start(cfg: SimConfig) -> Result<SimHandle, SimError> {
        let listener = TcpListener::bind(cfg.listen).await?;
        let addr = listener.local_addr()?;
        let (dlr_tx, dlr_rx) = mpsc::unbounded_channel();
        let (redeliver_tx, redeliver_rx) = mpsc::unbounded_channel();
        let root = CancellationToken::new();
        // Ids start at a time-derived offset so two runs do not hand out the same ids.
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs() & 0xFFFF_FFFF);
        let accounts = SimAccounts::default();
        for (id, password) in &cfg.accounts {
            accounts.set(id, password);
        }
        let shared = Arc::new(Shared {
            accounts,
            cfg,
            counts: AtomicCounts::default(),
            links: Mutex::new(HashMap::new()),
            next_link: AtomicU64::new(1),
            rr: AtomicU64::new(0),
            next_id: AtomicU64::new(seed << 20),
            dlr_tx,
            redeliver_tx,
            throttle: Mutex::new((0, 0)),
            started: Instant::now(),
            drop_fired: AtomicBool::new(false),
            kill: Mutex::new(root.child_token()),
            root: root.clone(),
            records: Mutex::new(Vec::new()),
            refusals: segments::Refusals::default(),
        });
        let accept = tokio::spawn(accept_loop(shared.clone(), listener));
        let dlr = tokio::spawn(dlr_loop(shared.clone(), dlr_rx, redeliver_rx));
        tracing::info!(%addr, "SMSC simulator listening");
        Ok(SimHandle {
            shared,
            addr,
            tasks: vec![accept, dlr],
        })
    }
}

impl SimHandle {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The accounts it accepts; more can be added while it runs.
    pub fn accounts(&self) -> SimAccounts {
        self.shared.accounts.clone()
    }

    /// A snapshot of the counters.
    pub fn counts(&self) -> Counts {
        self.shared.counts.snapshot()
    }

    /// Closes every open link at once (fault injection); clients may reconnect.
    pub fn drop_connections(&self) {
        self.shared.drop_all();
    }

    /// The submits seen so far (empty unless `record_submits` is on).
    pub fn submits(&self) -> Vec<SubmitRecord> {
        self.shared
            .records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// How many times each handset got each segment of a concatenated message (UDH or SAR),
    /// from the recorded submits: empty unless `record_submits` is on. Refused submits are
    /// not counted; a segment sent twice is.
    pub fn segments_received(&self) -> std::collections::BTreeMap<SegmentKey, u32> {
        segments::tally(&self.submits())
    }

    /// Number of bound links.
    pub fn bound_links(&self) -> usize {
        self.shared.lock_links().len()
    }

    /// The bound links: system_id and how each bound, sorted.
    pub fn links(&self) -> Vec<(String, LinkRole)> {
        let mut l: Vec<(String, LinkRole)> = self
            .shared
            .lock_links()
            .values()
            .map(|l| (l.system_id.clone(), l.role))
            .collect();
        l.sort_by_key(|(s, r)| (s.clone(), *r as u8));
        l
    }

    /// Sends an inbound message as one or more deliver_sm; returns how many PDUs went out.
    /// Each is delivered again until acknowledged, like receipts.
    pub fn inject_inbound(&self, msg: &Inject) -> Result<usize, SimError> {
        self.injector().inject_inbound(msg)
    }

    /// Sends one hand-made deliver_sm to any bound receiver (tests of odd inputs); counted
    /// and redelivered as an inbound message.
    pub fn inject_raw(&self, sm: ShortMessage) -> Result<(), SimError> {
        self.injector().inject(None, sm)
    }

    /// A handle that injects inbound messages and can be shared (the server's "message from a
    /// handset" for companies on the built-in simulator), while this handle keeps the tasks.
    pub fn injector(&self) -> Injector {
        Injector {
            shared: self.shared.clone(),
        }
    }

    /// Stops listening and closes every link; returns the final counts.
    pub async fn shutdown(mut self) -> Counts {
        self.shared.root.cancel();
        for t in std::mem::take(&mut self.tasks) {
            t.abort();
            let _ = t.await;
        }
        self.shared.counts.snapshot()
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shared.root.cancel();
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let accepted = tokio::select! {
            _ = shared.root.cancelled() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, peer)) => {
                shared.counts.connections.fetch_add(1, Ordering::Relaxed);
                let id = shared.next_link.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, id, "connection");
                tokio::spawn(session::run(shared.clone(), stream, id));
            }
            Err(e) => {
                // Out of descriptors and the like: wait a little instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Sends receipts when due, and deliveries to repeat once their delay is over; parks those
/// whose account has no receiver bound yet.
async fn dlr_loop(
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<Delivery>,
    mut redeliver: mpsc::UnboundedReceiver<Delivery>,
) {
    let mut parked: Vec<Delivery> = Vec::new();
    let mut retry = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            job = rx.recv() => {
                let Some(job) = job else { return };
                // Receipts are queued in submit order with one fixed delay, so due times only
                // grow and a FIFO is enough.
                tokio::time::sleep_until(job.due.into()).await;
                if let Err(job) = shared.deliver(job) {
                    parked.push(job);
                }
            }
            Some(job) = redeliver.recv() => parked.push(job),
            _ = retry.tick(), if !parked.is_empty() => {
                let now = Instant::now();
                let mut keep = Vec::with_capacity(parked.len());
                for job in parked.drain(..) {
                    if job.due > now {
                        keep.push(job);
                    } else if let Err(job) = shared.deliver(job) {
                        keep.push(job);
                    }
                }
                parked = keep;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::build::smpp_date;
    use super::*;

    #[test]
    fn date_format() {
        // 2026-11-25 23:49 UTC
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_650_540);
        assert_eq!(smpp_date(t), "2611252349");
    }

    #[test]
    fn mix_parsing_and_prefixes() {
        let mix: DlrMix = "delivered:90,undeliverable:10,90555=rejected,9055=expired"
            .parse()
            .unwrap_or_default();
        assert_eq!(mix.pick("+905551234567", 0), Outcome::Rejected);
        assert_eq!(mix.pick("905541234567", 0), Outcome::Expired);
        let undeliv = (0..1000u64)
            .filter(|i| mix.pick("905321234567", mix64(*i)) == Outcome::Undeliverable)
            .count();
        assert!((50..150).contains(&undeliv), "{undeliv}");
        assert!("delivered:x".parse::<DlrMix>().is_err());
        assert!("teleported:1".parse::<DlrMix>().is_err());
    }
}
