//! Web UI sign-in: sessions, their expiry, the user's language and lockout after failures.

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::AnyPool;
use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_store::{SignInPolicy, Store, StoreError};

use crate::helpers::{TestDb, company};

crate::store_tests!(
    sessions_are_found_and_expire,
    last_seen_is_written_at_most_once_a_minute,
    only_the_token_hash_is_stored,
    sign_out_and_ending_other_sessions,
    sessions_belong_to_their_user_and_company,
    language_is_remembered_per_user,
    tenth_failure_locks_the_login,
    address_limit_locks_every_login_from_it,
    counts_start_over_after_the_window,
    old_sessions_and_counts_are_purged,
);

const HOUR: Duration = Duration::from_secs(3600);
const DAY_MS: i64 = 24 * 3600 * 1000;

async fn user(s: &Store, company: CompanyId, login: &str) -> User {
    let new = NewUser::new(
        login,
        "dogru-sifre-1",
        None,
        None,
        None,
        Role::Operator,
        CountryType::Tr,
    )
    .unwrap();
    s.create_user(company, new).await.unwrap()
}

/// Runs `sql` (binding `v` as `$1`) on the test database behind the store's back.
async fn raw_exec(raw: &AnyPool, sql: &'static str, v: i64) {
    sqlx::query(sql).bind(v).execute(raw).await.unwrap();
}

async fn session_count(raw: &AnyPool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM web_sessions")
        .fetch_one(raw)
        .await
        .unwrap()
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn sessions_are_found_and_expire(db: &TestDb) {
    let s = &db.store;
    let raw = db.raw().await;
    let c = company(s, CountryType::Tr).await;
    let u = user(s, c.id, "ayse").await;
    let before = now_ms();
    let token = s.create_web_session(c.id, u.id).await.unwrap();
    assert_eq!(token.len(), 43, "{token}");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{token}"
    );
    let found = s.web_session(&token, HOUR, HOUR).await.unwrap().unwrap();
    assert_eq!(found.user, u);
    assert_eq!(found.language, Language::Tr);
    assert!((before..=now_ms()).contains(&found.session_created_at));
    // Tokens differ per session.
    let other = s.create_web_session(c.id, u.id).await.unwrap();
    assert_ne!(other, token);

    // Unknown and malformed tokens are nobody's.
    let unknown = "A".repeat(43);
    assert!(s.web_session(&unknown, HOUR, HOUR).await.unwrap().is_none());
    for bad in [
        String::new(),
        "a".repeat(101),
        format!("{token} "),
        "ab;cd".into(),
    ] {
        assert!(s.web_session(&bad, HOUR, HOUR).await.unwrap().is_none());
    }

    // Idle: last seen two hours ago, one hour allowed. The expired row is deleted.
    raw_exec(
        &raw,
        "UPDATE web_sessions SET last_seen_at = last_seen_at - $1",
        2 * 3_600_000,
    )
    .await;
    assert!(
        s.web_session(&token, HOUR, 24 * HOUR)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(session_count(&raw).await, 1, "the other session stays");
    // Absolute: created two hours ago, used just now, one hour allowed.
    let t2 = s.create_web_session(c.id, u.id).await.unwrap();
    raw_exec(
        &raw,
        "UPDATE web_sessions SET created_at = created_at - $1",
        2 * 3_600_000,
    )
    .await;
    raw_exec(&raw, "UPDATE web_sessions SET last_seen_at = $1", now_ms()).await;
    assert!(s.web_session(&t2, HOUR, 3 * HOUR).await.unwrap().is_some());
    assert!(s.web_session(&t2, 24 * HOUR, HOUR).await.unwrap().is_none());
    // Deleted: gone even for a caller with a longer limit.
    assert!(s.web_session(&t2, HOUR, 3 * HOUR).await.unwrap().is_none());
    // Tiny limits, by the clock: a few milliseconds later the session is over.
    let t3 = s.create_web_session(c.id, u.id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(s.web_session(&t3, HOUR, HOUR).await.unwrap().is_some());
    assert!(
        s.web_session(&t3, Duration::from_millis(5), HOUR)
            .await
            .unwrap()
            .is_none()
    );
    let t4 = s.create_web_session(c.id, u.id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        s.web_session(&t4, HOUR, Duration::from_millis(5))
            .await
            .unwrap()
            .is_none()
    );
    raw.close().await;
}

async fn last_seen_is_written_at_most_once_a_minute(db: &TestDb) {
    let s = &db.store;
    let raw = db.raw().await;
    let c = company(s, CountryType::Tr).await;
    let u = user(s, c.id, "ayse").await;
    let token = s.create_web_session(c.id, u.id).await.unwrap();
    let seen = || async {
        sqlx::query_scalar::<_, i64>("SELECT last_seen_at FROM web_sessions")
            .fetch_one(&raw)
            .await
            .unwrap()
    };
    // 30 s ago: within the minute, not rewritten.
    raw_exec(
        &raw,
        "UPDATE web_sessions SET last_seen_at = last_seen_at - $1",
        30_000,
    )
    .await;
    let old = seen().await;
    assert!(s.web_session(&token, HOUR, HOUR).await.unwrap().is_some());
    assert_eq!(seen().await, old);
    // Two minutes ago: rewritten to now.
    raw_exec(
        &raw,
        "UPDATE web_sessions SET last_seen_at = last_seen_at - $1",
        90_000,
    )
    .await;
    let before = now_ms();
    assert!(s.web_session(&token, HOUR, HOUR).await.unwrap().is_some());
    assert!(seen().await >= before);
    raw.close().await;
}

async fn only_the_token_hash_is_stored(db: &TestDb) {
    let s = &db.store;
    let raw = db.raw().await;
    let c = company(s, CountryType::Tr).await;
    let u = user(s, c.id, "ayse").await;
    let token = s.create_web_session(c.id, u.id).await.unwrap();
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM web_sessions")
        .fetch_all(&raw)
        .await
        .unwrap();
    assert_eq!(stored, vec![sha256_hex(&token)]);
    assert!(!stored[0].contains(&token));
    raw.close().await;
}

async fn sign_out_and_ending_other_sessions(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await;
    let u = user(s, c.id, "ayse").await;
    let v = user(s, c.id, "veli").await;
    let mut tokens = Vec::new();
    for _ in 0..3 {
        tokens.push(s.create_web_session(c.id, u.id).await.unwrap());
    }
    let theirs = s.create_web_session(c.id, v.id).await.unwrap();
    let live = |t: String| async move { s.web_session(&t, HOUR, HOUR).await.unwrap().is_some() };

    s.delete_web_session(&tokens[0]).await.unwrap();
    assert!(!live(tokens[0].clone()).await);
    assert!(live(tokens[1].clone()).await);
    // Signing out twice, or with junk, is fine.
    s.delete_web_session(&tokens[0]).await.unwrap();
    s.delete_web_session(&"x".repeat(500)).await.unwrap();

    // After a password change: every other session of the user ends, the current stays.
    let ended = s
        .delete_user_web_sessions(c.id, u.id, Some(&tokens[1]))
        .await
        .unwrap();
    assert_eq!(ended, 1);
    assert!(live(tokens[1].clone()).await);
    assert!(!live(tokens[2].clone()).await);
    assert!(live(theirs.clone()).await, "another user's session stays");
    assert_eq!(
        s.delete_user_web_sessions(c.id, u.id, None).await.unwrap(),
        1
    );
    assert!(!live(tokens[1].clone()).await);
    assert!(live(theirs).await);
}

async fn sessions_belong_to_their_user_and_company(db: &TestDb) {
    let s = &db.store;
    let raw = db.raw().await;
    let a = company(s, CountryType::Tr).await;
    let b = company(s, CountryType::Tr).await;
    let u = user(s, a.id, "ayse").await;
    // No session for a user through another company.
    assert!(matches!(
        s.create_web_session(b.id, u.id).await,
        Err(StoreError::NotFound)
    ));
    let token = s.create_web_session(a.id, u.id).await.unwrap();
    let found = s.web_session(&token, HOUR, HOUR).await.unwrap().unwrap();
    assert_eq!(found.user.company_id, a.id);
    assert_eq!(found.user.id, u.id);
    // Another company cannot end the user's sessions.
    assert_eq!(
        s.delete_user_web_sessions(b.id, u.id, None).await.unwrap(),
        0
    );
    assert!(s.web_session(&token, HOUR, HOUR).await.unwrap().is_some());
    // Deleting the user deletes its sessions.
    s.delete_user(a.id, u.id).await.unwrap();
    assert!(s.web_session(&token, HOUR, HOUR).await.unwrap().is_none());
    assert_eq!(session_count(&raw).await, 0);
    raw.close().await;
}

async fn language_is_remembered_per_user(db: &TestDb) {
    let s = &db.store;
    let a = company(s, CountryType::Tr).await;
    let b = company(s, CountryType::Tr).await;
    let u = user(s, a.id, "ayse").await;
    let v = user(s, a.id, "veli").await;
    let tu = s.create_web_session(a.id, u.id).await.unwrap();
    let tv = s.create_web_session(a.id, v.id).await.unwrap();
    let lang = |t: &str| {
        let t = t.to_owned();
        async move {
            s.web_session(&t, HOUR, HOUR)
                .await
                .unwrap()
                .unwrap()
                .language
        }
    };
    assert_eq!(lang(&tu).await, Language::Tr);
    s.set_user_language(a.id, u.id, Language::En).await.unwrap();
    assert_eq!(lang(&tu).await, Language::En);
    assert_eq!(lang(&tv).await, Language::Tr, "only that user's");
    // Another company's user: refused, unchanged.
    assert!(matches!(
        s.set_user_language(b.id, u.id, Language::Tr).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(lang(&tu).await, Language::En);
    s.set_user_language(a.id, u.id, Language::Tr).await.unwrap();
    assert_eq!(lang(&tu).await, Language::Tr);
}

async fn tenth_failure_locks_the_login(db: &TestDb) {
    let s = &db.store;
    let a = company(s, CountryType::Tr).await;
    let b = company(s, CountryType::Tr).await;
    let policy = SignInPolicy::default();
    assert_eq!(
        (policy.user_failures, policy.address_failures),
        (10, 50),
        "the documented default"
    );
    for _ in 0..9 {
        let r = s.record_sign_in_failure(a.id, "Admin", "198.51.100.7", &policy);
        assert_eq!(r.await.unwrap(), None);
    }
    assert_eq!(
        s.sign_in_locked(a.id, "admin", "198.51.100.7")
            .await
            .unwrap(),
        None
    );
    let before = now_ms();
    // The 10th, spelled differently (folded and trimmed like sign-in), from another address.
    let until = s
        .record_sign_in_failure(a.id, " admin ", "203.0.113.9", &policy)
        .await
        .unwrap()
        .expect("locked");
    let lock_ms = 15 * 60 * 1000;
    assert!((before + lock_ms..=now_ms() + lock_ms).contains(&until));
    // Locked for the login from any address, even with the right password to come.
    assert_eq!(
        s.sign_in_locked(a.id, "ADMIn", "192.0.2.1").await.unwrap(),
        None,
        "Turkish folding: ADMIn is admın, another login"
    );
    assert_eq!(
        s.sign_in_locked(a.id, "Admin", "192.0.2.1").await.unwrap(),
        Some(until)
    );
    // The same login in another company is another subject.
    assert_eq!(
        s.sign_in_locked(b.id, "admin", "192.0.2.1").await.unwrap(),
        None
    );
    // A failure while locked keeps the lock (and reports it).
    let again = s
        .record_sign_in_failure(a.id, "admin", "192.0.2.1", &policy)
        .await
        .unwrap();
    assert!(again.is_some_and(|t| t >= until));
    // A successful sign-in clears the login's count: 9 more failures do not lock.
    s.clear_sign_in_failures(a.id, "Admin").await.unwrap();
    assert_eq!(
        s.sign_in_locked(a.id, "admin", "192.0.2.1").await.unwrap(),
        None
    );
    for _ in 0..9 {
        let r = s.record_sign_in_failure(a.id, "admin", "192.0.2.1", &policy);
        assert_eq!(r.await.unwrap(), None);
    }
    assert!(
        s.record_sign_in_failure(a.id, "admin", "192.0.2.1", &policy)
            .await
            .unwrap()
            .is_some()
    );
}

async fn address_limit_locks_every_login_from_it(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await;
    let policy = SignInPolicy {
        address_failures: 3,
        ..SignInPolicy::default()
    };
    let here = "2001:db8::1";
    for login in ["ayse", "veli"] {
        let r = s.record_sign_in_failure(c.id, login, here, &policy);
        assert_eq!(r.await.unwrap(), None);
    }
    let until = s
        .record_sign_in_failure(c.id, "fatma", here, &policy)
        .await
        .unwrap()
        .expect("the address's third failure locks");
    assert_eq!(
        s.sign_in_locked(c.id, "mehmet", here).await.unwrap(),
        Some(until)
    );
    assert_eq!(
        s.sign_in_locked(c.id, "mehmet", "2001:db8::2")
            .await
            .unwrap(),
        None,
        "only that address"
    );
    // A successful sign-in of one login does not unlock its address.
    s.clear_sign_in_failures(c.id, "fatma").await.unwrap();
    assert_eq!(
        s.sign_in_locked(c.id, "fatma", here).await.unwrap(),
        Some(until)
    );
    // A lock ends by itself.
    let short = SignInPolicy {
        address_failures: 1,
        lock_for: Duration::from_millis(5),
        ..SignInPolicy::default()
    };
    let there = "2001:db8::3";
    assert!(
        s.record_sign_in_failure(c.id, "ayse", there, &short)
            .await
            .unwrap()
            .is_some()
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(s.sign_in_locked(c.id, "ayse", there).await.unwrap(), None);
}

async fn counts_start_over_after_the_window(db: &TestDb) {
    let s = &db.store;
    let raw = db.raw().await;
    let c = company(s, CountryType::Tr).await;
    // By the clock: with a 1 ms window, failures 20 ms apart never add up to 2.
    let tiny = SignInPolicy {
        user_failures: 2,
        window: Duration::from_millis(1),
        ..SignInPolicy::default()
    };
    for _ in 0..3 {
        let r = s.record_sign_in_failure(c.id, "ayse", "192.0.2.1", &tiny);
        assert_eq!(r.await.unwrap(), None);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Within the window they do.
    let wide = SignInPolicy {
        user_failures: 2,
        ..SignInPolicy::default()
    };
    assert!(
        s.record_sign_in_failure(c.id, "ayse", "192.0.2.1", &wide)
            .await
            .unwrap()
            .is_some()
    );
    // The default policy: 9 failures, then the count's start moves 16 minutes back; the
    // 10th failure is the first of a new count.
    let policy = SignInPolicy::default();
    for _ in 0..9 {
        let r = s.record_sign_in_failure(c.id, "veli", "192.0.2.2", &policy);
        assert_eq!(r.await.unwrap(), None);
    }
    raw_exec(
        &raw,
        "UPDATE sign_in_failures SET first_at = first_at - $1",
        16 * 60 * 1000,
    )
    .await;
    let r = s.record_sign_in_failure(c.id, "veli", "192.0.2.2", &policy);
    assert_eq!(r.await.unwrap(), None);
    assert_eq!(
        s.sign_in_locked(c.id, "veli", "192.0.2.2").await.unwrap(),
        None
    );
    raw.close().await;
}

async fn old_sessions_and_counts_are_purged(db: &TestDb) {
    let s = &db.store;
    let raw = db.raw().await;
    let c = company(s, CountryType::Tr).await;
    let u = user(s, c.id, "ayse").await;
    let old = s.create_web_session(c.id, u.id).await.unwrap();
    sqlx::query("UPDATE web_sessions SET created_at = created_at - $1")
        .bind(31 * DAY_MS)
        .execute(&raw)
        .await
        .unwrap();
    let fresh = s.create_web_session(c.id, u.id).await.unwrap();
    let policy = SignInPolicy::default();
    s.record_sign_in_failure(c.id, "ayse", "192.0.2.1", &policy)
        .await
        .unwrap();
    raw_exec(
        &raw,
        "UPDATE sign_in_failures SET first_at = first_at - $1",
        2 * DAY_MS,
    )
    .await;
    s.record_sign_in_failure(c.id, "veli", "192.0.2.2", &policy)
        .await
        .unwrap();
    // The old session, and the old login and address counts, go; the rest stays.
    assert_eq!(s.purge_web_sign_in().await.unwrap(), 3);
    assert_eq!(session_count(&raw).await, 1);
    let counts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sign_in_failures")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(counts, 2);
    assert!(
        s.web_session(&old, 60 * 24 * HOUR, 60 * 24 * HOUR)
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.web_session(&fresh, HOUR, HOUR).await.unwrap().is_some());
    raw.close().await;
}
