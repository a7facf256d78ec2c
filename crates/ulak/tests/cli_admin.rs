//! First start and recovery, with real processes: a `serve` that cannot listen creates nothing
//! (so the next start still shows the key and password) and says why once; `ulak admin
//! new-key` and `reset-password`, run on the data directory, give working secrets back.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve_cmd(port: u16, data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ulak"));
    cmd.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
    ])
    .arg(data)
    .env_remove("ULAK_BOOTSTRAP_API_KEY")
    .env_remove("ULAK_DATABASE_URL")
    .env_remove("ULAK_MASTER_KEY")
    .env("ULAK_ENGINE", "false")
    .env("ULAK_SIMULATOR", "false");
    cmd
}

/// Starts `serve` and reads its standard output up to the "listening" line.
fn start(data: &Path) -> (Proc, u16, Vec<String>) {
    let port = free_port();
    let mut child = serve_cmd(port, data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let proc = Proc(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let done = line.contains("listening on");
            let _ = tx.send(line);
            if done {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            let done = line.contains("listening on");
            lines.push(line);
            if done {
                return (proc, port, lines);
            }
        }
    }
    panic!("serve did not come up: {lines:?}");
}

/// The text after the last ": " of the line containing `what`.
fn secret(lines: &[String], what: &str) -> Option<String> {
    lines
        .iter()
        .find(|l| l.contains(what))
        .and_then(|l| l.rsplit(": ").next())
        .map(str::to_owned)
}

fn ulak(args: &[&str], url: Option<(&str, &str)>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ulak"));
    cmd.args(args)
        .env_remove("ULAK_DATABASE_URL")
        .env_remove("ULAK_MASTER_KEY");
    if let Some((url, key)) = url {
        cmd.env("ULAK_URL", url).env("ULAK_API_KEY", key);
    }
    cmd.output().unwrap()
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "still running");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_start_that_cannot_listen_creates_nothing_and_says_why_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut child = serve_cmd(port, &data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(60));
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!status.success());
    assert!(!stdout.contains("shown once"), "{stdout}");
    assert_eq!(stderr.matches("cannot listen on").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("in use").count(), 1, "{stderr}");
    drop(taken);

    // The next start is the real first one: it shows both secrets.
    let (_server, _, lines) = start(&data);
    assert!(
        secret(&lines, "System administrator API key").is_some_and(|k| k.starts_with("ulak_")),
        "{lines:?}"
    );
    assert!(
        secret(&lines, "password (shown once)").is_some(),
        "{lines:?}"
    );
}

#[test]
fn admin_tools_give_a_lost_key_and_password_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    // A directory with no server in it is refused, and nothing is created there.
    let empty = dir.path().join("empty");
    let o = ulak(
        &["admin", "new-key", "--data-dir", empty.to_str().unwrap()],
        None,
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no database"));
    assert!(!empty.exists());

    let (server, _, lines) = start(&data);
    let first_key = secret(&lines, "System administrator API key").unwrap();
    drop(server);

    let o = ulak(&["admin", "new-key", "--data-dir", d], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let key = out.trim().rsplit(": ").next().unwrap().to_owned();
    assert!(key.starts_with("ulak_") && key != first_key, "{out}");
    let o = ulak(&["admin", "reset-password", "--data-dir", d], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.contains("User 'admin' of company 'default'"), "{out}");
    let password = out.trim().rsplit(": ").next().unwrap().to_owned();
    let o = ulak(
        &[
            "admin",
            "reset-password",
            "--data-dir",
            d,
            "--company",
            "nope",
        ],
        None,
    );
    assert!(!o.status.success());

    // The server, started again, shows no secret and takes the new key as a system
    // administrator's (selling credit is the system administrator's).
    let (_server, port, lines) = start(&data);
    assert!(!lines.iter().any(|l| l.contains("shown once")), "{lines:?}");
    let url = format!("http://127.0.0.1:{port}");
    let o = ulak(&["credit", "add", "5"], Some((&url, &key)));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The password is the user's new one.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = format!("sqlite://{}", data.join("ulak.db").display());
        let store = ulak_store::Store::connect(&url, [0; 32]).await.unwrap();
        let default = store
            .get_company_by_name(ulak_store::DEFAULT_COMPANY)
            .await
            .unwrap()
            .unwrap();
        let user = store
            .verify_user_password(default.id, "admin", &password)
            .await
            .unwrap();
        assert!(user.is_some(), "the new password logs in");
        store.close().await;
    });
}
