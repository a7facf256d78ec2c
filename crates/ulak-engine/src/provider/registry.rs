//! Which provider serves an account: the one place that names the kinds of account. Adding a
//! provider is its file in `provider/` and its arm here.

use ulak_core::model::{ProviderAccount, ProviderKind};
use ulak_core::net::OutboundPolicy;
use ulak_store::{Store, StoreError};

use super::{Events, Provider, smpp};
use crate::SimulatorLink;

/// What a provider may need to start.
#[derive(Clone, Copy)]
pub struct StartContext<'a> {
    /// The store, to read the account's secrets (they are kept encrypted).
    pub store: &'a Store,
    /// The built-in simulator, when it runs.
    pub simulator: Option<&'a SimulatorLink>,
    /// Where connections made on a tenant's behalf may go.
    pub outbound: &'a OutboundPolicy,
}

/// A provider started for an account, and where its events arrive.
pub struct Started {
    /// The provider.
    pub provider: Box<dyn Provider>,
    /// Its receipts and inbound messages; closed once it has stopped.
    pub events: Events,
}

/// Why an account's provider could not start (said without secrets or personal data).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// This kind of account has no provider yet.
    #[error("{0} accounts are not supported yet")]
    Unsupported(&'static str),
    /// Something the provider needs is not there.
    #[error("{0}")]
    Unavailable(&'static str),
    /// The account's credentials could not be read.
    #[error("cannot read the account's credentials: {0}")]
    Credentials(#[source] StoreError),
}

/// Starts the provider for `account` by its kind.
pub async fn start(
    account: &ProviderAccount,
    ctx: StartContext<'_>,
) -> Result<Started, StartError> {
    match account.kind {
        ProviderKind::Simulator => smpp::start_simulator(account, ctx),
        ProviderKind::Smpp => smpp::start_operator(account, ctx).await,
        ProviderKind::Http => Err(StartError::Unsupported("HTTP operator")),
    }
}
