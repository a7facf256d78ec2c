//! What the engine's tests share: a store on a temporary SQLite file or a throw-away
//! PostgreSQL schema, a funded default company, provider accounts and messages.
#![allow(dead_code, clippy::unwrap_used)]

pub mod campaign;

use std::path::Path;

pub mod proxy;
pub mod stuck;

use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_core::net::OutboundPolicy;
use ulak_store::{DEFAULT_COMPANY, Store};

/// A store on a new SQLite file in `dir`.
pub async fn sqlite_store(dir: &Path) -> Store {
    Store::connect(
        &format!("sqlite://{}?mode=rwc", dir.join("engine.db").display()),
        [7; 32],
    )
    .await
    .unwrap()
}

/// A PostgreSQL schema dropped when this is dropped (a panicking test too).
pub struct PgSchema {
    admin: String,
    schema: String,
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (admin, schema) = (self.admin.clone(), self.schema.clone());
        // On a thread of its own: the test's runtime may be unwinding.
        let done = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(pool) = sqlx::AnyPool::connect(&admin).await {
                    let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                    pool.close().await;
                }
            });
        });
        let _ = done.join();
    }
}

/// A store on a new schema of the test PostgreSQL (127.0.0.1:5432, database `test`), or
/// `None` when it does not answer (a failure when `CI=true`).
pub async fn pg_store() -> Option<(Store, PgSchema)> {
    sqlx::any::install_default_drivers();
    let mut admin = None;
    for url in [
        "postgres://postgres@127.0.0.1:5432/test",
        "postgres://root@127.0.0.1:5432/test",
    ] {
        if let Ok(pool) = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(3))
            .connect(url)
            .await
        {
            admin = Some((url.to_owned(), pool));
            break;
        }
    }
    let Some((admin, pool)) = admin else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but PostgreSQL at 127.0.0.1:5432 (database test) is unreachable");
        }
        eprintln!("SKIPPED: PostgreSQL at 127.0.0.1:5432 is unreachable (set CI=true to fail)");
        return None;
    };
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let schema = format!(
        "engine_{}_{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let guard = PgSchema {
        admin: admin.clone(),
        schema: schema.clone(),
    };
    for sql in [
        format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
        format!("CREATE SCHEMA {schema}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    let url = format!("{admin}?options=-c%20search_path%3D{schema}");
    let store = Store::connect(&url, [7; 32]).await.unwrap();
    Some((store, guard))
}

/// Company `default`, with `credit` bought.
pub async fn funded_default(s: &Store, credit: i64) -> CompanyId {
    let c = s
        .get_company_by_name(DEFAULT_COMPANY)
        .await
        .unwrap()
        .unwrap()
        .id;
    if credit > 0 {
        s.add_credit_entry(
            c,
            NewCreditEntry::new(LedgerKind::Purchase, credit, None).unwrap(),
        )
        .await
        .unwrap();
    }
    c
}

/// A provider account: the built-in simulator's by default, changed by `edit`.
pub async fn account(
    s: &Store,
    c: CompanyId,
    edit: impl FnOnce(&mut ProviderAccountDraft),
) -> ProviderAccountId {
    let mut draft = ProviderAccountDraft {
        name: "sim".into(),
        kind: "simulator".into(),
        host: "builtin".into(),
        port: 2775,
        system_id: "ulak".into(),
        enabled: true,
        ..ProviderAccountDraft::default()
    };
    edit(&mut draft);
    // Any host: what these tests check is sending, not input rules.
    let new = NewProviderAccount::new(draft, CountryType::Tr, &OutboundPolicy::any()).unwrap();
    s.create_provider_account(c, new).await.unwrap().id
}

/// A message from ULAK to a Turkish `phone`, valid for ever.
pub fn message(p: ProviderAccountId, phone: &str, text: &str) -> NewMessage {
    NewMessage::new(
        Recipient::Msisdn(ulak_core::Msisdn::parse(phone, CountryType::Tr).unwrap()),
        SenderName::parse("ULAK").unwrap(),
        text,
        ulak_text::Policy::TurkishShift,
        1,
        Some(p),
        None,
        i64::MAX,
    )
    .unwrap()
}
