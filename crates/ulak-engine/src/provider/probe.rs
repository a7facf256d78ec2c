//! "Test connection" for a provider account: one real bind_transceiver and unbind against the
//! account's host (the built-in simulator for `simulator` accounts), within
//! [`PROBE_LIMIT`], connecting only where the outbound policy allows. The answer is a
//! category with a stable code, never the OS's text or the address.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ulak_core::model::{CompanyId, ProviderAccount, ProviderKind};
use ulak_smpp::CommandStatus;
use ulak_smpp::client::{ClientConfig, ConnectError};

use super::StartContext;

/// The longest a connection test takes.
pub const PROBE_LIMIT: Duration = Duration::from_secs(10);

/// Why a connection test failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProbeFailure {
    /// HTTP operator accounts cannot be tested (nor send) yet.
    #[error("connection tests of HTTP operator accounts are not supported yet")]
    Unsupported,
    /// A simulator account, but the built-in simulator is off.
    #[error("the built-in simulator is off")]
    SimulatorOff,
    /// The account's password could not be read.
    #[error("the account's stored password cannot be read")]
    Credentials,
    /// The host name did not resolve.
    #[error("the host name does not resolve (DNS)")]
    Dns,
    /// Every address of the host is one the outbound policy refuses.
    #[error("the host's address is not allowed by the outbound policy")]
    NotAllowed,
    /// Nothing listens at the host and port.
    #[error("the connection was refused: nothing listens at that host and port")]
    Refused,
    /// No connection or no answer in time.
    #[error("no answer in time")]
    TimedOut,
    /// No route to the host.
    #[error("the host is unreachable")]
    Unreachable,
    /// Any other connect failure.
    #[error("the connection failed")]
    Failed,
    /// The SMSC refused the password (ESME_RINVPASWD).
    #[error("the SMSC refused the password (ESME_RINVPASWD)")]
    WrongPassword,
    /// The SMSC does not know the system id (ESME_RINVSYSID).
    #[error("the SMSC does not know the system id (ESME_RINVSYSID)")]
    WrongSystemId,
    /// The SMSC refused the bind with another status.
    #[error("the SMSC refused the bind: {0}")]
    BindRefused(CommandStatus),
    /// The SMSC closed the link before answering.
    #[error("the SMSC closed the connection before answering the bind")]
    Closed,
    /// The peer does not speak SMPP (a TLS port, a web server…).
    #[error("the peer did not answer in SMPP (wrong port, or TLS expected)")]
    Protocol,
}

impl ProbeFailure {
    /// A stable code for clients and the UI's texts.
    pub fn code(self) -> &'static str {
        match self {
            ProbeFailure::Unsupported => "unsupported",
            ProbeFailure::SimulatorOff => "simulator_off",
            ProbeFailure::Credentials => "credentials_unreadable",
            ProbeFailure::Dns => "dns_failure",
            ProbeFailure::NotAllowed => "target_not_allowed",
            ProbeFailure::Refused => "connection_refused",
            ProbeFailure::TimedOut => "timed_out",
            ProbeFailure::Unreachable => "host_unreachable",
            ProbeFailure::Failed => "connection_failed",
            ProbeFailure::WrongPassword => "invalid_password",
            ProbeFailure::WrongSystemId => "invalid_system_id",
            ProbeFailure::BindRefused(_) => "bind_refused",
            ProbeFailure::Closed => "connection_closed",
            ProbeFailure::Protocol => "protocol_error",
        }
    }
}

impl From<ConnectError> for ProbeFailure {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::Dns => ProbeFailure::Dns,
            ConnectError::NotAllowed => ProbeFailure::NotAllowed,
            ConnectError::Refused => ProbeFailure::Refused,
            ConnectError::TimedOut => ProbeFailure::TimedOut,
            ConnectError::Unreachable => ProbeFailure::Unreachable,
            ConnectError::Failed => ProbeFailure::Failed,
            ConnectError::BindRefused(s) | ConnectError::GenericNack(s) => refused(s),
            ConnectError::Closed => ProbeFailure::Closed,
            ConnectError::Protocol => ProbeFailure::Protocol,
        }
    }
}

fn refused(s: CommandStatus) -> ProbeFailure {
    match s {
        CommandStatus::ESME_RINVPASWD => ProbeFailure::WrongPassword,
        CommandStatus::ESME_RINVSYSID => ProbeFailure::WrongSystemId,
        s => ProbeFailure::BindRefused(s),
    }
}

/// What a connection test came to, and how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOutcome {
    /// Bound and unbound, or why not.
    pub result: Result<(), ProbeFailure>,
    /// From the start to the answer.
    pub elapsed: Duration,
}

/// The companies with a connection test under way in this process. A test connects wherever
/// the account says, so tests run one at a time per company: many at once would make a port
/// scanner of the button. (Per process: behind several API nodes a company gets one per
/// node, still far from a scan.)
#[derive(Debug, Clone, Default)]
pub struct ProbeGate(Arc<Mutex<HashSet<CompanyId>>>);

/// A company's turn to test ([`ProbeGate::enter`]); the next test may start once it is
/// dropped, also when the request is cancelled midway.
#[derive(Debug)]
pub struct ProbeTurn {
    gate: ProbeGate,
    company: CompanyId,
}

impl ProbeGate {
    /// `company`'s turn, or `None` while another test of the company runs.
    pub fn enter(&self, company: CompanyId) -> Option<ProbeTurn> {
        self.companies().insert(company).then(|| ProbeTurn {
            gate: self.clone(),
            company,
        })
    }

    fn companies(&self) -> std::sync::MutexGuard<'_, HashSet<CompanyId>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for ProbeTurn {
    fn drop(&mut self) {
        self.gate.companies().remove(&self.company);
    }
}

/// Tests `account`: binds once and unbinds. A `simulator` account binds to the built-in
/// simulator with one-off credentials (the loopback listener is exempt from the outbound
/// policy); an `smpp` account to its host with its stored password.
pub async fn test_connection(account: &ProviderAccount, ctx: StartContext<'_>) -> ProbeOutcome {
    let start = Instant::now();
    let result = match tokio::time::timeout(PROBE_LIMIT, run(account, ctx)).await {
        Ok(r) => r,
        Err(_) => Err(ProbeFailure::TimedOut),
    };
    let elapsed = start.elapsed();
    match result {
        Ok(()) => tracing::info!(account = account.id.0, "provider connection test passed"),
        Err(e) => tracing::info!(
            account = account.id.0,
            code = e.code(),
            "provider connection test failed"
        ),
    }
    ProbeOutcome { result, elapsed }
}

async fn run(account: &ProviderAccount, ctx: StartContext<'_>) -> Result<(), ProbeFailure> {
    let Some(smpp) = account.smpp() else {
        return Err(ProbeFailure::Unsupported);
    };
    let base = ClientConfig {
        // Under the overall limit, with room for the unbind.
        connect_timeout: PROBE_LIMIT - Duration::from_secs(2),
        unbind_timeout: Duration::from_secs(1),
        system_type: smpp.system_type.clone(),
        ..ClientConfig::default()
    };
    match account.kind {
        ProviderKind::Http => Err(ProbeFailure::Unsupported),
        ProviderKind::Simulator => {
            let sim = ctx.simulator.ok_or(ProbeFailure::SimulatorOff)?;
            // Forgotten when this goes out of scope, however the future ends.
            let creds = sim.probe_credentials();
            let cfg = ClientConfig {
                addr: sim.addr.to_string(),
                system_id: creds.system_id.clone(),
                password: creds.password.clone(),
                ..base
            };
            Ok(ulak_smpp::client::probe(&cfg).await?)
        }
        ProviderKind::Smpp => {
            let password = ctx
                .store
                .decrypt_provider_password(account.company_id, account.id)
                .await
                .map_err(|_| ProbeFailure::Credentials)?
                .map(|p| p.expose().to_owned())
                .unwrap_or_default();
            let cfg = ClientConfig {
                addr: super::smpp::host_port(&smpp.host, smpp.port),
                connect_filter: Some(crate::outbound::smpp_filter(ctx.outbound)),
                system_id: smpp.system_id.clone(),
                password,
                ..base
            };
            Ok(ulak_smpp::client::probe(&cfg).await?)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use ulak_core::model::{BindMode, ProviderAccountId, ProviderSettings, SmppSettings, TonNpi};
    use ulak_smpp::sim::{SimConfig, Simulator};
    use ulak_store::Store;

    use super::*;
    use crate::SimulatorLink;

    fn simulator_account() -> ProviderAccount {
        ProviderAccount {
            id: ProviderAccountId(1),
            company_id: CompanyId(1),
            name: "sim".into(),
            kind: ProviderKind::Simulator,
            has_password: false,
            has_token: false,
            rate_per_sec: 50,
            text_policy: ulak_text::Policy::default(),
            enabled: true,
            created_at: 0,
            updated_at: 0,
            settings: ProviderSettings::Smpp(SmppSettings {
                host: "builtin".into(),
                port: 2775,
                system_id: "ulak".into(),
                system_type: String::new(),
                bind_mode: BindMode::Transceiver,
                binds: 1,
                window: 10,
                source: TonNpi { ton: 5, npi: 0 },
                destination: TonNpi { ton: 1, npi: 1 },
            }),
        }
    }

    #[tokio::test]
    async fn a_cancelled_test_forgets_its_simulator_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let store = Store::connect(&url, [7; 32]).await.unwrap();
        let sim = Simulator::start(SimConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..SimConfig::default()
        })
        .await
        .unwrap();
        // A "simulator" that takes the connection and never answers: the test hangs in the
        // bind until it is dropped, as when the client of the request goes away.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let link = SimulatorLink {
            addr: silent.local_addr().unwrap(),
            ..SimulatorLink::to(&sim)
        };
        let before = link.accounts.len();
        let outbound = ulak_core::net::OutboundPolicy::default();
        let (account, task_link, task_store) = (simulator_account(), link.clone(), store.clone());
        let test = tokio::spawn(async move {
            let ctx = StartContext {
                store: &task_store,
                simulator: Some(&task_link),
                outbound: &outbound,
            };
            test_connection(&account, ctx).await
        });
        let (_conn, _) = silent.accept().await.unwrap();
        assert_eq!(link.accounts.len(), before + 1, "the probe's credentials");
        test.abort();
        assert!(test.await.unwrap_err().is_cancelled());
        assert_eq!(
            link.accounts.len(),
            before,
            "forgotten when the test is dropped"
        );
        // A test that runs to its end forgets them too.
        let link = SimulatorLink::to(&sim);
        let ctx = StartContext {
            store: &store,
            simulator: Some(&link),
            outbound: &ulak_core::net::OutboundPolicy::default(),
        };
        let done = test_connection(&simulator_account(), ctx).await;
        assert_eq!(done.result, Ok(()));
        assert_eq!(link.accounts.len(), before);
    }

    #[test]
    fn one_test_at_a_time_per_company() {
        let gate = ProbeGate::default();
        let (a, b) = (CompanyId(1), CompanyId(2));
        let turn = gate.enter(a).expect("a's turn");
        assert!(gate.enter(a).is_none(), "a second test of a waits");
        let other = gate.enter(b).expect("another company is not held up");
        drop(turn);
        assert!(
            gate.enter(a).is_some(),
            "a's next test once the first is done"
        );
        drop(other);
    }
}
