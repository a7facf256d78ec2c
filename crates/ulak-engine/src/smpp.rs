//! The SMPP provider: an `ulak-smpp` client per account (binds, window, rate and data coding
//! from the account), and the conversion of its receipts for the store.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use ulak_core::model::{
    BindMode, MAX_VALIDITY_S, Message, MessageId, MessageState, ProviderAccount, SmppSettings,
};
use ulak_smpp::CommandStatus;
use ulak_smpp::client::{Client, ClientConfig, ConnectFilter, Event, SubmitError, TextMessage};
use ulak_smpp::receipt::{Receipt, ReceiptState};
use ulak_store::ReceiptIn;

use crate::provider::{Attempt, Failure, Provider, Taken};

/// An SMPP account, bound.
pub struct SmppProvider {
    client: Client,
    /// The sender's TON/NPI the account sets (`None`: by the header's form).
    source: Option<(u8, u8)>,
    /// The recipient's TON/NPI the account sets.
    dest: (u8, u8),
    /// TC ID numbers are only addressable through the simulator (operators take them over
    /// their HTTP APIs).
    accepts_tckn: bool,
    /// Whether the account is down ([`crate::failover`]): submits not yet written to a link
    /// are withdrawn, and the submit loop holds back.
    down: watch::Sender<bool>,
    /// Submits in a row that went unanswered or stayed throttled.
    streak: AtomicU32,
}

impl SmppProvider {
    /// Starts the client's binds for `account` at `addr` with `password`, connecting only to
    /// addresses `filter` allows; receipts and inbound messages arrive on the receiver.
    pub fn start(
        account: &ProviderAccount,
        smpp: &SmppSettings,
        addr: String,
        password: String,
        accepts_tckn: bool,
        filter: Option<ConnectFilter>,
    ) -> (SmppProvider, mpsc::UnboundedReceiver<Event>) {
        let cfg = ClientConfig {
            addr,
            connect_filter: filter,
            system_id: smpp.system_id.clone(),
            password,
            system_type: smpp.system_type.clone(),
            bind_mode: match smpp.bind_mode {
                BindMode::TransmitterReceiver => ulak_smpp::client::BindMode::TransmitterReceiver,
                BindMode::Transmitter => ulak_smpp::client::BindMode::Transmitter,
                BindMode::Transceiver => ulak_smpp::client::BindMode::Transceiver,
            },
            binds: smpp.binds as usize,
            window: smpp.window as usize,
            rate_per_s: Some(f64::from(account.rate_per_sec) / f64::from(smpp.binds.max(1))),
            text_options: ulak_text::Options {
                policy: account.text_policy,
                ..ulak_text::Options::default()
            },
            response_timeout: Duration::from_secs(30),
            // The submit loop has already waited for answers; a stop must not wait long
            // again (what is unanswered stays leased and is resent after a restart).
            drain_timeout: Duration::from_secs(1),
            unbind_timeout: Duration::from_secs(1),
            ..ClientConfig::default()
        };
        let (client, events) = Client::start(cfg);
        let s = smpp.source;
        (
            SmppProvider {
                client,
                // 5/0 is the account's default: headers then get the TON/NPI of their form
                // (an alphanumeric one 5/0, a number 1/1); anything else was chosen for the
                // operator and applies to every header.
                source: ((s.ton, s.npi) != DEFAULT_SOURCE).then_some((s.ton, s.npi)),
                dest: (smpp.destination.ton, smpp.destination.npi),
                accepts_tckn,
                down: watch::channel(false).0,
                streak: AtomicU32::new(0),
            },
            events,
        )
    }

    /// Waits until a link is bound (for tests and start-up logs).
    pub async fn wait_bound(&self, timeout: Duration) -> bool {
        self.client.wait_bound(timeout).await
    }

    /// Links bound now.
    pub fn bound_links(&self) -> usize {
        self.client.bound_links()
    }

    /// The last failed connect or bind, said without personal data.
    pub fn last_bind_error(&self) -> Option<String> {
        self.client.last_bind_error().map(|e| e.to_string())
    }

    /// Submits in a row that went unanswered (timeouts, links lost under them) or stayed
    /// throttled past the retry budget.
    pub fn failing_streak(&self) -> u32 {
        self.streak.load(Ordering::Relaxed)
    }

    /// Starts counting failing submits afresh.
    pub fn reset_streak(&self) {
        self.streak.store(0, Ordering::Relaxed);
    }

    /// Marks the account down (submits not yet written are withdrawn) or up.
    pub fn set_down(&self, down: bool) {
        self.down.send_replace(down);
    }

    /// Resolves once the account is down.
    async fn until_down(&self) {
        let mut rx = self.down.subscribe();
        // The sender lives as long as `self`.
        let _ = rx.wait_for(|d| *d).await;
    }

    /// Counts an answer (or its absence) toward the failing streak.
    fn count(&self, r: &Result<ulak_smpp::client::Submitted, SubmitError>) {
        match r {
            Ok(_) | Err(SubmitError::Rejected(_)) => self.streak.store(0, Ordering::Relaxed),
            Err(SubmitError::Timeout | SubmitError::Throttled(_)) => {
                self.streak.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {}
        }
    }

    /// Unbinds after the windows drain.
    pub async fn shutdown(self) {
        self.client.shutdown().await;
    }
}

/// The source TON/NPI an account has unless it was set otherwise (alphanumeric).
const DEFAULT_SOURCE: (u8, u8) = (5, 0);

/// A refused segment: throttling and system errors are worth another try, the rest are
/// final.
fn refused(status: CommandStatus) -> Failure {
    if status.is_throttling() || status == CommandStatus::ESME_RSYSERR {
        Failure::Transient(format!("the SMSC answered {status}"))
    } else {
        Failure::Permanent {
            reason: format!("the SMSC refused it: {status}"),
            code: Some(format!("0x{:08X}", status.0)),
        }
    }
}

/// The concatenation reference of a message: the low 16 bits of its id (an 8-bit UDH
/// reference takes the low 8). Derived, not drawn, so that every attempt — on any node,
/// after any restart — gives the message the same one, and segments sent again join those
/// an earlier attempt got through; nothing needs storing. Messages close in id (as those
/// to one handset at one time are) get different references, as a counter gave them.
pub fn concat_reference(id: MessageId) -> u16 {
    (id.0 & 0xFFFF) as u16
}

impl Provider for SmppProvider {
    fn paused(&self) -> bool {
        *self.down.borrow()
    }

    async fn submit(&self, m: &Message, taken: &[u32]) -> Attempt {
        if m.recipient_kind == "tckn" && !self.accepts_tckn {
            return Attempt::permanent(
                "TC ID numbers are sent through the operator's HTTP API, not SMPP",
                None,
            );
        }
        let left_ms = m.valid_until.saturating_sub(crate::worker::now_ms()).max(0);
        let msg = TextMessage {
            from: m.sender.clone(),
            to: m.recipient.clone(),
            text: m.body.clone(),
            receipt: true,
            source_ton_npi: self.source,
            dest_ton_npi: Some(self.dest),
            // What is left of the message's validity, so the operator stops trying when
            // Ulak would call it expired (at least a minute; at most the longest validity).
            validity_secs: Some(
                u64::try_from(left_ms / 1000)
                    .unwrap_or(0)
                    .clamp(60, MAX_VALIDITY_S),
            ),
        };
        let bodies = match self.client.text_submits(&msg, concat_reference(m.id)) {
            Ok(b) => b,
            Err(e) => return Attempt::permanent(format!("the text cannot be sent: {e}"), None),
        };
        // Segments come out the same for the same text and account settings; if those
        // changed since the earlier attempt, resending some of them would garble the message.
        if taken.iter().any(|&t| t == 0 || t as usize > bodies.len()) {
            return Attempt::permanent(
                "its segments changed since an earlier attempt took some of them",
                None,
            );
        }
        let mut pending = Vec::with_capacity(bodies.len());
        for (part, body) in (1u32..).zip(bodies) {
            if !taken.contains(&part) {
                pending.push((part, self.client.enqueue(body).await));
            }
        }
        // Every outcome is awaited, so a segment taken is known even when another failed.
        let mut attempt = Attempt::accepted(Vec::with_capacity(pending.len()));
        for (part, p) in pending {
            let outcome = match p {
                Ok(p) => p.outcome_unless(self.until_down()).await,
                Err(e) => Err(e),
            };
            self.count(&outcome);
            let failure = match outcome {
                Ok(s) => {
                    attempt.taken.push(Taken {
                        part,
                        operator_id: s.message_id,
                    });
                    continue;
                }
                Err(SubmitError::Rejected(status)) => refused(status),
                Err(e) => Failure::Transient(e.to_string()),
            };
            attempt.failure = Some(failure.worst(attempt.failure.take()));
        }
        attempt
    }
}

/// A receipt for the store, or `None` for an intermediate one (en route, accepted).
pub fn receipt_in(r: &Receipt) -> Option<ReceiptIn> {
    let state = match &r.state {
        ReceiptState::Delivered => MessageState::Delivered,
        ReceiptState::Expired => MessageState::Expired,
        ReceiptState::Deleted | ReceiptState::Undeliverable => MessageState::Undeliverable,
        ReceiptState::Rejected => MessageState::Rejected,
        ReceiptState::Unknown | ReceiptState::Other(_) => MessageState::Unknown,
        ReceiptState::Enroute | ReceiptState::Accepted => return None,
    };
    let mut ids = vec![r.message_id.clone()];
    ids.extend(r.text_id.iter().filter(|t| **t != r.message_id).cloned());
    let code = r
        .error
        .clone()
        .filter(|e| !e.trim_start_matches('0').is_empty())
        .or_else(|| r.network_error.map(|(t, c)| format!("{t}:{c}")));
    Some(ReceiptIn {
        operator_ids: ids,
        state,
        error_code: code,
        raw: serde_json::to_string(r).unwrap_or_default(),
    })
}
