//! `client::probe`: one bind and unbind, and a category when it fails (the SMSC's status, a
//! refused connection, an address the filter refuses, a peer that does not speak SMPP).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use ulak_smpp::CommandStatus;
use ulak_smpp::client::{ClientConfig, ConnectError, ConnectFilter, probe};
use ulak_smpp::sim::{SimConfig, Simulator};

fn cfg(addr: String, system_id: &str, password: &str) -> ClientConfig {
    ClientConfig {
        addr,
        system_id: system_id.into(),
        password: password.into(),
        connect_timeout: Duration::from_secs(3),
        unbind_timeout: Duration::from_secs(1),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_probe_binds_and_unbinds_or_says_why_not() {
    // The simulator's default account is ulak/secret.
    let s = Simulator::start(SimConfig::default()).await.unwrap();
    let addr = s.local_addr().to_string();
    probe(&cfg(addr.clone(), "ulak", "secret")).await.unwrap();
    assert_eq!(
        probe(&cfg(addr.clone(), "ulak", "wrong")).await,
        Err(ConnectError::BindRefused(CommandStatus::ESME_RINVPASWD))
    );
    assert_eq!(
        probe(&cfg(addr.clone(), "nobody", "secret")).await,
        Err(ConnectError::BindRefused(CommandStatus::ESME_RINVSYSID))
    );
    // The probe left no link bound behind.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(s.bound_links(), 0);
    let refuse_all = ClientConfig {
        connect_filter: Some(ConnectFilter::new(|_| false)),
        ..cfg(addr, "ulak", "secret")
    };
    assert_eq!(probe(&refuse_all).await, Err(ConnectError::NotAllowed));
}

#[tokio::test]
async fn a_closed_port_and_a_silent_peer_are_told_apart() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed = l.local_addr().unwrap().to_string();
    drop(l);
    assert_eq!(
        probe(&cfg(closed, "ulak", "secret")).await,
        Err(ConnectError::Refused)
    );
    // Something that accepts and never answers (a TLS port waiting for its hello, say).
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let held = tokio::spawn(async move {
        let (s, _) = silent.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        drop(s);
    });
    let quick = ClientConfig {
        connect_timeout: Duration::from_millis(300),
        ..cfg(addr, "ulak", "secret")
    };
    assert_eq!(probe(&quick).await, Err(ConnectError::TimedOut));
    held.abort();
}
