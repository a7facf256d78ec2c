//! Interop: a campaign's worth of messages through Ulak's SMPP provider account to a
//! third-party SMSC (node-smpp from npm, `crates/ulak-smpp/interop/node/smsc.js`), which
//! answers with decimal ids and sends delivery receipts: every message ends delivered.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use ulak_core::model::*;
use ulak_engine::{Engine, EngineConfig};

mod common;

fn missing(what: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("interop peer missing in CI: {what} (scripts/test installs it)");
    }
    eprintln!("SKIP: interop peer not installed: {what} (run scripts/test to install it)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_through_a_node_smpp_smsc_end_delivered() {
    const N: usize = 300;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ulak-smpp/interop/node");
    let node_ok = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_ok || !dir.join("node_modules/smpp/package.json").exists() {
        missing("node + npm package smpp in crates/ulak-smpp/interop/node");
        return;
    }
    let mut child = Command::new("node")
        .arg(dir.join("smsc.js"))
        .args(["0", "nodeacct", "nodepass"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = loop {
        let l = lines.next_line().await.unwrap().expect("node SMSC output");
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        if v["event"] == "listening" {
            break v["port"].as_u64().unwrap();
        }
    };
    let submits = tokio::spawn(async move {
        let mut n = 0u64;
        while let Ok(Some(l)) = lines.next_line().await {
            if l.contains("\"event\":\"submit\"") {
                n += 1;
            }
        }
        n
    });

    let tmp = tempfile::tempdir().unwrap();
    let s = common::sqlite_store(tmp.path()).await;
    let c = common::funded_default(&s, 0).await;
    s.add_credit_entry(
        c,
        NewCreditEntry::new(LedgerKind::Purchase, 1000, None).unwrap(),
    )
    .await
    .unwrap();
    let p = common::account(&s, c, |d| {
        d.name = "node".into();
        d.kind = "smpp".into();
        d.host = "127.0.0.1".into();
        d.port = u16::try_from(port).unwrap();
        d.system_id = "nodeacct".into();
        d.password = Some("nodepass".into());
        d.window = Some(10);
    })
    .await;
    let msgs: Vec<NewMessage> = (0..N)
        .map(|i| {
            common::message(
                p,
                &format!("0534{i:07}"),
                &format!("Sayın müşterimiz, kampanya {i} başladı."),
            )
        })
        .collect();
    s.enqueue_batch(c, None, &msgs).await.unwrap();
    let engine = Engine::start(
        s.clone(),
        EngineConfig {
            refresh: Duration::from_millis(200),
            idle: Duration::from_millis(20),
            // The node SMSC listens on loopback.
            outbound: ulak_core::net::OutboundPolicy::allowing(vec![
                "127.0.0.0/8".parse().unwrap(),
            ]),
            ..EngineConfig::default()
        },
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let states = s.count_messages_by_state().await.unwrap();
        if states == vec![("delivered".to_owned(), N as i64)] {
            break;
        }
        assert!(Instant::now() < deadline, "not all delivered: {states:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    engine.shutdown().await;
    child.kill().await.unwrap();
    let seen = submits.await.unwrap();
    assert_eq!(seen, N as u64, "node saw each message once");
    assert_eq!(s.count_unmatched_receipts(c).await.unwrap(), 0);
    assert_eq!(s.credit_balance(c).await.unwrap(), 1000 - N as i64);
}
