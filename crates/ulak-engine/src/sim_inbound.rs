//! A message "from a handset" into the built-in simulator, for a company that sends through
//! it: the simulator delivers it to that provider account's binds as an operator delivers an
//! inbound (MO) message, so it takes the whole real path (deliver_sm, reassembly, the inbox,
//! opt-out keywords, webhooks). Lets a company try its inbound flow, and the browser tests
//! send an inbound message without touching the database.

use ulak_core::model::{CompanyId, ProviderAccountId, ProviderKind, ValidationErrors, limits};
use ulak_core::{Code, CountryType, Msisdn};
use ulak_smpp::sim::{InboundConcat, Inject, SimError};
use ulak_store::{Store, StoreError};

use crate::SimulatorLink;

/// The longest text injected (ten concatenated GSM parts).
pub const TEXT_MAX: usize = 1530;
/// The longest "to" (a short code or a number).
pub const TO_MAX: usize = 16;

/// An inbound message to inject, checked: the handset's mobile number, the short code or
/// number it went to (digits), the text.
#[derive(Clone)]
pub struct HandsetMessage {
    from: Msisdn,
    to: String,
    text: String,
}

impl HandsetMessage {
    /// Checks every field and reports all failures at once (`from`, `to`, `text`).
    pub fn new(
        from: &str,
        to: &str,
        text: &str,
        country: CountryType,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let from = if from.chars().count() > limits::PHONE {
            errors.push("from", Code::ValueTooLong, "at most 32 characters");
            None
        } else {
            errors.take("from", Msisdn::parse(from, country))
        };
        let to = to.trim();
        if to.is_empty() {
            errors.push("to", Code::ValueEmpty, "a short code or number is required");
        } else if to.len() > TO_MAX {
            errors.push("to", Code::ValueTooLong, "at most 16 digits");
        } else if !to.bytes().all(|b| b.is_ascii_digit()) {
            errors.push("to", Code::ValueInvalid, "digits only");
        }
        if text.trim().is_empty() {
            errors.push("text", Code::TextEmpty, "the text is empty");
        } else if text.chars().count() > TEXT_MAX {
            errors.push("text", Code::TextTooLong, "at most 1530 characters");
        } else if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r')
        {
            errors.push("text", Code::ValueControlCharacter, "control characters");
        }
        errors.finish(|| {
            Some(HandsetMessage {
                from: from?,
                to: to.to_owned(),
                text: text.to_owned(),
            })
        })
    }
}

impl std::fmt::Debug for HandsetMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The number and the text are personal data.
        f.debug_struct("HandsetMessage")
            .field("from", &self.from)
            .field("text_chars", &self.text.chars().count())
            .finish_non_exhaustive()
    }
}

/// Why a message could not be injected.
#[derive(Debug, thiserror::Error)]
pub enum SimInboundError {
    /// The built-in simulator is off on this server.
    #[error("the built-in simulator is not running")]
    NoSimulator,
    /// No such provider account in the company.
    #[error("no such provider account")]
    NotFound,
    /// The account is an operator's, not the simulator's.
    #[error("only simulator accounts take messages from the simulator")]
    NotSimulator,
    /// The account has not bound (yet): disabled, or the engine is starting.
    #[error("the account is not connected to the simulator")]
    NotConnected,
    /// The text cannot be sent as an SMS.
    #[error("the text cannot be encoded")]
    Text,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Injects `msg` for provider account `account` of `company`; returns the number of parts.
pub async fn inject(
    store: &Store,
    link: Option<&SimulatorLink>,
    company: CompanyId,
    account: ProviderAccountId,
    msg: &HandsetMessage,
) -> Result<usize, SimInboundError> {
    let link = link.ok_or(SimInboundError::NoSimulator)?;
    let a = store
        .get_provider_account(company, account)
        .await?
        .ok_or(SimInboundError::NotFound)?;
    if a.kind != ProviderKind::Simulator {
        return Err(SimInboundError::NotSimulator);
    }
    let inject = Inject {
        system_id: Some(SimulatorLink::system_id(a.id)),
        from: msg.from.e164().trim_start_matches('+').to_owned(),
        to: msg.to.clone(),
        text: msg.text.clone(),
        concat: InboundConcat::Udh8,
        reverse: false,
    };
    match link.injector.inject_inbound(&inject) {
        Ok(parts) => Ok(parts),
        Err(SimError::NoReceiver(_)) => Err(SimInboundError::NotConnected),
        Err(SimError::Text(_)) => Err(SimInboundError::Text),
        Err(SimError::Io(_)) => Err(SimInboundError::NotConnected),
    }
}
