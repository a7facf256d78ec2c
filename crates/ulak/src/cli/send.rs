//! `ulak send`: single sends over the API.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use serde_json::{Map, Value, json};
use ulak_core::model::MessageState;

use super::api::{Client, Connection, run_async, table, text};
use super::out::outln;
use super::time::Clock;

/// `ulak send`: one message.
#[derive(Debug, Args)]
pub struct SendArgs {
    #[command(flatten)]
    conn: Connection,
    /// Mobile number, or an 11-digit TC ID number.
    #[arg(long)]
    to: String,
    /// The text (or --template).
    #[arg(long, conflicts_with = "template")]
    text: Option<String>,
    /// A saved template's id.
    #[arg(long)]
    template: Option<i64>,
    /// A template field, `name=value`; repeat for several.
    #[arg(long = "field", value_name = "NAME=VALUE")]
    fields: Vec<String>,
    /// Sender header (default: the company's default).
    #[arg(long)]
    sender: Option<String>,
    /// Makes a retry of this command safe: the same key within 24 h sends nothing new.
    #[arg(long)]
    idempotency_key: Option<String>,
    /// Wait until the message is final and print its outcome (exit 1 unless delivered).
    #[arg(long)]
    wait: bool,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

/// Prints a message's state and history, times on the company's clock.
pub(crate) fn print_message(m: &Value, clock: &Clock) {
    let reason = match m["state_reason"].as_str() {
        Some(r) => format!(" ({r})"),
        None => String::new(),
    };
    outln!(
        "message {}: {} since {}{reason}",
        text(&m["id"]),
        text(&m["state"]),
        clock.at(&m["state_at"]),
    );
    outln!(
        "to {} from {}, {} segment(s) in {}, cost {}",
        text(&m["recipient"]),
        text(&m["sender"]),
        text(&m["segments"]),
        text(&m["encoding"]),
        text(&m["cost"])
    );
    let rows: Vec<Vec<String>> = m["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| vec![clock.at(&e["at"]), text(&e["state"]), text(&e["detail"])])
        .collect();
    table(&["AT", "STATE", "DETAIL"], &rows);
}

/// Runs `ulak send`.
pub fn send(args: SendArgs) -> ExitCode {
    run_async(async move {
        let c = Client::new(&args.conn)?;
        let mut body = Map::new();
        body.insert("to".into(), Value::String(args.to.clone()));
        match (&args.text, args.template) {
            (Some(t), _) => {
                body.insert("text".into(), Value::String(t.clone()));
            }
            (None, Some(id)) => {
                body.insert("template_id".into(), json!(id));
                let mut fields = Map::new();
                for f in &args.fields {
                    let Some((k, v)) = f.split_once('=') else {
                        bail!("--field {f:?}: expected NAME=VALUE");
                    };
                    fields.insert(k.to_owned(), Value::String(v.to_owned()));
                }
                body.insert("fields".into(), Value::Object(fields));
            }
            (None, None) => bail!("give --text or --template"),
        }
        if let Some(s) = &args.sender {
            body.insert("sender".into(), Value::String(s.clone()));
        }
        let mut req = c
            .http
            .post(format!("{}/messages", c.base))
            .json(&Value::Object(body));
        if let Some(k) = &args.idempotency_key {
            req = req.header("Idempotency-Key", k);
        }
        let accepted = c.send(req).await?;
        let id = accepted["id"].as_i64().unwrap_or_default();
        if !args.wait {
            if args.conn.json {
                outln!("{accepted}");
            } else {
                outln!(
                    "queued message {id} to {}: {} segment(s) in {}, cost {}",
                    text(&accepted["recipient"]),
                    text(&accepted["segments"]),
                    text(&accepted["encoding"]),
                    text(&accepted["cost"])
                );
            }
            return Ok(());
        }
        let deadline = Instant::now() + Duration::from_secs(args.timeout);
        let m = loop {
            let m = c.get(&format!("/messages/{id}"), &[]).await?;
            let state = m["state"].as_str().unwrap_or_default();
            // Final, or a state this build does not know: nothing more to wait for.
            if !state.parse::<MessageState>().is_ok_and(|s| !s.is_final()) {
                break m;
            }
            if Instant::now() > deadline {
                bail!("message {id} is still {state} after {} s", args.timeout);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        if args.conn.json {
            outln!("{m}");
        } else {
            print_message(&m, &c.clock().await);
        }
        if m["state"].as_str().and_then(|s| s.parse().ok()) != Some(MessageState::Delivered) {
            bail!(super::api::Refused(
                200,
                json!({"detail": format!("message {id} ended {}", text(&m["state"]))})
            ));
        }
        Ok(())
    })
}
