//! ESME client against the SMSC simulator over real TCP on 127.0.0.1.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc::UnboundedReceiver;
use ulak_smpp::client::{
    BindMode, Client, ClientConfig, ConnectFilter, Event, LongText, SubmitError, TextMessage,
};
use ulak_smpp::inbound::InboundMessage;
use ulak_smpp::pdu::{Address, Body, ShortMessage};
use ulak_smpp::receipt::{Receipt, ReceiptState};
use ulak_smpp::sim::{InboundConcat, Inject, SimConfig, SimHandle, Simulator};

async fn sim(cfg: SimConfig) -> SimHandle {
    Simulator::start(cfg).await.unwrap()
}

fn client_cfg(sim: &SimHandle) -> ClientConfig {
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

fn sm(i: usize, receipt: bool) -> ShortMessage {
    ShortMessage {
        source: Address::new(5, 0, "ULAK"),
        dest: Address::new(1, 1, format!("90532{i:07}")),
        registered_delivery: u8::from(receipt),
        short_message: Bytes::from(format!("message {i}")),
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

/// Submits `n` messages concurrently; returns every outcome in order.
async fn submit_all(c: &Client, n: usize, receipt: bool) -> Vec<Result<String, SubmitError>> {
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
async fn next_raw_events(ev: &mut UnboundedReceiver<Event>, n: usize) -> Vec<Event> {
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
enum Got {
    Receipt(Receipt),
    Inbound(InboundMessage),
}

/// The next `n` events, each accepted (acknowledged to the SMSC) as it is taken.
async fn next_events(ev: &mut UnboundedReceiver<Event>, n: usize) -> Vec<Got> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submits_get_unique_ids_and_receipts_with_the_configured_mix() {
    let s = sim(SimConfig {
        dlr_mix: "delivered:1,90533=undeliverable".parse().unwrap(),
        ..Default::default()
    })
    .await;
    let (c, mut ev) = start(ClientConfig {
        window: 50,
        ..client_cfg(&s)
    })
    .await;
    let ids: Vec<String> = submit_all(&c, 200, true)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 200);
    let receipts = next_events(&mut ev, 200).await;
    let mut seen = HashSet::new();
    for e in receipts {
        let Got::Receipt(r) = e else {
            panic!("unexpected {e:?}")
        };
        assert!(ids.contains(&r.message_id));
        assert!(seen.insert(r.message_id.clone()), "receipt twice");
        assert_eq!(r.state, ReceiptState::Delivered);
    }
    // The prefix rule turns this one into a failure.
    let mut m = sm(1, true);
    m.dest.addr = "905331112233".into();
    let id = c.submit(m).await.unwrap().message_id;
    let Got::Receipt(r) = next_events(&mut ev, 1).await.remove(0) else {
        panic!()
    };
    assert_eq!(
        (r.message_id.as_str(), r.state),
        (id.as_str(), ReceiptState::Undeliverable)
    );
    let stats = c.shutdown().await;
    assert_eq!(stats.submitted, 201);
    let counts = s.shutdown().await;
    assert_eq!(counts.submits, 201);
    assert_eq!(counts.receipts_sent, 201);
    assert_eq!(counts.deliver_acked, 201);
    assert_eq!(counts.unbinds, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_texts_go_out_as_udh_payload_or_sar() {
    let s = sim(SimConfig {
        record_submits: true,
        ..Default::default()
    })
    .await;
    let text = "Sayın müşterimiz, siparişiniz bugün kargoya verildi. ".repeat(6);
    for (mode, expect_pdus) in [
        (LongText::Udh, None),
        (LongText::Sar, None),
        (LongText::Payload, Some(1)),
    ] {
        let before = s.submits().len();
        let (c, mut ev) = start(ClientConfig {
            long_text: mode,
            ..client_cfg(&s)
        })
        .await;
        let msg = TextMessage {
            from: "ULAK".into(),
            to: "+905321234567".into(),
            text: text.clone(),
            receipt: true,
            ..Default::default()
        };
        let pending = c.send_text(&msg).await.unwrap();
        let n = pending.len();
        for p in pending {
            p.outcome().await.unwrap();
        }
        next_events(&mut ev, n).await;
        c.shutdown().await;
        let recs = s.submits()[before..].to_vec();
        assert_eq!(recs.len(), n);
        if let Some(e) = expect_pdus {
            assert_eq!(n, e);
            assert!(recs[0].sm.tlvs.message_payload().unwrap().len() > 254);
        } else {
            assert!(n > 1, "{mode:?} should split");
            for (i, r) in recs.iter().enumerate() {
                match mode {
                    LongText::Udh => {
                        assert_eq!(r.sm.esm_class & 0x40, 0x40);
                        let (udh, _) = ulak_text::Udh::parse(&r.sm.short_message).unwrap();
                        let concat = udh.concat.unwrap();
                        assert_eq!((concat.seq as usize, concat.total as usize), (i + 1, n));
                    }
                    _ => {
                        let sar = r.sm.tlvs.sar().unwrap();
                        assert_eq!((sar.seq as usize, sar.total as usize), (i + 1, n));
                    }
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_messages_are_decoded_and_reassembled() {
    let s = sim(SimConfig::default()).await;
    let (c, mut ev) = start(client_cfg(&s)).await;
    let long = "Merhaba! Bu uzun bir gelen mesajdır, çok parçalı: ğüşiöç ĞÜŞİÖÇ ı. ".repeat(5);
    let cases = [
        ("kısa mesaj", InboundConcat::Udh8, false),
        (long.as_str(), InboundConcat::Udh8, true),
        (long.as_str(), InboundConcat::Udh16, false),
        (long.as_str(), InboundConcat::Sar, true),
        (long.as_str(), InboundConcat::Payload, false),
    ];
    for (text, concat, reverse) in cases {
        s.inject_inbound(&Inject {
            system_id: None,
            from: "905321234567".into(),
            to: "4545".into(),
            text: text.into(),
            concat,
            reverse,
        })
        .unwrap();
        let Got::Inbound(m) = next_events(&mut ev, 1).await.remove(0) else {
            panic!()
        };
        assert_eq!(m.text.as_deref(), Some(text), "{concat:?}");
        assert!(m.complete);
        assert_eq!(
            (m.source.as_str(), m.dest.as_str()),
            ("905321234567", "4545")
        );
    }
    c.shutdown().await;
    let counts = s.shutdown().await;
    assert_eq!(counts.deliver_acked, counts.inbound_sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incomplete_inbound_is_released_after_the_timeout() {
    let s = sim(SimConfig::default()).await;
    let (c, mut ev) = start(ClientConfig {
        reassembly_timeout: Duration::from_millis(300),
        ..client_cfg(&s)
    })
    .await;
    // Deliver part 1 of 2 only, by hand.
    let mut part = ShortMessage {
        source: Address::new(1, 1, "905321234567"),
        dest: Address::new(0, 0, "4545"),
        short_message: Bytes::from_static(b"first half"),
        ..Default::default()
    };
    part.tlvs.set_sar(ulak_smpp::pdu::Sar {
        reference: 9,
        total: 2,
        seq: 1,
    });
    s.inject_raw(part).unwrap();
    let Got::Inbound(m) = next_events(&mut ev, 1).await.remove(0) else {
        panic!()
    };
    assert!(!m.complete);
    assert_eq!(m.text.as_deref(), Some("first half"));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_full_holds_further_submits() {
    let s = sim(SimConfig {
        resp_delay: Duration::from_millis(150),
        ..Default::default()
    })
    .await;
    let (c, _ev) = start(ClientConfig {
        window: 5,
        ..client_cfg(&s)
    })
    .await;
    let t = Instant::now();
    let out = submit_all(&c, 20, false).await;
    assert!(out.iter().all(Result::is_ok));
    // 20 submits through a window of 5 with 150 ms per turn take at least 4 turns.
    assert!(
        t.elapsed() >= Duration::from_millis(550),
        "{:?}",
        t.elapsed()
    );
    c.shutdown().await;
    assert_eq!(s.counts().max_outstanding, 5);
}

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
async fn throttling_slows_down_and_retries_instead_of_failing() {
    let s = sim(SimConfig {
        throttle_per_s: Some(100),
        ..Default::default()
    })
    .await;
    let (c, _ev) = start(ClientConfig {
        window: 50,
        ..client_cfg(&s)
    })
    .await;
    let t = Instant::now();
    let out = submit_all(&c, 250, false).await;
    assert!(out.iter().all(Result::is_ok), "{out:?}");
    let stats = c.shutdown().await;
    assert!(stats.throttled > 0);
    assert_eq!(stats.submitted, 250);
    // 250 at 100/s in fixed one-second windows needs at least two window changes.
    assert!(
        t.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        t.elapsed()
    );
    let counts = s.shutdown().await;
    assert_eq!(counts.submits, 250);
    assert_eq!(counts.throttled, stats.throttled);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_errors_are_reported_as_such() {
    let s = sim(SimConfig::default()).await;
    let (c, _ev) = start(ClientConfig {
        bind_mode: BindMode::TransmitterReceiver,
        ..client_cfg(&s)
    })
    .await;
    // query_sm is not a submit: the simulator answers it, but the client only takes submit
    // bodies, so send an unsupported request body instead and expect a rejection.
    let r = c
        .enqueue(Body::Unknown {
            command_id: 0x0000_0777,
            body: Bytes::new(),
        })
        .await
        .unwrap()
        .outcome()
        .await;
    assert!(
        matches!(r, Err(SubmitError::Rejected(st)) if st == ulak_smpp::CommandStatus::ESME_RINVCMDID),
        "{r:?}"
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_per_bind_spaces_submits() {
    let s = sim(SimConfig::default()).await;
    let (c, _ev) = start(ClientConfig {
        window: 100,
        rate_per_s: Some(100.0),
        ..client_cfg(&s)
    })
    .await;
    let t = Instant::now();
    let out = submit_all(&c, 60, false).await;
    assert!(out.iter().all(Result::is_ok));
    // 60 submits at 100/s take at least 0.59 s even with a window of 100.
    let e = t.elapsed();
    assert!(
        e >= Duration::from_millis(580) && e < Duration::from_secs(3),
        "{e:?}"
    );
    c.shutdown().await;
}

/// A high rate is kept on average without the timer's resolution capping it: before the
/// pacing allowed a small burst per wake-up, a link could not pass ~1,000 submits/s
/// whatever its configured rate, so these 3,000 at 3,000/s took over 3 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_high_rate_is_kept_not_capped_by_the_timer() {
    let s = sim(SimConfig::default()).await;
    let (c, _ev) = start(ClientConfig {
        window: 100,
        rate_per_s: Some(3000.0),
        ..client_cfg(&s)
    })
    .await;
    let t = Instant::now();
    let out = submit_all(&c, 3000, false).await;
    assert!(out.iter().all(Result::is_ok));
    let e = t.elapsed();
    // The pace holds (one second's worth, less the 5 ms tolerance) and is reached.
    assert!(
        e >= Duration::from_millis(980) && e < Duration::from_millis(2500),
        "{e:?}"
    );
    c.shutdown().await;
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
