//! An SMSC that stalls with the window full while messages keep coming: the account's worker
//! is woken by each accept, but holds at most two claims. Before, each wake-up claimed the
//! single sends accepted since (the "urgent" lanes, though it held nothing less urgent), so a
//! stalled account took every message as it was accepted, newest first, and could hold them
//! past their lease. An OTP code still goes ahead of everything held once there is room.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use ulak_core::model::*;
use ulak_engine::{EngineConfig, Events, Health, SubmitSettings};
use ulak_store::Store;

mod common;

use common::stuck::{Stuck, leased};

/// Messages a claim takes in this test (the account's rate allows more).
const CLAIM: usize = 20;

/// A store with a funded company, an account of window 1, and (once started) its worker
/// driving a provider that answers only what the test lets through (`answers`).
struct Stalled {
    s: Store,
    c: CompanyId,
    p: ProviderAccountId,
    answers: Arc<Semaphore>,
    sent: Arc<Mutex<Vec<MessageId>>>,
    lease: Duration,
    stop: CancellationToken,
    driving: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Stalled {
    async fn new() -> Stalled {
        let dir = tempfile::tempdir().unwrap();
        let s = common::sqlite_store(dir.path()).await;
        let c = common::funded_default(&s, 10_000).await;
        let p = common::account(&s, c, |d| {
            d.window = Some(1);
            d.rate_per_sec = Some(1_000);
        })
        .await;
        Stalled {
            s,
            c,
            p,
            answers: Arc::new(Semaphore::new(0)),
            sent: Arc::default(),
            lease: EngineConfig::default().submit.lease,
            stop: CancellationToken::new(),
            driving: None,
            _dir: dir,
        }
    }

    /// Starts the account's worker; it claims what is queued (up to [`CLAIM`]).
    async fn drive(&mut self) {
        let account = self
            .s
            .get_provider_account(self.c, self.p)
            .await
            .unwrap()
            .unwrap();
        let cfg = EngineConfig {
            submit: SubmitSettings {
                owner: "stalled".into(),
                batch: CLAIM,
                lease: self.lease,
                ..EngineConfig::default().submit
            },
            idle: Duration::from_millis(20),
            ..EngineConfig::default()
        };
        let provider = Stuck {
            answers: self.answers.clone(),
            sent: self.sent.clone(),
            ..Stuck::new()
        };
        let (s, stop) = (self.s.clone(), self.stop.clone());
        self.driving = Some(tokio::spawn(async move {
            let (_events_tx, events): (_, Events) = mpsc::unbounded_channel();
            let health = Health::default();
            let provider = Box::new(provider);
            ulak_engine::drive(s, &account, provider, events, &cfg, &health, stop).await;
        }));
    }

    async fn send(&self, i: usize, class: TrafficClass) -> Message {
        let m = common::message(self.p, &format!("0532555{i:04}"), "Bekleyen").in_class(class);
        self.s
            .enqueue_message(self.c, m, None)
            .await
            .unwrap()
            .message
    }

    async fn state(&self, id: MessageId) -> Message {
        self.s
            .get_message(self.c, id)
            .await
            .unwrap()
            .unwrap()
            .message
    }

    /// Waits until `done` holds of message `id`.
    async fn until(&self, id: MessageId, what: &str, done: impl Fn(&Message) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if done(&self.state(id).await) {
                return;
            }
            assert!(Instant::now() < deadline, "{what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn held_at_least(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while leased(&self.s).await < i64::try_from(n).unwrap() {
            assert!(Instant::now() < deadline, "the loop claimed too little");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) {
        self.stop.cancel();
        if let Some(d) = self.driving {
            d.await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_account_holds_at_most_two_claims_of_single_sends() {
    let mut t = Stalled::new().await;
    for i in 0..CLAIM {
        t.send(i, TrafficClass::Transactional).await;
    }
    t.drive().await;
    // One in its (never answered) submit, the rest of the first claim waiting for the slot.
    t.held_at_least(CLAIM).await;
    // Ten claims' worth of single sends, one at a time: each wakes the worker.
    for i in CLAIM..CLAIM * 11 {
        t.send(i, TrafficClass::Transactional).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = leased(&t.s).await;
    let bound = i64::try_from(2 * CLAIM + 1).unwrap();
    assert!(held <= bound, "{held} messages held (at most {bound})");
    // An OTP code is more urgent than every single send held: it is claimed at once, ahead
    // of the two hundred single sends still queued.
    let otp = t.send(9_999, TrafficClass::Otp).await;
    t.until(otp.id, "the OTP code was not claimed", |m| {
        m.state == MessageState::Sending
    })
    .await;
    assert!(leased(&t.s).await <= bound + 1);
    let s = t.s.clone();
    t.stop().await;
    // Stopped, the worker gave back all it held but the one in its submit.
    assert!(leased(&s).await <= 1, "{} still leased", leased(&s).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_otp_code_goes_first_once_two_held_claims_leave_room() {
    let mut t = Stalled::new().await;
    for i in 0..CLAIM * 5 {
        t.send(i, TrafficClass::Campaign).await;
    }
    t.drive().await;
    t.held_at_least(CLAIM).await;
    // Single sends overtake the campaign's batch until two claims are held.
    for i in 1_000..1_000 + CLAIM * 3 {
        t.send(i, TrafficClass::Transactional).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let otp = t.send(9_999, TrafficClass::Otp).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // No room: it waits in the queue (the bound holds)...
    assert_eq!(t.state(otp.id).await.state, MessageState::Queued);
    // ...until the message in flight is answered and the next one takes the window: then it
    // is claimed with no further accept to wake the worker, and goes out next.
    t.answers.add_permits(1);
    t.until(
        otp.id,
        "the OTP code was not claimed when room opened",
        |m| m.state == MessageState::Sending,
    )
    .await;
    t.answers.add_permits(2);
    t.until(otp.id, "the OTP code did not go out next", |m| {
        m.submitted_at.is_some()
    })
    .await;
    t.stop().await;
}

/// A message held past half its lease is not sent from there: its lease may end, and another
/// claim take it, before the operator answers. Here the lease (2 s) runs out while four
/// messages wait behind one in flight, a supervisor puts them back in the queue, and the
/// worker claims them again: each of the four goes out once (before, the old copies went out
/// too). The one in flight when its lease ended may go out twice: at least once, bounded by
/// what was in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_held_past_half_their_lease_are_not_sent_from_there() {
    let mut t = Stalled::new().await;
    t.lease = Duration::from_secs(2);
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(t.send(i, TrafficClass::Transactional).await.id);
    }
    t.drive().await;
    t.held_at_least(5).await;
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    assert_eq!(t.s.requeue_expired_leases().await.unwrap(), 5);
    // Claimed again on the next wake-up (the worker holds the old copies too).
    t.s.queue_waiter(t.p).notify_one();
    t.held_at_least(5).await;
    t.answers.add_permits(100);
    for id in &ids {
        t.until(*id, "not sent", |m| m.submitted_at.is_some()).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = t.sent.lock().unwrap().clone();
    let times = |id: &MessageId| sent.iter().filter(|s| *s == id).count();
    let twice: Vec<_> = ids.iter().filter(|id| times(id) > 1).collect();
    assert!(twice.len() <= 1, "sent twice: {twice:?} ({sent:?})");
    assert!(ids.iter().all(|id| times(id) >= 1));
    t.stop().await;
}
