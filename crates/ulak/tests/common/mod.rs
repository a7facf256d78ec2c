//! What the process-level tests share: `ulak serve` as a child process and its readiness.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::process::Child;
use std::time::{Duration, Instant};

/// A child process killed (SIGKILL) when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until the server at `base` answers `/readyz`.
pub async fn ready(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not come up");
}

/// The `ulak` binary under test.
pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_ulak"))
}

/// Runs `ulak args…` against the server at `url` with `key`.
pub fn ulak_with(url: &str, key: &str, args: &[&str]) -> std::process::Output {
    bin()
        .args(args)
        .env("ULAK_URL", url)
        .env("ULAK_API_KEY", key)
        .output()
        .unwrap()
}

/// `ulak serve` (SQLite in `data`, bootstrap key `key`) on a free port, once its CLI can
/// read the credit; its URL.
pub fn serve_for_cli(data: &std::path::Path, key: &str) -> (Proc, String) {
    let port = free_port();
    let child = bin()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data)
        .env("ULAK_BOOTSTRAP_API_KEY", key)
        .env_remove("ULAK_DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server = Proc(child);
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if ulak_with(&url, key, &["credit"]).status.success() {
            return (server, url);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server did not come up");
}
