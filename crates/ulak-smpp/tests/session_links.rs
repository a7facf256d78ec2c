//! ESME client against the SMSC simulator over real TCP on 127.0.0.1: response timeouts, lost
//! links and reconnects, binds, shutdown, the connect filter and withdrawn submits.
#![allow(clippy::unwrap_used)]

#[path = "session/common.rs"]
mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use ulak_smpp::client::{BindMode, Client, ClientConfig, ConnectFilter, SubmitError};
use ulak_smpp::pdu::Body;
use ulak_smpp::sim::SimConfig;

use common::{Got, client_cfg, next_events, sim, sm, start, submit_all};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_timeout_reports_unknown_outcome() {
    let s = sim(SimConfig {
        resp_delay: Duration::from_millis(800),
        ..Default::default()
    })
    .await;
    let (c, _ev) = start(ClientConfig {
        response_timeout: Duration::from_millis(200),
        ..client_cfg(&s)
    })
    .await;
    let out = submit_all(&c, 3, false).await;
    assert!(
        out.iter().all(|r| r == &Err(SubmitError::Timeout)),
        "{out:?}"
    );
    assert_eq!(c.stats().timeouts, 3);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_after_drop_mid_window_loses_and_doubles_nothing() {
    let s = sim(SimConfig {
        drop_after_submits: Some(120),
        resp_delay: Duration::from_millis(5),
        ..Default::default()
    })
    .await;
    let (c, _ev) = start(ClientConfig {
        window: 40,
        binds: 2,
        ..client_cfg(&s)
    })
    .await;
    let out = submit_all(&c, 500, false).await;
    let ids: Vec<String> = out.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        500,
        "an id reported twice"
    );
    let stats = c.shutdown().await;
    assert_eq!(stats.submitted, 500);
    assert!(stats.link_losses >= 1, "{stats:?}");
    assert!(stats.binds >= 3, "{stats:?}");
    let counts = s.shutdown().await;
    assert!(counts.dropped_links >= 1);
    // The SMSC may see a resent submit twice (its response was lost with the link); the
    // client's accounting still reports each message exactly once.
    assert!(counts.submits >= 500);
    assert!(counts.submits - 500 <= stats.resent, "{counts:?} {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_enquire_link_means_dead_peer_and_reconnect() {
    let s = sim(SimConfig {
        answer_enquire_link: false,
        ..Default::default()
    })
    .await;
    let (c, _ev) = start(ClientConfig {
        enquire_link_interval: Duration::from_millis(100),
        dead_peer_timeout: Duration::from_millis(300),
        ..client_cfg(&s)
    })
    .await;
    // Polled rather than slept, so a loaded CI machine only makes it slower, not flaky.
    let end = Instant::now() + Duration::from_secs(10);
    while (c.stats().dead_peers == 0 || c.stats().binds < 2) && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = c.stats();
    assert!(stats.dead_peers >= 1, "{stats:?}");
    assert!(stats.enquire_links >= 1);
    assert!(stats.binds >= 2, "{stats:?}");
    c.shutdown().await;
    assert!(s.counts().enquire_links >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbind_on_shutdown_waits_for_the_window_to_drain() {
    let s = sim(SimConfig {
        resp_delay: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let (c, _ev) = start(ClientConfig {
        window: 10,
        ..client_cfg(&s)
    })
    .await;
    let mut pending = Vec::new();
    for i in 0..10 {
        pending.push(c.enqueue(Body::SubmitSm(sm(i, false))).await.unwrap());
    }
    // Let them reach the wire, then shut down while all ten are outstanding.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stats = c.shutdown().await;
    for p in pending {
        assert!(p.outcome().await.is_ok());
    }
    assert_eq!(stats.submitted, 10);
    let counts = s.shutdown().await;
    assert_eq!(counts.unbinds, 1);
    assert_eq!(counts.submits, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transmitter_receiver_pair_and_bad_password() {
    let s = sim(SimConfig::default()).await;
    let (c, mut ev) = start(ClientConfig {
        bind_mode: BindMode::TransmitterReceiver,
        ..client_cfg(&s)
    })
    .await;
    // Wait for the receiver half too, so the receipt has somewhere to go at once.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let id = c.submit(sm(1, true)).await.unwrap().message_id;
    let Got::Receipt(r) = next_events(&mut ev, 1).await.remove(0) else {
        panic!()
    };
    assert_eq!(r.message_id, id);
    c.shutdown().await;
    assert_eq!(s.counts().binds, 2);

    let (bad, _ev) = Client::start(ClientConfig {
        password: "wrong".into(),
        ..client_cfg(&s)
    });
    assert!(!bad.wait_bound(Duration::from_millis(300)).await);
    assert!(bad.stats().bind_failures >= 1);
    bad.shutdown().await;
    assert!(s.counts().bind_failures >= 1);
}

/// The connect filter is asked about every resolved address at connect time: a name that
/// resolves to loopback (`localhost`) or a literal loopback address is never connected to
/// while the filter refuses loopback, and binds once it allows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connect_filter_decides_on_resolved_addresses() {
    let s = sim(SimConfig::default()).await;
    let port = s.local_addr().port();
    let no_loopback = ConnectFilter::new(|ip| !ip.is_loopback());
    for addr in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let (c, _ev) = Client::start(ClientConfig {
            addr: addr.clone(),
            connect_filter: Some(no_loopback.clone()),
            ..client_cfg(&s)
        });
        assert!(!c.wait_bound(Duration::from_millis(400)).await, "{addr}");
        assert!(c.stats().bind_failures >= 1, "{addr}");
        c.shutdown().await;
    }
    assert_eq!(s.counts().connections, 0, "nothing reached the simulator");
    let (c, _ev) = start(ClientConfig {
        addr: format!("localhost:{port}"),
        connect_filter: Some(ConnectFilter::new(|ip| ip.is_loopback())),
        ..client_cfg(&s)
    })
    .await;
    c.shutdown().await;
    assert_eq!(s.counts().binds, 1);
}

/// A submit withdrawn before any link took it never reaches the SMSC; one already written
/// cannot be withdrawn and ends with its real outcome.
#[tokio::test]
async fn a_withdrawn_submit_is_never_sent() {
    // A port nothing listens on yet: the client keeps trying to connect.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (c, _events) = Client::start(ClientConfig {
        addr: addr.to_string(),
        system_id: "ulak".into(),
        password: "secret".into(),
        reconnect_min: Duration::from_millis(20),
        reconnect_max: Duration::from_millis(100),
        ..Default::default()
    });
    let withdrawn = c.enqueue(Body::SubmitSm(sm(1, false))).await.unwrap();
    let kept = c.enqueue(Body::SubmitSm(sm(2, false))).await.unwrap();
    assert_eq!(
        withdrawn.outcome_unless(async {}).await,
        Err(SubmitError::Withdrawn)
    );
    let s = sim(SimConfig {
        listen: addr,
        resp_delay: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    assert!(kept.outcome().await.is_ok());
    // Written: giving up once the SMSC has it withdraws nothing.
    let written = c.enqueue(Body::SubmitSm(sm(3, false))).await.unwrap();
    let sim_has_it = async {
        while s.counts().submits < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    assert!(written.outcome_unless(sim_has_it).await.is_ok());
    c.shutdown().await;
    assert_eq!(s.shutdown().await.submits, 2);
}
