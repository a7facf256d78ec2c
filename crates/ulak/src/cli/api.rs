//! CLI commands over the REST API (`ULAK_URL`, `ULAK_API_KEY`): human tables by default,
//! `--json` for scripts. Exit codes (see [`super::conn`]): 0 on success, 1 when the server refuses,
//! 2 on bad usage, 3 when the server cannot be reached.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::conn::{Unreachable, api_base, exit_code};
use super::out::{errln, outln};
use super::time::Clock;

/// Where the server is and which key to use.
#[derive(Debug, Args)]
pub struct Connection {
    /// Server URL.
    #[arg(
        long,
        env = "ULAK_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// API key.
    #[arg(long, env = "ULAK_API_KEY", hide_env_values = true, global = true)]
    pub api_key: Option<String>,
    /// Print the server's JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// `ulak subscribers …`
#[derive(Debug, Args)]
pub struct SubscribersArgs {
    #[command(flatten)]
    conn: Connection,
    #[command(subcommand)]
    command: SubscribersCommand,
}

#[derive(Debug, Subcommand)]
enum SubscribersCommand {
    /// List subscribers.
    List {
        /// Search in names and phones.
        #[arg(long)]
        search: Option<String>,
        /// Only members of this group (name or id).
        #[arg(long)]
        group: Option<String>,
        /// How many (at most 500).
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Add one subscriber.
    Add {
        /// Name.
        #[arg(long)]
        name: String,
        /// Mobile number.
        #[arg(long)]
        phone: String,
        /// TC ID number.
        #[arg(long)]
        tckn: Option<String>,
    },
    /// Import a CSV or XLSX file (first row is the header).
    Import {
        /// The file.
        file: PathBuf,
        /// Add the imported subscribers to this group (name or id).
        #[arg(long)]
        group: Option<String>,
        /// Column mapping as JSON, e.g. '{"phone":"Telefon","name":"Ad Soyad"}'.
        #[arg(long)]
        mapping: Option<String>,
        /// all-or-nothing (default) or skip-invalid.
        #[arg(long, default_value = "all-or-nothing")]
        mode: String,
    },
}

/// `ulak groups …`
#[derive(Debug, Args)]
pub struct GroupsArgs {
    #[command(flatten)]
    conn: Connection,
    #[command(subcommand)]
    command: GroupsCommand,
}

#[derive(Debug, Subcommand)]
enum GroupsCommand {
    /// List groups.
    List,
    /// Create a group.
    Create {
        /// Name.
        name: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
    },
}

/// `ulak credit`: the remaining credit; `ulak credit add N` buys some (admin).
#[derive(Debug, Args)]
pub struct CreditArgs {
    #[command(flatten)]
    conn: Connection,
    #[command(subcommand)]
    command: Option<CreditCommand>,
}

#[derive(Debug, Subcommand)]
enum CreditCommand {
    /// Record a purchase of credits (system administrator's key).
    Add {
        /// Credits (SMS segments).
        amount: i64,
        /// Invoice number or reason.
        #[arg(long)]
        note: Option<String>,
        /// The company (id) that bought them; default: the key's own company.
        #[arg(long)]
        company: Option<i64>,
    },
    /// The ledger: purchases, reservations, charges and releases, oldest first.
    History {
        /// How many (at most 500).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Go on from this cursor (printed under a full page).
        #[arg(long)]
        cursor: Option<String>,
    },
}

pub(crate) struct Client {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) key: String,
}

impl Client {
    pub(crate) fn new(conn: &Connection) -> anyhow::Result<Client> {
        let base = api_base(&conn.url)?;
        let Some(key) = conn.api_key.clone() else {
            bail!("no API key: set ULAK_API_KEY or pass --api-key");
        };
        Ok(Client {
            http: reqwest::Client::new(),
            base,
            key,
        })
    }

    /// A transport error as [`Unreachable`]; a request that could not even be built (a bad
    /// header value) stays a usage error.
    pub(crate) fn transport(&self, e: reqwest::Error) -> anyhow::Error {
        if e.is_builder() {
            return anyhow::Error::new(e).context("cannot build the request");
        }
        let mut cause: &dyn std::error::Error = &e;
        while let Some(inner) = cause.source() {
            cause = inner;
        }
        let url = self.base.trim_end_matches("/api/v1").to_owned();
        anyhow::Error::new(Unreachable {
            url,
            reason: cause.to_string(),
        })
    }

    pub(crate) async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let res = req
            .bearer_auth(&self.key)
            .send()
            .await
            .map_err(|e| self.transport(e))?;
        let status = res.status();
        let text = res.text().await.map_err(|e| self.transport(e))?;
        let body: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if !status.is_success() {
            bail!(Refused(status.as_u16(), body));
        }
        Ok(body)
    }

    pub(crate) async fn get(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
        self.send(self.http.get(format!("{}{path}", self.base)).query(query))
            .await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(&body))
            .await
    }

    pub(crate) async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.delete(format!("{}{path}", self.base)))
            .await
    }

    /// The company's clock for showing times: its country type's zone, Europe/Istanbul when
    /// the settings cannot be read (a key without a company, an old server).
    pub(crate) async fn clock(&self) -> Clock {
        let country = match self.get("/sms-settings", &[]).await {
            Ok(s) => text(&s["country_type"]),
            Err(_) => String::new(),
        };
        Clock::for_country(&country)
    }

    /// A group id from a name or an id.
    pub(crate) async fn group_id(&self, group: &str) -> anyhow::Result<i64> {
        if let Ok(id) = group.parse::<i64>() {
            return Ok(id);
        }
        let page = self
            .get(
                "/groups",
                &[("search", group.to_owned()), ("limit", "500".into())],
            )
            .await?;
        page["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|g| {
                g["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(group))
            })
            .and_then(|g| g["id"].as_i64())
            .with_context(|| format!("no group named {group:?}"))
    }
}

impl Client {
    /// Uploads `file` to an import endpoint with its form fields.
    pub(crate) async fn import(
        &self,
        path: &str,
        file: &std::path::Path,
        mapping: Option<String>,
        mode: String,
        group: Option<i64>,
    ) -> anyhow::Result<Value> {
        let bytes =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name(name),
            )
            .text("mode", mode);
        if let Some(m) = mapping {
            form = form.text("mapping", m);
        }
        if let Some(g) = group {
            form = form.text("group_id", g.to_string());
        }
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .multipart(form),
        )
        .await
    }

    /// Sends a JSON body with `method`.
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        self.send(
            self.http
                .request(method, format!("{}{path}", self.base))
                .json(&body),
        )
        .await
    }
}

/// Prints an import's outcome and its per-row errors.
pub(crate) fn print_import(r: &Value, json_out: bool) {
    if json_out {
        outln!("{r}");
        return;
    }
    let added = r["added_to_group"].as_u64().unwrap_or(0);
    let grouped = if added > 0 {
        format!(", {added} already known added to the group")
    } else {
        String::new()
    };
    outln!(
        "{} rows: {} imported{grouped}, {} skipped",
        text(&r["rows"]),
        text(&r["imported"]),
        text(&r["skipped"])
    );
    for e in r["errors"].as_array().into_iter().flatten() {
        outln!(
            "  row {} ({}): {}",
            text(&e["row"]),
            text(&e["column"]),
            text(&e["reason"])
        );
    }
}

/// A refusal from the server: its status and problem document.
#[derive(Debug)]
pub(crate) struct Refused(pub(crate) u16, pub(crate) Value);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Refused(status, body) = self;
        let detail = body["detail"].as_str().unwrap_or("");
        write!(f, "the server answered {status}: {detail}")?;
        for e in body["errors"].as_array().into_iter().flatten() {
            write!(
                f,
                "\n  {}: {}",
                e["field"].as_str().unwrap_or("?"),
                e["message"].as_str().unwrap_or("?")
            )?;
        }
        for e in body["row_errors"].as_array().into_iter().flatten().take(50) {
            write!(
                f,
                "\n  row {} ({}): {}",
                e["row"],
                e["column"].as_str().unwrap_or("?"),
                e["reason"].as_str().unwrap_or("?")
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for Refused {}

pub(crate) fn run_async(f: impl Future<Output = anyhow::Result<()>>) -> ExitCode {
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|rt| rt.block_on(f));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            errln!("ulak: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}

/// Prints `rows` as an aligned table with `headers`.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}", w = *w))
            .collect();
        outln!("{}", parts.join("  ").trim_end());
    };
    line(headers.iter().map(|h| (*h).to_owned()).collect());
    for r in rows {
        line(r.clone());
    }
}

/// Under a page that has more: how to get the next one.
pub(crate) fn more(page: &Value) {
    if let Some(next) = page["next_cursor"].as_str() {
        outln!("more: --cursor {next}");
    }
}

pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Runs `ulak subscribers …`.
pub fn subscribers(args: SubscribersArgs) -> ExitCode {
    run_async(async move {
        let c = Client::new(&args.conn)?;
        let json_out = args.conn.json;
        match args.command {
            SubscribersCommand::List {
                search,
                group,
                limit,
            } => {
                let mut q = vec![("limit", limit.to_string())];
                if let Some(s) = search {
                    q.push(("search", s));
                }
                if let Some(g) = group {
                    q.push(("group_id", c.group_id(&g).await?.to_string()));
                }
                let page = c.get("/subscribers", &q).await?;
                if json_out {
                    outln!("{page}");
                } else {
                    let rows: Vec<Vec<String>> = page["items"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|s| {
                            vec![
                                text(&s["id"]),
                                text(&s["name"]),
                                text(&s["phone"]),
                                text(&s["zone"]),
                                text(&s["consent"]),
                            ]
                        })
                        .collect();
                    table(&["ID", "NAME", "PHONE", "ZONE", "CONSENT"], &rows);
                }
            }
            SubscribersCommand::Add { name, phone, tckn } => {
                let s = c
                    .post(
                        "/subscribers",
                        json!({"name": name, "phone": phone, "tckn": tckn}),
                    )
                    .await?;
                if json_out {
                    outln!("{s}");
                } else {
                    outln!(
                        "added subscriber {} ({})",
                        text(&s["id"]),
                        text(&s["phone"])
                    );
                }
            }
            SubscribersCommand::Import {
                file,
                group,
                mapping,
                mode,
            } => {
                let group = match group {
                    Some(g) => Some(c.group_id(&g).await?),
                    None => None,
                };
                let r = c
                    .import("/subscribers/import", &file, mapping, mode, group)
                    .await?;
                print_import(&r, json_out);
            }
        }
        Ok(())
    })
}

/// Runs `ulak groups …`.
pub fn groups(args: GroupsArgs) -> ExitCode {
    run_async(async move {
        let c = Client::new(&args.conn)?;
        match args.command {
            GroupsCommand::List => {
                let page = c.get("/groups", &[("limit", "500".into())]).await?;
                if args.conn.json {
                    outln!("{page}");
                } else {
                    let rows: Vec<Vec<String>> = page["items"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|g| vec![text(&g["id"]), text(&g["name"]), text(&g["description"])])
                        .collect();
                    table(&["ID", "NAME", "DESCRIPTION"], &rows);
                }
            }
            GroupsCommand::Create { name, description } => {
                let g = c
                    .post("/groups", json!({"name": name, "description": description}))
                    .await?;
                if args.conn.json {
                    outln!("{g}");
                } else {
                    outln!("created group {} ({})", text(&g["id"]), text(&g["name"]));
                }
            }
        }
        Ok(())
    })
}

/// Runs `ulak credit`.
pub fn credit(args: CreditArgs) -> ExitCode {
    run_async(async move {
        let c = Client::new(&args.conn)?;
        let j = args.conn.json;
        match args.command {
            Some(CreditCommand::Add {
                amount,
                note,
                company,
            }) => {
                let path = match company {
                    Some(id) => format!("/companies/{id}/credit/entries"),
                    None => "/credit/entries".to_owned(),
                };
                let e = c
                    .post(
                        &path,
                        json!({"kind": "purchase", "amount": amount, "note": note}),
                    )
                    .await?;
                if j {
                    outln!("{e}");
                } else {
                    outln!(
                        "added {amount} credits; balance {}",
                        text(&e["balance_after"])
                    );
                }
            }
            Some(CreditCommand::History { limit, cursor }) => {
                let mut q = vec![("limit", limit.to_string())];
                if let Some(cur) = cursor {
                    q.push(("cursor", cur));
                }
                let page = c.get("/credit/entries", &q).await?;
                if j {
                    outln!("{page}");
                    return Ok(());
                }
                let clock = c.clock().await;
                let rows: Vec<Vec<String>> = page["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        vec![
                            text(&e["id"]),
                            clock.at(&e["created_at"]),
                            text(&e["kind"]),
                            text(&e["amount"]),
                            text(&e["balance_after"]),
                            text(&e["note"]),
                        ]
                    })
                    .collect();
                table(&["ID", "AT", "KIND", "AMOUNT", "BALANCE", "NOTE"], &rows);
                more(&page);
            }
            None => {
                let b = c.get("/credit", &[]).await?;
                if j {
                    outln!("{b}");
                } else {
                    outln!("remaining credit: {}", text(&b["balance"]));
                }
            }
        }
        Ok(())
    })
}
