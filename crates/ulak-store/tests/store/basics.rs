//! Companies, users, API keys and credit; subscribers, groups and opt-outs are in
//! `subscribers.rs`.

use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_store::StoreError;

use crate::helpers::{TestDb, company, sub};

crate::store_tests!(
    default_company_exists,
    users_crud_and_login,
    api_keys_lifecycle,
    a_key_used_a_moment_ago_waits_for_no_writer,
    credit_ledger,
    concurrent_writers_queue,
    a_dropped_idle_connection_is_replaced_before_use,
);

/// A pooled PostgreSQL connection that the server dropped while it sat idle (a restart, an
/// idle timeout) is found out before use: the next request gets a live one, not an error.
/// Hot connections are not pinged before each use, idle ones are.
async fn a_dropped_idle_connection_is_replaced_before_use(db: &TestDb) {
    if db.store.backend() != ulak_store::Backend::Postgres {
        return;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!("ulak_idle_{}_{nanos}", std::process::id());
    let url = format!("{}&application_name={name}", db.url);
    let s = ulak_store::Store::connect(&url, crate::helpers::KEY)
        .await
        .unwrap();
    let c = company(&s, CountryType::Tr).await.id;
    assert_eq!(s.credit_balance(c).await.unwrap(), 0);
    let raw = db.raw().await;
    let dropped: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = $1) AS t",
    )
    .bind(&name)
    .fetch_one(&raw)
    .await
    .unwrap();
    assert!(dropped >= 1, "the store's connections were found");
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    assert_eq!(
        s.credit_balance(c).await.unwrap(),
        0,
        "a dropped idle connection is replaced, not an error"
    );
    s.close().await;
}

#[tokio::test]
async fn sqlite_in_memory_and_new_file() {
    let s = ulak_store::Store::connect("sqlite::memory:", crate::helpers::KEY)
        .await
        .unwrap();
    assert!(s.get_company_by_name("default").await.unwrap().is_some());
    s.close().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/new.db", dir.path().display());
    let s = ulak_store::Store::connect(&url, crate::helpers::KEY)
        .await
        .unwrap();
    s.close().await;
    // A second start finds its data and does not duplicate `default`.
    let s = ulak_store::Store::connect(&url, crate::helpers::KEY)
        .await
        .unwrap();
    let all = s.list_companies(&ListQuery::default()).await.unwrap();
    assert_eq!(all.items.len(), 1);
    s.close().await;
    assert!(
        ulak_store::Store::connect("mysql://x", crate::helpers::KEY)
            .await
            .is_err()
    );
}

async fn default_company_exists(db: &TestDb) {
    let s = &db.store;
    let c = s.get_company_by_name("default").await.unwrap().unwrap();
    let q = ListQuery {
        search: Some("DEFA".into()),
        ..ListQuery::default()
    };
    let found = s.list_companies(&q).await.unwrap();
    assert_eq!(
        found.items.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![c.id]
    );
    let renamed = s.update_company(c.id, "Varsayılan Şirket").await.unwrap();
    assert_eq!(renamed.display_name, "Varsayılan Şirket");
    let q = ListQuery {
        search: Some("sirket".into()),
        ..ListQuery::default()
    };
    assert_eq!(s.list_companies(&q).await.unwrap().items.len(), 1);
    assert_eq!(c.country_type, CountryType::Tr);
    let dup = s
        .create_company(NewCompany::new("default", "x", CountryType::Az).unwrap())
        .await;
    assert!(
        matches!(dup, Err(StoreError::Conflict { ref field }) if field == "name"),
        "{dup:?}"
    );
}

async fn users_crud_and_login(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await;
    let u = s
        .create_user(
            c.id,
            NewUser::new(
                "Ayşe",
                "çok-gizli-1",
                Some("Ayşe Y."),
                Some("0532 123 45 67"),
                Some("a@b.com.tr"),
                Role::Operator,
                CountryType::Tr,
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(u.login.as_str(), "ayşe");
    assert_eq!(u.phone.as_ref().unwrap().e164(), "+905321234567");
    let again = s
        .create_user(
            c.id,
            NewUser::new(
                "AYŞE",
                "baska-sifre",
                None,
                None,
                None,
                Role::Viewer,
                CountryType::Tr,
            )
            .unwrap(),
        )
        .await;
    assert!(
        matches!(again, Err(StoreError::Conflict { ref field }) if field == "login"),
        "{again:?}"
    );
    assert!(
        s.verify_user_password(c.id, "ayşe", "çok-gizli-1")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.verify_user_password(c.id, "ayşe", "yanlis-sifre")
            .await
            .unwrap()
            .is_none()
    );
    let patch = UserPatch::new(
        Some("yeni-sifre-2"),
        None,
        Some(""),
        None,
        Some(Role::Admin),
        CountryType::Tr,
    )
    .unwrap();
    let u2 = s.update_user(c.id, u.id, patch).await.unwrap();
    assert_eq!(u2.role, Role::Admin);
    assert!(u2.phone.is_none());
    assert_eq!(u2.email, u.email);
    assert!(
        s.verify_user_password(c.id, "ayşe", "yeni-sifre-2")
            .await
            .unwrap()
            .is_some()
    );
    let page = s.list_users(c.id, &ListQuery::default()).await.unwrap();
    assert_eq!(page.items.len(), 1);
    // The company's last active administrator stays one.
    let down = UserPatch::default().with_active(Some(false));
    assert!(matches!(
        s.update_user(c.id, u.id, down).await,
        Err(StoreError::LastAdmin)
    ));
    assert!(matches!(
        s.delete_user(c.id, u.id).await,
        Err(StoreError::LastAdmin)
    ));
    let second = NewUser::new(
        "ikinci",
        "çok-gizli-2",
        None,
        None,
        None,
        Role::Admin,
        CountryType::Tr,
    )
    .unwrap();
    let second = s.create_user(c.id, second).await.unwrap();
    let off = UserPatch::default().with_active(Some(false));
    assert!(!s.update_user(c.id, second.id, off).await.unwrap().active);
    assert!(
        s.verify_user_password(c.id, "ikinci", "çok-gizli-2")
            .await
            .unwrap()
            .is_none(),
        "a deactivated user does not sign in"
    );
    let on = UserPatch::default().with_active(Some(true));
    assert!(s.update_user(c.id, second.id, on).await.unwrap().active);
    s.delete_user(c.id, u.id).await.unwrap();
    assert!(s.get_user(c.id, u.id).await.unwrap().is_none());
    assert!(matches!(
        s.delete_user(c.id, u.id).await,
        Err(StoreError::NotFound)
    ));
}

async fn api_keys_lifecycle(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await;
    let (meta, key) = s
        .create_api_key(c.id, NewApiKey::new("erp", Role::Operator, false).unwrap())
        .await
        .unwrap();
    assert!(key.starts_with("ulak_") && key.len() > 40);
    assert!(key.starts_with(&meta.prefix) && meta.prefix.len() < 16);
    let auth = s.authenticate_api_key(&key).await.unwrap().unwrap();
    assert_eq!(
        (auth.company_id, auth.role, auth.system_admin),
        (c.id, Role::Operator, false)
    );
    // The last use is written beside the request, not in it.
    let mut used = None;
    for _ in 0..100 {
        used = s
            .get_api_key(c.id, meta.id)
            .await
            .unwrap()
            .unwrap()
            .last_used_at;
        if used.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(used.is_some(), "the key's last use was recorded");
    assert!(
        s.authenticate_api_key("ulak_wrong")
            .await
            .unwrap()
            .is_none()
    );
    // A key that verified is known (it may pass an address's guessing throttle); a wrong
    // one never is, and a revoked one is no longer.
    assert!(s.api_key_known(&key));
    assert!(!s.api_key_known("ulak_wrong"));
    s.revoke_api_key(c.id, meta.id).await.unwrap();
    assert!(!s.api_key_known(&key));
    assert!(s.authenticate_api_key(&key).await.unwrap().is_none());
    // Revoked behind this handle's back (another node): known until a check finds it gone.
    let (other, key2) = s
        .create_api_key(
            c.id,
            NewApiKey::new("other", Role::Operator, false).unwrap(),
        )
        .await
        .unwrap();
    assert!(s.authenticate_api_key(&key2).await.unwrap().is_some());
    let raw = db.raw().await;
    sqlx::query("UPDATE api_keys SET revoked_at = 1 WHERE id = $1")
        .bind(other.id.0)
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;
    tokio::time::sleep(ulak_store::KEY_TTL + std::time::Duration::from_millis(50)).await;
    assert!(s.authenticate_api_key(&key2).await.unwrap().is_none());
    assert!(!s.api_key_known(&key2));
    // Bootstrap key: idempotent, system admin of `default`.
    let boot = "ulak_bootstrap-key-from-config-0123456789abcdef";
    let k1 = s.ensure_bootstrap_key(boot).await.unwrap();
    let k2 = s.ensure_bootstrap_key(boot).await.unwrap();
    assert_eq!(k1.id, k2.id);
    let a = s.authenticate_api_key(boot).await.unwrap().unwrap();
    assert!(a.system_admin);
    // Revoked, it comes back in force when the configuration names it again.
    s.revoke_api_key(k1.company_id, k1.id).await.unwrap();
    assert!(s.authenticate_api_key(boot).await.unwrap().is_none());
    let k3 = s.ensure_bootstrap_key(boot).await.unwrap();
    assert_eq!((k3.id, k3.revoked_at), (k1.id, None));
    assert!(s.authenticate_api_key(boot).await.unwrap().is_some());
    assert!(s.ensure_bootstrap_key("short").await.is_err());
    let page = s.list_api_keys(c.id, &ListQuery::default()).await.unwrap();
    assert_eq!(page.items.len(), 2);
    assert!(page.items.iter().all(|k| k.revoked_at.is_some()));
}

async fn credit_ledger(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await;
    assert_eq!(s.credit_balance(c.id).await.unwrap(), 0);
    let e = |k, a| NewCreditEntry::new(k, a, None).unwrap();
    assert!(NewCreditEntry::new(LedgerKind::Purchase, -5, None).is_err());
    let first = s
        .add_credit_entry(c.id, e(LedgerKind::Purchase, 100))
        .await
        .unwrap();
    assert_eq!(first.balance_after, 100);
    s.add_credit_entry(c.id, e(LedgerKind::Adjustment, -30))
        .await
        .unwrap();
    let over = s
        .add_credit_entry(c.id, e(LedgerKind::Adjustment, -71))
        .await;
    assert!(
        matches!(
            over,
            Err(StoreError::InsufficientCredit {
                balance: 70,
                amount: -71
            })
        ),
        "{over:?}"
    );
    s.add_credit_entry(c.id, e(LedgerKind::Adjustment, -70))
        .await
        .unwrap();
    assert_eq!(s.credit_balance(c.id).await.unwrap(), 0);
    let page = s
        .list_credit_entries(c.id, &ListQuery::default())
        .await
        .unwrap();
    assert_eq!(page.items.iter().map(|x| x.amount).sum::<i64>(), 0);
    assert_eq!(page.items.len(), 3);
    // Concurrent debits: 100 credits, 10 debits of 30 at once -> exactly 3 succeed.
    s.add_credit_entry(c.id, e(LedgerKind::Purchase, 100))
        .await
        .unwrap();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let st = s.clone();
        let id = c.id;
        set.spawn(async move {
            st.add_credit_entry(
                id,
                NewCreditEntry::new(LedgerKind::Adjustment, -30, None).unwrap(),
            )
            .await
        });
    }
    let mut ok = 0;
    while let Some(r) = set.join_next().await {
        match r.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::InsufficientCredit { .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ok, 3);
    assert_eq!(s.credit_balance(c.id).await.unwrap(), 10);
    // The running balance is the sum of the ledger, entry by entry too.
    assert_eq!(s.credit_ledger_sum(c.id).await.unwrap(), 10);
    let all = s
        .list_credit_entries(c.id, &ListQuery::default())
        .await
        .unwrap();
    let mut running = 0;
    for x in &all.items {
        running += x.amount;
        assert_eq!(x.balance_after, running, "{x:?}");
    }
    // A purchase that would overflow the balance is refused, not wrapped or turned into a float.
    let huge = s
        .add_credit_entry(c.id, e(LedgerKind::Purchase, i64::MAX))
        .await;
    assert!(matches!(huge, Err(StoreError::Validation(_))), "{huge:?}");
    assert_eq!(s.credit_balance(c.id).await.unwrap(), 10);
    assert!(matches!(
        s.add_credit_entry(CompanyId(999_999), e(LedgerKind::Purchase, 1))
            .await,
        Err(StoreError::NotFound)
    ));
}

/// Read-then-write transactions from many connections at once all succeed (on SQLite they
/// queue on the write lock instead of failing with SQLITE_BUSY).
async fn concurrent_writers_queue(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await;
    let a = s
        .create_subscriber(c.id, sub("A", "05321000009"))
        .await
        .unwrap();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..16 {
        let st = s.clone();
        let (cid, sid) = (c.id, a.id);
        set.spawn(async move {
            let patch = SubscriberPatch {
                name: Some(format!("A{i}")),
                ..SubscriberPatch::default()
            };
            st.update_subscriber(cid, sid, patch).await.map(|_| ())?;
            st.create_subscriber(cid, sub("B", &format!("05322000{i:03}")))
                .await
                .map(|_| ())
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap().unwrap();
    }
    assert_eq!(s.count_subscribers(c.id).await.unwrap(), 17);
}

/// Authenticating writes the key's last use only when it is due (once a minute): a key read
/// again (its cache entry ran out) while another transaction holds the write lock answers
/// at once. It used to issue its UPDATE every time, which on SQLite takes the write lock
/// even when it changes nothing, and waited for it.
async fn a_key_used_a_moment_ago_waits_for_no_writer(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await;
    let (_, key) = s
        .create_api_key(c.id, NewApiKey::new("busy", Role::Operator, false).unwrap())
        .await
        .unwrap();
    assert!(s.authenticate_api_key(&key).await.unwrap().is_some());
    tokio::time::sleep(ulak_store::KEY_TTL + std::time::Duration::from_millis(50)).await;
    let outside = db.hold_writes("api_keys").await;
    let again = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        s.authenticate_api_key(&key),
    )
    .await;
    outside.rollback().await.unwrap();
    assert!(
        matches!(again, Ok(Ok(Some(_)))),
        "the key was read again and believed without a write: {again:?}"
    );
}
