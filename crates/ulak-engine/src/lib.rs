//! Ulak's sending engine (docs/decisions/0005-sending-engine.md): one supervisor that keeps a
//! worker per enabled provider account, each draining that account's share of the durable
//! queue in the database and applying its delivery reports. Free of HTTP: the server only
//! queues messages through the store and starts this.

pub mod audience;
pub mod campaign;
pub mod failover;
pub mod metrics;
pub mod outbound;
pub mod provider;
pub mod send;
pub mod sim_inbound;
pub mod status;
pub mod tallies;
pub mod text_list;
pub mod webhooks;
pub mod worker;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use ulak_core::model::{ProviderAccount, ProviderAccountId};
use ulak_core::net::OutboundPolicy;
use ulak_store::Store;

pub use failover::{AccountHealth, Health};
pub use metrics::{AccountLoad, Metrics};
pub use provider::{Ack, Attempt, Events, Provider, ProviderEvent};
pub use status::{ProviderStatus, provider_status};
pub use webhooks::WebhookSettings;
pub use worker::SubmitSettings;

/// Where the built-in simulator listens, and its accounts: each `simulator` provider account
/// binds with credentials of its own ([`SimulatorLink::credentials`]), so the simulator hands
/// an account's receipts only to that account's binds.
#[derive(Debug, Clone)]
pub struct SimulatorLink {
    /// Its address.
    pub addr: SocketAddr,
    /// The accounts it accepts, which the engine adds to.
    pub accounts: ulak_smpp::sim::SimAccounts,
    /// Sends messages "from a handset" to an account's binds ([`sim_inbound`]).
    pub injector: ulak_smpp::sim::Injector,
}

impl SimulatorLink {
    /// The link to a running simulator.
    pub fn to(sim: &ulak_smpp::sim::SimHandle) -> SimulatorLink {
        SimulatorLink {
            addr: sim.local_addr(),
            accounts: sim.accounts(),
            injector: sim.injector(),
        }
    }

    /// Registers fresh credentials for provider account `id` with the simulator and returns
    /// them (system_id, password): a system_id of its own, a new random password each time.
    pub fn credentials(&self, id: ProviderAccountId) -> (String, String) {
        let system_id = Self::system_id(id);
        let password = format!("{:08x}", rand::random::<u32>());
        self.accounts.set(&system_id, &password);
        (system_id, password)
    }

    /// The system_id provider account `id` binds with: its binds alone get what is sent to it.
    fn system_id(id: ProviderAccountId) -> String {
        format!("sim{}", id.0)
    }

    /// Registers one-off credentials for a connection test (its own system_id, so a running
    /// account's binds keep theirs). They stay valid while the returned guard lives: dropping
    /// it forgets them, also when the test is cancelled midway (a client that hung up).
    pub fn probe_credentials(&self) -> ProbeCredentials {
        let system_id = format!("probe{:08x}", rand::random::<u32>());
        let password = format!("{:08x}", rand::random::<u32>());
        self.accounts.set(&system_id, &password);
        ProbeCredentials {
            accounts: self.accounts.clone(),
            system_id,
            password,
        }
    }
}

/// One-off simulator credentials of a connection test ([`SimulatorLink::probe_credentials`]),
/// accepted by the simulator until this is dropped.
pub struct ProbeCredentials {
    accounts: ulak_smpp::sim::SimAccounts,
    /// The system_id to bind with.
    pub system_id: String,
    /// Its password.
    pub password: String,
}

impl std::fmt::Debug for ProbeCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password stays out of debug output.
        f.debug_struct("ProbeCredentials")
            .field("system_id", &self.system_id)
            .finish_non_exhaustive()
    }
}

impl Drop for ProbeCredentials {
    fn drop(&mut self) {
        self.accounts.remove(&self.system_id);
    }
}

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Submit loop settings (the lease owner must be unique per process).
    pub submit: SubmitSettings,
    /// Pause of an account's loop when its queue is empty.
    pub idle: Duration,
    /// How often accounts are reloaded and lost leases requeued.
    pub refresh: Duration,
    /// The built-in simulator, which `simulator` accounts use.
    pub simulator: Option<SimulatorLink>,
    /// Webhook delivery (timeout, retry schedule, concurrency).
    pub webhooks: WebhookSettings,
    /// How long a campaign's queueing may go without a sign of its writer before this node
    /// takes it up ([`campaign::QUEUE_STALE`]).
    pub queue_stale: Duration,
    /// Where webhook deliveries and operator (SMPP) links may connect: public addresses,
    /// plus what the system administrator allows. The built-in simulator is exempt.
    pub outbound: OutboundPolicy,
    /// This process's campaign queueing tasks: the supervisor's takeovers run there, beside
    /// the starts and resumes of requests, and stop with the engine.
    pub writers: campaign::Writers,
}

impl Default for EngineConfig {
    fn default() -> Self {
        let owner = format!("ulak-{}-{:08x}", std::process::id(), rand::random::<u32>());
        EngineConfig {
            submit: SubmitSettings {
                owner,
                batch: 1000,
                lease: Duration::from_secs(120),
                max_attempts: 10,
                retry_base: Duration::from_secs(5),
                retry_max: Duration::from_secs(600),
                metrics: Metrics::default(),
            },
            idle: Duration::from_millis(200),
            refresh: Duration::from_secs(5),
            simulator: None,
            webhooks: WebhookSettings::default(),
            queue_stale: campaign::QUEUE_STALE,
            outbound: OutboundPolicy::default(),
            writers: campaign::Writers::default(),
        }
    }
}

/// The running engine.
pub struct Engine {
    health: Health,
    stop: CancellationToken,
    supervisor: JoinHandle<()>,
    webhooks: JoinHandle<()>,
    tallies: JoinHandle<()>,
}

impl Engine {
    /// Starts the supervisor.
    pub fn start(store: Store, cfg: EngineConfig) -> Engine {
        let stop = CancellationToken::new();
        let stop_for_supervisor = stop.clone();
        let webhooks = tokio::spawn(webhooks::run(
            store.clone(),
            cfg.webhooks.clone(),
            cfg.outbound.clone(),
            stop.child_token(),
        ));
        let tallies = tokio::spawn(tallies::run(store.clone(), stop.child_token()));
        // Other nodes' enqueues wake this node's workers (PostgreSQL; nothing on SQLite).
        let listener = store.listen_for_queued(stop.child_token());
        let health = Health::default();
        let watched = health.clone();
        let supervisor = tokio::spawn(async move {
            supervise(store, cfg, watched, stop_for_supervisor).await;
            if let Some(l) = listener {
                let _ = l.await;
            }
        });
        Engine {
            health,
            stop,
            supervisor,
            webhooks,
            tallies,
        }
    }

    /// The health of the accounts this node sends through ([`failover`]).
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Stops taking new work, lets in-flight submits finish and be recorded, and unbinds,
    /// within [`SHUTDOWN_LIMIT`].
    pub async fn shutdown(self) {
        self.shutdown_within(SHUTDOWN_LIMIT).await;
    }

    /// [`Engine::shutdown`] within `limit`: what has not stopped by then is abandoned as a
    /// crash would leave it (claimed messages stay leased to this node, which takes them back
    /// when it starts again; at most window × binds of them may reach the operator twice).
    pub async fn shutdown_within(mut self, limit: Duration) {
        self.stop.cancel();
        let both = async {
            let _ = (&mut self.supervisor).await;
            let _ = (&mut self.webhooks).await;
            let _ = (&mut self.tallies).await;
        };
        if tokio::time::timeout(limit, both).await.is_err() {
            tracing::warn!(
                seconds = limit.as_secs(),
                "the engine did not stop in time; the rest is left to the next start"
            );
            self.supervisor.abort();
            self.webhooks.abort();
            self.tallies.abort();
        }
    }
}

/// The longest a graceful stop of the engine takes (a SIGTERM must end the process within
/// 10 s in every state, the HTTP side included).
pub const SHUTDOWN_LIMIT: Duration = Duration::from_secs(7);

/// How often running campaigns are checked for their end.
const FINISH_CHECK: Duration = Duration::from_secs(1);

/// A running account worker.
struct Running {
    updated_at: i64,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Running {
    async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// Keeps one worker per enabled account (restarting it when the account changes), requeues
/// messages whose lease ran out, and takes up campaign queueing left unfinished.
async fn supervise(store: Store, cfg: EngineConfig, health: Health, stop: CancellationToken) {
    // What this node held when it last stopped was in flight: back to the queue at once
    // rather than after the lease (the owner is a stable node id in production).
    match store.requeue_leases_of(&cfg.submit.owner).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            messages = n,
            "requeued what this node was sending when it stopped"
        ),
        Err(e) => tracing::warn!(error = %e, "requeueing this node's old leases failed"),
    }
    if let Ok(Some(true)) = store.autovacuum_off().await {
        tracing::warn!(
            "PostgreSQL's autovacuum is off: the queue's dead row versions pile up until the \
             tables are vacuumed; turn it on, or vacuum `messages` and `message_parts` often"
        );
    }
    let mut running: HashMap<ProviderAccountId, Running> = HashMap::new();
    // Campaign queueing this node was writing when it stopped: taken back at once, like its
    // leases, rather than after the stale time that covers other nodes' crashes.
    match store.claim_own_campaign_queueing().await {
        Ok(own) => spawn_queueing(&store, &cfg.writers, own),
        Err(e) => tracing::warn!(error = %e, "taking back this node's campaign queueing failed"),
    }
    while !stop.is_cancelled() {
        match store.refresh_statistics().await {
            Ok(t) if !t.is_empty() => tracing::info!(tables = ?t, "refreshed planner statistics"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "refreshing planner statistics failed"),
        }
        if let Err(e) = store.finish_done_campaigns().await {
            tracing::warn!(error = %e, "finishing campaigns failed");
        }
        take_up_queueing(&store, &cfg).await;
        match store.requeue_expired_leases().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(messages = n, "requeued messages whose worker stopped"),
            Err(e) => tracing::warn!(error = %e, "requeueing lost leases failed"),
        }
        match store.list_active_provider_accounts().await {
            Ok(accounts) => {
                let keep: Vec<ProviderAccountId> = accounts.iter().map(|a| a.id).collect();
                let gone: Vec<ProviderAccountId> = running
                    .keys()
                    .filter(|id| !keep.contains(id))
                    .copied()
                    .collect();
                for id in gone {
                    if let Some(r) = running.remove(&id) {
                        r.stop().await;
                    }
                }
                for a in accounts {
                    if running
                        .get(&a.id)
                        .is_some_and(|r| r.updated_at == a.updated_at)
                    {
                        continue;
                    }
                    if let Some(r) = running.remove(&a.id) {
                        r.stop().await;
                    }
                    let token = stop.child_token();
                    let updated_at = a.updated_at;
                    let id = a.id;
                    let task = tokio::spawn(run_account(
                        store.clone(),
                        a,
                        cfg.clone(),
                        health.clone(),
                        token.clone(),
                    ));
                    running.insert(
                        id,
                        Running {
                            updated_at,
                            stop: token,
                            task,
                        },
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "loading provider accounts failed"),
        }
        // Campaigns are checked for their end every second (a cheap indexed query), so
        // `finished` shows as soon as the last receipt is in, not up to a refresh later.
        let until = tokio::time::Instant::now() + cfg.refresh;
        while !stop.is_cancelled() && tokio::time::Instant::now() < until {
            let step = until
                .saturating_duration_since(tokio::time::Instant::now())
                .min(FINISH_CHECK);
            tokio::select! {
                () = stop.cancelled() => {}
                () = tokio::time::sleep(step) => {}
            }
            if let Err(e) = store.finish_done_campaigns().await {
                tracing::warn!(error = %e, "finishing campaigns failed");
            }
        }
    }
    // Every account stops at once (each drains its own link), not one after another.
    let stopping = running.drain().map(|(_, r)| r.stop());
    futures_util::future::join_all(stopping).await;
    cfg.writers.shutdown().await;
}

/// Takes up campaigns whose queueing nobody carries on (the node writing it died, or its task
/// failed): each in its own task, at most one per campaign here.
///
/// Who queues a campaign is decided by freshness, not by a registry: the writer stamps
/// `queue_at` with every chunk (and every few seconds while it prices the audience or replays
/// it up to its cursor), and the store hands out only campaigns whose stamp is older than
/// `queue_stale`, stamping them in the same statement, so of several nodes asking at once one
/// gets each. Another node's writer is therefore left alone as long as it makes progress.
/// Correctness never rests on this: if two writers do
/// meet (a stalled one wakes up), every chunk moves the campaign's cursor only from where its
/// writer found it, so the second writer's chunk is refused whole and it stops. The writers'
/// registry only keeps this node from starting a second task for a campaign its own task
/// (a request's, or an earlier takeover) still holds.
async fn take_up_queueing(store: &Store, cfg: &EngineConfig) {
    let stale = i64::try_from(cfg.queue_stale.as_millis()).unwrap_or(i64::MAX);
    match store
        .claim_stale_campaign_queueing(worker::now_ms().saturating_sub(stale))
        .await
    {
        Ok(campaigns) => spawn_queueing(store, &cfg.writers, campaigns),
        Err(e) => tracing::warn!(error = %e, "looking for campaigns to queue failed"),
    }
}

/// Carries on each of `campaigns`' queueing in a task of its own, unless this node's task for
/// it still runs.
fn spawn_queueing(
    store: &Store,
    writers: &campaign::Writers,
    campaigns: Vec<ulak_store::CampaignQueueing>,
) {
    for q in campaigns {
        writers.spawn(q.campaign_id, campaign::continue_queueing(store.clone(), q));
    }
}

/// One account: start its provider, then [`drive`] it until stopped.
async fn run_account(
    store: Store,
    account: ProviderAccount,
    cfg: EngineConfig,
    health: Health,
    stop: CancellationToken,
) {
    let ctx = provider::StartContext {
        store: &store,
        simulator: cfg.simulator.as_ref(),
        outbound: &cfg.outbound,
    };
    match provider::registry::start(&account, ctx).await {
        Ok(p) => drive(store, &account, p.provider, p.events, &cfg, &health, stop).await,
        Err(e) => {
            tracing::warn!(account = account.id.0, error = %e, "the provider did not start; not sending");
        }
    }
}

/// Runs a started provider for `account` until `stop`, whatever its kind: applies its
/// events, watches its health ([`failover`]), runs the submit loop; then stops the provider
/// (drain, unbind) and lets the events still in the pipe be stored.
pub async fn drive(
    store: Store,
    account: &ProviderAccount,
    provider: Box<dyn Provider>,
    mut events: Events,
    cfg: &EngineConfig,
    health: &Health,
    stop: CancellationToken,
) {
    let (company, id) = (account.company_id, account.id);
    let receipts = {
        let store = store.clone();
        let metrics = cfg.submit.metrics.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Some(r) =
                worker::receipt_step(&store, company, id, &mut events, 1000, &mut held).await
            {
                match r {
                    Ok(st) => metrics.receipts(id.0, st.applied, st.unmatched),
                    Err(e) => {
                        metrics.store_error(id.0);
                        tracing::error!(account = id.0, error = %e, "receipts could not be stored");
                    }
                }
            }
        })
    };
    let metrics = cfg.submit.metrics.clone();
    // The watch ends with the loop: both stop on `stop`.
    tokio::join!(
        failover::watch_account(&store, &*provider, id, health, &metrics, stop.clone()),
        worker::submit_loop(
            store.clone(),
            &*provider,
            account,
            cfg.submit.clone(),
            cfg.idle,
            stop
        ),
    );
    provider.shutdown().await;
    // The provider's event channel closes with it; give events in the pipe a moment to land
    // (an unstored one is not acknowledged, so the operator delivers it again).
    let mut receipts = receipts;
    if tokio::time::timeout(Duration::from_secs(2), &mut receipts)
        .await
        .is_err()
    {
        receipts.abort();
    }
}
