//! Start-up in two steps: `App::build` does everything that can fail (settings, database,
//! binding the port — port 0 in tests); `App::run_until_stopped` only serves.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
}

impl AppState {
    /// State for building the router without a running server (the OpenAPI document).
    pub(crate) fn detached() -> AppState {
        AppState {
            inner: Arc::new(Inner {
                settings: Settings::default(),
            }),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Whether the dependencies answer.
    pub async fn ready(&self) -> bool {
        true
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// A built server, bound and ready to run.
pub struct App {
    listener: TcpListener,
    router: axum::Router,
}

impl App {
    /// Does every fallible start-up step.
    pub async fn build(settings: Settings) -> Result<App, StartError> {
        let addr = settings.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let state = AppState {
            inner: Arc::new(Inner { settings }),
        };
        let router = crate::routes::router(state);
        Ok(App { listener, router })
    }

    /// The address actually bound (tests bind port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `stop` is cancelled, then finishes in-flight requests.
    pub async fn run_until_stopped(self, stop: CancellationToken) -> std::io::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
    }
}
