//! `ulak messages list` and `ulak campaign export` against a real `ulak serve`: filters,
//! local times, every page, a CSV to standard output or a file, a closed pipe.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Output, Stdio};

use serde_json::Value;

mod common;

use common::{Proc, bin, serve_for_cli, ulak_with};

const KEY: &str = "ulak_cli-messages-key-0123456789abcdef012";

/// `ulak serve` on a free port; its URL.
fn serve(data: &Path) -> (Proc, String) {
    serve_for_cli(data, KEY)
}

fn ulak(url: &str, args: &[&str]) -> Output {
    ulak_with(url, KEY, args)
}

fn ok(o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {out}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

#[test]
fn messages_are_listed_and_a_campaign_exported() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = serve(&dir.path().join("data"));
    ok(&ulak(&url, &["credit", "add", "10"]));
    for to in ["05321234567", "05429876543"] {
        ok(&ulak(&url, &["send", "--to", to, "--text", "Merhaba"]));
    }
    let out = ok(&ulak(
        &url,
        &[
            "campaign",
            "create",
            "--name",
            "K",
            "--number",
            "05051112233",
            "--number",
            "05051112234",
            "--text",
            "Kampanya",
            "--start",
            "--json",
        ],
    ));
    let campaign = serde_json::from_str::<Value>(&out).unwrap()["id"].to_string();

    let table = ok(&ulak(&url, &["messages", "list"]));
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("CREATED"),
        "{table}"
    );
    assert_eq!(lines.len(), 5, "{table}");
    assert!(
        lines[1].contains(" +03 "),
        "local time of the company: {table}"
    );
    assert!(lines[1].contains("+905051112234"), "newest first: {table}");

    let one = ok(&ulak(
        &url,
        &[
            "messages",
            "list",
            "--recipient",
            "0532 123 45 67",
            "--json",
        ],
    ));
    let page: Value = serde_json::from_str(&one).unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{one}");
    let of = ok(&ulak(
        &url,
        &["messages", "list", "--campaign", &campaign, "--json"],
    ));
    let page: Value = serde_json::from_str(&of).unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2, "{of}");

    // Every page, one message per line.
    let all = ok(&ulak(
        &url,
        &["messages", "list", "--limit", "1", "--all", "--json"],
    ));
    assert_eq!(all.lines().count(), 4, "{all}");
    let first = ok(&ulak(&url, &["messages", "list", "--limit", "1"]));
    assert!(first.contains("more: --cursor m"), "{first}");

    let old = ok(&ulak(
        &url,
        &[
            "messages",
            "list",
            "--from",
            "2020-01-01",
            "--to",
            "2020-01-02 12:00",
        ],
    ));
    assert_eq!(old.lines().count(), 1, "{old}");
    let bad = ulak(&url, &["messages", "list", "--from", "yesterday"]);
    assert_eq!(bad.status.code(), Some(2));
    let bad = ulak(&url, &["messages", "list", "--state", "sent"]);
    assert_eq!(bad.status.code(), Some(1));

    let csv = ok(&ulak(&url, &["campaign", "export", &campaign]));
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("id,recipient,state"), "{csv}");
    assert_eq!(rows.len(), 3, "{csv}");
    let file = dir.path().join("k.csv");
    ok(&ulak(
        &url,
        &[
            "campaign",
            "export",
            &campaign,
            "--output",
            file.to_str().unwrap(),
        ],
    ));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), csv);
    assert!(!dir.path().join("k.csv.part").exists());
    let missing = ulak(&url, &["campaign", "export", "999"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("404"));

    // Into a pipe already closed (`| head -1` done): quiet, exit 0.
    for args in [
        &["campaign", "export", campaign.as_str()][..],
        &["messages", "list", "--all"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = bin()
            .args(args)
            .env("ULAK_URL", &url)
            .env("ULAK_API_KEY", KEY)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}
