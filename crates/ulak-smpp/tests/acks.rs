//! Receipts and inbound messages are acknowledged only when the application accepts them,
//! and the simulator delivers again whatever was not acknowledged (real TCP on 127.0.0.1).
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc::UnboundedReceiver;
use ulak_smpp::client::{Ack, Client, ClientConfig, Event};
use ulak_smpp::pdu::{Address, Body, Sar, ShortMessage};
use ulak_smpp::sim::{Counts, InboundConcat, Inject, SimConfig, SimHandle, Simulator};

/// Short, so redeliveries show up quickly.
const REDELIVER: Duration = Duration::from_millis(50);

async fn sim() -> SimHandle {
    Simulator::start(SimConfig {
        redeliver_delay: REDELIVER,
        ..Default::default()
    })
    .await
    .unwrap()
}

fn client_cfg(sim: &SimHandle) -> ClientConfig {
    ClientConfig {
        addr: sim.local_addr().to_string(),
        system_id: "ulak".into(),
        password: "secret".into(),
        reconnect_min: Duration::from_millis(20),
        reconnect_max: Duration::from_millis(100),
        response_timeout: Duration::from_secs(5),
        window: 50,
        ..Default::default()
    }
}

async fn start(cfg: ClientConfig) -> (Client, UnboundedReceiver<Event>) {
    let (c, ev) = Client::start(cfg);
    assert!(
        c.wait_bound(Duration::from_secs(5)).await,
        "client did not bind"
    );
    (c, ev)
}

fn sm(i: usize) -> ShortMessage {
    ShortMessage {
        source: Address::new(5, 0, "ULAK"),
        dest: Address::new(1, 1, format!("90532{i:07}")),
        registered_delivery: 1,
        short_message: Bytes::from(format!("message {i}")),
        ..Default::default()
    }
}

/// Submits `n` messages asking for receipts; returns their ids in order.
async fn submit(c: &Client, n: usize) -> Vec<String> {
    let mut pending = Vec::with_capacity(n);
    for i in 0..n {
        pending.push(c.enqueue(Body::SubmitSm(sm(i))).await.unwrap());
    }
    let mut ids = Vec::with_capacity(n);
    for p in pending {
        ids.push(p.outcome().await.unwrap().message_id);
    }
    ids
}

async fn next_event(ev: &mut UnboundedReceiver<Event>) -> Event {
    tokio::time::timeout(Duration::from_secs(10), ev.recv())
        .await
        .expect("no event within 10 s")
        .expect("event channel closed")
}

/// The next `n` receipts, by message id, with their acks still unanswered.
async fn receipts(ev: &mut UnboundedReceiver<Event>, n: usize) -> HashMap<String, Ack> {
    let mut out = HashMap::new();
    while out.len() < n {
        match next_event(ev).await {
            Event::Receipt(r, ack) => {
                assert!(
                    out.insert(r.message_id.clone(), ack).is_none(),
                    "{} seen twice in one round",
                    r.message_id
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    out
}

/// Asserts nothing else arrives within a few redelivery delays.
async fn assert_quiet(ev: &mut UnboundedReceiver<Event>) {
    if let Ok(Some(e)) = tokio::time::timeout(REDELIVER * 8, ev.recv()).await {
        panic!("unexpected event {e:?}");
    }
}

/// Polls the simulator's counters until `done` holds (10 s at most).
async fn counts_until(s: &SimHandle, done: impl Fn(&Counts) -> bool) -> Counts {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let c = s.counts();
        if done(&c) || Instant::now() > end {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_or_rejected_receipts_come_again_accepted_ones_do_not() {
    let s = sim().await;
    let (c, mut ev) = start(client_cfg(&s)).await;
    let ids = submit(&c, 3).await;
    let mut acks = receipts(&mut ev, 3).await;
    // Not answered until the application says so.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(s.counts().deliver_acked, 0);
    assert_eq!(s.counts().deliver_nacked, 0);

    acks.remove(&ids[0]).unwrap().accept();
    drop(acks.remove(&ids[1]).unwrap());
    acks.remove(&ids[2]).unwrap().reject();

    // The dropped and the rejected one come back (once each); accept them this time.
    let again = receipts(&mut ev, 2).await;
    assert_eq!(
        again.keys().cloned().collect::<HashSet<_>>(),
        HashSet::from([ids[1].clone(), ids[2].clone()])
    );
    again.into_values().for_each(Ack::accept);
    assert_quiet(&mut ev).await;

    let counts = counts_until(&s, |c| c.deliver_acked == 3).await;
    assert_eq!(counts.receipts_sent, 3, "{counts:?}");
    assert_eq!(counts.redelivered, 2, "{counts:?}");
    assert_eq!(counts.deliver_nacked, 2, "{counts:?}");
    assert_eq!(counts.deliver_acked, 3, "{counts:?}");
    assert_eq!(counts.errors, 0, "{counts:?}");
    let stats = c.shutdown().await;
    assert_eq!(stats.receipts, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_receipts_survive_a_dropped_link() {
    let s = sim().await;
    let (c, mut ev) = start(client_cfg(&s)).await;
    let n = 20;
    let ids = submit(&c, n).await;
    let mut acks = receipts(&mut ev, n).await;
    // Accept the first half; hold the rest as if they were still being stored.
    for id in &ids[..n / 2] {
        acks.remove(id).unwrap().accept();
    }
    counts_until(&s, |c| c.deliver_acked == (n / 2) as u64).await;
    s.drop_connections();
    // Wait for the client to notice and bind again.
    let end = Instant::now() + Duration::from_secs(10);
    while c.stats().link_losses == 0 && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(c.wait_bound(Duration::from_secs(5)).await);
    // Too late: the link they came on is gone, so these answer nothing.
    acks.into_values().for_each(Ack::accept);

    // The unanswered half comes again on the new link, and only that half.
    let again = receipts(&mut ev, n / 2).await;
    assert_eq!(
        again.keys().cloned().collect::<HashSet<_>>(),
        ids[n / 2..].iter().cloned().collect::<HashSet<_>>()
    );
    again.into_values().for_each(Ack::accept);
    assert_quiet(&mut ev).await;

    let counts = counts_until(&s, |c| c.deliver_acked == n as u64).await;
    assert!(counts.dropped_links >= 1, "{counts:?}");
    assert_eq!(counts.receipts_sent, n as u64, "{counts:?}");
    assert_eq!(counts.redelivered, (n / 2) as u64, "{counts:?}");
    assert_eq!(counts.deliver_acked, counts.receipts_sent, "{counts:?}");
    assert_eq!(counts.deliver_nacked, 0, "{counts:?}");
    // No answer went out on a link other than the one its deliver_sm came on.
    assert_eq!(counts.errors, 0, "{counts:?}");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_not_accepted_before_a_crash_reach_the_next_client() {
    let s = sim().await;
    let (c, mut ev) = start(client_cfg(&s)).await;
    let ids = submit(&c, 5).await;
    let held = receipts(&mut ev, 5).await;
    // The process dies before storing them: links close, nothing was answered.
    drop(c);
    drop(ev);
    let end = Instant::now() + Duration::from_secs(10);
    while s.bound_links() > 0 && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(held);

    let (c2, mut ev2) = start(client_cfg(&s)).await;
    let again = receipts(&mut ev2, 5).await;
    assert_eq!(
        again.keys().cloned().collect::<HashSet<_>>(),
        ids.iter().cloned().collect::<HashSet<_>>()
    );
    again.into_values().for_each(Ack::accept);
    assert_quiet(&mut ev2).await;
    let counts = counts_until(&s, |c| c.deliver_acked == 5).await;
    assert_eq!(
        (
            counts.receipts_sent,
            counts.redelivered,
            counts.deliver_acked
        ),
        (5, 5, 5),
        "{counts:?}"
    );
    c2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_inbound_message_is_acknowledged_part_by_part_only_when_accepted() {
    let s = sim().await;
    let (c, mut ev) = start(client_cfg(&s)).await;
    let text = "Uzun gelen mesaj, birkaç parça halinde: ğüşiöç. ".repeat(6);
    let parts = s
        .inject_inbound(&Inject {
            system_id: None,
            from: "905321234567".into(),
            to: "4545".into(),
            text: text.clone(),
            concat: InboundConcat::Udh8,
            reverse: false,
        })
        .unwrap();
    assert!(parts > 1);
    let Event::Inbound(m, ack) = next_event(&mut ev).await else {
        panic!()
    };
    assert_eq!(m.text.as_deref(), Some(text.as_str()));
    assert_eq!(ack.pdus(), parts);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(s.counts().deliver_acked, 0, "a part was answered early");
    // Dropped: every part comes again and the message is reassembled again.
    drop(ack);
    let Event::Inbound(m2, ack) = next_event(&mut ev).await else {
        panic!()
    };
    assert_eq!(m2.text.as_deref(), Some(text.as_str()));
    assert_eq!(ack.pdus(), parts);
    ack.accept();
    assert_quiet(&mut ev).await;
    let counts = counts_until(&s, |c| c.deliver_acked == parts as u64).await;
    assert_eq!(counts.inbound_sent, parts as u64, "{counts:?}");
    assert_eq!(counts.redelivered, parts as u64, "{counts:?}");
    assert_eq!(counts.deliver_nacked, parts as u64, "{counts:?}");
    assert_eq!(counts.deliver_acked, parts as u64, "{counts:?}");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incomplete_inbound_message_is_acknowledged_when_released_and_accepted() {
    let s = sim().await;
    let (c, mut ev) = start(ClientConfig {
        reassembly_timeout: Duration::from_millis(300),
        ..client_cfg(&s)
    })
    .await;
    let mut part = ShortMessage {
        source: Address::new(1, 1, "905321234567"),
        dest: Address::new(0, 0, "4545"),
        short_message: Bytes::from_static(b"first half"),
        ..Default::default()
    };
    part.tlvs.set_sar(Sar {
        reference: 7,
        total: 2,
        seq: 1,
    });
    s.inject_raw(part).unwrap();
    let Event::Inbound(m, ack) = next_event(&mut ev).await else {
        panic!()
    };
    assert!(!m.complete);
    assert_eq!(ack.pdus(), 1);
    assert_eq!(s.counts().deliver_acked, 0);
    ack.accept();
    let counts = counts_until(&s, |c| c.deliver_acked == 1).await;
    assert_eq!((counts.deliver_acked, counts.redelivered), (1, 0));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nobody_listening_the_smsc_is_told_to_deliver_again() {
    let s = sim().await;
    let (c, ev) = start(client_cfg(&s)).await;
    drop(ev);
    submit(&c, 1).await;
    let counts = counts_until(&s, |c| c.deliver_nacked >= 2).await;
    assert!(counts.deliver_nacked >= 2, "{counts:?}");
    assert!(counts.redelivered >= 1, "{counts:?}");
    assert_eq!(counts.deliver_acked, 0, "{counts:?}");
    c.shutdown().await;
}
