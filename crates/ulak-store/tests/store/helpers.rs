//! Test databases: a temporary SQLite file, or a throw-away PostgreSQL schema.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{AnyPool, Executor};
use ulak_core::CountryType;
use ulak_core::model::{Company, Consent, NewCompany, NewSubscriber};
use ulak_store::Store;

/// The key tests encrypt secrets with.
pub const KEY: [u8; 32] = [42; 32];

/// One store on a fresh database, and how to reach that database raw.
pub struct TestDb {
    /// The store under test.
    pub store: Store,
    /// URL of the same database, for raw reads.
    pub url: String,
    /// Keeps the SQLite directory alive.
    _dir: Option<tempfile::TempDir>,
    /// PostgreSQL schema to drop at the end, even when the test panics.
    _schema: Option<SchemaGuard>,
}

/// Drops a test schema when dropped. A test that panics never reaches [`TestDb::finish`], so
/// the drop runs here, on its own thread and runtime (the test's runtime may be unwinding).
struct SchemaGuard {
    admin: String,
    schema: String,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let (admin, schema) = (self.admin.clone(), self.schema.clone());
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    if let Ok(pool) = AnyPool::connect(&admin).await {
                        let sql = format!(
                            "SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS {schema} CASCADE"
                        );
                        let _ = pool.execute(sqlx::AssertSqlSafe(sql)).await;
                        pool.close().await;
                    }
                });
            }
        });
        let _ = done.join();
    }
}

/// Admin URL of the test PostgreSQL, if one answers.
async fn pg_admin() -> Option<String> {
    sqlx::any::install_default_drivers();
    let base = std::env::var("ULAK_TEST_PG").ok();
    let candidates = match base {
        Some(b) => vec![b],
        None => vec![
            "postgres://postgres@127.0.0.1:5432/test".to_owned(),
            "postgres://root@127.0.0.1:5432/test".to_owned(),
        ],
    };
    for url in candidates {
        if let Ok(pool) = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(3))
            .connect(&url)
            .await
        {
            pool.close().await;
            return Some(url);
        }
    }
    None
}

/// A name unique across test threads and processes.
fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        t % 1_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

impl TestDb {
    /// A store on a new SQLite file.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/ulak.db?mode=rwc", dir.path().display());
        let store = Store::connect(&url, KEY).await.expect("connect sqlite");
        Self {
            store,
            url,
            _dir: Some(dir),
            _schema: None,
        }
    }

    /// A store on a new PostgreSQL schema; `None` (with a message) when PostgreSQL is not
    /// reachable outside CI. In CI (`CI=true`) an unreachable PostgreSQL fails the test.
    pub async fn postgres() -> Option<Self> {
        let Some(admin) = pg_admin().await else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but PostgreSQL at 127.0.0.1:5432 (database test) is unreachable");
            }
            eprintln!("SKIPPED: PostgreSQL at 127.0.0.1:5432 is unreachable (set CI=true to fail)");
            return None;
        };
        let schema = unique("t");
        let pool = AnyPool::connect(&admin).await.expect("pg admin");
        pool.execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .await
            .expect("create schema");
        pool.close().await;
        let url = format!("{admin}?options=-c%20search_path%3D{schema}");
        let store = Store::connect(&url, KEY).await.expect("connect pg");
        Some(Self {
            store,
            url,
            _dir: None,
            _schema: Some(SchemaGuard { admin, schema }),
        })
    }

    /// A raw pool on the same database.
    pub async fn raw(&self) -> AnyPool {
        AnyPool::connect(&self.url).await.expect("raw pool")
    }

    /// Holds back every write to `table` from another connection until the returned
    /// transaction ends: SQLite's one write lock (a write statement takes it, matched rows or
    /// not), PostgreSQL's exclusive lock on the table.
    pub async fn hold_writes(&self, table: &str) -> sqlx::Transaction<'static, sqlx::Any> {
        let mut outside = self.raw().await.begin().await.expect("outside transaction");
        let lock = match self.store.backend() {
            ulak_store::Backend::Sqlite => format!("UPDATE {table} SET id = id WHERE id = -1"),
            ulak_store::Backend::Postgres => format!("LOCK TABLE {table} IN EXCLUSIVE MODE"),
        };
        sqlx::query(sqlx::AssertSqlSafe(lock))
            .execute(&mut *outside)
            .await
            .expect("lock");
        outside
    }

    /// Closes the store; dropping `self` then drops the PostgreSQL schema.
    pub async fn finish(self) {
        self.store.close().await;
    }
}

/// An opted-in Turkish subscriber named `name` with phone `phone` and no attributes.
pub fn sub(name: &str, phone: &str) -> NewSubscriber {
    NewSubscriber::new(
        name,
        phone,
        CountryType::Tr,
        None,
        BTreeMap::new(),
        Consent::OptedIn,
    )
    .unwrap()
}

/// Creates a company with a unique name.
pub async fn company(store: &Store, country: CountryType) -> Company {
    let name = unique("c").replace('_', "-");
    store
        .create_company(NewCompany::new(&name, "Test A.Ş.", country).expect("valid"))
        .await
        .expect("create company")
}

/// Creates an enabled simulator provider account named `name` for `company`.
pub async fn simulator_account(
    store: &Store,
    company: ulak_core::model::CompanyId,
    name: &str,
) -> ulak_core::model::ProviderAccountId {
    let draft = ulak_core::model::ProviderAccountDraft {
        name: name.into(),
        kind: "simulator".into(),
        host: "builtin".into(),
        port: 2775,
        system_id: "ulak".into(),
        enabled: true,
        ..ulak_core::model::ProviderAccountDraft::default()
    };
    store
        .create_provider_account(
            company,
            ulak_core::model::NewProviderAccount::new(draft, CountryType::Tr, &Default::default())
                .expect("valid"),
        )
        .await
        .expect("create provider account")
        .id
}

/// Declares each listed `async fn name(db: &TestDb)` as two tests, `sqlite::name` and
/// `postgres::name`, so one suite covers both back ends.
#[macro_export]
macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::helpers::TestDb::sqlite().await;
                    super::$name(&db).await;
                    db.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = $crate::helpers::TestDb::postgres().await else { return };
                    super::$name(&db).await;
                    db.finish().await;
                }
            )*
        }
    };
}
