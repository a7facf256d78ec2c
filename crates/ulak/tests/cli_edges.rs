//! The CLI at its edges: a closed output pipe, `ULAK_URL` without a scheme, a server that is
//! not there, times for people, and `ulak smpp send` against a simulator that refuses the
//! bind. A real `ulak serve` (SQLite in a temporary directory) and `ulak smsc-sim` run as
//! child processes.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

use common::{Proc, bin, free_port, serve_for_cli, ulak_with};

const KEY: &str = "ulak_cli-edges-key-0123456789abcdef01234";

/// `ulak serve` on a free port; its URL.
fn serve(data: &Path) -> (Proc, String) {
    serve_for_cli(data, KEY)
}

fn ulak(url: &str, args: &[&str]) -> Output {
    ulak_with(url, KEY, args)
}

/// Runs with standard output a pipe whose reading end is already closed, as after
/// `| head -1` has read its line.
fn ulak_into_closed_pipe(url: &str, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    bin()
        .args(args)
        .env("ULAK_URL", url)
        .env("ULAK_API_KEY", KEY)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// Whether `s` holds a local date-time `YYYY-MM-DD hh:mm:ss <zone>` with a zone in `zones`.
fn has_local_time(s: &str, zones: &[&str]) -> bool {
    let b = s.as_bytes();
    let shape = b"dddd-dd-dd dd:dd:dd ";
    (0..b.len().saturating_sub(shape.len())).any(|i| {
        let fits = shape.iter().zip(&b[i..]).all(|(p, c)| match p {
            b'd' => c.is_ascii_digit(),
            other => other == c,
        });
        fits && zones.iter().any(|z| {
            s[i + shape.len()..].starts_with(z)
                && !s[i + shape.len() + z.len()..].starts_with(|c: char| c.is_ascii_alphanumeric())
        })
    })
}

/// Whether `s` holds a run of 13 digits: unix milliseconds shown to a person.
fn has_unix_ms(s: &str) -> bool {
    s.split(|c: char| !c.is_ascii_digit())
        .any(|run| run.len() >= 13)
}

#[test]
fn a_closed_output_pipe_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = serve(&dir.path().join("data"));
    ok(&ulak(&url, &["groups", "create", "VIP"]));
    for args in [
        &["credit"][..],
        &["groups", "list"],
        &["subscribers", "list", "--json"],
        &["credit", "history"],
        &["sms-settings", "show"],
        &["count", "--text", "Merhaba"],
    ] {
        let o = ulak_into_closed_pipe(&url, args);
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: a closed pipe is quiet: {err}");
    }
    // A refusal keeps its exit code and its reason on stderr.
    let o = ulak_into_closed_pipe(&url, &["messages", "show", "999"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("404"), "{}", stderr(&o));
}

#[test]
fn ulak_url_without_a_scheme() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = serve(&dir.path().join("data"));
    // This machine: plain HTTP is assumed.
    let bare = url.trim_start_matches("http://");
    let out = ok(&ulak(bare, &["credit"]));
    assert!(out.contains("remaining credit: 0"), "{out}");
    // Any other host: a clear usage error, not a guess that sends the key in clear text.
    let o = ulak("sms.example.com:8080", &["credit"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("has no scheme: write https://sms.example.com:8080"),
        "{}",
        stderr(&o)
    );
    let o = ulak("ftp://127.0.0.1:21", &["credit"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("http or https"), "{}", stderr(&o));
}

#[test]
fn a_server_that_cannot_be_reached_has_its_own_exit_code() {
    let url = format!("http://127.0.0.1:{}", free_port());
    for args in [&["credit"][..], &["groups", "list", "--json"]] {
        let o = ulak(&url, args);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("cannot reach the server at {url}")),
            "{}",
            stderr(&o)
        );
        assert!(!stderr(&o).contains("panicked"));
    }
    // Bad usage stays 2.
    let o = ulak(&url, &["credit", "--no-such-option"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn times_are_local_date_times_of_the_companys_zone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_server, url) = serve(&data);
    ok(&ulak(&url, &["credit", "add", "10"]));
    let m: Value = serde_json::from_str(&ok(&ulak(
        &url,
        &["send", "--to", "05321234567", "--text", "Merhaba", "--json"],
    )))
    .unwrap();
    let id = m["id"].to_string();

    // TR (the default company): Europe/Istanbul, +03.
    let shown = ok(&ulak(&url, &["messages", "show", &id]));
    assert!(has_local_time(&shown, &["+03"]), "{shown}");
    assert!(!has_unix_ms(&shown), "{shown}");
    let history = ok(&ulak(&url, &["credit", "history"]));
    assert!(has_local_time(&history, &["+03"]), "{history}");
    // Scripts keep the API's unix milliseconds.
    let j: Value =
        serde_json::from_str(&ok(&ulak(&url, &["messages", "show", &id, "--json"]))).unwrap();
    assert!(j["state_at"].as_i64().unwrap() > 1_700_000_000_000, "{j}");

    // AZ: Asia/Baku, +04.
    ok(&ulak(
        &url,
        &["sms-settings", "set", "--country-type", "AZ"],
    ));
    let shown = ok(&ulak(&url, &["messages", "show", &id]));
    assert!(has_local_time(&shown, &["+04"]), "{shown}");
    let out = ok(&ulak(
        &url,
        &[
            "campaign",
            "create",
            "--name",
            "Bayram",
            "--number",
            "+994501234567",
            "--text",
            "Salam",
            "--start",
            "--wait",
        ],
    ));
    assert!(
        out.contains("created ") && has_local_time(&out, &["+04"]),
        "{out}"
    );

    // KKTC: Asia/Famagusta, EET in winter and EEST in summer.
    ok(&ulak(
        &url,
        &["sms-settings", "set", "--country-type", "KKTC"],
    ));
    let shown = ok(&ulak(&url, &["messages", "show", &id]));
    assert!(has_local_time(&shown, &["EET", "EEST"]), "{shown}");

    // The inbox, with a message whose text could not be decoded shown as its bytes.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = format!("sqlite://{}?mode=rwc", data.join("ulak.db").display());
        let store = ulak_store::Store::connect(&db, [0; 32]).await.unwrap();
        let c = store
            .get_company_by_name(ulak_store::DEFAULT_COMPANY)
            .await
            .unwrap()
            .unwrap()
            .id;
        let inbound = ulak_store::InboundIn {
            sender: "905321234567".into(),
            recipient: "4545".into(),
            body: String::new(),
            body_raw: Some(vec![0x00, 0xff]),
            data_coding: Some(4),
            complete: true,
        };
        store.store_inbound(c, None, vec![inbound]).await.unwrap();
        store.close().await;
    });
    let inbox = ok(&ulak(&url, &["inbound", "list"]));
    assert!(
        inbox.contains("[undecoded, data_coding 4] 00ff")
            && has_local_time(&inbox, &["EET", "EEST"]),
        "{inbox}"
    );
}

/// `ulak smsc-sim` on a free port accepting test/secret; its port.
fn smsc_sim() -> (Proc, u16) {
    let mut child = bin()
        .args([
            "smsc-sim",
            "--listen",
            "127.0.0.1:0",
            "--system-id",
            "test",
            "--password",
            "secret",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (Proc(child), port)
}

fn smpp_send(port: u16, password: &str, to: &str, extra: &[&str]) -> Output {
    let port = port.to_string();
    let mut args = vec![
        "smpp",
        "send",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--system-id",
        "test",
        "--password",
        password,
        "--from",
        "ULAK",
        "--to",
        to,
        "--text",
        "Merhaba",
    ];
    args.extend_from_slice(extra);
    bin().args(&args).output().unwrap()
}

#[test]
fn smpp_send_says_why_a_bind_failed_and_normalises_the_recipient() {
    let (_sim, port) = smsc_sim();

    // A wrong password: the SMSC's status, at once, exit 1 (refused).
    let t = Instant::now();
    let o = smpp_send(port, "wrong", "05321234567", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.contains("could not bind to 127.0.0.1:")
            && last.contains("ESME_RINVPASWD (0x0000000E): Invalid password"),
        "{err}"
    );
    assert!(t.elapsed() < Duration::from_secs(10), "answered at once");

    // A national, spaced number goes out as international digits: the receipt comes from
    // the handset 905321234567.
    let o = smpp_send(port, "secret", "0532 123 45 67", &["--dlr"]);
    let out = ok(&o);
    let receipt: Value = out
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v.get("receipt").is_some())
        .unwrap_or_else(|| panic!("no receipt in {out}"));
    assert_eq!(receipt["receipt"]["source"], "905321234567", "{out}");
    // An Azerbaijani number read with --country AZ.
    ok(&smpp_send(
        port,
        "secret",
        "050 123 45 67",
        &["--country", "AZ"],
    ));

    // Not a mobile number: a usage error before anything is sent.
    let o = smpp_send(port, "secret", "12345", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--to \"12345\" is not a valid mobile number"),
        "{}",
        stderr(&o)
    );

    // Output into a closed pipe is quiet.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = bin()
        .args([
            "smpp",
            "send",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--system-id",
            "test",
            "--password",
            "secret",
            "--from",
            "ULAK",
            "--to",
            "05321234567",
            "--text",
            "Merhaba",
            "--count",
            "3",
        ])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));

    // Nobody listening: "cannot reach", exit 3.
    let o = smpp_send(free_port(), "secret", "05321234567", &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot connect"), "{}", stderr(&o));
}
