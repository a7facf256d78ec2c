//! The `ulak` binary: the server (later issues) and the command-line tools.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Ulak: self-hosted corporate messaging hub for Turkey, Azerbaijan and KKTC.
#[derive(Debug, Parser)]
#[command(name = "ulak", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Count characters and SMS segments of a text (reads stdin when --text is absent).
    Count(cli::count::CountArgs),
    /// Validate and normalise a phone number to E.164.
    CheckNumber(cli::check::CheckNumberArgs),
    /// Validate a TC ID number (TC kimlik no).
    CheckTckn(cli::check::CheckTcknArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Count(args) => cli::count::run(args),
        Command::CheckNumber(args) => cli::check::run_number(args),
        Command::CheckTckn(args) => cli::check::run_tckn(args),
    }
}
