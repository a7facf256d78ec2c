//! The SMPP provider (also the built-in simulator's): an `ulak-smpp` client per account
//! (binds, window, rate and data coding from the account), and the conversion of its client's
//! events into neutral [`ProviderEvent`]s. The only file, with the registry, that reads an
//! account's SMPP settings.

use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::mpsc;
use ulak_core::model::{
    BindMode, MAX_VALIDITY_S, Message, MessageId, MessageState, ProviderAccount, SmppSettings,
};
use ulak_smpp::CommandStatus;
use ulak_smpp::client::{
    Client, ClientConfig, ConnectFilter, Event, SubmitError, Submitted, TextMessage,
};
use ulak_smpp::inbound::InboundMessage;
use ulak_smpp::receipt::{Receipt, ReceiptState};
use ulak_store::{InboundIn, ReceiptIn};

use super::{
    Ack, Attempt, DownState, Events, Failure, LinkHealth, Provider, ProviderEvent, StartContext,
    StartError, Started, Taken,
};

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
    /// Links the account asks for.
    wanted: usize,
    /// Down or up ([`crate::failover`]), and the failing streak: a down account's submits not
    /// yet written to a link are withdrawn, and the submit loop holds back.
    state: DownState,
}

/// Starts a `simulator` account: the built-in simulator, with credentials of the account's
/// own. The simulator is this process's loopback listener: exempt from the outbound rule.
pub(super) fn start_simulator(
    account: &ProviderAccount,
    ctx: StartContext<'_>,
) -> Result<Started, StartError> {
    let Some(sim) = ctx.simulator else {
        return Err(StartError::Unavailable(
            "a simulator account, but the built-in simulator is off",
        ));
    };
    let (system_id, password) = sim.credentials(account.id);
    let settings = SmppSettings {
        system_id,
        ..settings(account)?.clone()
    };
    let (p, events) = SmppProvider::start(
        account,
        &settings,
        sim.addr.to_string(),
        password,
        true,
        None,
    );
    Ok(p.started(events))
}

/// Starts an `smpp` account: the operator's host, with the account's stored password, and
/// connections only where the outbound policy allows.
pub(super) async fn start_operator(
    account: &ProviderAccount,
    ctx: StartContext<'_>,
) -> Result<Started, StartError> {
    let settings = settings(account)?;
    let password = ctx
        .store
        .decrypt_provider_password(account.company_id, account.id)
        .await
        .map_err(StartError::Credentials)?
        .map(|p| p.expose().to_owned())
        .unwrap_or_default();
    let (p, events) = SmppProvider::start(
        account,
        settings,
        host_port(&settings.host, settings.port),
        password,
        false,
        Some(crate::outbound::smpp_filter(ctx.outbound)),
    );
    Ok(p.started(events))
}

/// The account's SMPP settings (an account of the SMPP family has them).
fn settings(account: &ProviderAccount) -> Result<&SmppSettings, StartError> {
    account
        .smpp()
        .ok_or(StartError::Unavailable("the account has no SMPP settings"))
}

/// `host:port` for connecting, with an IPv6 address in brackets.
pub(super) fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl SmppProvider {
    /// Starts the client's binds for `account` (with its SMPP `settings`) at `addr` with
    /// `password`, connecting only to addresses `filter` allows; receipts and inbound
    /// messages arrive on the receiver, as neutral events.
    pub fn start(
        account: &ProviderAccount,
        settings: &SmppSettings,
        addr: String,
        password: String,
        accepts_tckn: bool,
        filter: Option<ConnectFilter>,
    ) -> (SmppProvider, Events) {
        let cfg = ClientConfig {
            addr,
            connect_filter: filter,
            system_id: settings.system_id.clone(),
            password,
            system_type: settings.system_type.clone(),
            bind_mode: match settings.bind_mode {
                BindMode::TransmitterReceiver => ulak_smpp::client::BindMode::TransmitterReceiver,
                BindMode::Transmitter => ulak_smpp::client::BindMode::Transmitter,
                BindMode::Transceiver => ulak_smpp::client::BindMode::Transceiver,
            },
            binds: settings.binds as usize,
            window: settings.window as usize,
            rate_per_s: Some(f64::from(account.rate_per_sec) / f64::from(settings.binds.max(1))),
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
        let s = settings.source;
        (
            SmppProvider {
                client,
                // 5/0 is the account's default: headers then get the TON/NPI of their form
                // (an alphanumeric one 5/0, a number 1/1); anything else was chosen for the
                // operator and applies to every header.
                source: ((s.ton, s.npi) != DEFAULT_SOURCE).then_some((s.ton, s.npi)),
                dest: (settings.destination.ton, settings.destination.npi),
                accepts_tckn,
                wanted: settings.binds.max(1) as usize,
                state: DownState::default(),
            },
            forward(events),
        )
    }

    fn started(self, events: Events) -> Started {
        Started {
            provider: Box::new(self),
            events,
        }
    }

    /// Counts an answer (or its absence) toward the failing streak.
    fn count(&self, r: &Result<Submitted, SubmitError>) {
        match r {
            Ok(_) | Err(SubmitError::Rejected(_)) => self.state.answered(),
            Err(SubmitError::Timeout | SubmitError::Throttled(_)) => self.state.failed(),
            Err(_) => {}
        }
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
    fn submit<'a>(&'a self, message: &'a Message, taken: &'a [u32]) -> BoxFuture<'a, Attempt> {
        Box::pin(self.send(message, taken))
    }

    fn paused(&self) -> bool {
        self.state.is_down()
    }

    fn set_down(&self, down: bool) {
        self.state.set_down(down);
    }

    fn health(&self) -> LinkHealth {
        LinkHealth {
            bound: self.client.bound_links(),
            wanted: self.wanted,
            last_error: self.client.last_bind_error().map(|e| e.to_string()),
            failing_streak: self.state.streak(),
        }
    }

    fn reset_streak(&self) {
        self.state.answered();
    }

    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        // Unbinds after the windows drain.
        Box::pin(async move {
            self.client.shutdown().await;
        })
    }
}

impl SmppProvider {
    /// [`Provider::submit`].
    async fn send(&self, m: &Message, taken: &[u32]) -> Attempt {
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
                Ok(p) => p.outcome_unless(self.state.until_down()).await,
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

/// How many client events the forwarding task takes at a time (receipts come in streams).
const FORWARD_BATCH: usize = 256;

/// Hands the client's events on as neutral ones, from a task of their own; the returned
/// channel closes when the client's does. Intermediate receipts are accepted here and go no
/// further. When the receiving side is gone, events are dropped unanswered, so the SMSC
/// delivers them again.
pub fn forward(mut from: mpsc::UnboundedReceiver<Event>) -> Events {
    let (to, events) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(FORWARD_BATCH);
        while from.recv_many(&mut batch, FORWARD_BATCH).await > 0 {
            for e in batch.drain(..) {
                if let Some(e) = event(e)
                    && to.send(e).is_err()
                {
                    return;
                }
            }
        }
    });
    events
}

/// A client event as a neutral one; `None` for an intermediate receipt, which is accepted
/// (there is nothing to record; unanswered, the SMSC would deliver it again and again).
pub fn event(e: Event) -> Option<ProviderEvent> {
    match e {
        Event::Receipt(r, ack) => match receipt_in(&r) {
            Some(receipt) => Some(ProviderEvent::Receipt(receipt, neutral(ack))),
            None => {
                ack.accept();
                None
            }
        },
        Event::Inbound(m, ack) => Some(ProviderEvent::Inbound(inbound_in(m), neutral(ack))),
    }
}

/// The client's ack behind a neutral one: accepting it answers ESME_ROK; dropping it drops
/// the client's ack, which answers ESME_RX_T_APPN (delivered again).
fn neutral(ack: ulak_smpp::client::Ack) -> Ack {
    Ack::new(move || ack.accept())
}

/// An inbound message for the store.
pub fn inbound_in(m: InboundMessage) -> InboundIn {
    InboundIn {
        sender: m.source,
        recipient: m.dest,
        // No text (8-bit data): keep the bytes rather than store an empty message.
        body_raw: m.text.is_none().then_some(m.payload),
        body: m.text.unwrap_or_default(),
        data_coding: Some(m.data_coding),
        complete: m.complete,
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Instant;

    use ulak_smpp::client::Ack as SmppAck;
    use ulak_smpp::pdu::{Address, ShortMessage};
    use ulak_smpp::sim::{Counts, SimConfig, SimHandle, Simulator};

    use super::*;

    fn receipt(id: &str, state: ReceiptState) -> Receipt {
        Receipt {
            message_id: id.into(),
            text_id: Some("0A".into()),
            state,
            error: Some("000".into()),
            submitted: Some(1),
            delivered: Some(1),
            submit_date: None,
            done_date: None,
            text: None,
            network_error: Some((3, 17)),
            source: "905320000000".into(),
            dest: "ULAK".into(),
        }
    }

    #[test]
    fn a_final_receipt_becomes_a_receipt_event_and_an_intermediate_one_does_not() {
        let e = event(Event::Receipt(
            receipt("10", ReceiptState::Delivered),
            SmppAck::detached(),
        ));
        let Some(ProviderEvent::Receipt(r, _)) = e else {
            panic!("{e:?}")
        };
        assert_eq!(r.operator_ids, vec!["10".to_owned(), "0A".to_owned()]);
        assert_eq!(r.state, MessageState::Delivered);
        // `err:000` says nothing; the network error TLV does.
        assert_eq!(r.error_code.as_deref(), Some("3:17"));
        assert!(r.raw.contains("\"message_id\":\"10\""), "{}", r.raw);
        for (state, want) in [
            (ReceiptState::Undeliverable, MessageState::Undeliverable),
            (ReceiptState::Expired, MessageState::Expired),
            (ReceiptState::Rejected, MessageState::Rejected),
        ] {
            let e = event(Event::Receipt(receipt("11", state), SmppAck::detached()));
            assert!(matches!(e, Some(ProviderEvent::Receipt(r, _)) if r.state == want));
        }
        for state in [ReceiptState::Enroute, ReceiptState::Accepted] {
            let e = event(Event::Receipt(receipt("12", state), SmppAck::detached()));
            assert!(e.is_none(), "{e:?}");
        }
    }

    #[test]
    fn inbound_text_and_eight_bit_data_become_inbound_events() {
        let text = InboundMessage {
            source: "905321234567".into(),
            dest: "4545".into(),
            text: Some("merhaba".into()),
            payload: b"merhaba".to_vec(),
            data_coding: 0,
            parts: 2,
            complete: false,
        };
        let e = event(Event::Inbound(text, SmppAck::detached()));
        let Some(ProviderEvent::Inbound(m, _)) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            m,
            InboundIn {
                sender: "905321234567".into(),
                recipient: "4545".into(),
                body: "merhaba".into(),
                body_raw: None,
                data_coding: Some(0),
                complete: false,
            }
        );
        let data = InboundMessage {
            source: "905321234567".into(),
            dest: "4545".into(),
            text: None,
            payload: vec![0x00, 0xff, 0x10],
            data_coding: 4,
            parts: 1,
            complete: true,
        };
        let Some(ProviderEvent::Inbound(m, _)) = event(Event::Inbound(data, SmppAck::detached()))
        else {
            panic!("not an inbound event")
        };
        assert_eq!(
            (m.body.as_str(), m.body_raw, m.data_coding, m.complete),
            ("", Some(vec![0x00, 0xff, 0x10]), Some(4), true)
        );
    }

    async fn counts_until(s: &SimHandle, done: impl Fn(&Counts) -> bool) -> Counts {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let c = s.counts();
            if done(&c) || Instant::now() > end {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn next(events: &mut Events) -> ProviderEvent {
        tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .expect("an event")
            .expect("the channel is open")
    }

    fn raw_receipt(id: &str, stat: &str) -> ShortMessage {
        ShortMessage {
            source: Address::new(1, 1, "905320000000"),
            dest: Address::new(5, 0, "ULAK"),
            // A delivery receipt (SMSC delivery receipt bits of esm_class).
            esm_class: 0x04,
            short_message: format!(
                "id:{id} sub:001 dlvrd:001 submit date:2401010000 done date:2401010001 \
                 stat:{stat} err:000 text:"
            )
            .into(),
            ..Default::default()
        }
    }

    /// Over the wire: an en-route receipt is answered at once and not forwarded; the others
    /// arrive as neutral events and are answered when their acks are: ESME_ROK when
    /// accepted, a temporary error when dropped.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn forwarded_events_are_answered_by_their_neutral_acks() {
        let sim = Simulator::start(SimConfig {
            // A refused event is not delivered again within the test.
            redeliver_delay: Duration::from_secs(60),
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let (client, raw) = Client::start(ClientConfig {
            addr: sim.local_addr().to_string(),
            system_id: "ulak".into(),
            password: "secret".into(),
            ..ClientConfig::default()
        });
        let mut events = forward(raw);
        assert!(client.wait_bound(Duration::from_secs(5)).await);
        sim.inject_raw(raw_receipt("77", "ENROUTE")).unwrap();
        let c = counts_until(&sim, |c| c.deliver_acked == 1).await;
        assert_eq!(
            c.deliver_acked, 1,
            "the en-route receipt is answered at once"
        );
        sim.inject_raw(raw_receipt("77", "DELIVRD")).unwrap();
        sim.inject_raw(ShortMessage {
            source: Address::new(1, 1, "905321112233"),
            dest: Address::new(0, 1, "4545"),
            data_coding: 4,
            short_message: vec![0x00, 0xff].into(),
            ..Default::default()
        })
        .unwrap();
        let ProviderEvent::Receipt(r, receipt_ack) = next(&mut events).await else {
            panic!("expected the delivered receipt first")
        };
        assert_eq!(
            (r.operator_ids[0].as_str(), r.state),
            ("77", MessageState::Delivered)
        );
        let ProviderEvent::Inbound(m, inbound_ack) = next(&mut events).await else {
            panic!("expected the inbound message")
        };
        assert_eq!(m.body_raw.as_deref(), Some(&[0x00, 0xff][..]));
        // Held, not answered.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let c = sim.counts();
        assert_eq!((c.deliver_acked, c.deliver_nacked), (1, 0));
        receipt_ack.accept();
        drop(inbound_ack);
        let c = counts_until(&sim, |c| c.deliver_acked == 2 && c.deliver_nacked == 1).await;
        assert_eq!((c.deliver_acked, c.deliver_nacked), (2, 1));
        client.shutdown().await;
        // The client's channel closed, so the forwarded one does too.
        let end = tokio::time::timeout(Duration::from_secs(5), events.recv()).await;
        assert!(matches!(end, Ok(None)), "{end:?}");
        sim.shutdown().await;
    }
}
