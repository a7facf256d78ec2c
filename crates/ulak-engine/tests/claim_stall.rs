//! A claim under way never holds the store's writer against its own loop. A claim that had
//! begun its transaction, left unpolled while the submit loop gave back what it held (its
//! account just went down), kept SQLite's one writer connection: the give-back waited for
//! it, and so did every accept and every other write of the node, until the pool's 30 s
//! timeout. Here the claim is made to wait inside its transaction (the test holds the
//! database's write lock), the account goes down, the lock is let go: the node must write
//! again at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::Connection;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use ulak_engine::{EngineConfig, Events, Health, SubmitSettings};

mod common;

use common::stuck::{Stuck, leased};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_under_way_does_not_stall_the_node_when_its_account_goes_down() {
    let dir = tempfile::tempdir().unwrap();
    let s = common::sqlite_store(dir.path()).await;
    let c = common::funded_default(&s, 100).await;
    let p = common::account(&s, c, |d| {
        d.window = Some(1);
        d.rate_per_sec = Some(1_000);
    })
    .await;
    let account = s.get_provider_account(c, p).await.unwrap().unwrap();
    for i in 0..20 {
        let m = common::message(p, &format!("0532555{i:04}"), "Bekleyen");
        s.enqueue_message(c, m, None).await.unwrap();
    }
    let paused = Arc::new(AtomicBool::new(false));
    let (_events_tx, events): (_, Events) = mpsc::unbounded_channel();
    let cfg = EngineConfig {
        submit: SubmitSettings {
            owner: "stall-test".into(),
            ..EngineConfig::default().submit
        },
        idle: Duration::from_millis(20),
        ..EngineConfig::default()
    };
    let stop = CancellationToken::new();
    let driving = {
        let (s, stop, paused) = (s.clone(), stop.clone(), paused.clone());
        tokio::spawn(async move {
            let provider = Box::new(Stuck {
                paused,
                ..Stuck::new()
            });
            let health = Health::default();
            ulak_engine::drive(s, &account, provider, events, &cfg, &health, stop).await;
        })
    };
    // One message in its (never answered) submit, more claimed and waiting for the slot.
    let deadline = Instant::now() + Duration::from_secs(20);
    while leased(&s).await < 2 {
        assert!(Instant::now() < deadline, "the loop claimed nothing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The database's write lock held from outside: the next claim waits inside its
    // transaction. A wake-up starts one (the loop holds messages, so it claims the urgent
    // lanes).
    let url = format!("sqlite://{}", dir.path().join("engine.db").display());
    let mut outside = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut outside)
        .await
        .unwrap();
    let wake = s.queue_waiter(p);
    wake.notify_one();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The account goes down: the loop gives back what it holds (woken again to see it).
    paused.store(true, Ordering::SeqCst);
    wake.notify_one();
    tokio::time::sleep(Duration::from_millis(300)).await;
    sqlx::query("ROLLBACK").execute(&mut outside).await.unwrap();
    outside.close().await.unwrap();

    // The node writes again at once: an accept goes through, and what the loop held but
    // had not submitted is given back (only the one in its submit stays leased).
    let accept = s.enqueue_message(c, common::message(p, "05325559999", "Yeni"), None);
    let accepted = tokio::time::timeout(Duration::from_secs(10), accept).await;
    assert!(
        matches!(accepted, Ok(Ok(_))),
        "the accept waited on a claim nobody polled: {accepted:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while leased(&s).await > 1 {
        assert!(
            Instant::now() < deadline,
            "{} messages still leased",
            leased(&s).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    driving.await.unwrap();
}
