//! `spawn_app`: a server on an ephemeral port with its own SQLite database and a known
//! system administrator key; `spawn_app_on(Backend::Postgres)` the same on a throw-away schema
//! of the test PostgreSQL (127.0.0.1:5432, database `test`).

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use ulak_server::{App, Settings};

/// The system administrator key every test server starts with.
pub const ADMIN_KEY: &str = "ulak_test-system-administrator-key-0123456789";

/// A running server for one test.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// An HTTP client.
    pub http: reqwest::Client,
    /// Where its data lives (removed on drop).
    pub dir: std::path::PathBuf,
    stop: CancellationToken,
    settings: Settings,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// The PostgreSQL schema to drop after the server, if it runs on one.
    _schema: Option<SchemaGuard>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The database a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the server's data directory.
    Sqlite,
    /// A new schema of the test PostgreSQL.
    Postgres,
}

/// Drops a test schema when dropped (after the server was told to stop), on its own thread
/// and runtime: the test's runtime may be unwinding.
struct SchemaGuard {
    admin: String,
    schema: String,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let (admin, schema) = (self.admin.clone(), self.schema.clone());
        let done = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                use sqlx::Executor;
                let Ok(pool) = sqlx::AnyPool::connect(&admin).await else {
                    return;
                };
                // The stopping server may still hold a lock for a moment.
                for _ in 0..5 {
                    let sql =
                        format!("SET lock_timeout = '2s'; DROP SCHEMA IF EXISTS {schema} CASCADE");
                    if pool.execute(sqlx::AssertSqlSafe(sql)).await.is_ok() {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                pool.close().await;
            });
        });
        let _ = done.join();
    }
}

/// Admin URL of the test PostgreSQL, if one answers (`ULAK_TEST_PG` overrides).
async fn pg_admin() -> Option<String> {
    sqlx::any::install_default_drivers();
    let candidates = match std::env::var("ULAK_TEST_PG") {
        Ok(url) => vec![url],
        Err(_) => vec![
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

/// Starts a server on `backend`. `None` (with a message) when PostgreSQL is not reachable
/// outside CI; in CI (`CI=true`) an unreachable PostgreSQL fails the test.
pub async fn spawn_app_on(backend: Backend) -> Option<TestApp> {
    if backend == Backend::Sqlite {
        return Some(spawn_app().await);
    }
    let Some(admin) = pg_admin().await else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but PostgreSQL at 127.0.0.1:5432 (database test) is unreachable");
        }
        eprintln!("SKIPPED: PostgreSQL at 127.0.0.1:5432 is unreachable (set CI=true to fail)");
        return None;
    };
    let schema = format!("api_{}_{}", std::process::id(), unique());
    {
        use sqlx::Executor;
        let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
        pool.execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .await
            .unwrap();
        pool.close().await;
    }
    let url = format!("{admin}?options=-c%20search_path%3D{schema}");
    let guard = SchemaGuard { admin, schema };
    let mut app = spawn_app_with(|s| s.database_url = Some(url)).await;
    app._schema = Some(guard);
    Some(app)
}

/// Starts a server for one test.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the app with settings changed by `change`.
pub async fn spawn_app_with(change: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = std::env::temp_dir().join(format!("ulak-test-{}-{}", std::process::id(), unique()));
    let mut settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.clone(),
        bootstrap_api_key: Some(ADMIN_KEY.to_owned()),
        ..Settings::default()
    };
    change(&mut settings);
    start(settings, dir).await
}

async fn start(settings: Settings, dir: std::path::PathBuf) -> TestApp {
    let app = App::build(settings.clone()).await.unwrap();
    let addr = app.local_addr().unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(app.run_until_stopped(stop.clone()));
    TestApp {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        dir,
        stop,
        settings,
        task: Some(task),
        _schema: None,
    }
}

impl TestApp {
    /// Stops the server as SIGTERM would and fails unless it is done within `within`.
    pub async fn stop_within(mut self, within: std::time::Duration) {
        self.stop.cancel();
        let task = self.task.take().unwrap();
        tokio::time::timeout(within, task)
            .await
            .expect("the server did not stop in time")
            .unwrap()
            .unwrap();
    }

    /// Stops the server and starts it again on the same data (a new port).
    pub async fn restart(self) -> TestApp {
        self.restart_with(|_| {}).await
    }

    /// [`TestApp::restart`] with settings changed by `change`.
    pub async fn restart_with(mut self, change: impl FnOnce(&mut Settings)) -> TestApp {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
        let mut settings = self.settings.clone();
        settings.listen = "127.0.0.1:0".parse().unwrap();
        change(&mut settings);
        // Taken, so that dropping the old one leaves the data (and a PostgreSQL schema) in place.
        let dir = std::mem::take(&mut self.dir);
        let schema = self._schema.take();
        let mut app = start(settings, dir).await;
        app._schema = schema;
        app
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    u64::from(nanos) * 1000 + N.fetch_add(1, Ordering::Relaxed)
}

/// An answer: status and JSON body (`Null` when empty).
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: Value,
}

impl TestApp {
    /// The OpenAPI document the server serves.
    pub async fn openapi(&self) -> Value {
        self.http
            .get(format!("{}/api/v1/openapi.json", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Posts `file` (named `name`) to the import at `/api/v1{path}` with `key`, `fields` as
    /// further form fields; the status and the JSON answer.
    pub async fn upload(
        &self,
        path: &str,
        key: &str,
        file: Vec<u8>,
        name: &str,
        fields: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(file).file_name(name.to_owned()),
        );
        for (k, v) in fields {
            form = form.text((*k).to_owned(), (*v).to_owned());
        }
        let res = self
            .http
            .post(format!("{}/api/v1{path}", self.base))
            .bearer_auth(key)
            .multipart(form)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    /// Sends a request with `key`; `body` as JSON when given.
    pub async fn call(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> Answer {
        let url = format!("{}/api/v1{path}", self.base);
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, url).bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        Answer { status, body }
    }

    /// Creates a company; returns its first admin key.
    pub async fn company(&self, name: &str) -> String {
        self.company_with_id(name).await.0
    }

    /// Creates a company; returns its first admin key and its id.
    pub async fn company_with_id(&self, name: &str) -> (String, i64) {
        let a = self
            .call(
                "POST",
                "/companies",
                ADMIN_KEY,
                Some(json!({"name": name, "display_name": name, "country_type": "TR"})),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
        (
            a.body["api_key"].as_str().unwrap().to_owned(),
            a.body["company"]["id"].as_i64().unwrap(),
        )
    }

    /// The system administrator sells `amount` credits to company `id`.
    pub async fn buy_credit(&self, id: i64, amount: i64) {
        let a = self
            .call(
                "POST",
                &format!("/companies/{id}/credit/entries"),
                ADMIN_KEY,
                Some(json!({"kind": "purchase", "amount": amount})),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
}
