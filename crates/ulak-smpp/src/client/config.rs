//! ESME client settings.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Decides, at every connect, whether a resolved address of the SMSC may be reached: the
/// application's outbound rule (a host name may resolve to another address each time, so
/// checking it once when it is entered is not enough).
#[derive(Clone)]
pub struct ConnectFilter(Arc<dyn Fn(IpAddr) -> bool + Send + Sync>);

impl ConnectFilter {
    /// A filter allowing the addresses `allows` says yes to.
    pub fn new(allows: impl Fn(IpAddr) -> bool + Send + Sync + 'static) -> Self {
        ConnectFilter(Arc::new(allows))
    }

    /// Whether `ip` may be reached.
    pub fn allows(&self, ip: IpAddr) -> bool {
        (self.0)(ip)
    }
}

impl fmt::Debug for ConnectFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConnectFilter(..)")
    }
}

/// How a client binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BindMode {
    /// `binds` bind_transceiver links.
    #[default]
    Transceiver,
    /// `binds` bind_transmitter links plus `binds` bind_receiver links.
    TransmitterReceiver,
    /// `binds` bind_transmitter links only: no receipts or inbound messages come back.
    Transmitter,
}

/// How a text longer than one SMS is sent (an account setting: operators differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LongText {
    /// One submit_sm per segment, each with a concatenation UDH (esm_class 0x40).
    #[default]
    Udh,
    /// One submit_sm with the whole text in the message_payload TLV.
    Payload,
    /// One submit_sm per segment with the sar_* TLVs and no UDH.
    Sar,
}

/// Everything an ESME client session needs.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// SMSC address, `host:port`.
    pub addr: String,
    /// Which resolved addresses of `addr` may be connected to; `None` allows every one.
    pub connect_filter: Option<ConnectFilter>,
    /// Account name.
    pub system_id: String,
    /// Account password.
    pub password: String,
    /// system_type sent in binds (often empty).
    pub system_type: String,
    /// Transceiver or transmitter + receiver pairs.
    pub bind_mode: BindMode,
    /// Links (or pairs) to open for the account.
    pub binds: usize,
    /// Submits waiting for their response per link.
    pub window: usize,
    /// Submits per second per link; `None` for no limit.
    pub rate_per_s: Option<f64>,
    /// Send enquire_link after this long without hearing from the SMSC.
    pub enquire_link_interval: Duration,
    /// Declare the SMSC dead and reconnect after this long without any PDU from it.
    pub dead_peer_timeout: Duration,
    /// A submit without response after this long is reported as [`super::SubmitError::Timeout`].
    pub response_timeout: Duration,
    /// TCP connect and bind_resp timeout.
    pub connect_timeout: Duration,
    /// First reconnect delay; doubles per failure up to `reconnect_max`, with jitter.
    pub reconnect_min: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
    /// First pause after ESME_RTHROTTLED / ESME_RMSGQFUL; doubles while they continue.
    pub throttle_backoff_min: Duration,
    /// Longest such pause.
    pub throttle_backoff_max: Duration,
    /// Throttle answers one submit may get before it is reported as failed.
    pub max_throttle_retries: u32,
    /// Resend submits that were in flight when a link dropped (at-least-once; the SMSC may
    /// then see a message twice). When false they are reported as
    /// [`super::SubmitError::Unknown`] instead.
    pub resend_on_link_loss: bool,
    /// How long texts are sent.
    pub long_text: LongText,
    /// Encoding policy and concatenation reference size for texts.
    pub text_options: ulak_text::Options,
    /// How long to wait for the missing parts of an inbound concatenated message.
    pub reassembly_timeout: Duration,
    /// Largest command_length accepted from the SMSC.
    pub max_command_length: u32,
    /// Submits queued in the client before `enqueue` waits.
    pub queue_capacity: usize,
    /// How long to wait for unbind_resp on shutdown.
    pub unbind_timeout: Duration,
    /// How long a stopping link waits for the answers to its submits in flight before it
    /// closes anyway (they end as [`super::SubmitError::Unknown`]): an SMSC that went silent
    /// must not hold a shutdown for the whole response timeout.
    pub drain_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            addr: "127.0.0.1:2775".into(),
            connect_filter: None,
            system_id: String::new(),
            password: String::new(),
            system_type: String::new(),
            bind_mode: BindMode::Transceiver,
            binds: 1,
            window: 10,
            rate_per_s: None,
            enquire_link_interval: Duration::from_secs(30),
            dead_peer_timeout: Duration::from_secs(90),
            response_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            reconnect_min: Duration::from_millis(500),
            reconnect_max: Duration::from_secs(30),
            throttle_backoff_min: Duration::from_millis(100),
            throttle_backoff_max: Duration::from_secs(5),
            max_throttle_retries: 100,
            resend_on_link_loss: true,
            long_text: LongText::Udh,
            text_options: ulak_text::Options::default(),
            reassembly_timeout: Duration::from_secs(60),
            max_command_length: crate::framing::DEFAULT_MAX_COMMAND_LENGTH,
            queue_capacity: 1024,
            unbind_timeout: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(5),
        }
    }
}
