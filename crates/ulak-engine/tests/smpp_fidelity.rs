//! What the SMSC sees of an SMPP account's settings, checked at the simulator: the bind mode
//! (a transmitter+receiver account binds twice, a transmitter account once, neither as a
//! transceiver), the source and destination TON/NPI (by the header's form unless the account
//! sets them), the message's remaining validity as a relative `validity_period`, delivery
//! receipts asked for, and the data coding the account's text policy chose.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_core::net::OutboundPolicy;
use ulak_engine::{Engine, EngineConfig};
use ulak_smpp::sim::{LinkRole, SimConfig, Simulator};

mod common;

use common::{account, funded_default, sqlite_store};

fn message(
    p: ProviderAccountId,
    sender: &str,
    to: &str,
    text: &str,
    valid_until: i64,
) -> NewMessage {
    NewMessage::new(
        Recipient::Msisdn(ulak_core::Msisdn::parse(to, CountryType::Tr).unwrap()),
        SenderName::parse(sender).unwrap(),
        text,
        ulak_text::Policy::TurkishShift,
        1,
        Some(p),
        None,
        valid_until,
    )
    .unwrap()
}

/// Seconds of a relative SMPP time `YYMMDDhhmmss000R` (years and months are not used).
fn relative_secs(t: &str) -> u64 {
    assert!(
        t.len() == 16 && t.ends_with("000R") && t.starts_with("0000"),
        "{t:?}"
    );
    let n = |r: std::ops::Range<usize>| t[r].parse::<u64>().unwrap();
    n(4..6) * 86_400 + n(6..8) * 3600 + n(8..10) * 60 + n(10..12)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_smsc_sees_the_accounts_settings() {
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite_store(dir.path()).await;
    let sim = Simulator::start(SimConfig {
        accounts: vec![
            ("txrx".into(), "pw".into()),
            ("tx".into(), "pw".into()),
            ("opr".into(), "pw".into()),
        ],
        record_submits: true,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let port = sim.local_addr().port();
    let c = funded_default(&s, 1000).await;
    let smpp = |id: &'static str, mode: &'static str| {
        move |d: &mut ProviderAccountDraft| {
            d.name = id.into();
            d.kind = "smpp".into();
            d.host = "127.0.0.1".into();
            d.port = port;
            d.system_id = id.into();
            d.password = Some("pw".into());
            d.bind_mode = Some(mode.into());
        }
    };
    let txrx = account(&s, c, smpp("txrx", "transmitter_receiver")).await;
    let tx = account(&s, c, smpp("tx", "transmitter")).await;
    let opr = account(&s, c, |d| {
        smpp("opr", "transceiver")(d);
        d.source = Some(TonNpi { ton: 1, npi: 1 });
        d.destination = Some(TonNpi { ton: 0, npi: 1 });
    })
    .await;
    let now = ulak_engine::worker::now_ms();
    let hour = now + 3_600_000;
    for m in [
        message(txrx, "ULAK", "05321110001", "Merhaba", hour),
        message(txrx, "905321234567", "05321110002", "Merhaba", hour),
        message(tx, "ULAK", "05321110003", "Привет", i64::MAX),
        message(opr, "ULAK", "05321110004", "Merhaba", hour),
    ] {
        s.enqueue_message(c, m, None).await.unwrap();
    }
    let engine = Engine::start(
        s.clone(),
        EngineConfig {
            outbound: OutboundPolicy::any(),
            ..EngineConfig::default()
        },
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.submits().len() < 4 {
        assert!(Instant::now() < deadline, "{} submits", sim.submits().len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let links = sim.links();
    let submits = sim.submits();
    engine.shutdown().await;
    sim.shutdown().await;

    // Binds: two for the transmitter+receiver account, one transmitter, one transceiver.
    assert_eq!(
        links,
        [
            ("opr".to_owned(), LinkRole::Transceiver),
            ("tx".to_owned(), LinkRole::Transmitter),
            ("txrx".to_owned(), LinkRole::Transmitter),
            ("txrx".to_owned(), LinkRole::Receiver),
        ]
    );
    let by_dest = |d: &str| {
        submits
            .iter()
            .find(|r| r.sm.dest.addr == d)
            .unwrap_or_else(|| panic!("no submit to {d}"))
            .sm
            .clone()
    };
    let alnum = by_dest("905321110001");
    let numeric = by_dest("905321110002");
    let cyrillic = by_dest("905321110003");
    let chosen = by_dest("905321110004");
    let ton_npi = |a: &ulak_smpp::pdu::Address| (a.ton, a.npi);
    // By form when the account keeps the default; the account's own when it sets one.
    assert_eq!(
        (ton_npi(&alnum.source), alnum.source.addr.as_str()),
        ((5, 0), "ULAK")
    );
    assert_eq!(ton_npi(&numeric.source), (1, 1));
    assert_eq!(ton_npi(&chosen.source), (1, 1));
    assert_eq!(ton_npi(&alnum.dest), (1, 1));
    assert_eq!(ton_npi(&chosen.dest), (0, 1));
    // What is left of the message's validity: about an hour; a message valid for ever gets
    // the longest validity, 72 hours.
    let left = relative_secs(&alnum.validity_period);
    assert!((3500..=3600).contains(&left), "{left} s");
    assert_eq!(relative_secs(&cyrillic.validity_period), 72 * 3600);
    // Receipts asked for; the data coding the text needs (GSM 7-bit default alphabet, UCS-2).
    assert!(submits.iter().all(|r| r.sm.registered_delivery == 1));
    assert_eq!((alnum.data_coding, cyrillic.data_coding), (0, 8));
}
