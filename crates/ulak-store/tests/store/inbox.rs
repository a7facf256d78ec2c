//! The inbox: inbound messages linked to subscribers, repeats stored once, opt-out keywords
//! that stop every later submit of the company to that number.

use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_store::InboundIn;

use crate::helpers::{TestDb, company, simulator_account};

crate::store_tests!(
    inbound_is_stored_once_and_keywords_opt_out,
    undecodable_inbound_keeps_its_bytes,
    inbound_is_marked_read_once_and_only_in_its_company,
    an_inbox_lists_newest_first_in_pages
);

async fn an_inbox_lists_newest_first_in_pages(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await.id;
    let other = company(s, CountryType::Tr).await.id;
    let texts: Vec<String> = (0..5).map(|i| format!("mesaj {i}")).collect();
    let batch = texts.iter().map(|t| inb("905324445566", t)).collect();
    s.store_inbound(c, None, batch).await.unwrap();
    s.store_inbound(other, None, vec![inb("905324445566", "başka")])
        .await
        .unwrap();
    let q = ListQuery::parse(Some(2), None, None, None).unwrap();
    let first = s.list_inbound_newest(c, &q).await.unwrap();
    let bodies = |p: &Page<ulak_store::InboundMessage>| {
        p.items.iter().map(|m| m.body.clone()).collect::<Vec<_>>()
    };
    assert_eq!(bodies(&first), ["mesaj 4", "mesaj 3"]);
    let mut seen = bodies(&first);
    let mut cursor = first.next_cursor;
    while let Some(at) = cursor {
        let q = ListQuery::parse(Some(2), Some(at), None, None).unwrap();
        let page = s.list_inbound_newest(c, &q).await.unwrap();
        seen.extend(bodies(&page));
        cursor = page.next_cursor;
    }
    let mut expected = texts.clone();
    expected.reverse();
    assert_eq!(
        seen, expected,
        "every message once, newest first, none of another company"
    );
}

fn inb(from: &str, text: &str) -> InboundIn {
    InboundIn {
        sender: from.into(),
        recipient: "4545".into(),
        body: text.into(),
        body_raw: None,
        data_coding: Some(0),
        complete: true,
    }
}

/// 8-bit data: no text, only its bytes.
fn binary(from: &str, bytes: &[u8]) -> InboundIn {
    InboundIn {
        body: String::new(),
        body_raw: Some(bytes.to_vec()),
        data_coding: Some(4),
        ..inb(from, "")
    }
}

async fn undecodable_inbound_keeps_its_bytes(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await.id;
    let st = s
        .store_inbound(
            c,
            None,
            vec![
                binary("905324445566", &[0x00, 0xff, 0x10, 0x7f]),
                // Different bytes from the same sender are another message, not a repeat,
                // although neither has a text.
                binary("905324445566", &[0xca, 0xfe]),
                binary("905324445566", &[0xca, 0xfe]),
                inb("905324445566", "Merhaba"),
            ],
        )
        .await
        .unwrap();
    assert_eq!((st.stored, st.duplicates), (3, 1));
    let items = s
        .list_inbound(c, &ListQuery::default())
        .await
        .unwrap()
        .items;
    let raw: Vec<_> = items
        .iter()
        .map(|m| (m.body.as_str(), m.body_raw.clone(), m.data_coding))
        .collect();
    assert_eq!(
        raw,
        vec![
            ("", Some(vec![0x00, 0xff, 0x10, 0x7f]), Some(4)),
            ("", Some(vec![0xca, 0xfe]), Some(4)),
            ("Merhaba", None, Some(0)),
        ]
    );
}

async fn inbound_is_stored_once_and_keywords_opt_out(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await.id;
    s.add_credit_entry(
        c,
        NewCreditEntry::new(LedgerKind::Purchase, 10, None).unwrap(),
    )
    .await
    .unwrap();
    let sub = s
        .create_subscriber(
            c,
            NewSubscriber::new(
                "Ali",
                "05324445566",
                CountryType::Tr,
                None,
                Default::default(),
                Consent::OptedIn,
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let p = simulator_account(s, c, "sim").await;
    let to = |n: &str| Recipient::Msisdn(ulak_core::Msisdn::parse(n, CountryType::Tr).unwrap());
    let msg = |n: &str| {
        NewMessage::new(
            to(n),
            SenderName::parse("ULAK").unwrap(),
            "Kampanya",
            ulak_text::Policy::TurkishShift,
            1,
            Some(p),
            None,
            i64::MAX,
        )
        .unwrap()
    };
    let queued = s
        .enqueue_message(c, msg("05324445566"), None)
        .await
        .unwrap()
        .message;
    let other = s
        .enqueue_message(c, msg("05327778899"), None)
        .await
        .unwrap()
        .message;

    let st = s
        .store_inbound(
            c,
            Some(p),
            vec![
                inb("905324445566", "Merhaba, bilgi alabilir miyim?"),
                inb("905324445566", "Merhaba, bilgi alabilir miyim?"),
                inb("GIZLI", "RET"),
                inb("+90 532 444 55 66", "ret"),
            ],
        )
        .await
        .unwrap();
    assert_eq!((st.stored, st.duplicates, st.opted_out), (3, 1, 1));
    let page = s.list_inbound(c, &ListQuery::default()).await.unwrap();
    assert_eq!(page.items.len(), 3);
    assert_eq!(page.items[0].subscriber_id, Some(sub.id));
    assert_eq!(page.items[0].sender, "+905324445566");
    assert_eq!(
        (page.items[1].sender.as_str(), page.items[1].opt_out),
        ("GIZLI", false)
    );
    assert!(page.items[2].opt_out);
    let phone = ulak_core::Msisdn::parse("05324445566", CountryType::Tr).unwrap();
    assert!(s.is_opted_out(c, &phone).await.unwrap());
    assert_eq!(
        s.get_subscriber(c, sub.id).await.unwrap().unwrap().consent,
        Consent::OptedOut
    );

    // The queued message to the opted-out number is never claimed; the sweep skips it and
    // gives its credit back. The other one goes.
    let claimed = s.claim_messages(p, "w", 10, 60_000).await.unwrap();
    assert_eq!(
        claimed.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![other.id]
    );
    assert_eq!(s.skip_opted_out(p).await.unwrap(), 1);
    let m = s.get_message(c, queued.id).await.unwrap().unwrap().message;
    assert_eq!(m.state, MessageState::Skipped);
    assert_eq!(s.credit_balance(c).await.unwrap(), 9);
    assert_eq!(
        s.credit_balance(c).await.unwrap(),
        s.credit_ledger_sum(c).await.unwrap()
    );

    // Keywords are the company's: after a change, DUR opts out and RET no longer does.
    s.update_sms_settings(
        c,
        SmsSettingsPatch::new(SmsSettingsDraft {
            opt_out_keywords: Some(vec!["DUR".into()]),
            ..SmsSettingsDraft::default()
        })
        .unwrap(),
    )
    .await
    .unwrap();
    let st = s
        .store_inbound(
            c,
            None,
            vec![inb("05320001122", "RET"), inb("05320003344", "dur")],
        )
        .await
        .unwrap();
    assert_eq!((st.stored, st.opted_out), (2, 1));
    let ret = ulak_core::Msisdn::parse("05320001122", CountryType::Tr).unwrap();
    assert!(!s.is_opted_out(c, &ret).await.unwrap());
    // Another company's inbox is empty.
    let other_co = company(s, CountryType::Tr).await.id;
    assert!(
        s.list_inbound(other_co, &ListQuery::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn inbox(s: &ulak_store::Store, c: CompanyId) -> Vec<ulak_store::InboundMessage> {
    s.list_inbound(c, &ListQuery::default())
        .await
        .unwrap()
        .items
}

async fn inbound_is_marked_read_once_and_only_in_its_company(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await.id;
    let other = company(s, CountryType::Tr).await.id;
    s.store_inbound(
        c,
        None,
        vec![inb("905321112233", "bir"), inb("905321112244", "iki")],
    )
    .await
    .unwrap();
    let items = inbox(s, c).await;
    assert!(items.iter().all(|m| m.read_at.is_none()), "{items:?}");
    let (first, second) = (items[0].id, items[1].id);
    // Another company cannot mark it; no such message is no row.
    assert!(!s.mark_inbound_read(other, first).await.unwrap());
    assert!(!s.mark_inbound_read(c, second + 1000).await.unwrap());
    assert!(inbox(s, c).await[0].read_at.is_none());
    assert!(s.mark_inbound_read(c, first).await.unwrap());
    let at = inbox(s, c).await[0].read_at.expect("read");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    // Marking again keeps the first time; the other message stays unread.
    assert!(s.mark_inbound_read(c, first).await.unwrap());
    let items = inbox(s, c).await;
    assert_eq!(items[0].read_at, Some(at));
    assert_eq!(items[1].read_at, None);
}
