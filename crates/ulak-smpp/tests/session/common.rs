//! Helpers shared by the session tests (`session_traffic.rs`, `session_links.rs`): the SMSC
//! simulator, a client bound to it, numbered short messages, and the events they bring back.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc::UnboundedReceiver;
use ulak_smpp::client::{Client, ClientConfig, Event, SubmitError};
use ulak_smpp::inbound::InboundMessage;
use ulak_smpp::pdu::{Address, Body, ShortMessage};
use ulak_smpp::receipt::Receipt;
use ulak_smpp::sim::{SimConfig, SimHandle, Simulator};

pub async fn sim(cfg: SimConfig) -> SimHandle {
    Simulator::start(cfg).await.unwrap()
}

pub fn client_cfg(sim: &SimHandle) -> ClientConfig {
    ClientConfig {
        addr: sim.local_addr().to_string(),
        system_id: "ulak".into(),
        password: "secret".into(),
        reconnect_min: Duration::from_millis(20),
        reconnect_max: Duration::from_millis(200),
        response_timeout: Duration::from_secs(5),
        ..Default::default()
    }
}

pub fn sm(i: usize, receipt: bool) -> ShortMessage {
    ShortMessage {
        source: Address::new(5, 0, "ULAK"),
        dest: Address::new(1, 1, format!("90532{i:07}")),
        registered_delivery: u8::from(receipt),
        short_message: Bytes::from(format!("message {i}")),
        ..Default::default()
    }
}

pub async fn start(cfg: ClientConfig) -> (Client, UnboundedReceiver<Event>) {
    let (c, ev) = Client::start(cfg);
    assert!(
        c.wait_bound(Duration::from_secs(5)).await,
        "client did not bind"
    );
    (c, ev)
}

/// Submits `n` messages concurrently; returns every outcome in order.
pub async fn submit_all(c: &Client, n: usize, receipt: bool) -> Vec<Result<String, SubmitError>> {
    let mut pending = Vec::with_capacity(n);
    for i in 0..n {
        pending.push(c.enqueue(Body::SubmitSm(sm(i, receipt))).await.unwrap());
    }
    let mut out = Vec::with_capacity(n);
    for p in pending {
        out.push(p.outcome().await.map(|s| s.message_id));
    }
    out
}

/// The next `n` events, acknowledgements and all.
pub async fn next_raw_events(ev: &mut UnboundedReceiver<Event>, n: usize) -> Vec<Event> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while out.len() < n {
        match tokio::time::timeout_at(deadline.into(), ev.recv()).await {
            Ok(Some(e)) => out.push(e),
            _ => panic!("got {} of {n} events", out.len()),
        }
    }
    out
}

/// What an event carried, once accepted.
#[derive(Debug)]
pub enum Got {
    Receipt(Receipt),
    Inbound(InboundMessage),
}

/// The next `n` events, each accepted (acknowledged to the SMSC) as it is taken.
pub async fn next_events(ev: &mut UnboundedReceiver<Event>, n: usize) -> Vec<Got> {
    next_raw_events(ev, n)
        .await
        .into_iter()
        .map(|e| match e {
            Event::Receipt(r, ack) => {
                ack.accept();
                Got::Receipt(r)
            }
            Event::Inbound(m, ack) => {
                ack.accept();
                Got::Inbound(m)
            }
        })
        .collect()
}
