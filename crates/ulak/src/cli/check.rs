//! `ulak check-number` and `ulak check-tckn`.

use std::process::ExitCode;

use clap::Args;

/// Arguments of `ulak check-number`.
#[derive(Debug, Args)]
pub struct CheckNumberArgs {
    /// The number as written by a person.
    pub number: String,
}

/// Arguments of `ulak check-tckn`.
#[derive(Debug, Args)]
pub struct CheckTcknArgs {
    /// The 11-digit TC ID number.
    pub tckn: String,
}

/// Runs `check-number`.
pub fn run_number(_args: CheckNumberArgs) -> ExitCode {
    ExitCode::from(2)
}

/// Runs `check-tckn`.
pub fn run_tckn(_args: CheckTcknArgs) -> ExitCode {
    ExitCode::from(2)
}
