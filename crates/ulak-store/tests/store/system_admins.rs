//! The server keeps an active system administrator: the last one (an active administrator of
//! `default` with `system_admin`) cannot be demoted, deactivated, deleted or lose the flag,
//! even while another company administrator remains, and two at once stepping down leave
//! one.

use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_store::{DEFAULT_COMPANY, Store, StoreError};

use crate::helpers::TestDb;

crate::store_tests!(
    the_last_system_admin_stays_one,
    two_stepping_down_at_once_leave_one,
);

async fn admin(s: &Store, company: CompanyId, login: &str, system: bool) -> User {
    let new = NewUser::new(
        login,
        "dogru-sifre-1",
        None,
        None,
        None,
        Role::Admin,
        CountryType::Tr,
    )
    .unwrap();
    let u = s.create_user(company, new).await.unwrap();
    if system {
        return s.set_user_system_admin(company, u.id, true).await.unwrap();
    }
    u
}

async fn default_company(s: &Store) -> CompanyId {
    s.get_company_by_name(DEFAULT_COMPANY)
        .await
        .unwrap()
        .unwrap()
        .id
}

fn demote() -> UserPatch {
    UserPatch::new(
        None,
        None,
        None,
        None,
        Some(Role::Operator),
        CountryType::Tr,
    )
    .unwrap()
}

fn is_last_system(r: Result<impl std::fmt::Debug, StoreError>) -> bool {
    matches!(r, Err(StoreError::LastSystemAdmin))
}

async fn the_last_system_admin_stays_one(db: &TestDb) {
    let s = &db.store;
    let c = default_company(s).await;
    let root = admin(s, c, "kok", true).await;
    // Another administrator of the company: the company rule alone would let these pass.
    let plain = admin(s, c, "yonetici", false).await;
    let off = UserPatch::default().with_active(Some(false));
    assert!(is_last_system(s.update_user(c, root.id, demote()).await));
    assert!(is_last_system(s.update_user(c, root.id, off.clone()).await));
    assert!(is_last_system(s.delete_user(c, root.id).await));
    assert!(is_last_system(
        s.set_user_system_admin(c, root.id, false).await
    ));
    assert_eq!(s.get_user(c, root.id).await.unwrap(), Some(root.clone()));
    // Other changes of the last one go through.
    let renamed = UserPatch::new(None, Some("Kök"), None, None, None, CountryType::Tr).unwrap();
    s.update_user(c, root.id, renamed).await.unwrap();
    // With a second system administrator the first may step down; then the second stays
    // (the first, an operator now, is no system administrator however flagged).
    let second = admin(s, c, "ikinci", true).await;
    s.update_user(c, root.id, demote()).await.unwrap();
    assert!(is_last_system(s.update_user(c, second.id, off).await));
    assert!(is_last_system(
        s.set_user_system_admin(c, second.id, false).await
    ));
    // The company's own rule still comes first for its last administrator.
    s.update_user(c, plain.id, demote()).await.unwrap();
    assert!(matches!(
        s.delete_user(c, second.id).await,
        Err(StoreError::LastAdmin)
    ));
}

async fn two_stepping_down_at_once_leave_one(db: &TestDb) {
    let s = &db.store;
    let c = default_company(s).await;
    let a = admin(s, c, "birinci", true).await;
    let b = admin(s, c, "ikinci", true).await;
    admin(s, c, "ucuncu", false).await;
    let (ra, rb) = tokio::join!(
        s.update_user(c, a.id, demote()),
        s.set_user_system_admin(c, b.id, false)
    );
    let refused = [is_last_system(ra), is_last_system(rb)];
    assert_eq!(
        refused.iter().filter(|r| **r).count(),
        1,
        "exactly one steps down: {refused:?}"
    );
}
