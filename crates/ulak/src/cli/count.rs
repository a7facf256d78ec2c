//! `ulak count`.

use std::process::ExitCode;

use clap::Args;

/// Arguments of `ulak count`.
#[derive(Debug, Args)]
pub struct CountArgs {
    /// The text; standard input is read exactly as given when absent.
    #[arg(long)]
    pub text: Option<String>,
}

/// Runs `count`.
pub fn run(_args: CountArgs) -> ExitCode {
    ExitCode::from(2)
}
