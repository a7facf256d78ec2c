//! `ulak serve`: the HTTP API on SQLite (default) or PostgreSQL.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;
use ulak_server::{App, Layer, Settings};

/// Arguments of `ulak serve`; each overrides `ulak.toml` and `ULAK_*`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (default: ./ulak.toml when it exists).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Data directory for the embedded database and keys (default ./ulak-data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// `postgres://…` for PostgreSQL (default: SQLite in the data directory).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Log filter, e.g. `info` or `ulak_server=debug`.
    #[arg(long)]
    pub log: Option<String>,
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(args: ServeArgs) -> ExitCode {
    let flags = Layer {
        listen: args.listen,
        data_dir: args.data_dir,
        database_url: args.database_url,
        log: args.log,
        ..Layer::default()
    };
    let settings = match Settings::load(args.config.as_deref(), std::env::vars(), flags) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ulak serve: {e}");
            return ExitCode::from(2);
        }
    };
    init_logs(&settings.log);
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|rt| {
            let r = rt.block_on(serve(settings));
            // Work still running (a request cut off at the stop) is dropped, not awaited.
            rt.shutdown_timeout(std::time::Duration::from_millis(500));
            r
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ulak serve: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logs(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = App::build(settings).await?;
    let addr = app.local_addr()?;
    let first = app.first_start().clone();
    // Shown once, on standard output, never in the logs.
    if let Some(key) = &first.api_key {
        println!("System administrator API key (shown once, store it now): {key}");
    }
    if let Some(password) = &first.admin_password {
        println!("User 'admin' of company 'default', password (shown once): {password}");
    }
    println!(
        "Ulak listening on http://{addr} (API under /api/v1, OpenAPI at /api/v1/openapi.json)"
    );
    let stop = CancellationToken::new();
    let signal_stop = stop.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        signal_stop.cancel();
    });
    app.run_until_stopped(stop).await?;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
