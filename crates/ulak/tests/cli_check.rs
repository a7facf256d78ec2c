//! End-to-end tests of `ulak check-number` and `ulak check-tckn`: run the
//! built binary and check stdout, stderr and exit codes.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use serde_json::Value;

fn ulak(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ulak"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Parses stdout as exactly one JSON object.
fn json(o: &Output) -> Value {
    let out = stdout(o);
    assert_eq!(out.lines().count(), 1, "one line of JSON expected: {out}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn number_valid_human() {
    let o = ulak(&["check-number", "0532 123 45 67"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("+905321234567"), "{out}");
    assert!(out.contains("zone:     TR"), "{out}");
    assert!(out.contains("0532 123 45 67"), "{out}");
    assert!(stderr(&o).is_empty());
}

#[test]
fn number_valid_json() {
    let o = ulak(&[
        "check-number",
        "+90 (533) 840 12 34",
        "--country",
        "kktc",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v = json(&o);
    assert_eq!(v["valid"], true);
    assert_eq!(v["e164"], "+905338401234");
    assert_eq!(v["zone"], "KKTC");
    assert_eq!(v["national"], "0533 840 12 34");
    assert_eq!(v["country_code"], 90);
}

#[test]
fn number_az_national_and_under_tr() {
    let o = ulak(&["check-number", "050 123 45 67", "--country", "AZ", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json(&o)["e164"], "+994501234567");

    let o = ulak(&["check-number", "+994 50 123 45 67", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json(&o)["zone"], "AZ");
}

#[test]
fn number_landline_human_reason_on_stderr() {
    let o = ulak(&["check-number", "0212 123 45 67"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).is_empty());
    assert!(
        stderr(&o).contains("not a mobile number: TR landline"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn number_invalid_json() {
    let o = ulak(&[
        "check-number",
        "0392 228 12 34",
        "--country",
        "KKTC",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let v = json(&o);
    assert_eq!(v["valid"], false);
    assert_eq!(v["input"], "0392 228 12 34");
    assert_eq!(v["code"], "landline");
    assert_eq!(v["reason"], "not a mobile number: KKTC landline");

    let o = ulak(&["check-number", "0532 12", "--json"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(json(&o)["code"], "too_short");

    let o = ulak(&["check-number", "+44 7911 123456", "--json"]);
    assert_eq!(json(&o)["code"], "unsupported_country");
}

#[test]
fn number_unknown_country_is_a_usage_error() {
    let o = ulak(&["check-number", "05321234567", "--country", "CY"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).is_empty());
    assert!(stderr(&o).contains("--country"), "{}", stderr(&o));
}

#[test]
fn tckn_valid() {
    let o = ulak(&["check-tckn", "10000000146"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("10000000146"));

    let o = ulak(&["check-tckn", "12345678950", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v = json(&o);
    assert_eq!(v["valid"], true);
    assert_eq!(v["tckn"], "12345678950");
    assert_eq!(v["masked"], "123******50");
}

#[test]
fn tckn_invalid() {
    let o = ulak(&["check-tckn", "12345678951"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).is_empty());
    assert!(
        stderr(&o).contains("11th check digit wrong (expected 0)"),
        "{}",
        stderr(&o)
    );

    let o = ulak(&["check-tckn", "1234567895x", "--json"]);
    assert_eq!(o.status.code(), Some(2));
    let v = json(&o);
    assert_eq!(v["valid"], false);
    assert_eq!(v["code"], "non_digit");
    assert_eq!(v["reason"], "non-digit character 'x' at position 11");

    let o = ulak(&["check-tckn", "-1", "--json"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(json(&o)["code"], "non_digit");
}
