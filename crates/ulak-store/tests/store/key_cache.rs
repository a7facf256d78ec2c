//! Verified API keys are believed for at most `KEY_TTL` without a read: a key revoked by
//! another node stops within that time, one revoked through the same handle at once, and a
//! deleted row is not served from the cache past it.

use std::time::{Duration, Instant};

use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_store::{KEY_TTL, Store};

use crate::helpers::{TestDb, company};

crate::store_tests!(revoked_keys_stop_within_the_cache_lifetime);

async fn revoked_keys_stop_within_the_cache_lifetime(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await;
    let new = || NewApiKey::new("erp", Role::Operator, false).unwrap();
    let (here, here_key) = s.create_api_key(c.id, new()).await.unwrap();
    let (there, there_key) = s.create_api_key(c.id, new()).await.unwrap();
    // Connected first: its migrations may wait for other tests' (PostgreSQL), and the cached
    // verification below must still be young when the other node revokes.
    let node = Store::connect(&db.url, [7; 32]).await.unwrap();
    assert!(s.authenticate_api_key(&here_key).await.unwrap().is_some());
    assert!(s.authenticate_api_key(&there_key).await.unwrap().is_some());
    // Revoked through this handle: refused at once.
    s.revoke_api_key(c.id, here.id).await.unwrap();
    assert!(s.authenticate_api_key(&here_key).await.unwrap().is_none());
    // Revoked by another node: the cached verification still serves, but not for long.
    let revoked_at = Instant::now();
    node.revoke_api_key(c.id, there.id).await.unwrap();
    let cached = s.authenticate_api_key(&there_key).await.unwrap();
    assert!(
        cached.is_some(),
        "served from the cache within its lifetime"
    );
    loop {
        if s.authenticate_api_key(&there_key).await.unwrap().is_none() {
            break;
        }
        assert!(
            revoked_at.elapsed() < KEY_TTL + Duration::from_millis(500),
            "still accepted {:?} after another node revoked it",
            revoked_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    node.close().await;
}
