//! Start-up in two steps: `App::build` does everything that can fail (binding the port — port
//! 0 in tests —, keys, database and migrations, first-start bootstrap); `App::run_until_stopped`
//! only serves. The port is bound first: a start that cannot listen creates nothing, so the
//! first-start secrets are made (and shown) by a start that goes on to serve.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use ulak_core::model::{CompanyId, ListQuery, NewApiKey, NewUser, Role};
use ulak_core::net::OutboundPolicy;
use ulak_store::{DEFAULT_COMPANY, Store, StoreError};

use crate::config::Settings;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    /// Where webhook and operator targets may point (from `settings.outbound_allow`).
    outbound: OutboundPolicy,
    store: Store,
    metrics: ulak_engine::Metrics,
    /// The health of the provider accounts this node's engine runs (`None`: no engine).
    health: Option<ulak_engine::Health>,
    /// Cancelled when the server begins to stop: long work (imports) ends early.
    shutdown: CancellationToken,
    /// Requests per key and per address, failed authentications per address.
    limits: crate::ratelimit::RateLimits,
    /// Imports in progress, for `/metrics`.
    imports: crate::import::Gauge,
    /// The campaign queueing this process carries out (starts and resumes return at once).
    writers: ulak_engine::campaign::Writers,
    /// The built-in simulator, when it runs here: messages "from a handset" go in through
    /// it, and simulator accounts' connection tests bind to it.
    simulator: Option<ulak_engine::SimulatorLink>,
    /// The companies testing a provider connection now (one test at a time each).
    probes: ulak_engine::provider::ProbeGate,
}

impl AppState {
    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Where company-chosen targets (webhook URLs, operator hosts) may point.
    pub fn outbound(&self) -> &OutboundPolicy {
        &self.inner.outbound
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The engine's counters, for `/metrics`.
    pub fn metrics(&self) -> &ulak_engine::Metrics {
        &self.inner.metrics
    }

    /// The health of the provider accounts this node's engine runs (`None`: no engine).
    pub fn health(&self) -> Option<&ulak_engine::Health> {
        self.inner.health.as_ref()
    }

    /// Cancelled when the server begins to stop; long-running request work (imports) watches
    /// it so a SIGTERM is never held up by one.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    /// The rate limits.
    pub fn limits(&self) -> &crate::ratelimit::RateLimits {
        &self.inner.limits
    }

    /// Imports in progress (their reading threads included), for `/metrics`.
    pub fn imports(&self) -> &crate::import::Gauge {
        &self.inner.imports
    }

    /// The built-in simulator, when it runs in this process.
    pub fn simulator(&self) -> Option<&ulak_engine::SimulatorLink> {
        self.inner.simulator.as_ref()
    }

    /// The companies testing a provider connection now.
    pub fn probes(&self) -> &ulak_engine::provider::ProbeGate {
        &self.inner.probes
    }

    /// The campaign queueing tasks of this process, which the engine shares.
    pub fn writers(&self) -> &ulak_engine::campaign::Writers {
        &self.inner.writers
    }

    /// Whether the database answers.
    pub async fn ready(&self) -> bool {
        self.inner.store.get_company(CompanyId(0)).await.is_ok()
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listen address could not be bound. (The cause is in the message and not a
    /// `source`, so an error chain prints it once.)
    #[error("cannot listen on {addr}: {cause}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        cause: std::io::Error,
    },
    /// The data directory or key file could not be used.
    #[error("{0}")]
    Files(String),
    /// The master key is not 32 bytes of base64.
    #[error("invalid master key: {0}")]
    MasterKey(String),
    /// The database could not be opened or migrated, or bootstrap failed.
    #[error("database: {0}")]
    Store(StoreError),
}

// By hand, not `#[from]`: that would make the cause a `source` too and print it twice.
impl From<StoreError> for StartError {
    fn from(e: StoreError) -> Self {
        StartError::Store(e)
    }
}

/// Secrets created by the first start, shown once by the caller and never again.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FirstStart {
    /// The system administrator's API key, when it was generated now.
    pub api_key: Option<String>,
    /// The `admin` user's password of company `default`, when it was created now.
    pub admin_password: Option<String>,
}

/// A built server, bound and ready to run.
pub struct App {
    listener: TcpListener,
    router: axum::Router,
    state: AppState,
    first_start: FirstStart,
    simulator: Option<ulak_smpp::sim::SimHandle>,
    engine: Option<ulak_engine::Engine>,
    limits: crate::http::HttpLimits,
}

impl App {
    /// Does every fallible start-up step.
    pub async fn build(settings: Settings) -> Result<App, StartError> {
        // First: a port that is taken must not leave a first start's secrets behind unseen.
        let addr = settings.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|cause| StartError::Bind { addr, cause })?;
        let limits = crate::http::HttpLimits::new(&settings, crate::http::raise_open_file_limit());
        if settings.database_url.is_none() || settings.master_key.is_none() {
            private_dir(&settings.data_dir)?;
        }
        let key = master_key(&settings, true)?;
        // The number plan's metadata is built on first use (~100 ms): here, not in the first
        // send, which held every request that waited behind it (docs/benchmarks.md).
        // (Nothing else runs yet, so building it on this thread holds nobody up.)
        ulak_core::phone::preload();
        let store = Store::connect(&settings.database_url(), key)
            .await?
            .for_node(&settings.node_id());
        let first_start = bootstrap(&store, &settings).await?;
        let (simulator, link) = if settings.simulator {
            let (sim, link) = start_simulator(&settings).await?;
            (Some(sim), Some(link))
        } else {
            (None, None)
        };
        let metrics = ulak_engine::Metrics::default();
        let outbound = OutboundPolicy::allowing(settings.outbound_allow.clone());
        // Also without the engine: an API-only node queues the campaigns it starts.
        let writers = ulak_engine::campaign::Writers::default();
        let engine = settings.engine.then(|| {
            ulak_engine::Engine::start(store.clone(), {
                let mut cfg = ulak_engine::EngineConfig {
                    simulator: link.clone(),
                    outbound: outbound.clone(),
                    writers: writers.clone(),
                    ..ulak_engine::EngineConfig::default()
                };
                cfg.submit.owner = settings.node_id();
                cfg.submit.metrics = metrics.clone();
                cfg
            })
        });
        let state = AppState {
            inner: Arc::new(Inner {
                limits: crate::ratelimit::RateLimits::new(&settings),
                settings,
                outbound,
                store,
                metrics,
                health: engine.as_ref().map(|e| e.health().clone()),
                shutdown: CancellationToken::new(),
                imports: crate::import::Gauge::default(),
                writers,
                simulator: link,
                probes: ulak_engine::provider::ProbeGate::default(),
            }),
        };
        if engine.is_none() {
            // An API-only node folds the message counts' pending changes too (the engine
            // does where it runs): with every engine stopped they would pile up otherwise.
            tokio::spawn(ulak_engine::tallies::run(
                state.store().clone(),
                state.shutdown().child_token(),
            ));
        }
        let router = crate::routes::router(state.clone());
        Ok(App {
            listener,
            router,
            state,
            first_start,
            simulator,
            engine,
            limits,
        })
    }

    /// The address actually bound (tests bind port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Secrets the first start created, to show once.
    pub fn first_start(&self) -> &FirstStart {
        &self.first_start
    }

    /// The shared state (tests use its store directly).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The built-in simulator's address, when it runs.
    pub fn simulator_addr(&self) -> Option<SocketAddr> {
        self.simulator
            .as_ref()
            .map(ulak_smpp::sim::SimHandle::local_addr)
    }

    /// Serves until `stop` is cancelled; then, at the same time, finishes in-flight requests
    /// (at most [`HTTP_DRAIN`]; long work such as imports watches [`AppState::shutdown`]) and
    /// stops the engine (at most [`ulak_engine::SHUTDOWN_LIMIT`]); then the simulator and the
    /// store. A SIGTERM ends the process within 10 s whatever it was doing.
    pub async fn run_until_stopped(self, stop: CancellationToken) -> std::io::Result<()> {
        let store = self.state.store().clone();
        let shutdown = self.state.shutdown().clone();
        let http_stop = CancellationToken::new();
        let engine = self.engine;
        let writers = self.state.writers().clone();
        let stopping = async {
            stop.cancelled().await;
            shutdown.cancel();
            http_stop.cancel();
            // Queueing stops at its next step (the engine stops it too, when it runs); what is
            // left is taken back from its cursor when this node starts again.
            let queueing = async {
                let limit = ulak_engine::SHUTDOWN_LIMIT;
                if tokio::time::timeout(limit, writers.shutdown())
                    .await
                    .is_err()
                {
                    tracing::warn!("campaign queueing did not stop in time");
                }
            };
            let engine = async {
                if let Some(engine) = engine {
                    engine.shutdown().await;
                }
            };
            tokio::join!(queueing, engine);
        };
        tokio::spawn(crate::web::session::purge_now_and_then(
            store.clone(),
            shutdown.clone(),
        ));
        let serve = crate::http::serve(self.listener, self.router, self.limits, http_stop.clone());
        let serve = async {
            tokio::pin!(serve);
            tokio::select! {
                r = &mut serve => r,
                () = async { http_stop.cancelled().await; tokio::time::sleep(HTTP_DRAIN).await } => {
                    tracing::warn!("requests still running after the stop signal were cut off");
                    Ok(())
                }
            }
        };
        let (served, ()) = tokio::join!(serve, stopping);
        if let Some(sim) = self.simulator {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), sim.shutdown()).await;
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), store.close()).await;
        served
    }
}

/// How long requests in flight may go on after the stop signal.
pub const HTTP_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Opens the database of an installed server, as `serve` would with the same settings, for
/// the `ulak admin` tools; unlike a start it never creates a database or a master key (a
/// wrong `--data-dir` is an error, not a new empty installation).
pub async fn open_existing_store(settings: &Settings) -> Result<Store, StartError> {
    if settings.database_url.is_none() {
        let db = settings.data_dir.join("ulak.db");
        if !db.exists() {
            return Err(StartError::Files(format!(
                "no database at {}: is this the server's data directory (--data-dir)?",
                db.display()
            )));
        }
    }
    let key = master_key(settings, false)?;
    Ok(Store::connect(&settings.database_url(), key).await?)
}

/// The key that encrypts secrets at rest: from the settings, else `data_dir/master.key`,
/// created with fresh random bytes (owner-only permissions) on the first start when `create`.
fn master_key(settings: &Settings, create: bool) -> Result<[u8; 32], StartError> {
    let text = match &settings.master_key {
        Some(k) => k.clone(),
        None => {
            let path = settings.data_dir.join("master.key");
            if path.exists() || !create {
                std::fs::read_to_string(&path).map_err(|e| {
                    StartError::Files(format!("cannot read {}: {e}", path.display()))
                })?
            } else {
                let mut raw = [0u8; 32];
                getrandom::fill(&mut raw)
                    .map_err(|e| StartError::MasterKey(format!("no randomness: {e}")))?;
                let text = STANDARD.encode(raw);
                write_private(&path, &text)?;
                text
            }
        }
    };
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|e| StartError::MasterKey(e.to_string()))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| StartError::MasterKey(format!("{} bytes, 32 needed", b.len())))
}

/// Creates the data directory owner-only (0700: it holds the database and the master key),
/// and narrows an existing one that is more open, with a warning.
fn private_dir(dir: &Path) -> Result<(), StartError> {
    let failed =
        |e: std::io::Error| StartError::Files(format!("cannot create {}: {e}", dir.display()));
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        let existed = dir.exists();
        builder.mode(0o700).create(dir).map_err(failed)?;
        let mode = std::fs::metadata(dir).map_err(failed)?.permissions().mode() & 0o777;
        // A new directory may have lost bits to the umask, never gained any; an existing one
        // is as its creator left it.
        if mode & 0o077 != 0 {
            if existed {
                tracing::warn!(
                    dir = %dir.display(),
                    mode = format!("{mode:o}"),
                    "the data directory was open to others; making it owner-only (0700)"
                );
            }
            // Not fatal (another user's directory, say): the files in it are owner-only.
            if let Err(e) = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)) {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot make the data directory owner-only");
            }
        }
    }
    #[cfg(not(unix))]
    builder.create(dir).map_err(failed)?;
    Ok(())
}

fn write_private(path: &Path, text: &str) -> Result<(), StartError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| StartError::Files(format!("cannot write {}: {e}", path.display())))
}

/// First start: the system administrator's key (given or generated) and the `admin` user of
/// company `default`. Later starts change nothing.
async fn bootstrap(store: &Store, settings: &Settings) -> Result<FirstStart, StartError> {
    let company = store
        .get_company_by_name(DEFAULT_COMPANY)
        .await?
        .ok_or(StoreError::NotFound)?;
    let mut first = FirstStart::default();
    let all = ListQuery {
        limit: Some(ulak_core::model::MAX_LIMIT),
        ..ListQuery::default()
    };
    let keys = store.list_api_keys(company.id, &all).await?;
    let has_admin_key = keys
        .items
        .iter()
        .any(|k| k.system_admin && k.revoked_at.is_none());
    match &settings.bootstrap_api_key {
        Some(key) => {
            store.ensure_bootstrap_key(key).await?;
        }
        None if !has_admin_key => {
            let new = NewApiKey::new("bootstrap", Role::Admin, true).map_err(StoreError::from)?;
            let (_, key) = store.create_api_key(company.id, new).await?;
            first.api_key = Some(key);
        }
        None => {}
    }
    let users = store.list_users(company.id, &all).await?;
    if users.items.is_empty() {
        let password = random_password()?;
        let new = NewUser::new(
            "admin",
            &password,
            Some("Administrator"),
            None,
            None,
            Role::Admin,
            company.country_type,
        )
        .map_err(StoreError::from)?;
        let admin = store.create_user(company.id, new).await?;
        // The first user is the server's system administrator on the web, as the bootstrap
        // key is on the API.
        store
            .set_user_system_admin(company.id, admin.id, true)
            .await?;
        first.admin_password = Some(password);
        bootstrap_sending(store, company.id).await?;
    }
    Ok(first)
}

/// Starts the built-in SMSC simulator. It listens on loopback by default and accepts no
/// account until the engine gives each `simulator` provider account credentials of its own
/// (random, known only to this process).
async fn start_simulator(
    settings: &Settings,
) -> Result<(ulak_smpp::sim::SimHandle, ulak_engine::SimulatorLink), StartError> {
    let sim = ulak_smpp::sim::Simulator::start(ulak_smpp::sim::SimConfig {
        listen: settings.simulator_listen,
        accounts: Vec::new(),
        dlr_delay: std::time::Duration::from_millis(100),
        ..ulak_smpp::sim::SimConfig::default()
    })
    .await
    .map_err(|e| StartError::Files(format!("cannot start the SMSC simulator: {e}")))?;
    let link = ulak_engine::SimulatorLink::to(&sim);
    Ok((sim, link))
}

/// First start of company `default`: a provider account on the built-in simulator and a
/// default sender header, so a fresh server can send (and show receipts) at once.
async fn bootstrap_sending(store: &Store, company: CompanyId) -> Result<(), StartError> {
    use ulak_core::model::{NewProviderAccount, NewSenderHeader, ProviderAccountDraft};
    let draft = ProviderAccountDraft {
        name: "Simülatör".to_owned(),
        kind: "simulator".to_owned(),
        host: "builtin".to_owned(),
        port: 2775,
        system_id: "ulak".to_owned(),
        window: Some(100),
        rate_per_sec: Some(10_000),
        enabled: true,
        ..ProviderAccountDraft::default()
    };
    let account = NewProviderAccount::new(draft, ulak_core::CountryType::Tr, &Default::default())
        .map_err(StoreError::from)?;
    store.create_provider_account(company, account).await?;
    let header = NewSenderHeader::new("ULAK", true).map_err(StoreError::from)?;
    store.create_sender_header(company, header).await?;
    Ok(())
}

/// A fresh random password (24 URL-safe characters).
pub(crate) fn random_password() -> Result<String, StartError> {
    let mut raw = [0u8; 18];
    getrandom::fill(&mut raw).map_err(|e| StartError::MasterKey(format!("no randomness: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
}
