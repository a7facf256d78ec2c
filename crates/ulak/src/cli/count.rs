//! `ulak count`: what a text costs in SMS segments, as a stable scriptable contract.

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::Args;
use ulak_core::CountryType;
use ulak_core::model::TextCount;
use ulak_text::{ConcatRef, Options, Policy};

use super::out::errln;

/// Arguments of `ulak count`.
#[derive(Debug, Args)]
pub struct CountArgs {
    /// Encoding policy: gsm7-or-ucs2, turkish-single-shift or turkish-shift; default: the
    /// one `--country`'s accounts send with.
    #[arg(long, value_parser = parse_policy)]
    pub policy: Option<Policy>,
    /// TR, KKTC (`turkish-shift`) or AZ (`gsm7-or-ucs2`): the country whose default policy
    /// counts, as the server counts for a company of that country.
    #[arg(long, default_value = "TR", value_parser = super::check::parse_country)]
    pub country: CountryType,
    /// Concatenation reference size in bits: 8 or 16.
    #[arg(long = "concat-ref", default_value = "8", value_parser = parse_concat_ref)]
    pub concat_ref: ConcatRef,
    /// Print one JSON object instead of a human line.
    #[arg(long)]
    pub json: bool,
    /// The text; standard input is read exactly as given (a trailing newline counts) when absent.
    #[arg(long)]
    pub text: Option<String>,
}

fn parse_policy(s: &str) -> Result<Policy, String> {
    s.parse::<Policy>().map_err(|e| e.to_string())
}

fn parse_concat_ref(s: &str) -> Result<ConcatRef, String> {
    match s {
        "8" => Ok(ConcatRef::Eight),
        "16" => Ok(ConcatRef::Sixteen),
        other => Err(format!(
            "unknown concatenation reference size {other:?}: expected 8 or 16"
        )),
    }
}

/// Runs `count`: exit 0 on success, 2 on bad input (invalid UTF-8, too long a text).
pub fn run(args: CountArgs) -> ExitCode {
    let text = match args.text {
        Some(t) => t,
        None => {
            let mut bytes = Vec::new();
            if let Err(e) = std::io::stdin().read_to_end(&mut bytes) {
                errln!("ulak count: cannot read standard input: {e}");
                return ExitCode::from(2);
            }
            match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(e) => {
                    let at = e.utf8_error().valid_up_to();
                    errln!(
                        "ulak count: standard input is not valid UTF-8 (invalid byte at offset {at})"
                    );
                    return ExitCode::from(2);
                }
            }
        }
    };
    let opts = Options {
        policy: args
            .policy
            .unwrap_or_else(|| args.country.default_text_policy()),
        concat_ref: args.concat_ref,
    };
    let count = match TextCount::new(&text, &opts) {
        Ok(c) => c,
        Err(e) => {
            errln!("ulak count: {e}");
            return ExitCode::from(2);
        }
    };
    let out = if args.json {
        match serde_json::to_string(&count) {
            Ok(s) => s,
            Err(e) => {
                errln!("ulak count: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        human(&count)
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = writeln!(stdout, "{out}");
    ExitCode::SUCCESS
}

/// One line for people: encoding, segments, characters, and room left; and a warning when
/// sending would refuse the text for its length.
fn human(t: &TextCount) -> String {
    let c = &t.count;
    let unit = match c.unit {
        ulak_text::Unit::Septet => "septets",
        ulak_text::Unit::Utf16 => "UTF-16 units",
    };
    let over = if t.too_long {
        format!(
            "; too long to send: a message has at most {} segments",
            t.max_segments
        )
    } else {
        String::new()
    };
    format!(
        "{enc}: {segs} segment{s}, {chars} characters ({units} {unit}), {rem} more fit in the last segment ({cap} per segment){over}",
        enc = c.encoding,
        segs = c.segments,
        s = if c.segments == 1 { "" } else { "s" },
        chars = c.total_chars,
        units = c.total_units,
        rem = c.remaining,
        cap = c.capacity_per_segment,
    )
}
