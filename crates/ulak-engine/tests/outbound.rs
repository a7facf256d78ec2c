//! Operator links go only where the outbound policy allows: an `smpp` account whose host
//! resolves to loopback is never connected to unless the system administrator allows
//! loopback, while `simulator` accounts (this process's own loopback listener) need nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ulak_core::model::*;
use ulak_core::net::OutboundPolicy;
use ulak_engine::{Engine, EngineConfig, SimulatorLink};
use ulak_smpp::sim::{SimConfig, Simulator};

mod common;

use common::{account, funded_default, message, sqlite_store as store};

/// Waits until the message is delivered.
async fn delivered(s: &ulak_store::Store, c: CompanyId, id: MessageId) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = s.get_message(c, id).await.unwrap().unwrap();
        if d.message.state == MessageState::Delivered {
            return;
        }
        assert!(Instant::now() < deadline, "still {:?}", d.message.state);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_hosts_on_loopback_need_the_allowance_and_the_simulator_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let sim = Simulator::start(SimConfig {
        dlr_delay: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let port = sim.local_addr().port();
    let c = funded_default(&s, 100).await;
    // A name, not an address: only the connect-time check can see where it leads.
    let op = account(&s, c, |d| {
        d.name = "op".into();
        d.kind = "smpp".into();
        d.host = "localhost".into();
        d.port = port;
        d.password = Some("secret".into());
    })
    .await;
    let config = |outbound: OutboundPolicy| EngineConfig {
        refresh: Duration::from_millis(100),
        idle: Duration::from_millis(20),
        outbound,
        ..EngineConfig::default()
    };

    // No message is queued yet: one claimed by a link that never binds would hold up the
    // engine's shutdown (its submit waits for the link).
    let engine = Engine::start(s.clone(), config(OutboundPolicy::default()));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    engine.shutdown().await;
    assert_eq!(sim.counts().connections, 0, "never connected");

    let m = s
        .enqueue_message(c, message(op, "05321234567", "Merhaba"), None)
        .await
        .unwrap()
        .message;
    let loopback =
        OutboundPolicy::allowing(vec!["127.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()]);
    let engine = Engine::start(s.clone(), config(loopback));
    delivered(&s, c, m.id).await;
    engine.shutdown().await;

    // The simulator account sends under the strict default.
    let sim_account = account(&s, c, |_| {}).await;
    let m = s
        .enqueue_message(c, message(sim_account, "05321234568", "Merhaba"), None)
        .await
        .unwrap()
        .message;
    let engine = Engine::start(
        s.clone(),
        EngineConfig {
            simulator: Some(SimulatorLink::to(&sim)),
            ..config(OutboundPolicy::default())
        },
    );
    delivered(&s, c, m.id).await;
    engine.shutdown().await;
    sim.shutdown().await;
}
