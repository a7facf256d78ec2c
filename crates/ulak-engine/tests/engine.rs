//! The engine end to end over real TCP: messages queued in the store go through the SMPP
//! provider to the `ulak-smpp` simulator, receipts come back and every message ends
//! delivered, with the ledger equal to the balance.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_engine::{Engine, EngineConfig, SimulatorLink};
use ulak_smpp::sim::{SimConfig, Simulator};
use ulak_store::{DEFAULT_COMPANY, Store};

async fn store(dir: &std::path::Path) -> Store {
    Store::connect(
        &format!("sqlite://{}?mode=rwc", dir.join("t.db").display()),
        [7; 32],
    )
    .await
    .unwrap()
}

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
    let c = s
        .get_company_by_name(DEFAULT_COMPANY)
        .await
        .unwrap()
        .unwrap()
        .id;
    s.add_credit_entry(
        c,
        NewCreditEntry::new(LedgerKind::Purchase, 1000, None).unwrap(),
    )
    .await
    .unwrap();
    let draft = ProviderAccountDraft {
        name: "Simülatör".into(),
        kind: "simulator".into(),
        host: "builtin".into(),
        port: 2775,
        system_id: "ulak".into(),
        window: Some(20),
        rate_per_sec: Some(10_000),
        enabled: true,
        ..ProviderAccountDraft::default()
    };
    let p = s
        .create_provider_account(c, NewProviderAccount::new(draft, CountryType::Tr).unwrap())
        .await
        .unwrap()
        .id;
    let mut ids = Vec::new();
    for i in 0..60 {
        let text = if i % 10 == 0 {
            "Uzun mesaj: ".repeat(20) // two segments
        } else {
            format!("Merhaba {i}, şifreniz {i:04}")
        };
        let m = NewMessage::new(
            Recipient::Msisdn(
                ulak_core::Msisdn::parse(&format!("0532555{i:04}"), CountryType::Tr).unwrap(),
            ),
            SenderName::parse("ULAK").unwrap(),
            &text,
            ulak_text::Policy::TurkishShift,
            1,
            Some(p),
            None,
            i64::MAX,
        )
        .unwrap();
        ids.push(s.enqueue_message(c, m, None).await.unwrap().message);
    }
    let segments: u64 = ids.iter().map(|m| u64::from(m.segments)).sum();
    assert!(segments > 60);
    let engine = Engine::start(
        s.clone(),
        EngineConfig {
            simulator: Some(SimulatorLink {
                addr: sim.local_addr(),
                system_id: "ulak".into(),
                password: "secret".into(),
            }),
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
