//! Inbound messages over real TCP from the `ulak-smpp` simulator: one whose text cannot be
//! decoded (8-bit data) is stored with its bytes, not as an empty text.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ulak_core::model::ListQuery;
use ulak_engine::{Engine, EngineConfig, SimulatorLink};
use ulak_smpp::pdu::{Address, ShortMessage};
use ulak_smpp::sim::{SimConfig, Simulator};

mod common;

use common::{account, funded_default, sqlite_store as store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_inbound_message_keeps_its_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let c = funded_default(&s, 0).await;
    account(&s, c, |_| {}).await;
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
    // data_coding 4: 8-bit data, which has no text reading.
    let bytes = vec![0x00, 0xff, 0x10, 0x7f, 0x80, 0x0a];
    sim.inject_raw(ShortMessage {
        source: Address::new(1, 1, "905321112233"),
        dest: Address::new(0, 1, "4545"),
        data_coding: 4,
        short_message: bytes.clone().into(),
        ..Default::default()
    })
    .unwrap();
    let stored = loop {
        let page = s.list_inbound(c, &ListQuery::default()).await.unwrap();
        if let Some(m) = page.items.into_iter().next() {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "the inbound message was not stored"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        (
            stored.sender.as_str(),
            stored.body.as_str(),
            stored.body_raw.as_deref(),
            stored.data_coding
        ),
        ("+905321112233", "", Some(&bytes[..]), Some(4))
    );
    engine.shutdown().await;
    let counts = sim.shutdown().await;
    assert_eq!(counts.deliver_acked, 1, "acknowledged once stored");
}
