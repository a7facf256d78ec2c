//! `spawn_app`: a server on an ephemeral port with its own data directory.

use tokio_util::sync::CancellationToken;
use ulak_server::{App, Settings};

/// A running server for one test.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// An HTTP client.
    pub http: reqwest::Client,
    stop: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts a server for one test.
pub async fn spawn_app() -> TestApp {
    let dir = std::env::temp_dir().join(format!(
        "ulak-test-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir,
        ..Settings::default()
    };
    let app = App::build(settings).await.unwrap();
    let addr = app.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(app.run_until_stopped(stop.clone()));
    TestApp {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        stop,
    }
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    u64::from(nanos)
}
