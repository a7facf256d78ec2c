//! Faults between the engine and the SMSC, over real TCP: every link dropped mid-send,
//! bursts of throttling answers, and the SMSC unreachable for a minute (a proxy in front of
//! the simulator that closes everything and stops listening). The messages all end
//! delivered, none lost.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ulak_core::model::*;
use ulak_engine::{Engine, EngineConfig, SimulatorLink};

mod common;
use common::proxy::Proxy;
use ulak_smpp::sim::{SimConfig, Simulator};
use ulak_store::Store;

async fn delivered(s: &Store) -> i64 {
    s.count_messages_by_state()
        .await
        .unwrap()
        .into_iter()
        .find(|(st, _)| st == "delivered")
        .map_or(0, |(_, n)| n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drops_throttling_and_a_minute_down_lose_nothing() {
    const N: usize = 3_000;
    let downtime = Duration::from_secs(
        std::env::var("ULAK_FAULT_DOWNTIME_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(60),
    );
    let dir = tempfile::tempdir().unwrap();
    let s = common::sqlite_store(dir.path()).await;
    let sim = Simulator::start(SimConfig {
        // Throttling bursts: more than 400 submits in a second are answered ESME_RTHROTTLED.
        throttle_per_s: Some(400),
        // Every link is dropped once, mid-send, without an answer.
        drop_after_submits: Some(700),
        dlr_delay: Duration::from_millis(10),
        redeliver_delay: Duration::from_millis(200),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let proxy = Proxy::start(sim.local_addr()).await;
    let c = common::funded_default(&s, N as i64).await;
    let p = common::account(&s, c, |d| {
        d.binds = Some(2);
        d.window = Some(20);
        d.rate_per_sec = Some(10_000);
    })
    .await;
    let msgs: Vec<NewMessage> = (0..N)
        .map(|i| common::message(p, &format!("0533{i:07}"), &format!("Duyuru {i}")))
        .collect();
    s.enqueue_batch(c, None, &msgs).await.unwrap();
    let engine = Engine::start(
        s.clone(),
        EngineConfig {
            simulator: Some(SimulatorLink {
                addr: proxy.addr,
                accounts: sim.accounts(),
                injector: sim.injector(),
            }),
            refresh: Duration::from_millis(200),
            idle: Duration::from_millis(20),
            ..EngineConfig::default()
        },
    );
    // Once a third is delivered, the SMSC goes away for `downtime`.
    let deadline = Instant::now() + Duration::from_secs(120);
    while delivered(&s).await < (N / 3) as i64 {
        assert!(Instant::now() < deadline, "no progress before the outage");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    proxy.down();
    let at_outage = delivered(&s).await;
    tokio::time::sleep(downtime).await;
    let during = delivered(&s).await;
    proxy.up();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let d = delivered(&s).await;
        if d == N as i64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{d} of {N} delivered: {:?}",
            s.count_messages_by_state().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    engine.shutdown().await;
    let counts = sim.shutdown().await;
    eprintln!(
        "delivered {at_outage} before the outage, {during} after {downtime:?} down; simulator: \
         {} submits, {} throttled, {} links dropped, {} receipts redelivered",
        counts.submits, counts.throttled, counts.dropped_links, counts.redelivered
    );
    assert!(counts.throttled > 0, "throttling happened");
    assert!(counts.dropped_links > 0, "links were dropped");
    assert!(counts.submits >= N as u64);
    let states = s.count_messages_by_state().await.unwrap();
    assert_eq!(states, vec![("delivered".to_owned(), N as i64)]);
    assert_eq!(s.credit_balance(c).await.unwrap(), 0);
    // A submit whose answer was lost with its link was sent again; the SMSC's receipt for
    // the first copy matches no recorded id and is kept (listed), never dropped: one each.
    let duplicates = counts.submits as i64 - N as i64;
    assert_eq!(s.count_unmatched_receipts(c).await.unwrap(), duplicates);
}
