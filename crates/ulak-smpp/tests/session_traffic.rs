//! ESME client against the SMSC simulator over real TCP on 127.0.0.1: submits and their
//! receipts, long texts, inbound messages, and the window, throttling and rate limits.
#![allow(clippy::unwrap_used)]

#[path = "session/common.rs"]
mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ulak_smpp::client::{BindMode, ClientConfig, LongText, SubmitError, TextMessage};
use ulak_smpp::pdu::{Address, Body, ShortMessage};
use ulak_smpp::receipt::ReceiptState;
use ulak_smpp::sim::{InboundConcat, Inject, SimConfig};

use common::{Got, client_cfg, next_events, sim, sm, start, submit_all};

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
