//! Ulak's storage: one [`Store`] facade over SQLite (embedded default) or PostgreSQL.
//!
//! Every method is scoped to a [`CompanyId`]; a row of another company behaves exactly like a
//! missing row. Secrets are encrypted at rest ([`SecretBox`]), passwords hashed with Argon2id,
//! API keys stored as SHA-256 only. See docs/decisions/0003-store.md.

#![warn(missing_docs)]

/// `format!` for SQL text built from constants and integers only (never from input), which
/// sqlx asks to be marked as audited.
macro_rules! sql {
    ($($t:tt)*) => {
        sqlx::AssertSqlSafe(format!($($t)*))
    };
}

mod auth;
mod db;
mod error;
mod exec;
mod files;
mod key_cache;
mod repo;
mod secret;
mod setup_cache;
mod signal;
mod sqlite_checkpoint;
mod sqlite_line;
mod sqlite_writer;
mod timed;

use std::sync::Once;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};
use tracing::info;
use ulak_core::model::{CompanyId, CompanyName, NewCompany};

pub use db::PAGE_BYTES;
pub use error::{ImportRowError, StoreError};
pub use key_cache::KEY_TTL;
pub use repo::accept::{AcceptStats, GROUP_MAX};
pub use repo::campaign_start::Opening;
pub use repo::campaigns::{Campaign, NewCampaign, PREVIEW_DRAFT_MAX_AGE_MS};
pub use repo::dashboard::{DayCounts, DeliveryBucket};
pub use repo::idempotency::{IDEMPOTENCY_TTL_MS, Idempotency, StoredAnswer};
pub use repo::import::{CustomerImport, ImportMode, ImportReport, ImportSession, SubscriberImport};
pub use repo::inbox::{InboundIn, InboundMessage, InboundStats, UNREAD_COUNT_MAX, is_opt_out};
pub use repo::message_list::{
    MESSAGE_CURSOR_PATTERN, MessageCursor, MessageFilter, MessageSummary, UnmatchedReceipt,
};
pub use repo::messages::{Enqueued, MessageDetail, id_keys};
pub use repo::owned::Owned;
pub use repo::queueing::{
    CampaignQueueing, QUEUEING_ACTIVE, QUEUEING_DONE, QUEUEING_HALTED, QUEUEING_PRICING, SkippedRow,
};
pub use repo::receipts::{ReceiptIn, ReceiptStats};
pub use repo::routes::Routing;
pub use repo::submits::{Rest, SubmitOutcome, SubmitResult};
pub use repo::tallies::FOLD_LIMIT as TALLY_FOLD_LIMIT;
pub use repo::web_sessions::{SessionUser, SignInPolicy, WEB_SESSION_MAX_AGE};
pub use repo::webhooks::{ClaimedWebhook, TEST_EVENT_TYPE, WebhookOutcome, WebhookResult, rfc3339};
pub use secret::{SecretBox, SecretError};
pub use setup_cache::SETUP_TTL;

/// Result of a store call.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file (or memory).
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// The storage facade. Cheap to clone (a pool handle and a key).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// Where write transactions run: on SQLite a pool of one connection, so writers queue
    /// here in order instead of racing for the database lock (a loser sleeps in SQLite's
    /// busy handler, in steps up to 100 ms, which left the sending engine idle most of the
    /// time); on PostgreSQL the same pool.
    writer: AnyPool,
    backend: Backend,
    secrets: SecretBox,
    /// The node this handle writes for ([`Store::for_node`]): it signs the work a crash can
    /// leave behind (a campaign's queueing), so the node takes it back at once on restart.
    node: Option<std::sync::Arc<str>>,
    /// Wakes the sending workers when messages are queued ([`Store::queue_waiter`]).
    signal: std::sync::Arc<signal::QueueSignal>,
    /// The database URL, for the PostgreSQL listener ([`Store::listen_for_queued`]).
    url: std::sync::Arc<str>,
    /// Recently verified API keys ([`key_cache::KEY_TTL`]).
    keys: std::sync::Arc<key_cache::KeyCache>,
    /// The group committer of accepts ([`repo::accept`]).
    accepts: std::sync::Arc<repo::accept::Accepts>,
    /// Companies' sending setups as the send service reads them ([`setup_cache::SETUP_TTL`]).
    setup: std::sync::Arc<setup_cache::SetupCache>,
    /// A SQLite file's writer thread for accept groups, claims, submit records and receipt
    /// batches ([`sqlite_writer`]); `None` on PostgreSQL and for a database in memory.
    sqlite_writer: Option<std::sync::Arc<sqlite_writer::SqliteWriter>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// Name of the company the first start creates.
pub const DEFAULT_COMPANY: &str = "default";

static DRIVERS: Once = Once::new();

/// How long a PostgreSQL connection may sit idle in the pool before it is pinged on its next
/// use. Hot connections were pinged before every transaction: on a loaded machine, one round
/// trip more per accept group and per claim.
const IDLE_PING_AFTER: Duration = Duration::from_secs(1);

impl Store {
    /// Connects to `url` (`sqlite://path` — created if missing —, `sqlite::memory:`,
    /// `postgres://…`),
    /// applies the embedded migrations and makes sure company `default` exists. `secret_key`
    /// is the 32-byte key operator passwords are encrypted with.
    pub async fn connect(url: &str, secret_key: [u8; 32]) -> Result<Self> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Config(
                "database URL must start with sqlite: or postgres:".into(),
            ));
        };
        // A SQLite file is created on first start unless the URL says otherwise.
        let url =
            if backend == Backend::Sqlite && !url.contains("mode=") && !url.contains(":memory:") {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            } else {
                url.to_owned()
            };
        if backend == Backend::Sqlite {
            files::private_database_files(&url)?;
        }
        // sqlx logs each statement's text (debug) and slow ones (warn); hot inserts inline
        // plain values (phone numbers, message texts), so no statement text may reach a log.
        let options: AnyConnectOptions = url
            .parse::<AnyConnectOptions>()
            .map_err(StoreError::from_sqlx)?
            .log_statements(log::LevelFilter::Off)
            .log_slow_statements(log::LevelFilter::Off, Duration::MAX);
        // An in-memory SQLite database exists per connection, so a pool of more than one
        // would see several empty databases.
        let file = !(url.contains(":memory:") || url.contains("mode=memory"));
        let max = if file { 8 } else { 1 };
        // A SQLite file's sqlx writer takes its turns in the writer thread's line.
        let turns = std::sync::Arc::new(sqlite_writer::Turns::default());
        let pool_options = |max: u32, turns: Option<std::sync::Arc<sqlite_writer::Turns>>| {
            AnyPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(30))
                // Liveness is checked in `before_acquire` on PostgreSQL, and only for a
                // connection that sat idle; a SQLite connection is a file handle that cannot go
                // stale. sqlx's own test pings before every use: a round trip per transaction.
                .test_before_acquire(false)
                .after_connect(move |conn, _| {
                    let turns = turns.clone();
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            // WAL lets readers run beside the writer; NORMAL is durable at every
                            // checkpoint and much faster than FULL; busy_timeout makes concurrent
                            // writers wait instead of failing; foreign keys are off by default.
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                            )
                            .await?;
                            // A file's log is checkpointed by a thread of its own
                            // (`sqlite_checkpoint`); a commit only past 64 MiB of log.
                            if file {
                                conn.execute(sqlite_checkpoint::COMMIT_CHECKPOINT).await?;
                            }
                        }
                        // A new writer connection (the last one closed, say by a wait
                        // for its turn given up) takes its turn here, as a reused one
                        // does in `before_acquire`. The pool's first connection is opened
                        // before the writer thread exists, so it takes none; and the pool
                        // must keep no minimum of connections, whose openings skip
                        // `after_release`.
                        if let Some(turns) = turns {
                            turns.take().await;
                        }
                        Ok(())
                    })
                })
        };
        let listen_url: std::sync::Arc<str> = url.as_str().into();
        let mut main = pool_options(max, None);
        if backend == Backend::Postgres {
            main = main.before_acquire(|conn, meta| {
                Box::pin(async move {
                    // A connection reused at once is alive; one that sat idle may have been
                    // dropped by the server (a restart, a timeout) and is pinged first, so
                    // the request that takes it does not fail on it.
                    if meta.idle_for >= IDLE_PING_AFTER {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            });
        }
        let pool = main
            .connect_with(options.clone())
            .await
            .map_err(StoreError::from_sqlx)?;
        let writer = if backend == Backend::Sqlite && file {
            let (taking, ending) = (turns.clone(), turns.clone());
            pool_options(1, Some(turns.clone()))
                // A file handle cannot go stale; and a connection closed for its age is
                // closed before `after_release`, so its turn would end only by the limit
                // ([`sqlite_writer::Turns`]).
                .max_lifetime(None)
                .idle_timeout(None)
                .before_acquire(move |_, _| {
                    let turns = taking.clone();
                    Box::pin(async move {
                        turns.take().await;
                        Ok(true)
                    })
                })
                .after_release(move |_, _| {
                    ending.end(None);
                    Box::pin(async { Ok(true) })
                })
                .connect_with(options)
                .await
                .map_err(StoreError::from_sqlx)?
        } else {
            pool.clone()
        };
        match backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("migrations/postgres").run(&pool).await?,
        }
        // Opened after the migrations made the file.
        let sqlite_writer = if backend == Backend::Sqlite && file {
            let options = url
                .parse::<sqlx::sqlite::SqliteConnectOptions>()
                .map_err(StoreError::from_sqlx)?;
            let w = sqlite_writer::SqliteWriter::open(options.get_filename(), turns)?;
            Some(std::sync::Arc::new(w))
        } else {
            None
        };
        let store = Self {
            pool,
            writer,
            backend,
            secrets: SecretBox::new(secret_key),
            node: None,
            signal: std::sync::Arc::default(),
            url: listen_url,
            keys: std::sync::Arc::default(),
            accepts: std::sync::Arc::default(),
            setup: std::sync::Arc::default(),
            sqlite_writer,
        };
        store.ensure_default_company().await?;
        info!(backend = ?backend, "store ready");
        Ok(store)
    }

    /// This handle, writing for node `node` (the same id as the node's message leases): a
    /// campaign queueing it starts or carries on is signed with it, and
    /// [`Store::claim_own_campaign_queueing`] takes such work back when the node restarts.
    pub fn for_node(mut self, node: &str) -> Store {
        self.node = Some(node.into());
        self
    }

    /// The node this handle writes for, if one was set.
    pub fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    /// The database in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.writer.close().await;
        if let Some(w) = &self.sqlite_writer {
            w.close().await;
        }
        self.pool.close().await;
    }

    /// Creates company `default` (country type TR) unless it exists; returns its id.
    async fn ensure_default_company(&self) -> Result<CompanyId> {
        if let Some(c) = self.get_company_by_name(DEFAULT_COMPANY).await? {
            return Ok(c.id);
        }
        let name =
            CompanyName::parse(DEFAULT_COMPANY).map_err(|e| StoreError::Config(e.to_string()))?;
        let new = NewCompany {
            name,
            display_name: "Default".into(),
            country_type: ulak_core::CountryType::Tr,
        };
        match self.create_company(new).await {
            Ok(c) => Ok(c.id),
            // Two processes starting at once: the other one won.
            Err(StoreError::Conflict { .. }) => self
                .get_company_by_name(DEFAULT_COMPANY)
                .await?
                .map(|c| c.id)
                .ok_or(StoreError::NotFound),
            Err(e) => Err(e),
        }
    }
}
