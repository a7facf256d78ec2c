//! `ulak routes list|add|remove`: which provider account each message goes through
//! (`ULAK_URL`, `ULAK_API_KEY`; a table by default, `--json` for scripts).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::api::{Client, Connection, run_async, table, text};
use super::out::outln;

/// `ulak routes …`
#[derive(Debug, Args)]
pub struct RoutesArgs {
    #[command(flatten)]
    conn: Connection,
    #[command(subcommand)]
    command: RoutesCommand,
}

#[derive(Debug, Subcommand)]
enum RoutesCommand {
    /// List the company's routes in the order they are tried.
    List,
    /// Add a route (admin); a message goes through the first route it fits.
    Add {
        /// Order among the routes: lower is tried first.
        #[arg(long, default_value_t = 100)]
        position: u32,
        /// Match only this recipient kind: msisdn or tckn.
        #[arg(long)]
        kind: Option<String>,
        /// Match only this zone: tr, kktc, az or other.
        #[arg(long)]
        zone: Option<String>,
        /// Match only numbers starting with these digits (E.164 without +, e.g. 90533).
        #[arg(long)]
        prefix: Option<String>,
        /// Match only this traffic class: otp, transactional or campaign.
        #[arg(long)]
        class: Option<String>,
        /// A provider account id, with a weight as ID:WEIGHT (default 1); repeat for several.
        #[arg(long = "account", required = true, value_name = "ID[:WEIGHT]")]
        accounts: Vec<String>,
    },
    /// Remove a route (admin).
    Remove {
        /// The route's id.
        id: i64,
    },
}

/// `ID[:WEIGHT]` as a route target.
fn target(s: &str) -> anyhow::Result<Value> {
    let (id, weight) = match s.split_once(':') {
        Some((id, w)) => (id, Some(w)),
        None => (s, None),
    };
    let id: i64 = id
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("--account {s:?}: expected an account id, e.g. 3 or 3:10"))?;
    Ok(match weight {
        None => json!({"account_id": id}),
        Some(w) => {
            let w: u32 = w.trim().parse().map_err(|_| {
                anyhow::anyhow!("--account {s:?}: the weight is a number, 1 to 1000")
            })?;
            json!({"account_id": id, "weight": w})
        }
    })
}

/// A route's match, as one cell ("any" when it matches everything).
fn matches(r: &Value) -> String {
    let parts: Vec<String> = ["recipient_kind", "zone", "prefix", "class"]
        .iter()
        .filter(|f| !r[**f].is_null())
        .map(|f| format!("{}={}", f, text(&r[*f])))
        .collect();
    if parts.is_empty() {
        "any".to_owned()
    } else {
        parts.join(" ")
    }
}

/// A route's accounts, as one cell (`ID×WEIGHT`).
fn targets(r: &Value) -> String {
    r["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| format!("{}×{}", text(&t["account_id"]), text(&t["weight"])))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `ulak routes …`.
pub fn run(args: RoutesArgs) -> ExitCode {
    run_async(async move {
        let c = Client::new(&args.conn)?;
        let j = args.conn.json;
        match args.command {
            RoutesCommand::List => {
                let page = c.get("/routes", &[]).await?;
                if j {
                    outln!("{page}");
                    return Ok(());
                }
                let rows: Vec<Vec<String>> = page["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| vec![text(&r["id"]), text(&r["position"]), matches(r), targets(r)])
                    .collect();
                table(&["ID", "POSITION", "MATCH", "ACCOUNTS×WEIGHT"], &rows);
            }
            RoutesCommand::Add {
                position,
                kind,
                zone,
                prefix,
                class,
                accounts,
            } => {
                let targets = accounts
                    .iter()
                    .map(|a| target(a))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let body = json!({
                    "position": position, "recipient_kind": kind, "zone": zone,
                    "prefix": prefix, "class": class, "targets": targets,
                });
                let r = c.post("/routes", body).await?;
                if j {
                    outln!("{r}");
                } else {
                    outln!(
                        "added route {} (position {}): {} → {}",
                        text(&r["id"]),
                        text(&r["position"]),
                        matches(&r),
                        self::targets(&r)
                    );
                }
            }
            RoutesCommand::Remove { id } => {
                c.delete(&format!("/routes/{id}")).await?;
                if j {
                    outln!("{}", json!({"removed": id}));
                } else {
                    outln!("removed route {id}");
                }
            }
        }
        Ok(())
    })
}
