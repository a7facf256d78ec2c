//! Bulk import of subscribers.

use std::collections::BTreeMap;
use std::time::Instant;

use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_store::{ImportMode, StoreError};

use crate::helpers::{TestDb, company};

crate::store_tests!(
    import_reports_duplicates_per_row,
    import_bulk_rows,
    import_customer_accounts,
    a_conflict_found_while_writing_undoes_the_import,
    an_aborted_import_leaves_nothing_behind
);

fn row(i: u32) -> NewSubscriber {
    let mut a = BTreeMap::new();
    a.insert("no".to_owned(), i.to_string());
    NewSubscriber::new(
        &format!("Abone {i}"),
        &format!("0532{:07}", i),
        CountryType::Tr,
        None,
        a,
        Consent::OptedIn,
    )
    .unwrap()
}

async fn import_reports_duplicates_per_row(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await;
    s.create_subscriber(c.id, row(2)).await.unwrap();
    let batch = vec![row(1), row(2), row(3), row(1), row(4)];
    // All-or-nothing: nothing stored, every bad row named.
    let err = s
        .import_subscribers(c.id, batch.clone(), ImportMode::AllOrNothing, None)
        .await
        .unwrap_err();
    let StoreError::ImportRejected { rows } = err else {
        panic!("{err:?}")
    };
    // Every refusal at once: the existing phone and the repeat.
    assert_eq!(
        rows.iter()
            .map(|r| (r.index, r.reason, r.first_index))
            .collect::<Vec<_>>(),
        vec![(1, "exists", None), (3, "duplicate_in_batch", Some(0))]
    );
    let batch2 = vec![row(1), row(2), row(3)];
    let err = s
        .import_subscribers(c.id, batch2, ImportMode::AllOrNothing, None)
        .await
        .unwrap_err();
    let StoreError::ImportRejected { rows } = err else {
        panic!("{err:?}")
    };
    assert_eq!((rows[0].index, rows[0].reason), (1, "exists"));
    assert_eq!(s.count_subscribers(c.id).await.unwrap(), 1);
    // Skip-invalid: the good rows are stored.
    let rep = s
        .import_subscribers(c.id, batch, ImportMode::SkipInvalid, None)
        .await
        .unwrap();
    assert_eq!(rep.inserted, 3);
    let got: Vec<_> = rep.rejected.iter().map(|e| (e.index, e.reason)).collect();
    assert_eq!(got, vec![(1, "exists"), (3, "duplicate_in_batch")]);
    assert_eq!(s.count_subscribers(c.id).await.unwrap(), 4);
    let sub = s
        .list_subscribers(
            c.id,
            &ListQuery {
                search: Some("abone 4".into()),
                ..ListQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(sub.items[0].attributes.get("no"), Some("4"));

    // Into a group: the stored rows and the subscribers that already existed become members,
    // in the same transaction; another company's group is refused and nothing is stored.
    let g = s
        .create_group(c.id, GroupName::parse("Yeni").unwrap(), None)
        .await
        .unwrap();
    let rep = s
        .import_subscribers(
            c.id,
            vec![row(5), row(1), row(6)],
            ImportMode::SkipInvalid,
            Some(g.id),
        )
        .await
        .unwrap();
    assert_eq!(rep.inserted, 2);
    assert_eq!(rep.grouped_existing, 1);
    assert!(rep.rejected.is_empty(), "{:?}", rep.rejected);
    let members = s
        .list_subscribers(
            c.id,
            &ListQuery {
                group_id: Some(g.id),
                ..ListQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(members.items.len(), 3);
    assert_eq!(s.count_subscribers(c.id).await.unwrap(), 6);
    // Importing the same rows again into the group changes nothing and rejects nothing.
    let rep = s
        .import_subscribers(
            c.id,
            vec![row(5), row(1)],
            ImportMode::AllOrNothing,
            Some(g.id),
        )
        .await
        .unwrap();
    assert_eq!((rep.inserted, rep.grouped_existing), (0, 2));
    let other = company(s, CountryType::Tr).await;
    let err = s
        .import_subscribers(other.id, vec![row(7)], ImportMode::SkipInvalid, Some(g.id))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(s.count_subscribers(other.id).await.unwrap(), 0);
}

/// Rows for the bulk test: 20,000 by default because building them (phone parsing in a debug
/// build) costs more than storing them; `ULAK_IMPORT_ROWS=100000` for the full figure.
fn bulk_rows() -> u32 {
    std::env::var("ULAK_IMPORT_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

async fn import_bulk_rows(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await;
    let n = bulk_rows();
    let t = Instant::now();
    let rows: Vec<_> = (0..n).map(row).collect();
    eprintln!("building {n} rows: {:?}", t.elapsed());
    let t = Instant::now();
    let rep = s
        .import_subscribers(c.id, rows, ImportMode::AllOrNothing, None)
        .await
        .unwrap();
    let took = t.elapsed();
    eprintln!("import of {n} rows on {:?}: {took:?}", s.backend());
    assert_eq!(rep.inserted, u64::from(n));
    assert_eq!(s.count_subscribers(c.id).await.unwrap(), i64::from(n));
    // A debug build on a shared 2-core machine; release is several times faster.
    assert!(took.as_secs() < 120, "import took {took:?}");
}

fn account(code: &str, phone: &str) -> NewCustomerAccount {
    NewCustomerAccount::new(
        code,
        &format!("Firma {code}"),
        CustomerKind::Customer,
        &[phone],
        CountryType::Tr,
        12_050,
        BTreeMap::new(),
    )
    .unwrap()
}

async fn import_customer_accounts(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await;
    s.create_customer_account(c.id, account("C1", "05321110001"))
        .await
        .unwrap();
    let batch = vec![
        account("C2", "05321110002"),
        account("C1", "05321110003"),
        account("C3", "05321110004"),
        account("C2", "05321110005"),
    ];
    let err = s
        .import_customer_accounts(c.id, batch.clone(), ImportMode::AllOrNothing)
        .await
        .unwrap_err();
    let StoreError::ImportRejected { rows } = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        rows.iter()
            .map(|r| (r.index, r.reason, r.first_index))
            .collect::<Vec<_>>(),
        vec![(1, "exists", None), (3, "duplicate_in_batch", Some(0))]
    );
    let err = s
        .import_customer_accounts(c.id, batch[..3].to_vec(), ImportMode::AllOrNothing)
        .await
        .unwrap_err();
    let StoreError::ImportRejected { rows } = err else {
        panic!("{err:?}")
    };
    assert_eq!((rows[0].index, rows[0].reason), (1, "exists"));
    let all = |s: &ulak_store::Store| {
        let s = s.clone();
        async move {
            s.list_customer_accounts(c.id, &ListQuery::default())
                .await
                .unwrap()
                .items
        }
    };
    assert_eq!(all(s).await.len(), 1, "all-or-nothing stored nothing");
    let rep = s
        .import_customer_accounts(c.id, batch, ImportMode::SkipInvalid)
        .await
        .unwrap();
    assert_eq!(rep.inserted, 2);
    let got: Vec<_> = rep.rejected.iter().map(|e| (e.index, e.reason)).collect();
    assert_eq!(got, vec![(1, "exists"), (3, "duplicate_in_batch")]);
    let items = all(s).await;
    assert_eq!(items.len(), 3);
    // The existing account was not overwritten by the import.
    let c1 = items.iter().find(|a| a.code == "C1").unwrap();
    assert_eq!(c1.phones[0].e164(), "+905321110001");
    let c3 = items.iter().find(|a| a.code == "C3").unwrap();
    assert_eq!((c3.title.as_str(), c3.balance_minor), ("Firma C3", 12_050));
    // Searchable by phone like accounts created one by one.
    let found = s
        .list_customer_accounts(
            c.id,
            &ListQuery {
                search: Some("5321110004".into()),
                ..ListQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
}

/// Rows indexed by position.
fn indexed<T: Clone>(rows: &[T]) -> Vec<(usize, T)> {
    rows.iter().cloned().enumerate().collect()
}

async fn a_conflict_found_while_writing_undoes_the_import(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await;
    // Enough rows for several write transactions and statements.
    let rows: Vec<_> = (0..3_000).map(row).collect();
    let mut session = s.begin_subscriber_import(c.id, None).await.unwrap();
    session.check(indexed(&rows)).await.unwrap();
    assert_eq!(session.rejected(), 0);
    // Between the passes someone else stores the last row's phone.
    s.create_subscriber(c.id, row(2_999)).await.unwrap();
    session
        .write(indexed(&rows), ImportMode::AllOrNothing)
        .await
        .unwrap();
    let err = session.finish(ImportMode::AllOrNothing).await.unwrap_err();
    let StoreError::ImportRejected { rows: refused } = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        refused
            .iter()
            .map(|r| (r.index, r.reason))
            .collect::<Vec<_>>(),
        vec![(2_999, "exists")]
    );
    assert_eq!(
        s.count_subscribers(c.id).await.unwrap(),
        1,
        "the rows written before the conflict were undone"
    );
    // The same for customer accounts.
    let accounts: Vec<_> = (0..1_500)
        .map(|i| account(&format!("K{i}"), &format!("0532{i:07}")))
        .collect();
    let mut session = s.begin_customer_import(c.id).await.unwrap();
    session.check(indexed(&accounts)).await.unwrap();
    s.create_customer_account(c.id, accounts[1_499].clone())
        .await
        .unwrap();
    session
        .write(indexed(&accounts), ImportMode::AllOrNothing)
        .await
        .unwrap();
    assert!(matches!(
        session.finish(ImportMode::AllOrNothing).await,
        Err(StoreError::ImportRejected { .. })
    ));
    let left = s
        .list_customer_accounts(c.id, &ListQuery::default())
        .await
        .unwrap();
    assert_eq!(left.items.len(), 1);
}

async fn an_aborted_import_leaves_nothing_behind(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await;
    let g = s
        .create_group(c.id, GroupName::parse("Liste").unwrap(), None)
        .await
        .unwrap();
    let other = s
        .create_group(c.id, GroupName::parse("Diğer").unwrap(), None)
        .await
        .unwrap();
    // Two known subscribers: one already in the group, one not yet.
    let known = s.create_subscriber(c.id, row(0)).await.unwrap();
    s.import_subscribers(c.id, vec![row(0)], ImportMode::SkipInvalid, Some(g.id))
        .await
        .unwrap();
    s.create_subscriber(c.id, row(1)).await.unwrap();
    s.import_subscribers(c.id, vec![row(1)], ImportMode::SkipInvalid, Some(other.id))
        .await
        .unwrap();
    let rows: Vec<_> = (0..500).map(row).collect();
    let mut session = s.begin_subscriber_import(c.id, Some(g.id)).await.unwrap();
    session.check(indexed(&rows)).await.unwrap();
    session
        .write(indexed(&rows), ImportMode::SkipInvalid)
        .await
        .unwrap();
    let members = |g: GroupId| {
        let s = s.clone();
        async move {
            s.list_subscribers(
                c.id,
                &ListQuery {
                    group_id: Some(g),
                    limit: Some(MAX_LIMIT),
                    ..ListQuery::default()
                },
            )
            .await
            .unwrap()
            .items
            .len()
        }
    };
    assert_eq!(members(g.id).await, 500);
    // Stopped (the client left, the server is stopping): everything it did is undone, and
    // what was there before stays.
    let report = session.abort().await.unwrap();
    assert_eq!((report.inserted, report.grouped_existing), (498, 2));
    assert_eq!(s.count_subscribers(c.id).await.unwrap(), 2);
    assert_eq!(members(g.id).await, 1, "the member from before stays");
    assert_eq!(members(other.id).await, 1);
    assert!(s.get_subscriber(c.id, known.id).await.unwrap().is_some());
}
