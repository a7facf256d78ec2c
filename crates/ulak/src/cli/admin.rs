//! `ulak admin`: recovery on the server's own data (not over the API), for when the secrets
//! the first start printed are lost. Reads the same settings as `serve`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use ulak_server::{Layer, Settings};

/// Arguments of `ulak admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Configuration file (default: ./ulak.toml when it exists).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// The server's data directory (default ./ulak-data).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// The server's `postgres://…` database (default: SQLite in the data directory).
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Give a user a new random password, printed once (a missing user is created as admin).
    ResetPassword {
        /// The company's short name.
        #[arg(long, default_value = "default")]
        company: String,
        /// The user's login.
        #[arg(long, default_value = "admin")]
        user: String,
    },
    /// Create a new system administrator API key, printed once.
    NewKey {
        /// The key's name in the key list.
        #[arg(long, default_value = "recovery")]
        name: String,
    },
}

/// Runs `ulak admin …`.
pub fn run(args: AdminArgs) -> ExitCode {
    let flags = Layer {
        data_dir: args.data_dir,
        database_url: args.database_url,
        ..Layer::default()
    };
    let settings = match Settings::load(args.config.as_deref(), std::env::vars(), flags) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ulak admin: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ulak admin: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match args.command {
            AdminCommand::ResetPassword { company, user } => ulak_server::recovery::reset_password(
                &settings, &company, &user,
            )
            .await
            .map(|r| {
                let what = if r.created {
                    "created as admin"
                } else {
                    "new password"
                };
                format!(
                    "User '{user}' of company '{company}' ({what}), password (shown once): {}",
                    r.password
                )
            }),
            AdminCommand::NewKey { name } => {
                ulak_server::recovery::new_system_admin_key(&settings, &name)
                    .await
                    .map(|key| {
                        format!("System administrator API key (shown once, store it now): {key}")
                    })
            }
        }
    });
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ulak admin: {e}");
            ExitCode::FAILURE
        }
    }
}
