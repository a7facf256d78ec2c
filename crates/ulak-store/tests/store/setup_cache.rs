//! The send service's cached view of a company's setup: a change through the same handle is
//! seen at once, one by another node within `SETUP_TTL`.

use std::time::{Duration, Instant};

use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_store::{SETUP_TTL, Store};

use crate::helpers::{TestDb, company};

crate::store_tests!(setup_changes_are_seen_at_once_here_and_within_the_lifetime_elsewhere);

async fn default_header(s: &Store, c: CompanyId) -> Option<String> {
    s.sending_header(c, None)
        .await
        .unwrap()
        .map(|h| h.name.as_str().to_owned())
}

async fn setup_changes_are_seen_at_once_here_and_within_the_lifetime_elsewhere(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await.id;
    s.create_sender_header(c, NewSenderHeader::new("ILK", true).unwrap())
        .await
        .unwrap();
    assert_eq!(default_header(s, c).await.as_deref(), Some("ILK"));
    assert!(s.sending_account_cached(c).await.unwrap().is_none());
    // Through this handle: seen at once, though the old answers were cached.
    let second = s
        .create_sender_header(c, NewSenderHeader::new("IKINCI", true).unwrap())
        .await
        .unwrap();
    assert_eq!(default_header(s, c).await.as_deref(), Some("IKINCI"));
    let p = crate::helpers::simulator_account(s, c, "sim").await;
    assert_eq!(
        s.sending_account_cached(c).await.unwrap().map(|a| a.id),
        Some(p)
    );
    let patch = SmsSettingsPatch {
        tckn_subscription_active: Some(true),
        ..SmsSettingsPatch::default()
    };
    s.update_sms_settings(c, patch).await.unwrap();
    assert!(
        s.sending_settings(c)
            .await
            .unwrap()
            .unwrap()
            .tckn_subscription_active
    );

    // Through another node: the cached answer serves, but not for long.
    let node = Store::connect(&db.url, [42; 32]).await.unwrap();
    let changed_at = Instant::now();
    node.delete_sender_header(c, second.id).await.unwrap();
    loop {
        if default_header(s, c).await.as_deref() != Some("IKINCI") {
            break;
        }
        assert!(
            changed_at.elapsed() < SETUP_TTL + Duration::from_millis(500),
            "the deleted header still served {:?} after another node deleted it",
            changed_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    node.close().await;
}
