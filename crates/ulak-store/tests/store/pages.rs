//! List pages are bounded by size as well as by rows: a page of large rows ends early and
//! gives a cursor, and walking the cursors still visits every row once.

use std::collections::{BTreeMap, BTreeSet};

use ulak_core::CountryType;
use ulak_core::model::*;

use crate::helpers::{TestDb, company};

crate::store_tests!(large_rows_end_a_page_early);

/// 16 attributes of 1,000 bytes: about 16 KB, the most a row may carry.
fn big_attributes() -> BTreeMap<String, String> {
    (0..16)
        .map(|i| (format!("a{i}"), "ç".repeat(500)))
        .collect()
}

/// Every id of a list, walking its pages; also how many pages it took.
async fn walk<T, F, Fut>(list: F, id: impl Fn(&T) -> i64) -> (BTreeSet<i64>, usize)
where
    F: Fn(ListQuery) -> Fut,
    Fut: std::future::Future<Output = Page<T>>,
{
    let mut ids = BTreeSet::new();
    let mut pages = 0;
    let mut cursor = None;
    loop {
        let page = list(ListQuery {
            limit: Some(MAX_LIMIT),
            cursor: cursor.take(),
            ..ListQuery::default()
        })
        .await;
        pages += 1;
        for t in &page.items {
            assert!(ids.insert(id(t)), "a row on two pages");
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return (ids, pages),
        }
    }
}

async fn large_rows_end_a_page_early(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await;
    let n = 150;
    for i in 0..n {
        let sub = NewSubscriber::new(
            &format!("Abone {i}"),
            &format!("0532{i:07}"),
            CountryType::Tr,
            None,
            big_attributes(),
            Consent::Unknown,
        )
        .unwrap();
        s.create_subscriber(c.id, sub).await.unwrap();
        let acc = NewCustomerAccount::new(
            &format!("C{i}"),
            "Firma",
            CustomerKind::Customer,
            &[&format!("0542{i:07}")],
            CountryType::Tr,
            0,
            big_attributes(),
        )
        .unwrap();
        s.create_customer_account(c.id, acc).await.unwrap();
    }
    let first = s
        .list_subscribers(
            c.id,
            &ListQuery {
                limit: Some(MAX_LIMIT),
                ..ListQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(
        first.items.len() < n && first.next_cursor.is_some(),
        "a page of {} rows of 16 KB",
        first.items.len()
    );
    let (ids, pages) = walk(
        |q| async move { s.list_subscribers(c.id, &q).await.unwrap() },
        |t: &Subscriber| t.id.0,
    )
    .await;
    assert_eq!((ids.len(), pages >= 2), (n, true));
    let (ids, pages) = walk(
        |q| async move { s.list_customer_accounts(c.id, &q).await.unwrap() },
        |t: &CustomerAccount| t.id.0,
    )
    .await;
    assert_eq!((ids.len(), pages >= 2), (n, true));
    // Small rows still fill a whole page.
    let other = company(s, CountryType::Tr).await;
    for i in 0..60 {
        let sub = NewSubscriber::new(
            "Küçük",
            &format!("0533{i:07}"),
            CountryType::Tr,
            None,
            BTreeMap::new(),
            Consent::Unknown,
        )
        .unwrap();
        s.create_subscriber(other.id, sub).await.unwrap();
    }
    let page = s
        .list_subscribers(
            other.id,
            &ListQuery {
                limit: Some(MAX_LIMIT),
                ..ListQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((page.items.len(), page.next_cursor), (60, None));
}
