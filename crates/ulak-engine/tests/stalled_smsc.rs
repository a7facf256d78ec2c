//! An SMSC that stalls with the window full while single sends keep coming: the account's
//! worker is woken by each accept, but holds at most two claims of them. Before, each wake-up
//! claimed the single sends accepted since (the "urgent" lanes, though it held nothing less
//! urgent), so a stalled account took every message as it was accepted, newest first, and
//! could hold them past their lease.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use ulak_core::model::*;
use ulak_engine::{EngineConfig, Events, Health, SubmitSettings};

mod common;

use common::stuck::{Stuck, leased};

/// Messages a claim takes in this test (the account's rate allows more).
const CLAIM: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_account_holds_at_most_two_claims_of_single_sends() {
    let dir = tempfile::tempdir().unwrap();
    let s = common::sqlite_store(dir.path()).await;
    let c = common::funded_default(&s, 1_000).await;
    let p = common::account(&s, c, |d| {
        d.window = Some(1);
        d.rate_per_sec = Some(1_000);
    })
    .await;
    let account = s.get_provider_account(c, p).await.unwrap().unwrap();
    let send = |i: usize, class: TrafficClass| {
        let m = common::message(p, &format!("0532555{i:04}"), "Bekleyen").in_class(class);
        let s = s.clone();
        async move { s.enqueue_message(c, m, None).await.unwrap().message }
    };
    for i in 0..CLAIM {
        send(i, TrafficClass::Transactional).await;
    }
    let (_events_tx, events): (_, Events) = mpsc::unbounded_channel();
    let cfg = EngineConfig {
        submit: SubmitSettings {
            owner: "stalled".into(),
            batch: CLAIM,
            ..EngineConfig::default().submit
        },
        idle: Duration::from_millis(20),
        ..EngineConfig::default()
    };
    let stop = CancellationToken::new();
    let driving = {
        let (s, stop) = (s.clone(), stop.clone());
        tokio::spawn(async move {
            let provider = Box::new(Stuck {
                paused: Arc::new(AtomicBool::new(false)),
            });
            let health = Health::default();
            ulak_engine::drive(s, &account, provider, events, &cfg, &health, stop).await;
        })
    };
    // One in its (never answered) submit, the rest of the first claim waiting for the slot.
    let deadline = Instant::now() + Duration::from_secs(20);
    while leased(&s).await < i64::try_from(CLAIM).unwrap() {
        assert!(Instant::now() < deadline, "the loop claimed nothing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Ten claims' worth of single sends, one at a time: each wakes the worker.
    for i in CLAIM..CLAIM * 11 {
        send(i, TrafficClass::Transactional).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = leased(&s).await;
    let bound = i64::try_from(2 * CLAIM + 1).unwrap();
    assert!(held <= bound, "{held} messages held (at most {bound})");
    // An OTP code is more urgent than every single send held: it is claimed at once, ahead
    // of the two hundred single sends still queued.
    let otp = send(9_999, TrafficClass::Otp).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = s.get_message(c, otp.id).await.unwrap().unwrap().message;
        if m.state == MessageState::Sending {
            break;
        }
        assert!(Instant::now() < deadline, "the OTP code was not claimed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(leased(&s).await <= bound + 1);
    stop.cancel();
    driving.await.unwrap();
    // Stopped, the worker gave back all it held but the one in its submit.
    assert!(leased(&s).await <= 1, "{} still leased", leased(&s).await);
}
