//! Interop: Ulak's ESME client against a third-party SMSC (node-smpp, from npm) over TCP.
//! Submits, long texts (UDH, message_payload, SAR), receipts and inbound messages.
#![allow(clippy::unwrap_used)]

#[path = "interop/common.rs"]
mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;
use ulak_smpp::client::{Ack, Client, ClientConfig, Event, LongText, TextMessage};
use ulak_smpp::receipt::ReceiptState;

#[derive(Debug, Deserialize, Clone)]
struct Line {
    event: String,
    #[serde(default)]
    port: u16,
    #[serde(default)]
    message_id: String,
    #[serde(default)]
    udh: Vec<String>,
    message: Option<String>,
    payload: Option<String>,
    sar: Option<Sar>,
    #[serde(default)]
    status: u32,
    #[serde(default)]
    interface_version: u8,
}

#[derive(Debug, Deserialize, Clone)]
struct Sar {
    seq: u8,
}

async fn next_line(rx: &mut mpsc::UnboundedReceiver<Line>, event: &str) -> Line {
    loop {
        let l = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no {event} line from node SMSC"))
            .unwrap();
        if l.event == event {
            return l;
        }
    }
}

/// The next `n` events, each accepted (deliver_sm_resp ESME_ROK) as it is taken; the acks
/// are split off so the events can be matched on what they carry.
async fn events(ev: &mut mpsc::UnboundedReceiver<Event>, n: usize) -> Vec<Event> {
    let mut out = Vec::new();
    while out.len() < n {
        let e = tokio::time::timeout(Duration::from_secs(10), ev.recv())
            .await
            .unwrap_or_else(|_| panic!("got {} of {n} events", out.len()))
            .unwrap();
        let e = match e {
            Event::Receipt(r, ack) => {
                ack.accept();
                Event::Receipt(r, Ack::detached())
            }
            Event::Inbound(m, ack) => {
                ack.accept();
                Event::Inbound(m, Ack::detached())
            }
        };
        out.push(e);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ulak_client_against_node_smpp_smsc() {
    let dir = common::interop_dir().join("node");
    let node_ok = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_ok || !dir.join("node_modules/smpp/package.json").exists() {
        common::missing("node + npm package smpp in crates/ulak-smpp/interop/node");
        return;
    }
    let mut child = Command::new("node")
        .arg(dir.join("smsc.js"))
        .args(["0", "ulak", "secret"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, mut lines) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut r = BufReader::new(stdout).lines();
        while let Ok(Some(l)) = r.next_line().await {
            if let Ok(v) = serde_json::from_str::<Line>(&l) {
                let _ = tx.send(v);
            }
        }
    });
    let port = next_line(&mut lines, "listening").await.port;

    for mode in [LongText::Udh, LongText::Payload, LongText::Sar] {
        let (c, mut ev) = Client::start(ClientConfig {
            addr: format!("127.0.0.1:{port}"),
            system_id: "ulak".into(),
            password: "secret".into(),
            long_text: mode,
            ..Default::default()
        });
        assert!(c.wait_bound(Duration::from_secs(5)).await);
        let bind = next_line(&mut lines, "bind").await;
        assert_eq!(bind.interface_version, 0x34);

        // A short text with a receipt.
        let p = c
            .send_text(&TextMessage {
                from: "ULAK".into(),
                to: "905321234567".into(),
                text: "Merhaba @ dünya {1}".into(),
                receipt: true,
                ..Default::default()
            })
            .await
            .unwrap();
        let id = p
            .into_iter()
            .next()
            .unwrap()
            .outcome()
            .await
            .unwrap()
            .message_id;
        let sub = next_line(&mut lines, "submit").await;
        assert_eq!(sub.message_id, id);
        assert_eq!(sub.message.as_deref(), Some("Merhaba @ dünya {1}"));
        let Event::Receipt(r, _) = events(&mut ev, 1).await.remove(0) else {
            panic!()
        };
        assert_eq!(
            (r.message_id.as_str(), r.state),
            (id.as_str(), ReceiptState::Delivered)
        );

        // A long text: node must see segments that join back to it.
        let text = format!("{mode:?}: Sayın müşterimiz, siparişiniz yola çıktı. ").repeat(5);
        let pending = c
            .send_text(&TextMessage {
                from: "ULAK".into(),
                to: "905321234567".into(),
                text: text.clone(),
                receipt: true,
                ..Default::default()
            })
            .await
            .unwrap();
        let n = pending.len();
        for p in pending {
            p.outcome().await.unwrap();
        }
        let mut parts = BTreeMap::new();
        for _ in 0..n {
            let s = next_line(&mut lines, "submit").await;
            let seq = match mode {
                LongText::Udh => {
                    // The concatenation IE: 00 03 ref total seq (or 08 04 ref ref total seq).
                    let ie = s
                        .udh
                        .iter()
                        .find(|h| h.starts_with("00") || h.starts_with("08"))
                        .unwrap();
                    u8::from_str_radix(&ie[ie.len() - 2..], 16).unwrap()
                }
                LongText::Sar => s.sar.unwrap().seq,
                LongText::Payload => 1,
            };
            let body = s.payload.clone().or(s.message.clone()).unwrap();
            parts.insert(seq, body);
        }
        let joined: String = parts.into_values().collect();
        assert_eq!(joined, text, "{mode:?}");
        let receipts = events(&mut ev, n).await;
        assert!(receipts.iter().all(|e| matches!(e, Event::Receipt(..))));

        if mode == LongText::Udh {
            // Ask the node SMSC for its three inbound messages.
            c.send_text(&TextMessage {
                from: "ULAK".into(),
                to: "900000000000".into(),
                text: "inbound please".into(),
                receipt: false,
                ..Default::default()
            })
            .await
            .unwrap()
            .remove(0)
            .outcome()
            .await
            .unwrap();
            let mut texts: Vec<String> = events(&mut ev, 3)
                .await
                .into_iter()
                .map(|e| match e {
                    Event::Inbound(m, _) => {
                        assert!(m.complete);
                        m.text.unwrap()
                    }
                    other => panic!("{other:?}"),
                })
                .collect();
            texts.sort();
            let long = format!("Uzun gelen mesaj: {}", "çok parçalı ".repeat(8));
            let mut want = vec![
                "Merhaba Ulak".to_owned(),
                long,
                "SAR part one, SAR part two.".to_owned(),
            ];
            want.sort();
            assert_eq!(texts, want);
            for _ in 0..5 {
                assert_eq!(next_line(&mut lines, "deliver_resp").await.status, 0);
            }
        }
        c.shutdown().await;
        next_line(&mut lines, "unbind").await;
    }
    let _ = child.kill().await;
}
