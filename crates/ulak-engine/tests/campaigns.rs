//! A campaign's streamed start: queueing interrupted after its first chunk is taken up by the
//! engine's recovery (and by racing writers) with every recipient queued once and the credit
//! right; a resumed writer does not queue again what the audience moved under it; credit that
//! runs short mid-way halts the queueing until a resume. And, ignored by default, the peak
//! memory of starting a campaign of 1,000,000 pasted numbers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use common::campaign::{add_members, balance, counts, draft, queue, recipients, setup};
use common::{account, sqlite_store};
use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_engine::campaign::{self, Audience, Chunking};
use ulak_engine::{Engine, EngineConfig};
use ulak_store::{NewCampaign, QUEUEING_ACTIVE, QUEUEING_DONE, QUEUEING_HALTED};

/// Group of 6 (one opted out), pasted numbers: 20 new ones, two members again, one twice,
/// one on the opt-out list, two unreadable.
fn audience(g: GroupId) -> Audience {
    let mut numbers: Vec<String> = (0..20).map(|i| format!("0532111{i:04}")).collect();
    numbers.extend(
        [
            "0533 000 00 00",
            "05330000003",
            "05321110005",
            "05329999999",
            "0312 000 00 00",
            "bir numara",
        ]
        .map(String::from),
    );
    Audience {
        group_ids: vec![g.0],
        numbers: numbers.into_iter().collect(),
        ..Audience::default()
    }
}

/// With 05329999999 on the opt-out list: 25 messages (5 members, 20 numbers), 4 skipped (the
/// opted-out member, the listed number, 2 unreadable), 3 duplicates; 32 candidates.
const EXPECTED: (u64, usize, u64) = (25, 4, 3);

#[tokio::test]
async fn an_interrupted_queueing_is_taken_up_by_the_engine_with_everyone_queued_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite_store(dir.path()).await;
    let (c, g) = setup(&s, 1000, 6).await;
    s.add_opt_out(
        c,
        &ulak_core::Msisdn::parse("05329999999", CountryType::Tr).unwrap(),
        None,
    )
    .await
    .unwrap();
    let a = audience(g);
    let k = draft(&s, c, &a, "Sayın {{ad}}, merhaba").await;
    let plan = campaign::plan(&s, &k, &a).await.unwrap();
    // Members render with their name; pasted numbers have no {{ad}}: skipped with the reason.
    let k2 = draft(&s, c, &a, "Merhaba {{telefon}}").await;
    let plan2 = campaign::plan(&s, &k2, &a).await.unwrap();
    assert_eq!(
        (plan2.recipients, plan2.skipped.len(), plan2.duplicates),
        EXPECTED,
        "{:?}",
        plan2.skipped
    );
    assert_eq!(plan2.cost, 25);
    assert_eq!(plan2.samples[0], "Merhaba 0533 000 00 00");
    assert_eq!(plan2.samples.len(), 5);
    assert_eq!((plan.recipients, plan.skipped.len()), (5, 24));
    assert_eq!(
        plan.skipped
            .iter()
            .filter(|x| x.reason == "no value for ad")
            .count(),
        20
    );
    assert_eq!(plan.samples[0], "Sayın Üye 0, merhaba");

    // Interrupted after the first chunk of 4 candidates.
    let started = campaign::start_with(
        &s,
        &k2,
        &a,
        Chunking {
            size: 4,
            limit: Some(1),
        },
    )
    .await
    .unwrap();
    let q = queue(&s, &started).await;
    assert_eq!(
        (
            started.state.as_str(),
            q.queueing,
            q.queued_pos,
            q.reserve_left
        ),
        ("running", QUEUEING_ACTIVE, 4, 22)
    );
    assert_eq!(balance(&s, c).await, 1000 - 25);
    // Members 0, 2, 3 queued (claimable now), member 1 skipped.
    assert_eq!(recipients(&s, &started).await.len(), 3);
    assert_eq!(counts(&s, &started).await.get("skipped"), Some(&1));
    s.finish_done_campaigns().await.unwrap();
    assert_eq!(
        s.get_campaign(c, k2.id).await.unwrap().unwrap().state,
        CampaignState::Running
    );

    // The engine takes it up once it has gone stale (here at once). No provider runs (no
    // simulator), so what is queued stays queued and can be counted.
    let engine = Engine::start(
        s.clone(),
        EngineConfig {
            refresh: Duration::from_millis(50),
            queue_stale: Duration::ZERO,
            ..EngineConfig::default()
        },
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let q = queue(&s, &k2).await;
        if q.queueing == QUEUEING_DONE {
            break s.get_campaign(c, k2.id).await.unwrap().unwrap();
        }
        assert!(Instant::now() < deadline, "still queueing: {q:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    engine.shutdown().await;
    let got = recipients(&s, &done).await;
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(got.len(), 25, "{got:?}");
    assert_eq!(unique.len(), 25, "each once: {got:?}");
    assert_eq!(
        counts(&s, &done).await,
        BTreeMap::from([("queued".to_owned(), 25), ("skipped".to_owned(), 4)])
    );
    assert_eq!(
        (
            done.state.as_str(),
            done.recipients,
            done.skipped,
            done.cost,
            queue(&s, &done).await.reserve_left,
            queue(&s, &done).await.queued_pos
        ),
        ("running", 25, 4, 25, 0, 32)
    );
    assert_eq!(balance(&s, c).await, 1000 - 25);
}

#[tokio::test]
async fn racing_writers_queue_each_recipient_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite_store(dir.path()).await;
    let (c, g) = setup(&s, 1000, 6).await;
    let a = audience(g);
    let k = draft(&s, c, &a, "Merhaba").await;
    let started = campaign::start_with(
        &s,
        &k,
        &a,
        Chunking {
            size: 3,
            limit: Some(2),
        },
    )
    .await
    .unwrap();
    assert_eq!(queue(&s, &started).await.queued_pos, 6);
    // Two nodes take it up at once, each in chunks of 3: one of them writes each chunk.
    let small = Chunking {
        size: 3,
        limit: None,
    };
    let (x, y) = tokio::join!(
        campaign::queue_with(&s, &started, &a, small),
        campaign::queue_with(&s, &started, &a, small)
    );
    x.unwrap();
    y.unwrap();
    let done = s.get_campaign(c, k.id).await.unwrap().unwrap();
    assert_eq!(queue(&s, &done).await.queueing, QUEUEING_DONE);
    let got = recipients(&s, &done).await;
    let unique: HashSet<&String> = got.iter().collect();
    // 26: 05329999999 is not on the opt-out list here.
    assert_eq!((got.len(), unique.len()), (26, 26), "{got:?}");
    assert_eq!((done.recipients, done.skipped, done.cost), (26, 3, 26));
    assert_eq!(balance(&s, c).await, 1000 - 26);
}

#[tokio::test]
async fn a_resumed_writer_does_not_queue_again_what_the_audience_moved() {
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite_store(dir.path()).await;
    let (c, g) = setup(&s, 1000, 3).await;
    let a = Audience {
        group_ids: vec![g.0],
        numbers: (0..10).map(|i| format!("0532111{i:04}")).collect(),
        ..Audience::default()
    };
    let k = draft(&s, c, &a, "Merhaba").await;
    // 3 members (one opted out) and two numbers written; then a member joins the group,
    // which moves every number one place on.
    let started = campaign::start_with(
        &s,
        &k,
        &a,
        Chunking {
            size: 5,
            limit: Some(1),
        },
    )
    .await
    .unwrap();
    assert_eq!(recipients(&s, &started).await.len(), 4);
    add_members(&s, c, g, 3, 1).await;
    let done = campaign::queue(&s, &started, &a).await.unwrap();
    assert_eq!(queue(&s, &done).await.queueing, QUEUEING_DONE);
    let got = recipients(&s, &done).await;
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "nobody twice: {got:?}");
    // Every number got its message (the new member, behind the cursor, is not reached).
    for i in 0..10 {
        assert!(got.contains(&format!("+90532111{i:04}")), "{i}: {got:?}");
    }
    assert_eq!(
        balance(&s, c).await,
        1000 - i64::try_from(got.len()).unwrap()
    );
}

#[tokio::test]
async fn credit_running_short_mid_way_halts_until_a_resume() {
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite_store(dir.path()).await;
    // Exactly enough for the 2 members and 4 numbers planned at start.
    let (c, g) = setup(&s, 6, 3).await;
    let a = Audience {
        group_ids: vec![g.0],
        numbers: (0..4).map(|i| format!("0532111{i:04}")).collect(),
        ..Audience::default()
    };
    let k = draft(&s, c, &a, "Merhaba").await;
    let started = campaign::start_with(
        &s,
        &k,
        &a,
        Chunking {
            size: 2,
            limit: Some(1),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (started.cost, queue(&s, &started).await.reserve_left),
        (6, 5)
    );
    assert_eq!(balance(&s, c).await, 0);
    // Three more members since: the queueing halts, the campaign paused saying why.
    add_members(&s, c, g, 3, 3).await;
    let halted = campaign::queue(&s, &started, &a).await.unwrap();
    assert_eq!(halted.state, CampaignState::Paused);
    assert_eq!(queue(&s, &halted).await.queueing, QUEUEING_HALTED);
    let reason = halted.state_reason.clone().unwrap();
    assert!(reason.contains("insufficient credit"), "{reason}");
    assert!(reason.contains("add credit and resume"), "{reason}");
    assert_eq!(balance(&s, c).await, 0);
    // Nobody takes over a halted queueing, and it is not finished.
    assert!(
        s.claim_stale_campaign_queueing(i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    s.add_credit_entry(
        c,
        NewCreditEntry::new(LedgerKind::Purchase, 10, None).unwrap(),
    )
    .await
    .unwrap();
    // The resume answers at once; its task goes on queueing.
    let writers = campaign::Writers::default();
    campaign::resume(&s, &writers, &halted, a.clone())
        .await
        .unwrap();
    writers.join().await;
    let done = s.get_campaign(c, k.id).await.unwrap().unwrap();
    assert_eq!(
        (
            done.state.as_str(),
            queue(&s, &done).await.queueing,
            done.recipients,
            done.cost
        ),
        ("running", QUEUEING_DONE, 9, 9)
    );
    let got = recipients(&s, &done).await;
    assert_eq!(got.len(), 9, "{got:?}");
    assert_eq!(balance(&s, c).await, 16 - 9);
}

/// A field of /proc/self/status in kB (`VmHWM`, `VmRSS`).
fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

/// Resets VmHWM to the current RSS (Linux `clear_refs`), returning that RSS.
fn reset_peak() -> u64 {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    status_kb("VmRSS")
}

/// Peak memory of starting a campaign of 1,000,000 pasted numbers on SQLite (run with
/// `cargo test --release -p ulak-engine --test campaigns -- --ignored --nocapture`;
/// `ULAK_MEM_N` changes the count). Prints the RSS before, and the peak of, the preview's
/// plan and the start, each measured from a reset of VmHWM, so what the test itself holds
/// (the audience as a million strings, as the server holds it too) is in the "before"
/// figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a memory measurement: slow, run on demand"]
async fn peak_memory_of_starting_a_million_number_campaign() {
    let n: usize = std::env::var("ULAK_MEM_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite_store(dir.path()).await;
    let (c, _) = setup(&s, i64::try_from(n).unwrap() + 10, 0).await;
    let a = Audience {
        numbers: (0..n).map(|i| format!("0532{i:07}")).collect(),
        ..Audience::default()
    };
    let mut k = draft(&s, c, &a, "Sayın müşterimiz, kampanyamız başladı.").await;
    // As the server does once it has parsed the stored audience.
    drop(std::mem::take(&mut k.audience));

    let rss = reset_peak();
    let t = Instant::now();
    let plan = campaign::plan(&s, &k, &a).await.unwrap();
    println!(
        "plan of {n} numbers: {:.1?}; RSS before {}, peak {}",
        t.elapsed(),
        mb(rss),
        mb(status_kb("VmHWM"))
    );
    assert_eq!(plan.recipients, u64::try_from(n).unwrap());

    let rss = reset_peak();
    let t = Instant::now();
    let done = campaign::start_with(&s, &k, &a, Chunking::default())
        .await
        .unwrap();
    println!(
        "start of {n} numbers: {:.1?}; RSS before {}, peak {}, after {}",
        t.elapsed(),
        mb(rss),
        mb(status_kb("VmHWM")),
        mb(status_kb("VmRSS"))
    );
    let n = i64::try_from(n).unwrap();
    assert_eq!(
        (
            queue(&s, &done).await.queueing,
            done.recipients,
            queue(&s, &done).await.queued_pos
        ),
        (QUEUEING_DONE, n, n)
    );
    assert_eq!(balance(&s, c).await, 10);
}

/// The same for a start interrupted half-way and taken up: the resume replays 500,000
/// candidates into the dedupe set and reads back the 500,000 recipients queued, then queues the
/// rest (run like the test above).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a memory measurement: slow, run on demand"]
async fn peak_memory_of_resuming_a_million_number_campaign() {
    let n: usize = std::env::var("ULAK_MEM_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite_store(dir.path()).await;
    let (c, _) = setup(&s, i64::try_from(n).unwrap() + 10, 0).await;
    let a = Audience {
        numbers: (0..n).map(|i| format!("0532{i:07}")).collect(),
        ..Audience::default()
    };
    let mut k = draft(&s, c, &a, "Sayın müşterimiz, kampanyamız başladı.").await;
    drop(std::mem::take(&mut k.audience));
    let half = Chunking {
        size: campaign::CHUNK,
        limit: Some(n / 2 / campaign::CHUNK),
    };
    let started = campaign::start_with(&s, &k, &a, half).await.unwrap();
    assert_eq!(
        queue(&s, &started).await.queued_pos,
        i64::try_from(n / 2).unwrap()
    );

    let rss = reset_peak();
    let t = Instant::now();
    let done = campaign::queue(&s, &started, &a).await.unwrap();
    println!(
        "resume of {n} numbers from {}: {:.1?}; RSS before {}, peak {}",
        n / 2,
        t.elapsed(),
        mb(rss),
        mb(status_kb("VmHWM"))
    );
    let n = i64::try_from(n).unwrap();
    assert_eq!(
        (
            queue(&s, &done).await.queueing,
            done.recipients,
            queue(&s, &done).await.queued_pos
        ),
        (QUEUEING_DONE, n, n)
    );
    assert_eq!(balance(&s, c).await, 10);
}

/// A node restarted with the same node id takes back the queueing it was writing at once,
/// not after the 30 s that tell another node's writer has gone; another node's recent
/// queueing it leaves alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_takes_back_its_own_queueing_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let base = sqlite_store(dir.path()).await;
    let (c, _) = setup(&base, 1000, 0).await;
    let numbers = |from: usize| Audience {
        numbers: (from..from + 40).map(|i| format!("0532{i:07}")).collect(),
        ..Audience::default()
    };
    let one_chunk = Chunking {
        size: 10,
        limit: Some(1),
    };
    // Node A's run stopped after one chunk (as if killed); node B is writing one right now.
    let a = base.clone().for_node("node-a");
    let (mine, theirs) = (numbers(0), numbers(100));
    let k_mine = draft(&a, c, &mine, "Merhaba").await;
    let k_mine = campaign::start_with(&a, &k_mine, &mine, one_chunk)
        .await
        .unwrap();
    let b = base.clone().for_node("node-b");
    let k_theirs = draft(&b, c, &theirs, "Merhaba").await;
    let k_theirs = campaign::start_with(&b, &k_theirs, &theirs, one_chunk)
        .await
        .unwrap();
    assert_eq!(queue(&a, &k_mine).await.queued_pos, 10);

    // Node A starts again, with the usual 30 s before others' queueing counts as abandoned.
    let mut cfg = EngineConfig {
        refresh: Duration::from_millis(50),
        ..EngineConfig::default()
    };
    cfg.submit.owner = "node-a".into();
    let engine = Engine::start(a.clone(), cfg);
    let deadline = Instant::now() + Duration::from_secs(5);
    while queue(&a, &k_mine).await.queueing != QUEUEING_DONE {
        assert!(
            Instant::now() < deadline,
            "node A did not take its queueing back: {:?}",
            queue(&a, &k_mine).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let q = queue(&a, &k_theirs).await;
    engine.shutdown().await;
    assert_eq!(recipients(&a, &k_mine).await.len(), 40, "each once");
    assert_eq!(
        (q.queueing, q.queued_pos),
        (QUEUEING_ACTIVE, 10),
        "node B's queueing is B's while it is fresh"
    );
}

/// A schedule and validity whose sum passes the largest timestamp (stored before schedules
/// were bounded, or written by another client of the store) is refused at preview and at
/// start with a field error, never wrapped into a time in the past: nothing is queued or
/// reserved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiry_past_the_largest_time_is_refused_not_wrapped() {
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite_store(dir.path()).await;
    let (c, g) = setup(&s, 100, 3).await;
    let audience = Audience {
        group_ids: vec![g.0],
        ..Audience::default()
    };
    for (scheduled_at, validity_s) in [(Some(i64::MAX), 86_400), (None, i64::MAX)] {
        let k = s
            .create_campaign(
                c,
                NewCampaign {
                    name: "Sonsuz".into(),
                    sender: None,
                    body: "Merhaba".into(),
                    audience: serde_json::to_string(&audience).unwrap(),
                    scheduled_at,
                    validity_s,
                    preview: false,
                },
            )
            .await
            .unwrap();
        for r in [
            campaign::plan(&s, &k, &audience).await.map(|_| ()),
            campaign::start(&s, &campaign::Writers::default(), &k, audience.clone())
                .await
                .map(|_| ()),
        ] {
            match r {
                Err(campaign::PlanError::Setup { field, .. }) => assert_eq!(field, "scheduled_at"),
                other => panic!("{scheduled_at:?} {validity_s}: {other:?}"),
            }
        }
        assert!(recipients(&s, &k).await.is_empty());
    }
    assert_eq!(balance(&s, c).await, 100, "nothing reserved");
}

/// Each recipient of a campaign goes through the account the company's routes choose for it:
/// here KKTC numbers through an account of their own, the rest through the first account.
#[tokio::test]
async fn each_recipient_is_routed_by_its_own_number() {
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite_store(dir.path()).await;
    let (c, _) = setup(&s, 1000, 0).await;
    let first = s.sending_account(c).await.unwrap().unwrap().id;
    let kktc = account(&s, c, |d| d.name = "kktc".into()).await;
    let draft_route = RouteDraft {
        position: 1,
        zone: Some("kktc".into()),
        class: Some("campaign".into()),
        targets: vec![RouteTargetDraft {
            account_id: kktc.0,
            weight: None,
        }],
        ..RouteDraft::default()
    };
    let route = s
        .create_route(c, NewRoute::new(draft_route).unwrap())
        .await
        .unwrap();
    let a = Audience {
        numbers: (0..3)
            .map(|i| format!("0532111000{i}"))
            .chain((0..3).map(|i| format!("0533840123{i}")))
            .collect(),
        ..Audience::default()
    };
    let k = draft(&s, c, &a, "Merhaba").await;
    let writers = campaign::Writers::default();
    let done = campaign::start(&s, &writers, &k, a.clone()).await.unwrap();
    writers.join().await;
    let ms = s
        .campaign_messages_after(c, done.campaign.id, None, 100)
        .await
        .unwrap();
    assert_eq!(ms.len(), 6);
    for m in ms {
        let want = if m.recipient.starts_with("+90533") {
            (Some(kktc.0), Some(route.id.0))
        } else {
            (Some(first.0), None)
        };
        assert_eq!((m.provider_account_id, m.route_id), want, "{}", m.recipient);
    }
}
