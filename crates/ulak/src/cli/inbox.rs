//! `ulak inbound list`: messages subscribers sent to the company's numbers.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::api::{Client, Connection, more, run_async, table, text};
use super::out::outln;

/// `ulak inbound …`
#[derive(Debug, Args)]
pub struct InboundArgs {
    #[command(flatten)]
    conn: Connection,
    #[command(subcommand)]
    command: InboundCommand,
}

#[derive(Debug, Subcommand)]
enum InboundCommand {
    /// List inbound messages, oldest first.
    List {
        /// How many (at most 500).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Go on from this cursor (printed under a full page).
        #[arg(long)]
        cursor: Option<String>,
    },
}

/// Runs `ulak inbound …`.
pub fn inbound(args: InboundArgs) -> ExitCode {
    run_async(async move {
        let c = Client::new(&args.conn)?;
        match args.command {
            InboundCommand::List { limit, cursor } => {
                let mut q = vec![("limit", limit.to_string())];
                if let Some(cur) = cursor {
                    q.push(("cursor", cur));
                }
                let page = c.get("/inbound", &q).await?;
                if args.conn.json {
                    outln!("{page}");
                    return Ok(());
                }
                let clock = c.clock().await;
                let rows: Vec<Vec<String>> = page["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| {
                        // A text that could not be decoded is shown as its bytes.
                        let body = match m["body_raw"].as_str() {
                            Some(hex) => format!(
                                "[undecoded, data_coding {}] {hex}",
                                text(&m["data_coding"])
                            ),
                            None => text(&m["text"]),
                        };
                        let opt_out = if m["opt_out"].as_bool() == Some(true) {
                            "yes"
                        } else {
                            ""
                        };
                        vec![
                            text(&m["id"]),
                            clock.at(&m["received_at"]),
                            text(&m["sender"]),
                            text(&m["recipient"]),
                            body,
                            opt_out.to_owned(),
                        ]
                    })
                    .collect();
                table(&["ID", "RECEIVED", "FROM", "TO", "TEXT", "OPT-OUT"], &rows);
                more(&page);
            }
        }
        Ok(())
    })
}
