//! `ulak check-number` and `ulak check-tckn`.
//!
//! Both print the normalised value and exit 0 when valid; when invalid they
//! print the reason and exit 2 (the same code clap uses for bad usage, so
//! scripts can treat "not usable" uniformly). With `--json` exactly one JSON
//! object goes to stdout in both cases.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};
use ulak_core::{CountryType, Msisdn, Tckn};

/// Exit code for an invalid number.
const INVALID: u8 = 2;

/// Arguments of `ulak check-number`.
#[derive(Debug, Args)]
pub struct CheckNumberArgs {
    /// The number as written by a person.
    // Numbers are sometimes written with a leading '-' by mistake; let the
    // validator report that instead of clap taking it for an option.
    #[arg(allow_hyphen_values = true)]
    pub number: String,

    /// Country type used to read national forms: TR, AZ or KKTC
    /// (case-insensitive). An explicit country code in the number wins.
    #[arg(long, default_value = "TR", value_parser = parse_country)]
    pub country: CountryType,

    /// Print one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `ulak check-tckn`.
#[derive(Debug, Args)]
pub struct CheckTcknArgs {
    /// The 11-digit TC ID number.
    #[arg(allow_hyphen_values = true)]
    pub tckn: String,

    /// Print one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

/// clap value parser for `--country`; an unknown value is a usage error.
pub(super) fn parse_country(s: &str) -> Result<CountryType, String> {
    s.parse::<CountryType>().map_err(|e| e.to_string())
}

/// Runs `check-number`.
pub fn run_number(args: CheckNumberArgs) -> ExitCode {
    match Msisdn::parse(&args.number, args.country) {
        Ok(m) => {
            if args.json {
                print_json(&json!({
                    "valid": true,
                    "input": args.number,
                    "e164": m.e164(),
                    "zone": m.zone().as_str(),
                    "national": m.national(),
                    "country_code": m.country_code(),
                }));
            } else {
                print_out(&format!(
                    "valid\ne164:     {}\nzone:     {}\nnational: {}",
                    m.e164(),
                    m.zone(),
                    m.national()
                ));
            }
            ExitCode::SUCCESS
        }
        Err(e) => invalid(args.json, &args.number, &e.to_string(), e.code()),
    }
}

/// Runs `check-tckn`.
pub fn run_tckn(args: CheckTcknArgs) -> ExitCode {
    match Tckn::parse(&args.tckn) {
        Ok(t) => {
            if args.json {
                print_json(&json!({
                    "valid": true,
                    "input": args.tckn,
                    "tckn": t.to_string(),
                    "masked": t.masked(),
                }));
            } else {
                print_out(&format!("valid TC kimlik no: {t}"));
            }
            ExitCode::SUCCESS
        }
        Err(e) => invalid(args.json, &args.tckn, &e.to_string(), e.code()),
    }
}

/// Reports an invalid value: JSON on stdout, or the reason on stderr.
fn invalid(json_mode: bool, input: &str, reason: &str, code: &str) -> ExitCode {
    if json_mode {
        print_json(&json!({
            "valid": false,
            "input": input,
            "reason": reason,
            "code": code,
        }));
    } else {
        // A closed stderr leaves nothing better to do; the exit code still
        // tells the caller.
        let _ = writeln!(std::io::stderr(), "invalid: {reason}");
    }
    ExitCode::from(INVALID)
}

/// Prints one compact JSON object and a newline on stdout.
fn print_json(value: &Value) {
    print_out(&value.to_string());
}

/// Writes a line to stdout without panicking on a closed pipe (e.g. `| head`).
fn print_out(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}
