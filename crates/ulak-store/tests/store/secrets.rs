//! Secrets are never stored in clear: the raw tables are searched for every secret given.

use sqlx::{Column, Row};
use ulak_core::CountryType;
use ulak_core::model::*;

use crate::helpers::{TestDb, company};
use crate::settings::draft;

crate::store_tests!(no_secret_in_clear_at_rest);

const TABLES: &[&str] = &[
    "companies",
    "users",
    "api_keys",
    "subscribers",
    "subscriber_groups",
    "opt_outs",
    "credit_ledger",
    "sender_headers",
    "provider_accounts",
    "customer_accounts",
    "sms_templates",
    "web_sessions",
    "sign_in_failures",
];

async fn no_secret_in_clear_at_rest(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await;
    let user_pw = "Kullanici-Parola-77";
    let op_pw = "Operator-Sifre-88";
    let otp_pw = "Otp-Sifre-99";
    let veli = s
        .create_user(
            c.id,
            NewUser::new(
                "veli",
                user_pw,
                None,
                None,
                None,
                Role::Admin,
                CountryType::Tr,
            )
            .unwrap(),
        )
        .await
        .unwrap();
    // A web session's token, and a failed sign-in's login and client address.
    let session = s.create_web_session(c.id, veli.id).await.unwrap();
    let (tried, address) = ("olmayan-kullanici", "198.51.100.23");
    s.record_sign_in_failure(c.id, tried, address, &Default::default())
        .await
        .unwrap();
    let (_, key) = s
        .create_api_key(c.id, NewApiKey::new("k", Role::Admin, false).unwrap())
        .await
        .unwrap();
    let p = s
        .create_provider_account(
            c.id,
            NewProviderAccount::new(
                draft("p", Some(op_pw)),
                CountryType::Tr,
                &Default::default(),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let patch = SmsSettingsPatch {
        otp_password: Some(Some(Secret::parse(otp_pw).unwrap())),
        ..SmsSettingsPatch::default()
    };
    s.update_sms_settings(c.id, patch).await.unwrap();

    let raw = db.raw().await;
    let mut texts = Vec::new();
    for t in TABLES {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {t}")))
            .fetch_all(&raw)
            .await
            .unwrap();
        for r in &rows {
            for (i, col) in r.columns().iter().enumerate() {
                if let Ok(Some(v)) = r.try_get::<Option<String>, _>(i) {
                    texts.push((format!("{t}.{}", col.name()), v));
                }
            }
        }
    }
    assert!(
        texts.len() > 20,
        "raw read found too little: {}",
        texts.len()
    );
    let secret_key_body = &key["ulak_".len() + 6..];
    for (col, v) in &texts {
        for secret in [
            user_pw,
            op_pw,
            otp_pw,
            key.as_str(),
            secret_key_body,
            session.as_str(),
            tried,
            address,
        ] {
            assert!(!v.contains(secret), "{col} holds a secret in clear");
        }
    }
    let get = |name: &str| {
        texts
            .iter()
            .filter(|(c, _)| c == name)
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    assert!(get("users.password_hash")[0].starts_with("$argon2id$"));
    assert_eq!(get("api_keys.key_hash").last().unwrap().len(), 64);
    assert_eq!(get("web_sessions.token_hash")[0].len(), 64);
    assert_eq!(get("sign_in_failures.subject").len(), 2);
    assert!(get("provider_accounts.password")[0].starts_with("v1:"));
    assert!(
        get("companies.otp_password")
            .iter()
            .any(|v| v.starts_with("v1:"))
    );
    // Moving the ciphertext to another row does not decrypt (AAD binds row and column).
    let other = s
        .create_provider_account(
            c.id,
            NewProviderAccount::new(draft("q", None), CountryType::Tr, &Default::default())
                .unwrap(),
        )
        .await
        .unwrap();
    sqlx::query("UPDATE provider_accounts SET password = (SELECT password FROM provider_accounts WHERE id = $1) WHERE id = $2")
        .bind(p.id.0)
        .bind(other.id.0)
        .execute(&raw)
        .await
        .unwrap();
    assert!(s.decrypt_provider_password(c.id, other.id).await.is_err());
    raw.close().await;
}
