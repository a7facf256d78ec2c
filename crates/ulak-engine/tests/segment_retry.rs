//! Long messages retried by segment, over real TCP on both databases: the SMSC refuses
//! segment 2 of every other long message once (ESME_RSYSERR). Only that segment is sent
//! again, under the message's concatenation reference, so every handset gets each segment
//! once, and every message ends delivered with its three segments.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ulak_core::model::*;
use ulak_engine::{Engine, EngineConfig, SimulatorLink};
use ulak_smpp::sim::{RefuseSegment, SimConfig, Simulator};
use ulak_store::Store;

mod common;

use common::{account, funded_default, message};

/// Long messages per encoding.
const EACH: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_segment_alone_is_sent_again_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let s = common::sqlite_store(dir.path()).await;
    refused_segments_are_sent_again(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_segment_alone_is_sent_again_on_postgres() {
    let Some((s, _schema)) = common::pg_store().await else {
        return;
    };
    refused_segments_are_sent_again(s).await;
}

/// The handset's number as the SMSC sees it (the store keeps E.164 with its plus).
fn handset(m: &Message) -> String {
    m.recipient.trim_start_matches('+').to_owned()
}

async fn refused_segments_are_sent_again(s: Store) {
    let sim = Simulator::start(SimConfig {
        refuse_segment: Some(RefuseSegment { seq: 2, every: 2 }),
        record_submits: true,
        dlr_delay: Duration::from_millis(5),
        redeliver_delay: Duration::from_millis(100),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let c = funded_default(&s, 1000).await;
    let p = account(&s, c, |d| {
        d.window = Some(10);
        d.rate_per_sec = Some(1000);
    })
    .await;
    let mut sent = Vec::new();
    for i in 0..EACH * 2 {
        // GSM 7-bit, then UCS-2 (Cyrillic is in neither GSM table): three segments each.
        let text = match i % 2 {
            0 => format!("Duyuru {i:02}: ").repeat(30),
            _ => format!("Привет {i:02} ").repeat(17),
        };
        let m = message(p, &format!("0532700{i:04}"), &text);
        assert_eq!(m.segments, 3, "{}", m.encoding);
        sent.push(s.enqueue_message(c, m, None).await.unwrap().message);
    }
    let mut cfg = EngineConfig {
        simulator: Some(SimulatorLink::to(&sim)),
        refresh: Duration::from_millis(200),
        idle: Duration::from_millis(20),
        ..EngineConfig::default()
    };
    // Retried soon, so the test does not wait on the default backoff.
    cfg.submit.retry_base = Duration::from_millis(100);
    cfg.submit.retry_max = Duration::from_millis(400);
    let engine = Engine::start(s.clone(), cfg);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let states = s.count_messages_by_state().await.unwrap();
        if states == vec![("delivered".to_owned(), sent.len() as i64)] {
            break;
        }
        assert!(Instant::now() < deadline, "{states:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    engine.shutdown().await;
    let received = sim.segments_received();
    let counts = sim.shutdown().await;

    // Every other message had its segment 2 refused once.
    assert_eq!(counts.refused_segments, (EACH) as u64);
    // Each handset got segments 1, 2 and 3 of one message once, under one reference.
    let mut by_handset: BTreeMap<String, Vec<(u16, u8, u8, u32)>> = BTreeMap::new();
    for (k, n) in &received {
        by_handset
            .entry(k.dest.clone())
            .or_default()
            .push((k.reference, k.total, k.seq, *n));
    }
    assert_eq!(by_handset.len(), sent.len());
    for m in &sent {
        let segs = &by_handset[&handset(m)];
        let reference = segs[0].0;
        assert_eq!(
            segs,
            &vec![
                (reference, 3, 1, 1),
                (reference, 3, 2, 1),
                (reference, 3, 3, 1)
            ],
            "message {}",
            m.id.0
        );
    }
    assert_eq!(counts.submits, 3 * sent.len() as u64, "no segment twice");

    // In the store: the refused ones were tried twice, all have three delivered segments,
    // and no receipt went unmatched.
    let mut retried = 0;
    for m in &sent {
        let d = s.get_message(c, m.id).await.unwrap().unwrap();
        assert_eq!(d.message.state, MessageState::Delivered);
        assert_eq!(d.parts.len(), 3);
        assert!(d.parts.iter().all(|p| p.state == MessageState::Delivered));
        if d.message.attempts == 2 {
            retried += 1;
            let retry = d
                .events
                .iter()
                .find(|e| e.state == MessageState::Queued && e.detail.is_some())
                .unwrap();
            assert!(
                retry
                    .detail
                    .as_deref()
                    .unwrap()
                    .contains("2 of its segments taken"),
                "{retry:?}"
            );
        } else {
            assert_eq!(d.message.attempts, 1);
        }
    }
    assert_eq!(retried, EACH);
    assert_eq!(s.count_unmatched_receipts(c).await.unwrap(), 0);
    assert_eq!(
        s.credit_balance(c).await.unwrap(),
        1000 - 3 * sent.len() as i64
    );
    s.close().await;
}
