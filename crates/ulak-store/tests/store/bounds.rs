//! Sums of credit never overflow into a wrong answer: a debit of `i64::MIN` (which has no
//! negation) is refused with the company's real balance and changes nothing.

use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_store::StoreError;

use crate::helpers::{TestDb, company};

crate::store_tests!(a_debit_without_a_negation_reports_the_real_balance);

async fn a_debit_without_a_negation_reports_the_real_balance(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await.id;
    s.add_credit_entry(
        c,
        NewCreditEntry::new(LedgerKind::Purchase, 100, None).unwrap(),
    )
    .await
    .unwrap();
    // Built field by field: NewCreditEntry::new refuses it, the store must hold on its own.
    for amount in [i64::MIN, -i64::MAX] {
        let raw = NewCreditEntry {
            kind: LedgerKind::Adjustment,
            amount,
            note: None,
        };
        let r = s.add_credit_entry(c, raw).await;
        assert!(
            matches!(r, Err(StoreError::InsufficientCredit { balance: 100, amount: a }) if a == amount),
            "{amount}: {r:?}"
        );
    }
    assert_eq!(s.credit_balance(c).await.unwrap(), 100);
    assert_eq!(s.credit_ledger_sum(c).await.unwrap(), 100);
    let entries = s
        .list_credit_entries(c, &ListQuery::default())
        .await
        .unwrap();
    assert_eq!(entries.items.len(), 1, "nothing written");
}
