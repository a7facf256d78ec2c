//! The `ulak` binary: the server (later issues) and the command-line tools.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc's malloc: the engine allocates and frees many small buffers
/// per message, and glibc's malloc showed as a fifth of the server's CPU profile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Ulak: self-hosted corporate messaging hub for Turkey, Azerbaijan and KKTC.
#[derive(Debug, Parser)]
#[command(name = "ulak", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: HTTP API on SQLite (default) or PostgreSQL.
    Serve(cli::serve::ServeArgs),
    /// Recovery on the server's own data: a new password or system administrator key.
    Admin(cli::admin::AdminArgs),
    /// Subscribers over the API: list, add, import CSV/XLSX.
    Subscribers(cli::api::SubscribersArgs),
    /// Groups over the API: list, create.
    Groups(cli::api::GroupsArgs),
    /// Customer accounts (cari hesap) over the API: list, add, import CSV/XLSX.
    Customers(cli::manage::CustomersArgs),
    /// SMS templates over the API: list, add.
    Templates(cli::manage::TemplatesArgs),
    /// Sender headers (originators) over the API: list, add.
    SenderHeaders(cli::manage::SenderHeadersArgs),
    /// The company's SMS settings over the API: show, set.
    SmsSettings(cli::manage::SmsSettingsArgs),
    /// Routes over the API: which provider account each message goes through (list, add,
    /// remove).
    Routes(cli::routes::RoutesArgs),
    /// Send one SMS over the API (optionally wait for its delivery report).
    Send(cli::send::SendArgs),
    /// Campaigns (bulk SMS) over the API: create, preview, start, status, pause, resume, cancel,
    /// export.
    Campaign(cli::campaign::CampaignArgs),
    /// Messages over the API: list what was sent (filters), show one with its history.
    Messages(cli::messages::MessagesArgs),
    /// The remaining credit; `credit history` lists the ledger.
    Credit(cli::api::CreditArgs),
    /// Inbound messages (replies, requests, opt-outs) over the API: list.
    Inbound(cli::inbox::InboundArgs),
    /// Count characters and SMS segments of a text (reads stdin when --text is absent).
    Count(cli::count::CountArgs),
    /// Validate and normalise a phone number to E.164.
    CheckNumber(cli::check::CheckNumberArgs),
    /// Validate a TC ID number (TC kimlik no).
    CheckTckn(cli::check::CheckTcknArgs),
    /// Run an SMPP 3.4 SMSC simulator; prints its counts as JSON on SIGINT/SIGTERM.
    SmscSim(cli::smpp::SmscSimArgs),
    /// SMPP client tools: send a text over an operator link, or a loopback benchmark.
    Smpp(cli::smpp::SmppArgs),
}

/// The mimalloc setting `serve` runs with: freed memory goes back to the system at once.
const PURGE_DELAY_VAR: &str = "MIMALLOC_PURGE_DELAY";

/// mimalloc gives freed memory back to the system only after a delay (1 s by default), and
/// a thread that then goes idle keeps it: creating and starting a campaign of a million
/// pasted numbers left the server at about twice its working set (peak 196 MB against 143 MB
/// with no delay, for about 4 % fewer messages/s; docs/benchmarks.md). mimalloc reads the
/// option from the environment as it starts, before `main`, and setting it from Rust would
/// take unsafe code, which this workspace forbids; so `serve` starts itself again with the
/// variable set. A value the user set is kept.
#[cfg(unix)]
fn reexec_with_allocator_settings() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os(PURGE_DELAY_VAR).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(PURGE_DELAY_VAR, "0")
        .exec();
    // Only reached when the new image could not start: run as we are.
    eprintln!("ulak: could not restart with {PURGE_DELAY_VAR}=0 ({err}); going on without it");
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    #[cfg(unix)]
    if matches!(cli.command, Command::Serve(_)) {
        reexec_with_allocator_settings();
    }
    let code = match cli.command {
        Command::Serve(args) => cli::serve::run(args),
        Command::Admin(args) => cli::admin::run(args),
        Command::Subscribers(args) => cli::api::subscribers(args),
        Command::Groups(args) => cli::api::groups(args),
        Command::Customers(args) => cli::manage::customers(args),
        Command::Templates(args) => cli::manage::templates(args),
        Command::SenderHeaders(args) => cli::manage::sender_headers(args),
        Command::SmsSettings(args) => cli::manage::sms_settings(args),
        Command::Routes(args) => cli::routes::run(args),
        Command::Send(args) => cli::send::send(args),
        Command::Messages(args) => cli::messages::run(args),
        Command::Campaign(args) => cli::campaign::run(args),
        Command::Credit(args) => cli::api::credit(args),
        Command::Inbound(args) => cli::inbox::inbound(args),
        Command::Count(args) => cli::count::run(args),
        Command::CheckNumber(args) => cli::check::run_number(args),
        Command::CheckTckn(args) => cli::check::run_tckn(args),
        Command::SmscSim(args) => cli::smpp::run_sim(args),
        Command::Smpp(args) => cli::smpp::run_smpp(args),
    };
    cli::out::exit(code)
}
