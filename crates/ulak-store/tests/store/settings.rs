//! SMS settings, sender headers, provider accounts, customer accounts and templates.

use std::collections::BTreeMap;

use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_store::StoreError;

use crate::helpers::{TestDb, company};

crate::store_tests!(
    sms_settings_and_otp_secret,
    sender_headers_default,
    provider_accounts_crud_and_secret,
    http_provider_account_settings_and_token,
    customer_accounts_crud,
    templates_crud_and_render,
);

async fn sms_settings_and_otp_secret(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await;
    let st = s.get_sms_settings(c.id).await.unwrap().unwrap();
    assert!(!st.tckn_subscription_active && !st.has_otp_password);
    let patch = SmsSettingsPatch {
        country_type: Some(CountryType::Kktc),
        tckn_sender: Some(Some(SenderName::parse("ULAK TCKN").unwrap())),
        tckn_subscription_active: Some(true),
        otp_username: Some(Some("otpuser".into())),
        otp_password: Some(Some(Secret::parse("otp-şifre").unwrap())),
        opt_out_keywords: None,
    };
    let st = s.update_sms_settings(c.id, patch).await.unwrap();
    assert_eq!(st.country_type, CountryType::Kktc);
    assert!(st.tckn_subscription_active && st.has_otp_password);
    assert_eq!(
        s.decrypt_otp_password(c.id)
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "otp-şifre"
    );
    let clear = SmsSettingsPatch {
        otp_password: Some(None),
        ..SmsSettingsPatch::default()
    };
    let st = s.update_sms_settings(c.id, clear).await.unwrap();
    assert!(!st.has_otp_password && st.otp_username.is_some());
    assert!(s.decrypt_otp_password(c.id).await.unwrap().is_none());
}

async fn sender_headers_default(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await;
    assert!(SenderName::parse("ŞİRKET").is_err());
    assert!(SenderName::parse("TOOLONGNAME12").is_err());
    assert!(SenderName::parse("08501234567").is_ok());
    let a = s
        .create_sender_header(c.id, NewSenderHeader::new("ULAK", true).unwrap())
        .await
        .unwrap();
    let b = s
        .create_sender_header(c.id, NewSenderHeader::new("ULAK2", true).unwrap())
        .await
        .unwrap();
    assert_eq!(
        s.default_sender_header(c.id).await.unwrap().unwrap().id,
        b.id
    );
    s.set_default_sender_header(c.id, a.id).await.unwrap();
    assert_eq!(
        s.default_sender_header(c.id).await.unwrap().unwrap().id,
        a.id
    );
    let dup = s
        .create_sender_header(c.id, NewSenderHeader::new("ULAK", false).unwrap())
        .await;
    assert!(
        matches!(dup, Err(StoreError::Conflict { ref field }) if field == "name"),
        "{dup:?}"
    );
    assert_eq!(
        s.list_sender_headers(c.id, &ListQuery::default())
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    s.delete_sender_header(c.id, a.id).await.unwrap();
    assert!(s.default_sender_header(c.id).await.unwrap().is_none());
}

/// A provider draft with the given password.
pub fn draft(name: &str, password: Option<&str>) -> ProviderAccountDraft {
    ProviderAccountDraft {
        name: name.into(),
        kind: "smpp".into(),
        host: "smpp.example.com.tr".into(),
        port: 2775,
        system_id: "ulak01".into(),
        password: password.map(Into::into),
        system_type: String::new(),
        enabled: true,
        ..ProviderAccountDraft::default()
    }
}

async fn provider_accounts_crud_and_secret(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Az).await;
    let bad = NewProviderAccount::new(
        ProviderAccountDraft {
            binds: Some(0),
            kind: "x".into(),
            ..draft("", None)
        },
        CountryType::Az,
        &Default::default(),
    )
    .unwrap_err();
    let fields: Vec<_> = bad.0.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["name", "kind", "binds"]);
    let new = NewProviderAccount::new(
        draft("turkcell", Some("op-Pass-1")),
        CountryType::Az,
        &Default::default(),
    )
    .unwrap();
    assert_eq!(new.text_policy, ulak_text::Policy::Gsm7OrUcs2);
    let a = s.create_provider_account(c.id, new).await.unwrap();
    assert!(a.has_password);
    let smpp = a.smpp().unwrap();
    assert_eq!(
        (
            smpp.binds,
            smpp.window,
            smpp.source.ton,
            smpp.destination.npi
        ),
        (1, 10, 5, 1)
    );
    assert!(!a.has_token);
    assert_eq!(
        s.decrypt_provider_password(c.id, a.id)
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "op-Pass-1"
    );
    // Update without a password keeps it; with one replaces it.
    let mut d = draft("turkcell", None);
    d.binds = Some(4);
    d.text_policy = Some("turkish-single-shift".into());
    let a2 = s
        .update_provider_account(
            c.id,
            a.id,
            NewProviderAccount::new(d, CountryType::Az, &Default::default()).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        (a2.smpp().unwrap().binds, a2.text_policy),
        (4, ulak_text::Policy::TurkishSingleShift)
    );
    assert_eq!(
        s.decrypt_provider_password(c.id, a.id)
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "op-Pass-1"
    );
    let d = draft("turkcell", Some("new-pass"));
    s.update_provider_account(
        c.id,
        a.id,
        NewProviderAccount::new(d, CountryType::Az, &Default::default()).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        s.decrypt_provider_password(c.id, a.id)
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "new-pass"
    );
    let dup = s
        .create_provider_account(
            c.id,
            NewProviderAccount::new(
                draft("turkcell", None),
                CountryType::Az,
                &Default::default(),
            )
            .unwrap(),
        )
        .await;
    assert!(
        matches!(dup, Err(StoreError::Conflict { ref field }) if field == "name"),
        "{dup:?}"
    );
    let b = s
        .create_provider_account(
            c.id,
            NewProviderAccount::new(draft("sim", None), CountryType::Az, &Default::default())
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(!b.has_password);
    assert!(
        s.decrypt_provider_password(c.id, b.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        s.list_provider_accounts(c.id, &ListQuery::default())
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    s.delete_provider_account(c.id, b.id).await.unwrap();
    assert!(s.get_provider_account(c.id, b.id).await.unwrap().is_none());
}

async fn customer_accounts_crud(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await;
    let mut attrs = BTreeMap::new();
    attrs.insert("vade".to_owned(), "30".to_owned());
    let bad = NewCustomerAccount::new(
        "",
        "T",
        CustomerKind::Customer,
        &["0532 1", "0533 111 22 33"],
        CountryType::Tr,
        0,
        BTreeMap::new(),
    )
    .unwrap_err();
    let fields: Vec<_> = bad.0.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["code", "phones[0]"]);
    let new = NewCustomerAccount::new(
        "120.01.001",
        "Yılmaz Ticaret Ltd.",
        CustomerKind::Customer,
        &["0532 111 22 33", "+994 50 123 45 67"],
        CountryType::Tr,
        -150_075,
        attrs,
    )
    .unwrap();
    let a = s.create_customer_account(c.id, new.clone()).await.unwrap();
    assert_eq!(a.phones.len(), 2);
    assert_eq!(a.balance_minor, -150_075);
    let dup = s.create_customer_account(c.id, new).await;
    assert!(
        matches!(dup, Err(StoreError::Conflict { ref field }) if field == "code"),
        "{dup:?}"
    );
    let q = |t: &str| ListQuery {
        search: Some(t.into()),
        ..ListQuery::default()
    };
    assert_eq!(
        s.list_customer_accounts(c.id, &q("YILMAZ"))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        s.list_customer_accounts(c.id, &q("99450"))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let patch = CustomerAccountPatch::new(
        None,
        Some(CustomerKind::Supplier),
        Some(&["0533 000 00 01"]),
        CountryType::Tr,
        Some(10),
        None,
    )
    .unwrap();
    let a2 = s.update_customer_account(c.id, a.id, patch).await.unwrap();
    assert_eq!(
        (a2.kind, a2.phones.len(), a2.balance_minor),
        (CustomerKind::Supplier, 1, 10)
    );
    assert_eq!(a2.attributes.get("vade"), Some("30"));
    s.delete_customer_account(c.id, a.id).await.unwrap();
    assert!(s.get_customer_account(c.id, a.id).await.unwrap().is_none());
}

async fn templates_crud_and_render(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await;
    let err = NewTemplate::new("borç", "Sayın {{ad}, borcunuz").unwrap_err();
    assert_eq!(err.0[0].field, "body");
    assert_eq!(err.0[0].code, ulak_core::Code::TemplatePlaceholderInvalid);
    let t = s
        .create_template(
            c.id,
            NewTemplate::new("borç", "Sayın {{ ad }}, bakiyeniz {{bakiye}} TL.").unwrap(),
        )
        .await
        .unwrap();
    let dup = s
        .create_template(c.id, NewTemplate::new("borç", "x").unwrap())
        .await;
    assert!(
        matches!(dup, Err(StoreError::Conflict { ref field }) if field == "name"),
        "{dup:?}"
    );
    let got = s.get_template(c.id, t.id).await.unwrap().unwrap();
    let mut v = BTreeMap::new();
    v.insert("ad".to_owned(), "Ayşe".to_owned());
    assert_eq!(
        got.body.render_map(&v).unwrap_err().0,
        vec!["bakiye".to_owned()]
    );
    v.insert("bakiye".to_owned(), "1.250,00".to_owned());
    assert_eq!(
        got.body.render_map(&v).unwrap(),
        "Sayın Ayşe, bakiyeniz 1.250,00 TL."
    );
    let t2 = s
        .update_template(
            c.id,
            t.id,
            NewTemplate::new("Borç hatırlatma", "{{ad}}").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(t2.body.fields(), ["ad"]);
    let q = ListQuery {
        search: Some("BORÇ".into()),
        ..ListQuery::default()
    };
    assert_eq!(s.list_templates(c.id, &q).await.unwrap().items.len(), 1);
    s.delete_template(c.id, t.id).await.unwrap();
    assert!(s.get_template(c.id, t.id).await.unwrap().is_none());
}

/// An HTTP account as the engine will get one: no HTTP operator can be created through the
/// API yet, so the checked value is built here.
pub fn http_account(name: &str, token: Option<&str>) -> NewProviderAccount {
    NewProviderAccount {
        name: name.into(),
        kind: ProviderKind::Http,
        password: Some(Secret::parse("http-Pass-1").unwrap()),
        token: token.map(|t| Secret::parse_within(t, 4096).unwrap()),
        rate_per_sec: 20,
        text_policy: ulak_text::Policy::TurkishShift,
        enabled: false,
        settings: ProviderSettings::Http(HttpSettings {
            base_url: "https://api.operator.example/sms".into(),
            username: "ulak".into(),
        }),
    }
}

/// An HTTP account keeps its own settings and an encrypted token beside the password; a
/// replace without a token keeps it, a change to SMPP drops it.
async fn http_provider_account_settings_and_token(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await;
    let a = s
        .create_provider_account(c.id, http_account("api", Some("tok-123")))
        .await
        .unwrap();
    assert_eq!(a.kind, ProviderKind::Http);
    assert!(a.smpp().is_none());
    let h = a.http().unwrap();
    assert_eq!(
        (h.base_url.as_str(), h.username.as_str()),
        ("https://api.operator.example/sms", "ulak")
    );
    assert!(a.has_password && a.has_token);
    assert_eq!(a.in_flight(), 20);
    let token = |id| async move {
        s.decrypt_provider_token(c.id, id)
            .await
            .unwrap()
            .map(|t| t.expose().to_owned())
    };
    assert_eq!(token(a.id).await.as_deref(), Some("tok-123"));
    assert_eq!(
        s.decrypt_provider_password(c.id, a.id)
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "http-Pass-1"
    );
    // Read back the same through every reader.
    assert_eq!(
        s.get_provider_account(c.id, a.id).await.unwrap(),
        Some(a.clone())
    );
    // A replace without a token keeps it; with one replaces it.
    let mut new = http_account("api", None);
    new.rate_per_sec = 5;
    let b = s.update_provider_account(c.id, a.id, new).await.unwrap();
    assert!(b.has_token);
    assert_eq!(b.rate_per_sec, 5);
    assert_eq!(token(a.id).await.as_deref(), Some("tok-123"));
    s.update_provider_account(c.id, a.id, http_account("api", Some("tok-456")))
        .await
        .unwrap();
    assert_eq!(token(a.id).await.as_deref(), Some("tok-456"));
    // The token of one row does not open in another (AAD binds row and column).
    let other = s
        .create_provider_account(c.id, http_account("api2", None))
        .await
        .unwrap();
    let raw = db.raw().await;
    sqlx::query("UPDATE provider_accounts SET token = (SELECT token FROM provider_accounts WHERE id = $1) WHERE id = $2")
        .bind(a.id.0)
        .bind(other.id.0)
        .execute(&raw)
        .await
        .unwrap();
    let stored: String = sqlx::query_scalar("SELECT token FROM provider_accounts WHERE id = $1")
        .bind(a.id.0)
        .fetch_one(&raw)
        .await
        .unwrap();
    assert!(stored.starts_with("v1:") && !stored.contains("tok-456"));
    raw.close().await;
    assert!(s.decrypt_provider_token(c.id, other.id).await.is_err());
    // An HTTP account from before HTTP settings (no base URL) reads back, rather than
    // failing every list of accounts it is in.
    let raw = db.raw().await;
    sqlx::query("UPDATE provider_accounts SET base_url = NULL, username = NULL WHERE id = $1")
        .bind(other.id.0)
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;
    let listed = s
        .list_provider_accounts(c.id, &ListQuery::default())
        .await
        .unwrap();
    let old = listed.items.iter().find(|x| x.id == other.id).unwrap();
    assert_eq!(old.http().unwrap().base_url, "");
    s.list_active_provider_accounts().await.unwrap();
    // Becoming an SMPP account drops the token: it means nothing there.
    let smpp =
        NewProviderAccount::new(draft("api", None), CountryType::Tr, &Default::default()).unwrap();
    let d = s.update_provider_account(c.id, a.id, smpp).await.unwrap();
    assert!(!d.has_token && d.http().is_none());
    assert_eq!(d.smpp().unwrap().system_id, "ulak01");
    assert_eq!(token(a.id).await, None);
}
