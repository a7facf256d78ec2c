//! CLI commands over the API for customer accounts, templates, sender headers and the SMS
//! settings (`ULAK_URL`, `ULAK_API_KEY`; tables by default, `--json` for scripts).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::api::{Client, Connection, print_import, run_async, table, text};
use super::out::outln;

/// `ulak customers …`
#[derive(Debug, Args)]
pub struct CustomersArgs {
    #[command(flatten)]
    conn: Connection,
    #[command(subcommand)]
    command: CustomersCommand,
}

#[derive(Debug, Subcommand)]
enum CustomersCommand {
    /// List customer accounts.
    List {
        /// Search in codes, titles and phones.
        #[arg(long)]
        search: Option<String>,
        /// How many (at most 500).
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Add one customer account.
    Add {
        /// Code (the accounting system's key).
        #[arg(long)]
        code: String,
        /// Title (ünvan).
        #[arg(long)]
        title: String,
        /// Mobile number; repeat for several.
        #[arg(long = "phone", required = true)]
        phones: Vec<String>,
        /// customer (default) or supplier.
        #[arg(long, default_value = "customer")]
        kind: String,
        /// Balance in kuruş.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        balance_minor: i64,
    },
    /// Import a CSV or XLSX file (first row is the header).
    Import {
        /// The file.
        file: PathBuf,
        /// Column mapping as JSON, e.g. '{"code":"Cari Kod","title":"Ünvan","phones":"GSM"}'.
        #[arg(long)]
        mapping: Option<String>,
        /// all-or-nothing (default) or skip-invalid.
        #[arg(long, default_value = "all-or-nothing")]
        mode: String,
    },
}

/// `ulak templates …`
#[derive(Debug, Args)]
pub struct TemplatesArgs {
    #[command(flatten)]
    conn: Connection,
    #[command(subcommand)]
    command: TemplatesCommand,
}

#[derive(Debug, Subcommand)]
enum TemplatesCommand {
    /// List templates.
    List,
    /// Save a template; its placeholders are checked.
    Add {
        /// Name.
        name: String,
        /// Text with `{{field}}` placeholders.
        #[arg(long)]
        body: String,
    },
}

/// `ulak sender-headers …`
#[derive(Debug, Args)]
pub struct SenderHeadersArgs {
    #[command(flatten)]
    conn: Connection,
    #[command(subcommand)]
    command: SenderHeadersCommand,
}

#[derive(Debug, Subcommand)]
enum SenderHeadersCommand {
    /// List sender headers.
    List,
    /// Add a sender header (admin).
    Add {
        /// The originator: up to 11 letters/digits, or 3 to 15 digits.
        name: String,
        /// Make it the default.
        #[arg(long)]
        default: bool,
    },
}

/// `ulak sms-settings …`
#[derive(Debug, Args)]
pub struct SmsSettingsArgs {
    #[command(flatten)]
    conn: Connection,
    #[command(subcommand)]
    command: SmsSettingsCommand,
}

#[derive(Debug, Subcommand)]
enum SmsSettingsCommand {
    /// Show the company's SMS settings.
    Show,
    /// Change them (admin); only the given options change.
    Set {
        /// TR, AZ or KKTC.
        #[arg(long)]
        country_type: Option<String>,
        /// The TC-ID sender header ("" clears it).
        #[arg(long)]
        tckn_sender: Option<String>,
        /// Whether the TC-ID subscription is active.
        #[arg(long)]
        tckn_subscription_active: Option<bool>,
        /// OTP account user name ("" clears it).
        #[arg(long)]
        otp_username: Option<String>,
        /// Read the OTP password from this environment variable (never from the command
        /// line, where other users could see it).
        #[arg(long, value_name = "VAR")]
        otp_password_env: Option<String>,
        /// Opt-out keywords, comma-separated (e.g. RET,IPTAL).
        #[arg(long, value_delimiter = ',')]
        opt_out_keywords: Option<Vec<String>>,
    },
}

/// Prints `v` as JSON or through `human`.
fn out(v: &Value, json_out: bool, human: impl FnOnce(&Value)) {
    if json_out {
        outln!("{v}");
    } else {
        human(v);
    }
}

/// The rows of a page's items.
fn rows(page: &Value, f: impl Fn(&Value) -> Vec<String>) -> Vec<Vec<String>> {
    page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(f)
        .collect()
}

/// Runs `ulak customers …`.
pub fn customers(args: CustomersArgs) -> ExitCode {
    run_async(async move {
        let c = Client::new(&args.conn)?;
        let j = args.conn.json;
        match args.command {
            CustomersCommand::List { search, limit } => {
                let mut q = vec![("limit", limit.to_string())];
                if let Some(s) = search {
                    q.push(("search", s));
                }
                let page = c.get("/customers", &q).await?;
                out(&page, j, |p| {
                    let r = rows(p, |a| {
                        let phones: Vec<String> = a["phones"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(text)
                            .collect();
                        vec![
                            text(&a["id"]),
                            text(&a["code"]),
                            text(&a["title"]),
                            text(&a["kind"]),
                            phones.join(", "),
                            text(&a["balance_minor"]),
                        ]
                    });
                    table(
                        &["ID", "CODE", "TITLE", "KIND", "PHONES", "BALANCE (KURUŞ)"],
                        &r,
                    );
                });
            }
            CustomersCommand::Add {
                code,
                title,
                phones,
                kind,
                balance_minor,
            } => {
                let a = c
                    .post(
                        "/customers",
                        json!({"code": code, "title": title, "phones": phones, "kind": kind,
                               "balance_minor": balance_minor}),
                    )
                    .await?;
                out(&a, j, |a| {
                    outln!(
                        "added customer account {} ({})",
                        text(&a["id"]),
                        text(&a["code"])
                    );
                });
            }
            CustomersCommand::Import {
                file,
                mapping,
                mode,
            } => {
                let r = c
                    .import("/customers/import", &file, mapping, mode, None)
                    .await?;
                print_import(&r, j);
            }
        }
        Ok(())
    })
}

/// Runs `ulak templates …`.
pub fn templates(args: TemplatesArgs) -> ExitCode {
    run_async(async move {
        let c = Client::new(&args.conn)?;
        let j = args.conn.json;
        match args.command {
            TemplatesCommand::List => {
                let page = c.get("/templates", &[("limit", "500".into())]).await?;
                out(&page, j, |p| {
                    let r = rows(p, |t| {
                        vec![text(&t["id"]), text(&t["name"]), text(&t["body"])]
                    });
                    table(&["ID", "NAME", "BODY"], &r);
                });
            }
            TemplatesCommand::Add { name, body } => {
                let t = c
                    .post("/templates", json!({"name": name, "body": body}))
                    .await?;
                out(&t, j, |t| {
                    let fields: Vec<String> = t["fields"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(text)
                        .collect();
                    outln!(
                        "saved template {} ({}); fields: {}",
                        text(&t["id"]),
                        text(&t["name"]),
                        if fields.is_empty() {
                            "none".to_owned()
                        } else {
                            fields.join(", ")
                        }
                    );
                });
            }
        }
        Ok(())
    })
}

/// Runs `ulak sender-headers …`.
pub fn sender_headers(args: SenderHeadersArgs) -> ExitCode {
    run_async(async move {
        let c = Client::new(&args.conn)?;
        let j = args.conn.json;
        match args.command {
            SenderHeadersCommand::List => {
                let page = c.get("/sender-headers", &[("limit", "500".into())]).await?;
                out(&page, j, |p| {
                    let r = rows(p, |h| {
                        let d = if h["is_default"].as_bool() == Some(true) {
                            "yes"
                        } else {
                            ""
                        };
                        vec![text(&h["id"]), text(&h["name"]), d.to_owned()]
                    });
                    table(&["ID", "NAME", "DEFAULT"], &r);
                });
            }
            SenderHeadersCommand::Add { name, default } => {
                let h = c
                    .post(
                        "/sender-headers",
                        json!({"name": name, "is_default": default}),
                    )
                    .await?;
                out(&h, j, |h| {
                    outln!(
                        "added sender header {} ({})",
                        text(&h["id"]),
                        text(&h["name"])
                    );
                });
            }
        }
        Ok(())
    })
}

/// Runs `ulak sms-settings …`.
pub fn sms_settings(args: SmsSettingsArgs) -> ExitCode {
    run_async(async move {
        let c = Client::new(&args.conn)?;
        let j = args.conn.json;
        let s = match args.command {
            SmsSettingsCommand::Show => c.get("/sms-settings", &[]).await?,
            SmsSettingsCommand::Set {
                country_type,
                tckn_sender,
                tckn_subscription_active,
                otp_username,
                otp_password_env,
                opt_out_keywords,
            } => {
                let mut body = Map::new();
                let clearable = |v: String| {
                    if v.is_empty() {
                        Value::Null
                    } else {
                        Value::String(v)
                    }
                };
                if let Some(v) = country_type {
                    body.insert("country_type".into(), Value::String(v.to_uppercase()));
                }
                if let Some(v) = tckn_sender {
                    body.insert("tckn_sender".into(), clearable(v));
                }
                if let Some(v) = tckn_subscription_active {
                    body.insert("tckn_subscription_active".into(), Value::Bool(v));
                }
                if let Some(v) = otp_username {
                    body.insert("otp_username".into(), clearable(v));
                }
                if let Some(var) = otp_password_env {
                    let p = std::env::var(&var).map_err(|_| {
                        anyhow::anyhow!("the environment variable {var} is not set")
                    })?;
                    body.insert("otp_password".into(), clearable(p));
                }
                if let Some(k) = opt_out_keywords {
                    body.insert("opt_out_keywords".into(), json!(k));
                }
                if body.is_empty() {
                    anyhow::bail!("nothing to change: give at least one option (see --help)");
                }
                c.call(Method::PATCH, "/sms-settings", Value::Object(body))
                    .await?
            }
        };
        out(&s, j, |s| {
            let yes_no = |v: &Value| {
                if v.as_bool() == Some(true) {
                    "yes"
                } else {
                    "no"
                }
            };
            outln!("country type:             {}", text(&s["country_type"]));
            outln!("TC-ID sender header:      {}", text(&s["tckn_sender"]));
            outln!(
                "TC-ID subscription:       {}",
                yes_no(&s["tckn_subscription_active"])
            );
            outln!("OTP user name:            {}", text(&s["otp_username"]));
            outln!(
                "OTP password stored:      {}",
                yes_no(&s["has_otp_password"])
            );
        });
        Ok(())
    })
}
