//! A failed bind says why: the SMSC's command_status when it refused, the connection error
//! when there was nobody to ask.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use ulak_smpp::CommandStatus;
use ulak_smpp::client::{BindError, Client, ClientConfig};
use ulak_smpp::sim::{SimConfig, Simulator};

fn cfg(addr: String, password: &str) -> ClientConfig {
    ClientConfig {
        addr,
        system_id: "ulak".into(),
        password: password.into(),
        reconnect_min: Duration::from_millis(20),
        reconnect_max: Duration::from_millis(200),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_bind_reports_the_smscs_status_at_once() {
    // The simulator's default account is ulak/secret, as in the other client tests.
    let s = Simulator::start(SimConfig::default()).await.unwrap();
    let addr = s.local_addr().to_string();

    let (bad, _ev) = Client::start(cfg(addr.clone(), "wrong"));
    let t = Instant::now();
    let e = bad
        .wait_bound_or_failed(Duration::from_secs(10))
        .await
        .unwrap_err();
    assert_eq!(e, BindError::Refused(CommandStatus::ESME_RINVPASWD));
    assert!(e.is_refusal());
    assert!(t.elapsed() < Duration::from_secs(5), "reported at once");
    assert_eq!(
        e.to_string(),
        "the SMSC refused the bind: ESME_RINVPASWD (0x0000000E): Invalid password"
    );
    assert_eq!(bad.last_bind_error(), Some(e));
    bad.shutdown().await;

    let (good, _ev) = Client::start(cfg(addr, "secret"));
    assert_eq!(
        good.wait_bound_or_failed(Duration::from_secs(10)).await,
        Ok(())
    );
    assert_eq!(good.last_bind_error(), None);
    good.shutdown().await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_listening_is_a_connect_error_not_a_refusal() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (c, _ev) = Client::start(cfg(format!("127.0.0.1:{port}"), "secret"));
    let e = c
        .wait_bound_or_failed(Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(matches!(e, BindError::Connect(_)), "{e:?}");
    assert!(!e.is_refusal());
    c.shutdown().await;
}

#[test]
fn standard_statuses_have_their_meaning() {
    assert_eq!(
        CommandStatus::ESME_RINVSYSID.description(),
        Some("Invalid system ID.")
    );
    assert_eq!(CommandStatus(0x0400).description(), None);
}
