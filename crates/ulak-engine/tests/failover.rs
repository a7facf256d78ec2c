//! Failover over real TCP: a route over two SMPP accounts, each to its own simulator; the
//! first account's SMSC goes away (a proxy in front of it closes every link and stops
//! listening). Its messages move to the second account: every message is delivered, none
//! reaches an SMSC twice, and each records the account that sent it and why it moved.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ulak_core::model::*;
use ulak_core::net::OutboundPolicy;
use ulak_engine::{Engine, EngineConfig};
use ulak_smpp::sim::{SimConfig, SimHandle, Simulator};
use ulak_store::Store;

mod common;
use common::proxy::Proxy;

async fn sim() -> SimHandle {
    Simulator::start(SimConfig {
        dlr_delay: Duration::from_millis(10),
        record_submits: true,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// An SMPP account to `port` on the loopback, as the simulator's default user.
async fn smpp_account(s: &Store, c: CompanyId, name: &str, port: u16) -> ProviderAccountId {
    common::account(s, c, |d| {
        d.name = name.into();
        d.kind = "smpp".into();
        d.host = "127.0.0.1".into();
        d.port = port;
        d.system_id = "ulak".into();
        d.password = Some("secret".into());
        d.window = Some(10);
        d.rate_per_sec = Some(2_000);
    })
    .await
}

/// Queues `n` messages to numbers from `first`, each through the account the company's
/// routes choose.
async fn queue(s: &Store, c: CompanyId, first: usize, n: usize) -> Vec<Message> {
    let routing = s.routing(c).await.unwrap();
    let mut out = Vec::new();
    for i in first..first + n {
        let phone = format!("0532{i:07}");
        let to = Recipient::Msisdn(
            ulak_core::Msisdn::parse(&phone, ulak_core::CountryType::Tr).unwrap(),
        );
        let (route, account) = routing
            .pick(&to, TrafficClass::Transactional, |_| false)
            .unwrap();
        let m = common::message(account.id, &phone, &format!("Mesaj {i}")).routed(route);
        out.push(s.enqueue_message(c, m, None).await.unwrap().message);
    }
    out
}

async fn wait_delivered(s: &Store, c: CompanyId, ms: &[Message]) -> Vec<Message> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let mut now = Vec::new();
        for m in ms {
            now.push(s.get_message(c, m.id).await.unwrap().unwrap().message);
        }
        let done = now
            .iter()
            .filter(|m| m.state == MessageState::Delivered)
            .count();
        if done == ms.len() {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "{done} of {} delivered: {:?}",
            ms.len(),
            s.count_messages_by_state().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn first_account_goes_away(s: Store) {
    let (sim1, sim2) = (sim().await, sim().await);
    let proxy = Proxy::start(sim1.local_addr()).await;
    let c = common::funded_default(&s, 1_000).await;
    let a = smpp_account(&s, c, "a", proxy.addr.port()).await;
    let b = smpp_account(&s, c, "b", sim2.local_addr().port()).await;
    let draft = RouteDraft {
        position: 1,
        targets: vec![
            RouteTargetDraft {
                account_id: a.0,
                weight: Some(1000),
            },
            RouteTargetDraft {
                account_id: b.0,
                weight: Some(1),
            },
        ],
        ..RouteDraft::default()
    };
    let route = s
        .create_route(c, NewRoute::new(draft).unwrap())
        .await
        .unwrap();
    let cfg = EngineConfig {
        refresh: Duration::from_millis(200),
        idle: Duration::from_millis(20),
        outbound: OutboundPolicy::any(),
        ..EngineConfig::default()
    };
    let metrics = cfg.submit.metrics.clone();
    let engine = Engine::start(s.clone(), cfg);

    // Both up: the route sends through its accounts by weight.
    let before = queue(&s, c, 0, 30).await;
    let before = wait_delivered(&s, c, &before).await;
    let via_a = before
        .iter()
        .filter(|m| m.provider_account_id == Some(a))
        .count();
    assert!(via_a > 20, "{via_a} of 30 through the heavier account");

    // The first account's SMSC goes away; what is queued for it then moves on.
    proxy.down();
    let after = queue(&s, c, 1_000, 50).await;
    let chosen_a = after
        .iter()
        .filter(|m| m.provider_account_id == Some(a))
        .count();
    assert!(
        chosen_a > 40,
        "{chosen_a} of 50 chosen for the first account"
    );
    let after = wait_delivered(&s, c, &after).await;
    for m in &after {
        assert_eq!(
            m.provider_account_id,
            Some(b),
            "message {} sent through b",
            m.id
        );
        assert_eq!(m.route_id, Some(route.id));
    }
    let moved = queue_history(&s, c, &after).await;
    assert_eq!(moved, chosen_a, "each moved message says so in its history");
    let health = engine.health().get(a).unwrap();
    assert!(!health.up, "{health:?}");
    assert!(health.last_error.is_some());
    assert!(engine.health().get(b).unwrap().up);
    let text = metrics.render(&[]);
    assert!(
        text.contains(&format!("ulak_provider_up{{provider=\"{a}\"}} 0")),
        "{text}"
    );
    assert!(
        text.contains(&format!("ulak_provider_up{{provider=\"{b}\"}} 1")),
        "{text}"
    );

    // Back: the account is up again.
    proxy.up();
    let deadline = Instant::now() + Duration::from_secs(30);
    while engine.health().is_down(a) {
        assert!(Instant::now() < deadline, "the account did not come back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    engine.shutdown().await;

    // Nothing reached an SMSC twice: each number once over both, the first SMSC saw only
    // what was sent before it went away.
    let mut seen: HashMap<String, u32> = HashMap::new();
    for r in sim1.submits().into_iter().chain(sim2.submits()) {
        *seen.entry(r.sm.dest.addr.clone()).or_default() += 1;
    }
    assert_eq!(seen.len(), 80);
    assert!(seen.values().all(|&n| n == 1), "a number got two submits");
    assert_eq!(sim1.shutdown().await.submits, via_a as u64);
    assert_eq!(sim2.shutdown().await.submits, (80 - via_a) as u64);
    assert_eq!(s.credit_balance(c).await.unwrap(), 1_000 - 80);
}

/// How many of `ms` were moved, by their history.
async fn queue_history(s: &Store, c: CompanyId, ms: &[Message]) -> usize {
    let mut n = 0;
    for m in ms {
        let d = s.get_message(c, m.id).await.unwrap().unwrap();
        if d.events.iter().any(|e| {
            e.detail
                .as_deref()
                .is_some_and(|t| t.contains("moved from provider account"))
        }) {
            n += 1;
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    first_account_goes_away(common::sqlite_store(dir.path()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_on_postgres() {
    let Some((s, _schema)) = common::pg_store().await else {
        return;
    };
    first_account_goes_away(s).await;
}
