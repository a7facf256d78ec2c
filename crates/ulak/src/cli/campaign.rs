//! `ulak campaign …`: bulk sends over the API, with a progress line while waiting.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};
use ulak_core::model::{CampaignState, MessageState};

use super::api::{Client, Connection, run_async, text};
use super::out::{err, errln, outln};
use super::time::Clock;

/// `ulak campaign …`
#[derive(Debug, Args)]
pub struct CampaignArgs {
    #[command(flatten)]
    conn: Connection,
    #[command(subcommand)]
    command: CampaignCommand,
}

#[derive(Debug, Subcommand)]
enum CampaignCommand {
    /// Create a campaign (a draft unless --start).
    Create {
        /// Name.
        #[arg(long)]
        name: String,
        /// A group (name or id); repeat for several.
        #[arg(long = "group")]
        groups: Vec<String>,
        /// A number; repeat for several.
        #[arg(long = "number")]
        numbers: Vec<String>,
        /// The text; `{{ad}}` and other fields are filled per recipient.
        #[arg(long)]
        text: String,
        /// Sender header (default: the company's default).
        #[arg(long)]
        sender: Option<String>,
        /// Start at once.
        #[arg(long)]
        start: bool,
        /// After starting, wait until it finishes, with a progress line.
        #[arg(long, requires = "start")]
        wait: bool,
    },
    /// What a draft would send: recipients, cost, who is left out and why.
    Preview {
        /// Campaign id.
        id: i64,
    },
    /// Start a draft.
    Start {
        /// Campaign id.
        id: i64,
        /// Wait until it finishes, with a progress line.
        #[arg(long)]
        wait: bool,
    },
    /// Counts per state (with --wait: until it finishes).
    Status {
        /// Campaign id.
        id: i64,
        /// Wait until it finishes, with a progress line.
        #[arg(long)]
        wait: bool,
    },
    /// Pause a running campaign.
    Pause {
        /// Campaign id.
        id: i64,
    },
    /// Resume a paused campaign.
    Resume {
        /// Campaign id.
        id: i64,
    },
    /// Cancel a campaign; what is not yet sent is not.
    Cancel {
        /// Campaign id.
        id: i64,
    },
    /// Its messages as CSV (one row per recipient, with state and times), streamed.
    Export {
        /// Campaign id.
        id: i64,
        /// Write to this file (default: standard output).
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
}

/// The state of a campaign the API answered with.
fn campaign_state(v: &Value) -> Option<CampaignState> {
    v["state"].as_str().and_then(|s| s.parse().ok())
}

/// One line: state, counts, and a bar of the final share.
fn line(c: &Value) -> String {
    let counts = c["counts"].as_object().cloned().unwrap_or_default();
    let total: i64 = counts.values().filter_map(Value::as_i64).sum();
    let open: i64 = counts
        .iter()
        .filter(|(k, _)| k.parse::<MessageState>().is_ok_and(|s| !s.is_final()))
        .filter_map(|(_, v)| v.as_i64())
        .sum();
    let done = total - open;
    let width = 30;
    let filled = if total > 0 {
        (done * width / total) as usize
    } else {
        0
    };
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!(
        "campaign {} {:<9} [{}{}] {done}/{total}  {}{}",
        text(&c["id"]),
        text(&c["state"]),
        "#".repeat(filled),
        " ".repeat(width as usize - filled),
        parts.join(", "),
        queueing(&c["queueing"])
    )
}

/// The queueing's progress while it is under way, and what a cancel left unwritten.
fn queueing(q: &Value) -> String {
    let of = |n: &Value| match n.as_i64() {
        Some(n) => format!("/{n}"),
        None => String::new(),
    };
    match q["state"].as_str() {
        Some(s @ ("pricing" | "active" | "halted")) => {
            format!(
                "  (queueing {s} {}{})",
                text(&q["written"]),
                of(&q["total"])
            )
        }
        _ => match q["not_queued"].as_i64() {
            Some(n) if n > 0 => format!("  (not queued {n})"),
            _ => String::new(),
        },
    }
}

async fn wait(c: &Client, id: i64, json_out: bool) -> anyhow::Result<Value> {
    let start = Instant::now();
    loop {
        let v = c.get(&format!("/campaigns/{id}"), &[]).await?;
        let state = campaign_state(&v);
        if !json_out {
            err!("\r{}", line(&v));
        }
        if state.is_some_and(CampaignState::is_final)
            || (state == Some(CampaignState::Paused) && start.elapsed() > Duration::from_secs(1))
        {
            if !json_out {
                errln!();
            }
            return Ok(v);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Prints a campaign: JSON, or its line, reason and times on the company's clock.
fn show(v: &Value, clock: Option<&Clock>) {
    let Some(clock) = clock else {
        outln!("{v}");
        return;
    };
    outln!("{}", line(v));
    if let Some(r) = v["state_reason"].as_str() {
        outln!("  {r}");
    }
    let times: Vec<String> = [
        ("created", "created_at"),
        ("started", "started_at"),
        ("finished", "finished_at"),
    ]
    .iter()
    .filter(|(_, k)| !v[*k].is_null())
    .map(|(what, k)| format!("{what} {}", clock.at(&v[*k])))
    .collect();
    if !times.is_empty() {
        outln!("  {}", times.join(", "));
    }
}

/// Runs `ulak campaign …`.
pub fn run(args: CampaignArgs) -> ExitCode {
    run_async(async move {
        let c = Client::new(&args.conn)?;
        let j = args.conn.json;
        let (v, wait_for) = match args.command {
            CampaignCommand::Create {
                name,
                groups,
                numbers,
                text: body,
                sender,
                start,
                wait,
            } => {
                let mut group_ids = Vec::new();
                for g in &groups {
                    group_ids.push(c.group_id(g).await?);
                }
                let v = c
                    .post(
                        "/campaigns",
                        json!({"name": name, "text": body, "sender": sender, "start": start,
                               "audience": {"group_ids": group_ids, "numbers": numbers}}),
                    )
                    .await?;
                (v, wait)
            }
            CampaignCommand::Preview { id } => {
                let p = c.get(&format!("/campaigns/{id}/preview"), &[]).await?;
                if j {
                    outln!("{p}");
                } else {
                    outln!(
                        "{} recipients, {} segments, cost {} (balance {}), {} duplicates collapsed, {} left out",
                        text(&p["recipients"]),
                        text(&p["segments"]),
                        text(&p["cost"]),
                        text(&p["balance"]),
                        text(&p["duplicates"]),
                        text(&p["skipped_total"])
                    );
                    for s in p["skipped"].as_array().into_iter().flatten().take(50) {
                        outln!("  {}: {}", text(&s["address"]), text(&s["reason"]));
                    }
                    if let Some(first) = p["samples"].get(0) {
                        outln!("first message: {}", text(first));
                    }
                }
                return Ok(());
            }
            CampaignCommand::Start { id, wait } => (
                c.call(Method::POST, &format!("/campaigns/{id}/start"), json!(null))
                    .await?,
                wait,
            ),
            CampaignCommand::Status { id, wait } => {
                (c.get(&format!("/campaigns/{id}"), &[]).await?, wait)
            }
            CampaignCommand::Pause { id } => (
                c.call(Method::POST, &format!("/campaigns/{id}/pause"), json!(null))
                    .await?,
                false,
            ),
            CampaignCommand::Resume { id } => (
                c.call(
                    Method::POST,
                    &format!("/campaigns/{id}/resume"),
                    json!(null),
                )
                .await?,
                false,
            ),
            CampaignCommand::Export { id, output } => {
                return super::export::campaign(&c, id, output.as_deref()).await;
            }
            CampaignCommand::Cancel { id } => (
                c.call(
                    Method::POST,
                    &format!("/campaigns/{id}/cancel"),
                    json!(null),
                )
                .await?,
                false,
            ),
        };
        let v = if wait_for {
            let id = v["id"].as_i64().unwrap_or_default();
            wait(&c, id, j).await?
        } else {
            v
        };
        let clock = if j { None } else { Some(c.clock().await) };
        show(&v, clock.as_ref());
        if wait_for && campaign_state(&v) == Some(CampaignState::Paused) {
            bail!(super::api::Refused(
                200,
                json!({"detail": format!("campaign paused: {}", text(&v["state_reason"]))})
            ));
        }
        Ok(())
    })
}
