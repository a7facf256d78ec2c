//! End-to-end tests of `ulak count`, the scriptable contract: flags, standard input read
//! exactly as given, the JSON fields, and exit code 2 on bad input.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn ulak(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ulak"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        pipe.write_all(bytes).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn json(o: &Output) -> Value {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn json_has_every_contract_field() {
    let v = json(&ulak(
        &["count", "--json", "--text", "Şifreniz: 123456"],
        None,
    ));
    assert_eq!(v["encoding"], "gsm7+turkish-single-shift");
    assert_eq!(v["segments"], 1);
    assert_eq!(v["per_segment_chars"], serde_json::json!([16]));
    assert_eq!(v["per_segment_units"], serde_json::json!([17]));
    assert_eq!(v["split_points"], serde_json::json!([]));
    assert_eq!(v["capacity_per_segment"], 155);
    assert_eq!(v["total_chars"], 16);
    assert_eq!(v["remaining"], 155 - 17);
}

#[test]
fn stdin_is_read_exactly_and_a_trailing_newline_counts() {
    let text = "a".repeat(160);
    let v = json(&ulak(&["count", "--json"], Some(text.as_bytes())));
    assert_eq!(
        (v["segments"].as_u64(), v["total_chars"].as_u64()),
        (Some(1), Some(160))
    );
    let with_newline = format!("{text}\n");
    let v = json(&ulak(&["count", "--json"], Some(with_newline.as_bytes())));
    assert_eq!(v["total_chars"], 161);
    assert_eq!(v["segments"], 2);
    assert_eq!(v["split_points"], serde_json::json!([153]));
}

#[test]
fn policy_and_concat_ref_flags() {
    let text = "ş".repeat(80);
    let v = json(&ulak(
        &[
            "count",
            "--json",
            "--policy",
            "gsm7-or-ucs2",
            "--text",
            &text,
        ],
        None,
    ));
    assert_eq!(
        (v["encoding"].as_str(), v["segments"].as_u64()),
        (Some("ucs2"), Some(2))
    );
    let v = json(&ulak(
        &[
            "count",
            "--json",
            "--policy",
            "turkish-single-shift",
            "--text",
            &text,
        ],
        None,
    ));
    assert_eq!(v["encoding"], "gsm7+turkish-single-shift");
    let v = json(&ulak(&["count", "--json", "--text", &text], None));
    assert_eq!(v["encoding"], "gsm7+turkish-locking-shift");
    let long = "x".repeat(400);
    let v = json(&ulak(
        &["count", "--json", "--concat-ref", "16", "--text", &long],
        None,
    ));
    assert_eq!(v["split_points"], serde_json::json!([152, 304]));
    assert_eq!(v["capacity_per_segment"], 152);
}

#[test]
fn human_line_without_json() {
    let o = ulak(&["count", "--text", "Merhaba"], None);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.starts_with("gsm7: 1 segment, 7 characters"), "{out}");
    assert_eq!(out.lines().count(), 1);
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let o = ulak(&["count"], Some(&[b'a', 0xFF, b'b']));
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.contains("not valid UTF-8"), "{err}");
    assert!(o.stdout.is_empty());

    let o = ulak(&["count", "--policy", "latin1", "--text", "x"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8(o.stderr)
            .unwrap()
            .contains("unknown policy")
    );

    let o = ulak(&["count", "--concat-ref", "12", "--text", "x"], None);
    assert_eq!(o.status.code(), Some(2));

    let too_long = "a".repeat(255 * 153 + 1);
    let o = ulak(
        &["count", "--policy", "gsm7-or-ucs2"],
        Some(too_long.as_bytes()),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8(o.stderr).unwrap().contains("at most 255"));
}

#[test]
fn the_country_picks_the_default_policy_as_the_server_does() {
    let text = "Şifreniz 4711. Kimseyle paylaşmayın. ".repeat(4);
    let tr = json(&ulak(&["count", "--json", "--text", &text], None));
    assert_eq!(
        (tr["policy"].as_str(), tr["segments"].as_u64()),
        (Some("turkish-shift"), Some(1))
    );
    let az = json(&ulak(
        &["count", "--json", "--country", "AZ", "--text", &text],
        None,
    ));
    assert_eq!(
        (az["policy"].as_str(), az["segments"].as_u64()),
        (Some("gsm7-or-ucs2"), Some(3))
    );
    // A named policy wins over the country's.
    let named = json(&ulak(
        &[
            "count",
            "--json",
            "--country",
            "az",
            "--policy",
            "turkish-shift",
            "--text",
            &text,
        ],
        None,
    ));
    assert_eq!(named["segments"], 1);
}

#[test]
fn texts_over_the_sending_maximum_are_flagged() {
    let ten = "a".repeat(10 * 153);
    let v = json(&ulak(&["count", "--json", "--text", &ten], None));
    assert_eq!(
        (v["max_segments"].as_u64(), v["too_long"].as_bool()),
        (Some(10), Some(false))
    );
    let eleven = format!("{ten}a");
    let v = json(&ulak(&["count", "--json", "--text", &eleven], None));
    assert_eq!(
        (v["segments"].as_u64(), v["too_long"].as_bool()),
        (Some(11), Some(true))
    );
    let o = ulak(&["count", "--text", &eleven], None);
    assert_eq!(o.status.code(), Some(0), "counting a long text is no error");
    let line = String::from_utf8(o.stdout).unwrap();
    assert!(
        line.contains("too long to send: a message has at most 10 segments"),
        "{line}"
    );
}
