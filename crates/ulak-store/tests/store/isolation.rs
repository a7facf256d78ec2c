//! Tenant isolation: company B can neither read, list, change nor delete company A's rows,
//! even by guessing ids; every attempt looks exactly like a missing row.

use std::collections::BTreeMap;

use ulak_core::model::*;
use ulak_core::{CountryType, Msisdn};
use ulak_store::StoreError;

use crate::helpers::{TestDb, company};
use crate::settings::draft;

crate::store_tests!(other_company_rows_are_invisible);

fn not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    assert!(
        matches!(r, Err(StoreError::NotFound)),
        "expected NotFound, got {r:?}"
    );
}

async fn other_company_rows_are_invisible(db: &TestDb) {
    let s = &db.store;
    let a = company(s, CountryType::Tr).await.id;
    let b = company(s, CountryType::Tr).await.id;
    let tr = CountryType::Tr;
    let phone = "0532 999 88 77";
    let m = Msisdn::parse(phone, tr).unwrap();

    let user = s
        .create_user(
            a,
            NewUser::new("ali", "parola-123", None, None, None, Role::Admin, tr).unwrap(),
        )
        .await
        .unwrap();
    let (key, _) = s
        .create_api_key(a, NewApiKey::new("k", Role::Admin, false).unwrap())
        .await
        .unwrap();
    let sub = s
        .create_subscriber(
            a,
            NewSubscriber::new("Ali", phone, tr, None, BTreeMap::new(), Consent::OptedIn).unwrap(),
        )
        .await
        .unwrap();
    let grp = s
        .create_group(a, GroupName::parse("G").unwrap(), None)
        .await
        .unwrap();
    s.add_group_members(a, grp.id, &[sub.id]).await.unwrap();
    let opt = s.add_opt_out(a, &m, None).await.unwrap();
    s.add_credit_entry(
        a,
        NewCreditEntry::new(LedgerKind::Purchase, 50, None).unwrap(),
    )
    .await
    .unwrap();
    let hdr = s
        .create_sender_header(a, NewSenderHeader::new("ULAK", true).unwrap())
        .await
        .unwrap();
    let prov = s
        .create_provider_account(
            a,
            NewProviderAccount::new(draft("p", Some("sifre")), tr, &Default::default()).unwrap(),
        )
        .await
        .unwrap();
    let cust = s
        .create_customer_account(
            a,
            NewCustomerAccount::new(
                "C1",
                "T",
                CustomerKind::Customer,
                &[phone],
                tr,
                0,
                BTreeMap::new(),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let tpl = s
        .create_template(a, NewTemplate::new("t", "{{ad}}").unwrap())
        .await
        .unwrap();

    // Reads by id (and by guessing every id up to the largest used) see nothing.
    for id in 1..=200 {
        assert!(s.get_user(b, UserId(id)).await.unwrap().is_none());
        assert!(s.get_api_key(b, ApiKeyId(id)).await.unwrap().is_none());
        assert!(
            s.get_subscriber(b, SubscriberId(id))
                .await
                .unwrap()
                .is_none()
        );
        assert!(s.get_group(b, GroupId(id)).await.unwrap().is_none());
        assert!(
            s.get_provider_account(b, ProviderAccountId(id))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            s.get_customer_account(b, CustomerAccountId(id))
                .await
                .unwrap()
                .is_none()
        );
        assert!(s.get_template(b, TemplateId(id)).await.unwrap().is_none());
    }
    assert!(s.get_subscriber_by_phone(b, &m).await.unwrap().is_none());
    assert!(!s.is_opted_out(b, &m).await.unwrap());
    assert!(s.default_sender_header(b).await.unwrap().is_none());
    assert_eq!(s.credit_balance(b).await.unwrap(), 0);
    assert!(
        s.verify_user_password(b, "ali", "parola-123")
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.subscriber_groups(b, sub.id).await.unwrap().is_empty());

    // Lists are empty, also with a group filter naming A's group.
    let all = ListQuery::default();
    assert!(s.list_users(b, &all).await.unwrap().items.is_empty());
    assert!(s.list_api_keys(b, &all).await.unwrap().items.is_empty());
    assert!(s.list_subscribers(b, &all).await.unwrap().items.is_empty());
    let in_group = ListQuery {
        group_id: Some(grp.id),
        ..ListQuery::default()
    };
    assert!(
        s.list_subscribers(b, &in_group)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(s.list_groups(b, &all).await.unwrap().items.is_empty());
    assert!(s.list_opt_outs(b, &all).await.unwrap().items.is_empty());
    assert!(
        s.list_credit_entries(b, &all)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        s.list_sender_headers(b, &all)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        s.list_provider_accounts(b, &all)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        s.list_customer_accounts(b, &all)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(s.list_templates(b, &all).await.unwrap().items.is_empty());

    // Changes and deletes are NotFound and leave A's rows as they were.
    not_found(
        s.update_user(
            b,
            user.id,
            UserPatch {
                role: Some(Role::Viewer),
                ..UserPatch::default()
            },
        )
        .await,
    );
    not_found(s.revoke_api_key(b, key.id).await);
    not_found(
        s.update_subscriber(
            b,
            sub.id,
            SubscriberPatch {
                name: Some("X".into()),
                ..SubscriberPatch::default()
            },
        )
        .await,
    );
    not_found(
        s.update_group(b, grp.id, GroupName::parse("X").unwrap(), None)
            .await,
    );
    not_found(s.add_group_members(b, grp.id, &[sub.id]).await);
    // Another company's group is missing, for removals too (it once answered "0 removed").
    not_found(s.remove_group_members(b, grp.id, &[sub.id]).await);
    not_found(s.set_default_sender_header(b, hdr.id).await);
    not_found(
        s.update_provider_account(
            b,
            prov.id,
            NewProviderAccount::new(draft("p", Some("x")), tr, &Default::default()).unwrap(),
        )
        .await,
    );
    not_found(s.decrypt_provider_password(b, prov.id).await);
    not_found(
        s.update_customer_account(
            b,
            cust.id,
            CustomerAccountPatch {
                balance_minor: Some(1),
                ..CustomerAccountPatch::default()
            },
        )
        .await,
    );
    not_found(
        s.update_template(b, tpl.id, NewTemplate::new("x", "y").unwrap())
            .await,
    );
    not_found(s.delete_user(b, user.id).await);
    not_found(s.delete_subscriber(b, sub.id).await);
    not_found(s.delete_group(b, grp.id).await);
    not_found(s.delete_opt_out(b, opt.id).await);
    not_found(s.delete_sender_header(b, hdr.id).await);
    not_found(s.delete_provider_account(b, prov.id).await);
    not_found(s.delete_customer_account(b, cust.id).await);
    not_found(s.delete_template(b, tpl.id).await);
    // B's own group cannot take A's subscriber.
    let bg = s
        .create_group(b, GroupName::parse("G").unwrap(), None)
        .await
        .unwrap();
    not_found(s.add_group_members(b, bg.id, &[sub.id]).await);
    assert!(
        s.list_subscribers(
            b,
            &ListQuery {
                group_id: Some(bg.id),
                ..ListQuery::default()
            }
        )
        .await
        .unwrap()
        .items
        .is_empty()
    );

    // A is untouched, and the same phone is free in B.
    assert_eq!(
        s.get_user(a, user.id).await.unwrap().unwrap().role,
        Role::Admin
    );
    assert!(
        s.get_api_key(a, key.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    assert_eq!(
        s.get_subscriber(a, sub.id).await.unwrap().unwrap().name,
        "Ali"
    );
    assert_eq!(
        s.list_subscribers(a, &in_group).await.unwrap().items.len(),
        1
    );
    assert!(s.is_opted_out(a, &m).await.unwrap());
    assert_eq!(s.credit_balance(a).await.unwrap(), 50);
    assert_eq!(
        s.decrypt_provider_password(a, prov.id)
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "sifre"
    );
    assert!(s.get_template(a, tpl.id).await.unwrap().is_some());
    s.create_subscriber(
        b,
        NewSubscriber::new("Ali B", phone, tr, None, BTreeMap::new(), Consent::Unknown).unwrap(),
    )
    .await
    .unwrap();
}
