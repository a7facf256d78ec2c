//! Subscribers (create, update, search, pages), groups and their members, and opt-outs.

use std::collections::BTreeMap;

use ulak_core::model::*;
use ulak_core::{CountryType, Msisdn};
use ulak_store::StoreError;

use crate::helpers::{TestDb, company, sub};

crate::store_tests!(subscribers_crud_search_pages, groups_and_members, opt_outs);

async fn subscribers_crud_search_pages(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await;
    let mut attrs = BTreeMap::new();
    attrs.insert("bakiye".to_owned(), "12,50".to_owned());
    let a = s
        .create_subscriber(
            c.id,
            NewSubscriber::new(
                "İsmail Işık",
                "0532 111 22 33",
                CountryType::Tr,
                Some("10000000146"),
                attrs,
                Consent::OptedIn,
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(a.phone.e164(), "+905321112233");
    assert_eq!(a.tckn.unwrap().as_string(), "10000000146");
    assert_eq!(a.attributes.get("bakiye"), Some("12,50"));
    // Same number written another way is the same subscriber.
    let dup = s
        .create_subscriber(c.id, sub("X", "+90 (532) 111 22 33"))
        .await;
    assert!(
        matches!(dup, Err(StoreError::Conflict { ref field }) if field == "phone"),
        "{dup:?}"
    );
    for i in 0..7 {
        s.create_subscriber(
            c.id,
            sub(&format!("Kişi {i}"), &format!("0533 000 00 0{i}")),
        )
        .await
        .unwrap();
    }
    // Search: Turkish-aware case folding, phone fragments in any form.
    let q = |t: &str| ListQuery {
        search: Some(t.into()),
        ..ListQuery::default()
    };
    assert_eq!(
        s.list_subscribers(c.id, &q("ısmaıl"))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        s.list_subscribers(c.id, &q("isik"))
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    assert_eq!(
        s.list_subscribers(c.id, &q("İSMAİL"))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        s.list_subscribers(c.id, &q("IŞIK"))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        s.list_subscribers(c.id, &q("0532 111"))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        s.list_subscribers(c.id, &q("kişi"))
            .await
            .unwrap()
            .items
            .len(),
        7
    );
    assert_eq!(
        s.list_subscribers(c.id, &q("%")).await.unwrap().items.len(),
        0
    );
    // Pagination: 8 rows in pages of 3.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = s
            .list_subscribers(
                c.id,
                &ListQuery {
                    limit: Some(3),
                    cursor: cursor.clone(),
                    ..ListQuery::default()
                },
            )
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|x| x.id));
        match page.next_cursor {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    assert_eq!(seen.len(), 8);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    let bad = s
        .list_subscribers(
            c.id,
            &ListQuery {
                cursor: Some("zz".into()),
                ..ListQuery::default()
            },
        )
        .await;
    assert!(matches!(bad, Err(StoreError::Validation(_))));
    // Update and delete.
    let patch = SubscriberPatch::new(
        Some("İsmail"),
        Some("0532 111 22 44"),
        CountryType::Tr,
        Some(""),
        None,
        Some(Consent::OptedOut),
    )
    .unwrap();
    let a2 = s.update_subscriber(c.id, a.id, patch).await.unwrap();
    assert_eq!(
        (a2.name.as_str(), a2.phone.e164(), a2.tckn, a2.consent),
        ("İsmail", "+905321112244", None, Consent::OptedOut)
    );
    assert_eq!(a2.attributes.get("bakiye"), Some("12,50"));
    let m = Msisdn::parse("05321112244", CountryType::Tr).unwrap();
    assert_eq!(
        s.get_subscriber_by_phone(c.id, &m)
            .await
            .unwrap()
            .unwrap()
            .id,
        a.id
    );
    let clash = SubscriberPatch {
        phone: Some(Msisdn::parse("0533 000 00 01", CountryType::Tr).unwrap()),
        ..SubscriberPatch::default()
    };
    assert!(matches!(
        s.update_subscriber(c.id, a.id, clash).await,
        Err(StoreError::Conflict { .. })
    ));
    s.delete_subscriber(c.id, a.id).await.unwrap();
    assert!(s.get_subscriber(c.id, a.id).await.unwrap().is_none());
    assert_eq!(s.count_subscribers(c.id).await.unwrap(), 7);
}

async fn groups_and_members(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await;
    let g = s
        .create_group(c.id, GroupName::parse("VIP").unwrap(), None)
        .await
        .unwrap();
    let dup = s
        .create_group(c.id, GroupName::parse("VIP").unwrap(), None)
        .await;
    assert!(
        matches!(dup, Err(StoreError::Conflict { ref field }) if field == "name"),
        "{dup:?}"
    );
    let a = s
        .create_subscriber(c.id, sub("A", "05321000001"))
        .await
        .unwrap();
    let b = s
        .create_subscriber(c.id, sub("B", "05321000002"))
        .await
        .unwrap();
    s.create_subscriber(c.id, sub("C", "05321000003"))
        .await
        .unwrap();
    assert_eq!(
        s.add_group_members(c.id, g.id, &[a.id, b.id, a.id])
            .await
            .unwrap(),
        2
    );
    assert_eq!(s.add_group_members(c.id, g.id, &[a.id]).await.unwrap(), 0);
    let other = company(s, CountryType::Tr).await;
    let og = s
        .create_group(other.id, GroupName::parse("VIP").unwrap(), None)
        .await
        .unwrap();
    let empty = s
        .create_group(c.id, GroupName::parse("Boş").unwrap(), None)
        .await
        .unwrap();
    let counts = s
        .group_member_counts(c.id, &[g.id, empty.id, og.id])
        .await
        .unwrap();
    assert_eq!(
        (
            counts.get(&g.id.0),
            counts.get(&empty.id.0),
            counts.get(&og.id.0)
        ),
        (Some(&2), Some(&0), None),
        "another company's group is not counted"
    );
    s.delete_group(c.id, empty.id).await.unwrap();
    let q = ListQuery {
        group_id: Some(g.id),
        ..ListQuery::default()
    };
    let members = s.list_subscribers(c.id, &q).await.unwrap();
    assert_eq!(
        members.items.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![a.id, b.id]
    );
    assert_eq!(s.subscriber_groups(c.id, a.id).await.unwrap().len(), 1);
    assert_eq!(
        s.remove_group_members(c.id, g.id, &[a.id]).await.unwrap(),
        1
    );
    let g2 = s
        .update_group(
            c.id,
            g.id,
            GroupName::parse("Altın").unwrap(),
            Some("d".into()),
        )
        .await
        .unwrap();
    assert_eq!(g2.name.as_str(), "Altın");
    let q = ListQuery {
        search: Some("ALTIN".into()),
        ..ListQuery::default()
    };
    assert_eq!(s.list_groups(c.id, &q).await.unwrap().items.len(), 1);
    let q = ListQuery {
        search: Some("vip".into()),
        ..ListQuery::default()
    };
    assert!(s.list_groups(c.id, &q).await.unwrap().items.is_empty());
    assert_eq!(
        s.list_groups(c.id, &ListQuery::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    s.delete_group(c.id, g.id).await.unwrap();
    assert!(s.get_group(c.id, g.id).await.unwrap().is_none());
    assert!(s.get_subscriber(c.id, b.id).await.unwrap().is_some());
}

async fn opt_outs(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Az).await;
    let m = Msisdn::parse("050 123 45 67", CountryType::Az).unwrap();
    let o = s.add_opt_out(c.id, &m, Some("RET".into())).await.unwrap();
    assert!(s.is_opted_out(c.id, &m).await.unwrap());
    let dup = s.add_opt_out(c.id, &m, None).await;
    assert!(
        matches!(dup, Err(StoreError::Conflict { ref field }) if field == "phone"),
        "{dup:?}"
    );
    let q = ListQuery {
        search: Some("050 123".into()),
        ..ListQuery::default()
    };
    assert_eq!(s.list_opt_outs(c.id, &q).await.unwrap().items.len(), 1);
    s.delete_opt_out(c.id, o.id).await.unwrap();
    assert!(!s.is_opted_out(c.id, &m).await.unwrap());
}
