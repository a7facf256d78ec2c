//! The engine end to end over real TCP: messages queued in the store go through the SMPP
//! provider to the `ulak-smpp` simulator, receipts come back and every message ends
//! delivered, with the ledger equal to the balance.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_engine::{Engine, EngineConfig, SimulatorLink};
use ulak_smpp::sim::{SimConfig, Simulator};

mod common;

use common::{account, funded_default, message, sqlite_store as store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_messages_are_submitted_and_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let sim = Simulator::start(SimConfig {
        dlr_delay: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let c = funded_default(&s, 1000).await;
    let p = account(&s, c, |d| {
        d.window = Some(20);
        d.rate_per_sec = Some(10_000);
    })
    .await;
    let mut ids = Vec::new();
    for i in 0..60 {
        let text = if i % 10 == 0 {
            "Uzun mesaj: ".repeat(20) // two segments
        } else {
            format!("Merhaba {i}, şifreniz {i:04}")
        };
        let m = message(p, &format!("0532555{i:04}"), &text);
        ids.push(s.enqueue_message(c, m, None).await.unwrap().message);
    }
    let segments: u64 = ids.iter().map(|m| u64::from(m.segments)).sum();
    assert!(segments > 60);
    let engine = Engine::start(
        s.clone(),
        EngineConfig {
            simulator: Some(SimulatorLink::to(&sim)),
            refresh: Duration::from_millis(200),
            idle: Duration::from_millis(20),
            ..EngineConfig::default()
        },
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut done = 0;
        for m in &ids {
            let d = s.get_message(c, m.id).await.unwrap().unwrap();
            if d.message.state == MessageState::Delivered {
                done += 1;
            }
        }
        if done == ids.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{done} of {} delivered",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    engine.shutdown().await;
    let counts = sim.shutdown().await;
    assert_eq!(counts.submits, segments, "every segment exactly once");
    let d = s.get_message(c, ids[0].id).await.unwrap().unwrap();
    assert_eq!(d.parts.len(), 2);
    assert!(d.parts.iter().all(|p| p.state == MessageState::Delivered));
    let states: Vec<_> = d.events.iter().map(|e| e.state).collect();
    assert_eq!(
        states,
        vec![
            MessageState::Queued,
            MessageState::Submitted,
            MessageState::Delivered
        ]
    );
    let balance = s.credit_balance(c).await.unwrap();
    assert_eq!(balance, 1000 - segments as i64);
    assert_eq!(balance, s.credit_ledger_sum(c).await.unwrap());
    assert_eq!(s.count_unmatched_receipts(c).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_messages_are_stored_and_ret_opts_out_queued_messages() {
    use ulak_smpp::sim::{InboundConcat, Inject};
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let c = funded_default(&s, 10).await;
    let sub = s
        .create_subscriber(
            c,
            NewSubscriber::new(
                "Ayşe",
                "05321112233",
                CountryType::Tr,
                None,
                Default::default(),
                Consent::OptedIn,
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let p = account(&s, c, |_| {}).await;
    // A message scheduled for later, to the subscriber who is about to reply RET.
    let later = NewMessage::new(
        Recipient::Msisdn(ulak_core::Msisdn::parse("05321112233", CountryType::Tr).unwrap()),
        SenderName::parse("ULAK").unwrap(),
        "Kampanya",
        ulak_text::Policy::TurkishShift,
        1,
        Some(p),
        Some(i64::MAX / 4),
        i64::MAX,
    )
    .unwrap();
    let queued = s.enqueue_message(c, later, None).await.unwrap().message;
    let engine = Engine::start(
        s.clone(),
        EngineConfig {
            simulator: Some(SimulatorLink::to(&sim)),
            refresh: Duration::from_millis(200),
            idle: Duration::from_millis(20),
            ..EngineConfig::default()
        },
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while sim.bound_links() == 0 {
        assert!(Instant::now() < deadline, "the engine did not bind");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for text in ["Bilgi almak istiyorum", "İptal", "İptal"] {
        sim.inject_inbound(&Inject {
            system_id: None,
            from: "905321112233".into(),
            to: "4545".into(),
            text: text.into(),
            concat: InboundConcat::Udh8,
            reverse: false,
        })
        .unwrap();
    }
    let mut page;
    loop {
        page = s.list_inbound(c, &ListQuery::default()).await.unwrap();
        if page.items.len() >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "inbound not stored: {:?}",
            page.items
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let page = s.list_inbound(c, &ListQuery::default()).await.unwrap();
    assert_eq!(
        page.items.len(),
        2,
        "the repeated İptal is stored once: {:?}",
        page.items
    );
    let first = &page.items[0];
    assert_eq!(
        (
            first.sender.as_str(),
            first.recipient.as_str(),
            first.subscriber_id
        ),
        ("+905321112233", "4545", Some(sub.id))
    );
    assert!(!first.opt_out && page.items[1].opt_out);
    let phone = ulak_core::Msisdn::parse("05321112233", CountryType::Tr).unwrap();
    assert!(s.is_opted_out(c, &phone).await.unwrap());
    let sub = s.get_subscriber(c, sub.id).await.unwrap().unwrap();
    assert_eq!(sub.consent, Consent::OptedOut);
    // The message accepted before the opt-out is skipped, not sent, and its credit released.
    // (The engine's own sweep may have done it already.)
    s.skip_opted_out(p).await.unwrap();
    let m = s.get_message(c, queued.id).await.unwrap().unwrap().message;
    assert_eq!(m.state, MessageState::Skipped);
    assert_eq!(s.credit_balance(c).await.unwrap(), 10);
    engine.shutdown().await;
    let counts = sim.shutdown().await;
    assert_eq!(counts.submits, 0);
    assert_eq!(
        counts.deliver_acked, counts.inbound_sent,
        "every inbound part acknowledged once stored"
    );
}
