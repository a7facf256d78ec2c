//! `ulak smsc-sim` (an SMSC simulator) and `ulak smpp send|bench` (an SMPP client for
//! people debugging an operator link, and a loopback throughput run).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use ulak_core::{CountryType, Msisdn};
use ulak_smpp::client::{BindError, BindMode, Client, ClientConfig, Event, LongText, TextMessage};
use ulak_smpp::pdu::{Address, Body, ShortMessage};
use ulak_smpp::sim::{DlrMix, SimConfig, Simulator};

use super::conn::{REFUSED, UNREACHABLE, USAGE};
use super::out::{errln, outln};

/// Arguments of `ulak smsc-sim`.
#[derive(Debug, Args)]
pub struct SmscSimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:2775")]
    pub listen: SocketAddr,
    /// Accepted system_id.
    #[arg(long = "system-id")]
    pub system_id: String,
    /// Accepted password.
    #[arg(long)]
    pub password: String,
    /// Delay before each delivery receipt, in milliseconds.
    #[arg(long = "dlr-delay-ms", default_value_t = 0)]
    pub dlr_delay_ms: u64,
    /// Receipt outcomes: `outcome:weight` and `prefix=outcome` items, comma-separated, e.g.
    /// `delivered:90,undeliverable:5,expired:3,rejected:2,90555=rejected`.
    #[arg(long = "dlr-mix", default_value = "delivered:1")]
    pub dlr_mix: DlrMix,
    /// Answer ESME_RTHROTTLED above this many submits per second.
    #[arg(long = "throttle-per-s")]
    pub throttle_per_s: Option<u32>,
    /// Delay before each submit_sm_resp, in milliseconds.
    #[arg(long = "resp-delay-ms", default_value_t = 0)]
    pub resp_delay_ms: u64,
    /// Delay before a deliver_sm (receipt or inbound) that was refused, or left unanswered
    /// on a link that closed, is delivered again, in milliseconds.
    #[arg(long = "redeliver-delay-ms", default_value_t = 1000)]
    pub redeliver_delay_ms: u64,
    /// Write message ids in decimal instead of hex.
    #[arg(long = "decimal-ids")]
    pub decimal_ids: bool,
}

/// `ulak smpp` subcommands.
#[derive(Debug, Args)]
pub struct SmppArgs {
    #[command(subcommand)]
    command: SmppCommand,
}

#[derive(Debug, Subcommand)]
enum SmppCommand {
    /// Bind to an SMSC, send a text, print the message ids (and receipts with --dlr).
    Send(SendArgs),
    /// Loopback throughput: this client against an in-process simulator, per window size.
    Bench(BenchArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BindArg {
    /// One bind_transceiver per bind.
    Trx,
    /// A bind_transmitter and a bind_receiver per bind.
    TxRx,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LongTextArg {
    /// Concatenation UDH per segment.
    Udh,
    /// One submit_sm with message_payload.
    Payload,
    /// sar_* TLVs per segment.
    Sar,
}

#[derive(Debug, Args)]
struct SendArgs {
    /// SMSC host.
    #[arg(long)]
    host: String,
    /// SMSC port.
    #[arg(long, default_value_t = 2775)]
    port: u16,
    /// Account system_id.
    #[arg(long = "system-id")]
    system_id: String,
    /// Account password.
    #[arg(long)]
    password: String,
    /// Sender: alphanumeric header or number.
    #[arg(long)]
    from: String,
    /// Recipient mobile number in any common form (`0532 123 45 67`, `+90 532…`); sent as
    /// international digits.
    #[arg(long, allow_hyphen_values = true)]
    to: String,
    /// Country type national numbers in --to are read in: TR, AZ or KKTC.
    #[arg(long, default_value = "TR", value_parser = parse_country)]
    country: CountryType,
    /// The text.
    #[arg(long)]
    text: String,
    /// Request delivery receipts and wait for them.
    #[arg(long)]
    dlr: bool,
    /// Send the text this many times.
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// Outstanding submits per bind.
    #[arg(long, default_value_t = 10)]
    window: usize,
    /// How to bind.
    #[arg(long, value_enum, default_value = "trx")]
    bind: BindArg,
    /// How long texts are sent.
    #[arg(long = "long-text", value_enum, default_value = "udh")]
    long_text: LongTextArg,
    /// Submits per second per bind (no limit when absent).
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds to wait for receipts with --dlr.
    #[arg(long = "dlr-timeout-s", default_value_t = 60)]
    dlr_timeout_s: u64,
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// Window sizes to measure, comma-separated.
    #[arg(long, default_value = "1,10,100", value_delimiter = ',')]
    windows: Vec<usize>,
    /// Submits per window size.
    #[arg(long, default_value_t = 100_000)]
    count: usize,
    /// Binds (links) the client opens.
    #[arg(long, default_value_t = 1)]
    binds: usize,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn init_logs() {
    // Logs go to stderr so stdout stays machine-readable; RUST_LOG overrides the level.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// clap value parser for `--country`.
fn parse_country(s: &str) -> Result<CountryType, String> {
    s.parse::<CountryType>().map_err(|e| e.to_string())
}

/// The link to the SMSC could not be bound.
#[derive(Debug)]
struct BindFailed {
    addr: String,
    why: BindError,
}

impl std::fmt::Display for BindFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "could not bind to {}: {}", self.addr, self.why)
    }
}

impl std::error::Error for BindFailed {}

/// Exit codes as the API commands': 1 refused (a submit, or the bind), 2 bad usage, 3 the
/// SMSC cannot be reached.
fn finish(r: Result<bool>) -> ExitCode {
    match r {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(REFUSED),
        Err(e) => {
            errln!("error: {e:#}");
            let code = match e.downcast_ref::<BindFailed>() {
                Some(b) if b.why.is_refusal() => REFUSED,
                Some(_) => UNREACHABLE,
                None => USAGE,
            };
            ExitCode::from(code)
        }
    }
}

/// Runs `ulak smsc-sim` until SIGINT/SIGTERM, then prints the counts as JSON.
pub fn run_sim(args: SmscSimArgs) -> ExitCode {
    init_logs();
    finish(runtime().and_then(|rt| rt.block_on(sim(args))))
}

async fn sim(args: SmscSimArgs) -> Result<bool> {
    let cfg = SimConfig {
        listen: args.listen,
        accounts: vec![(args.system_id, args.password)],
        dlr_delay: Duration::from_millis(args.dlr_delay_ms),
        dlr_mix: args.dlr_mix,
        throttle_per_s: args.throttle_per_s,
        resp_delay: Duration::from_millis(args.resp_delay_ms),
        redeliver_delay: Duration::from_millis(args.redeliver_delay_ms),
        hex_ids: !args.decimal_ids,
        ..Default::default()
    };
    let handle = Simulator::start(cfg)
        .await
        .context("starting the simulator")?;
    errln!("smsc-sim listening on {}", handle.local_addr());
    wait_for_signal().await?;
    let counts = handle.shutdown().await;
    outln!("{}", serde_json::to_string(&counts)?);
    Ok(true)
}

async fn wait_for_signal() -> Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("SIGINT handler")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await.context("SIGINT handler")?;
    Ok(())
}

/// Runs `ulak smpp ...`.
pub fn run_smpp(args: SmppArgs) -> ExitCode {
    init_logs();
    finish(runtime().and_then(|rt| {
        rt.block_on(async {
            match args.command {
                SmppCommand::Send(a) => send(a).await,
                SmppCommand::Bench(a) => bench(a).await,
            }
        })
    }))
}

async fn send(a: SendArgs) -> Result<bool> {
    // Operators want international digits (TON 1); a national or spaced form would go out
    // as an alphanumeric address or with the wrong prefix.
    let to = Msisdn::parse(&a.to, a.country)
        .map_err(|e| anyhow!("--to {:?} is not a valid mobile number: {e}", a.to))?;
    let cfg = ClientConfig {
        addr: format!("{}:{}", a.host, a.port),
        system_id: a.system_id,
        password: a.password,
        window: a.window.max(1),
        rate_per_s: a.rate,
        bind_mode: match a.bind {
            BindArg::Trx => BindMode::Transceiver,
            BindArg::TxRx => BindMode::TransmitterReceiver,
        },
        long_text: match a.long_text {
            LongTextArg::Udh => LongText::Udh,
            LongTextArg::Payload => LongText::Payload,
            LongTextArg::Sar => LongText::Sar,
        },
        ..Default::default()
    };
    let (client, mut events) = Client::start(cfg);
    // The first refused bind is the answer (a wrong password stays wrong); say the SMSC's
    // status rather than retry until a timeout.
    if let Err(why) = client.wait_bound_or_failed(Duration::from_secs(15)).await {
        client.shutdown().await;
        return Err(BindFailed {
            addr: format!("{}:{}", a.host, a.port),
            why,
        }
        .into());
    }
    let msg = TextMessage {
        from: a.from,
        to: to.e164().to_owned(),
        text: a.text,
        receipt: a.dlr,
        ..Default::default()
    };
    let mut pending = Vec::new();
    for n in 0..a.count {
        for (seg, p) in client.send_text(&msg).await?.into_iter().enumerate() {
            pending.push((n + 1, seg + 1, p));
        }
    }
    let mut ids = Vec::new();
    let mut ok = true;
    for (n, seg, p) in pending {
        match p.outcome().await {
            Ok(s) => {
                outln!(
                    "{}",
                    json!({"message": n, "segment": seg, "message_id": s.message_id})
                );
                ids.push(s.message_id);
            }
            Err(e) => {
                ok = false;
                outln!(
                    "{}",
                    json!({"message": n, "segment": seg, "error": e.to_string()})
                );
            }
        }
    }
    if a.dlr {
        let deadline = Instant::now() + Duration::from_secs(a.dlr_timeout_s);
        let mut waiting: Vec<String> = ids;
        while !waiting.is_empty() {
            let ev = tokio::time::timeout_at(deadline.into(), events.recv()).await;
            match ev {
                // Printed, then acknowledged: the SMSC may drop its copy once it is shown.
                Ok(Some(Event::Receipt(r, ack))) => {
                    waiting.retain(|id| !r.matches(id));
                    outln!("{}", json!({"receipt": r}));
                    ack.accept();
                }
                Ok(Some(Event::Inbound(m, ack))) => {
                    outln!("{}", json!({"inbound": m}));
                    ack.accept();
                }
                Ok(None) => break,
                Err(_) => {
                    errln!("timed out waiting for {} receipt(s)", waiting.len());
                    ok = false;
                    break;
                }
            }
        }
    }
    client.shutdown().await;
    Ok(ok)
}

async fn bench(a: BenchArgs) -> Result<bool> {
    let sim = Simulator::start(SimConfig::default()).await?;
    let sm = ShortMessage {
        source: Address::new(5, 0, "ULAK"),
        dest: Address::new(1, 1, "905321234567"),
        short_message: bytes_of("Merhaba, siparisiniz yola cikti. Takip kodu: 1234567890."),
        ..Default::default()
    };
    let mut ok = true;
    for w in a.windows {
        let (client, _events) = Client::start(ClientConfig {
            addr: sim.local_addr().to_string(),
            system_id: "ulak".into(),
            password: "secret".into(),
            window: w.max(1),
            binds: a.binds.max(1),
            queue_capacity: 4096,
            ..Default::default()
        });
        if !client.wait_bound(Duration::from_secs(5)).await {
            bail!("bench client could not bind");
        }
        let t = Instant::now();
        // Outcomes are awaited by a second task so enqueueing never waits on them.
        let (tx, mut rx) = tokio::sync::mpsc::channel(8192);
        let waiter = tokio::spawn(async move {
            let mut failed = 0usize;
            while let Some(p) = rx.recv().await {
                let p: ulak_smpp::client::Pending = p;
                if p.outcome().await.is_err() {
                    failed += 1;
                }
            }
            failed
        });
        for _ in 0..a.count {
            let p = client.enqueue(Body::SubmitSm(sm.clone())).await?;
            if tx.send(p).await.is_err() {
                break;
            }
        }
        drop(tx);
        let failed = waiter.await.unwrap_or(a.count);
        let secs = t.elapsed().as_secs_f64();
        client.shutdown().await;
        ok &= failed == 0;
        outln!(
            "{}",
            json!({
                "window": w,
                "binds": a.binds,
                "submits": a.count,
                "failed": failed,
                "seconds": (secs * 1000.0).round() / 1000.0,
                "submit_sm_per_s": (a.count as f64 / secs).round(),
            })
        );
    }
    sim.shutdown().await;
    Ok(ok)
}

fn bytes_of(s: &str) -> bytes::Bytes {
    bytes::Bytes::from(s.as_bytes().to_vec())
}
