//! `ulak messages …`: what was sent — one message with its history, or lists with filters.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::Value;

use super::api::{Client, Connection, more, run_async, text};
use super::out::outln;
use super::send::print_message;
use super::time::Clock;

/// `ulak messages …`
#[derive(Debug, Args)]
pub struct MessagesArgs {
    #[command(flatten)]
    conn: Connection,
    #[command(subcommand)]
    command: MessagesCommand,
}

#[derive(Debug, Subcommand)]
enum MessagesCommand {
    /// A message's state, segments and history.
    Show {
        /// Message id.
        id: i64,
    },
    /// List messages, newest first; filters combine (all must match).
    List(ListArgs),
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Only this state (queued, submitted, delivered, failed, skipped, …).
    #[arg(long)]
    state: Option<String>,
    /// Only this campaign (id).
    #[arg(long)]
    campaign: Option<i64>,
    /// Only to this number (any common form) or TC ID number.
    #[arg(long)]
    recipient: Option<String>,
    /// Only from this sender header.
    #[arg(long)]
    sender: Option<String>,
    /// Accepted at or after: `2026-12-04`, `2026-12-04 09:30` (the company's local time),
    /// RFC 3339, or unix milliseconds.
    #[arg(long)]
    from: Option<String>,
    /// Accepted before (same forms as --from).
    #[arg(long)]
    to: Option<String>,
    /// Messages per page (at most 500).
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Go on from this cursor (printed under a full page).
    #[arg(long)]
    cursor: Option<String>,
    /// Every page, not only the first (with --json: one message per line).
    #[arg(long)]
    all: bool,
}

/// Column widths of the list; fixed, so that pages printed one after another line up.
const WIDTHS: [usize; 8] = [9, 23, 13, 13, 11, 8, 4, 4];

fn print_row(cells: &[String]) {
    let parts: Vec<String> = cells
        .iter()
        .zip(WIDTHS.iter().chain(std::iter::repeat(&0)))
        .map(|(c, w)| format!("{c:<w$}", w = *w))
        .collect();
    outln!("{}", parts.join("  ").trim_end());
}

fn row(m: &Value, clock: &Clock) -> Vec<String> {
    vec![
        text(&m["id"]),
        clock.at(&m["created_at"]),
        text(&m["state"]),
        text(&m["recipient"]),
        text(&m["sender"]),
        text(&m["campaign_id"]),
        text(&m["segments"]),
        text(&m["cost"]),
        text(&m["error_code"]),
    ]
}

/// The query of `ulak messages list`, times read on the company's clock.
fn query(a: &ListArgs, clock: &Clock) -> anyhow::Result<Vec<(&'static str, String)>> {
    let mut q = vec![("limit", a.limit.to_string())];
    let texts = [
        ("state", &a.state),
        ("recipient", &a.recipient),
        ("sender", &a.sender),
    ];
    for (name, v) in texts {
        if let Some(v) = v {
            q.push((name, v.clone()));
        }
    }
    if let Some(c) = a.campaign {
        q.push(("campaign", c.to_string()));
    }
    for (name, v) in [("from", &a.from), ("to", &a.to)] {
        if let Some(v) = v {
            let ms = clock.parse(v).with_context(|| {
                format!("--{name} {v:?}: give a date, a date-time, RFC 3339 or unix ms")
            })?;
            q.push((name, ms.to_string()));
        }
    }
    Ok(q)
}

async fn list(c: &Client, a: ListArgs, json_out: bool) -> anyhow::Result<()> {
    let clock = c.clock().await;
    let base = query(&a, &clock)?;
    let mut cursor = a.cursor.clone();
    let mut first = true;
    loop {
        let mut q = base.clone();
        if let Some(cur) = cursor.take() {
            q.push(("cursor", cur));
        }
        let page = c.get("/messages", &q).await?;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if json_out && !a.all {
            outln!("{page}");
            return Ok(());
        }
        if !json_out && first {
            print_row(
                &[
                    "ID", "CREATED", "STATE", "TO", "FROM", "CAMPAIGN", "SEG", "COST", "ERROR",
                ]
                .map(String::from),
            );
        }
        first = false;
        for m in &items {
            if json_out {
                outln!("{m}");
            } else {
                print_row(&row(m, &clock));
            }
        }
        match page["next_cursor"].as_str() {
            Some(next) if a.all && !super::out::stdout_closed() => cursor = Some(next.to_owned()),
            _ => {
                if !a.all && !json_out {
                    more(&page);
                }
                return Ok(());
            }
        }
    }
}

/// Runs `ulak messages …`.
pub fn run(args: MessagesArgs) -> ExitCode {
    run_async(async move {
        let c = Client::new(&args.conn)?;
        match args.command {
            MessagesCommand::Show { id } => {
                let m = c.get(&format!("/messages/{id}"), &[]).await?;
                if args.conn.json {
                    outln!("{m}");
                } else {
                    print_message(&m, &c.clock().await);
                }
            }
            MessagesCommand::List(a) => list(&c, a, args.conn.json).await?,
        }
        Ok(())
    })
}
