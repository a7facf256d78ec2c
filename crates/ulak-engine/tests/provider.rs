//! The engine drives any provider through the neutral interface: a provider written here,
//! speaking no SMPP, gets the account's queued messages, its submits are recorded, and its
//! delivery reports and inbound messages are stored and only then acknowledged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use ulak_core::model::*;
use ulak_engine::provider::{DownState, LinkHealth, Taken};
use ulak_engine::{
    Ack, Attempt, EngineConfig, Events, Health, Provider, ProviderEvent, SubmitSettings,
};
use ulak_store::{InboundIn, ReceiptIn, Store};

mod common;

/// What the provider and the test share.
#[derive(Default)]
struct Seen {
    /// Each submit: the message and the segments sent.
    submits: Mutex<Vec<(MessageId, Vec<u32>)>>,
    /// Where the provider's events go; taken when it stops, which closes the channel.
    events: Mutex<Option<mpsc::UnboundedSender<ProviderEvent>>>,
    stopped: AtomicBool,
}

impl Seen {
    fn send(&self, e: ProviderEvent) {
        let events = self.events.lock().unwrap();
        events.as_ref().expect("running").send(e).unwrap();
    }
}

/// A provider that takes every segment at once, with ids of its own.
struct InTest {
    seen: Arc<Seen>,
    state: DownState,
}

fn operator_id(m: MessageId, part: u32) -> String {
    format!("t{}-{part}", m.0)
}

impl Provider for InTest {
    fn submit<'a>(&'a self, message: &'a Message, taken: &'a [u32]) -> BoxFuture<'a, Attempt> {
        Box::pin(async move {
            let parts: Vec<u32> = (1..=message.segments)
                .filter(|p| !taken.contains(p))
                .collect();
            let mut submits = self.seen.submits.lock().unwrap();
            submits.push((message.id, parts.clone()));
            let taken = parts
                .into_iter()
                .map(|part| Taken {
                    part,
                    operator_id: operator_id(message.id, part),
                })
                .collect();
            Attempt::accepted(taken)
        })
    }

    fn paused(&self) -> bool {
        self.state.is_down()
    }

    fn set_down(&self, down: bool) {
        self.state.set_down(down);
    }

    fn health(&self) -> LinkHealth {
        LinkHealth {
            bound: 1,
            wanted: 1,
            last_error: None,
            failing_streak: self.state.streak(),
        }
    }

    fn reset_streak(&self) {
        self.state.answered();
    }

    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            self.seen.stopped.store(true, Ordering::SeqCst);
            self.seen.events.lock().unwrap().take();
        })
    }
}

/// Reads the store from inside an ack (a synchronous call on the receipt task's thread), to
/// see what was stored by the moment the event was acknowledged.
fn read_now<T>(f: impl Future<Output = T>) -> T {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

async fn until<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_provider_in_a_test_is_driven(s: Store) {
    let c = common::funded_default(&s, 100).await;
    let p = common::account(&s, c, |d| {
        d.window = Some(5);
        d.rate_per_sec = Some(1_000);
    })
    .await;
    let account = s.get_provider_account(c, p).await.unwrap().unwrap();
    let mut ids = Vec::new();
    for (i, text) in ["Merhaba", &"Uzun mesaj: ".repeat(20), "Şifreniz 1234"]
        .into_iter()
        .enumerate()
    {
        let m = common::message(p, &format!("0532555000{i}"), text);
        ids.push(s.enqueue_message(c, m, None).await.unwrap().message);
    }
    assert_eq!(ids[1].segments, 2);

    let (tx, events): (_, Events) = mpsc::unbounded_channel();
    let seen = Arc::new(Seen {
        events: Mutex::new(Some(tx)),
        ..Seen::default()
    });
    let provider = InTest {
        seen: seen.clone(),
        state: DownState::default(),
    };
    let cfg = EngineConfig {
        submit: SubmitSettings {
            owner: "in-test".into(),
            ..EngineConfig::default().submit
        },
        idle: Duration::from_millis(20),
        ..EngineConfig::default()
    };
    let health = Health::default();
    let stop = CancellationToken::new();
    let driving = {
        let (s, health, stop) = (s.clone(), health.clone(), stop.clone());
        tokio::spawn(async move {
            ulak_engine::drive(s, &account, Box::new(provider), events, &cfg, &health, stop).await;
        })
    };

    // Every message submitted once, whole, and recorded with the provider's ids.
    for m in &ids {
        let d = until("the submit to be recorded", async || {
            let d = s.get_message(c, m.id).await.unwrap().unwrap();
            (d.message.state == MessageState::Submitted).then_some(d)
        })
        .await;
        let got: Vec<_> = d.parts.iter().map(|x| x.operator_id.clone()).collect();
        let want: Vec<_> = (1..=m.segments).map(|k| operator_id(m.id, k)).collect();
        assert_eq!(got, want);
    }
    let mut submits = seen.submits.lock().unwrap().clone();
    submits.sort();
    let want: Vec<_> = ids
        .iter()
        .map(|m| (m.id, (1..=m.segments).collect::<Vec<_>>()))
        .collect();
    assert_eq!(submits, want, "each message submitted once");
    assert!(health.get(p).is_some_and(|h| h.up));

    // A receipt per segment (one undeliverable), and a message from a handset; each ack
    // looks at the store as it is answered.
    let at_ack = Arc::new(Mutex::new(Vec::new()));
    for m in &ids {
        for part in 1..=m.segments {
            let state = match m.id == ids[2].id {
                true => MessageState::Undeliverable,
                false => MessageState::Delivered,
            };
            let (s, at_ack, id) = (s.clone(), at_ack.clone(), m.id);
            let ack = Ack::new(move || {
                let d = read_now(s.get_message(c, id)).unwrap().unwrap();
                let k = usize::try_from(part - 1).unwrap();
                at_ack.lock().unwrap().push((id, part, d.parts[k].state));
            });
            let r = ReceiptIn {
                operator_ids: vec![operator_id(m.id, part)],
                state,
                error_code: None,
                raw: "{}".into(),
            };
            seen.send(ProviderEvent::Receipt(r, ack));
        }
    }
    let inbound_at_ack = Arc::new(Mutex::new(None));
    let ack = {
        let (s, seen_at) = (s.clone(), inbound_at_ack.clone());
        Ack::new(move || {
            let page = read_now(s.list_inbound(c, &ListQuery::default())).unwrap();
            *seen_at.lock().unwrap() = Some(page.items.len());
        })
    };
    let inbound = InboundIn {
        sender: "905321112233".into(),
        recipient: "4545".into(),
        body: "DUR".into(),
        body_raw: None,
        data_coding: Some(0),
        complete: true,
    };
    seen.send(ProviderEvent::Inbound(inbound, ack));

    let states = [
        MessageState::Delivered,
        MessageState::Delivered,
        MessageState::Undeliverable,
    ];
    for (m, want) in ids.iter().zip(states) {
        until("the receipts to be applied", async || {
            let d = s.get_message(c, m.id).await.unwrap().unwrap();
            (d.message.state == want).then_some(())
        })
        .await;
    }
    until("the inbound ack", async || *inbound_at_ack.lock().unwrap()).await;
    assert_eq!(
        *inbound_at_ack.lock().unwrap(),
        Some(1),
        "stored before its ack"
    );
    let mut acked = at_ack.lock().unwrap().clone();
    acked.sort_by_key(|(m, k, _)| (*m, *k));
    let want: Vec<_> = ids
        .iter()
        .zip(states)
        .flat_map(|(m, st)| (1..=m.segments).map(move |k| (m.id, k, st)))
        .collect();
    assert_eq!(
        acked, want,
        "each receipt acknowledged once, after it was stored"
    );

    // Stopping stops the provider, whose channel closing ends the receipt loop.
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), driving)
        .await
        .expect("the account stops")
        .unwrap();
    assert!(seen.stopped.load(Ordering::SeqCst));
    assert_eq!(
        seen.submits.lock().unwrap().len(),
        3,
        "nothing more was sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_in_a_test_is_driven_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    a_provider_in_a_test_is_driven(common::sqlite_store(dir.path()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_in_a_test_is_driven_on_postgres() {
    let Some((s, _schema)) = common::pg_store().await else {
        return;
    };
    a_provider_in_a_test_is_driven(s).await;
}
