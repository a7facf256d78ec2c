//! End-to-end tests of the CLI over the API: a real `ulak serve` on a free port (SQLite in a
//! temporary directory), driven by the built binary with `ULAK_URL` and `ULAK_API_KEY`.

#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const KEY: &str = "ulak_cli-test-key-0123456789abcdef0123";

/// A running server, killed on drop.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &Path) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_ulak"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data)
        .env("ULAK_BOOTSTRAP_API_KEY", KEY)
        .env_remove("ULAK_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if ulak(&server, &["credit"]).status.success() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server did not come up");
}

fn ulak(server: &Server, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ulak"))
        .args(args)
        .env("ULAK_URL", &server.url)
        .env("ULAK_API_KEY", KEY)
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    let out = String::from_utf8(o.stdout.clone()).unwrap();
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {out}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

fn json(o: &Output) -> Value {
    serde_json::from_str(&ok(o)).unwrap()
}

#[test]
fn groups_subscribers_customers_and_settings_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("data"));

    // A group, a CSV imported into it by name, and the members listed as a table and as JSON.
    assert!(ok(&ulak(&s, &["groups", "create", "VIP"])).contains("created group"));
    let csv = dir.path().join("aboneler.csv");
    std::fs::write(
        &csv,
        "Ad Soyad;Telefon\nAyşe Yılmaz;0532 123 45 67\nAli Demir;0542 987 65 43\n",
    )
    .unwrap();
    let mapping = r#"{"name":"Ad Soyad","phone":"Telefon"}"#;
    let out = ok(&ulak(
        &s,
        &[
            "subscribers",
            "import",
            csv.to_str().unwrap(),
            "--group",
            "VIP",
            "--mapping",
            mapping,
        ],
    ));
    assert!(out.contains("2 rows: 2 imported, 0 skipped"), "{out}");
    let table = ok(&ulak(&s, &["subscribers", "list", "--group", "VIP"]));
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.contains("+905321234567") && table.contains("Ali Demir"),
        "{table}"
    );
    let list = json(&ulak(
        &s,
        &["subscribers", "list", "--json", "--search", "ayse"],
    ));
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // The same file into a second group: the known subscribers join it.
    ok(&ulak(&s, &["groups", "create", "Bayram"]));
    let r = json(&ulak(
        &s,
        &[
            "subscribers",
            "import",
            csv.to_str().unwrap(),
            "--group",
            "Bayram",
            "--mapping",
            mapping,
            "--json",
        ],
    ));
    assert_eq!(
        (r["imported"].as_u64(), r["added_to_group"].as_u64()),
        (Some(0), Some(2))
    );

    // A refused import exits 1 and names the row.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "name,phone\nX,0312 000 00 00\n").unwrap();
    let o = ulak(&s, &["subscribers", "import", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("row 2 (phone)"), "{err}");

    // Customer accounts: add, import, list.
    let out = ok(&ulak(
        &s,
        &[
            "customers",
            "add",
            "--code",
            "C1",
            "--title",
            "Anadolu Ltd",
            "--phone",
            "05321112233",
            "--phone",
            "05331112233",
            "--balance-minor",
            "-250",
        ],
    ));
    assert!(out.contains("added customer account"), "{out}");
    let cari = dir.path().join("cari.csv");
    std::fs::write(
        &cari,
        "code;title;phones;balance\nC2;Ege Ltd;0542 000 00 01;1.500,00\n",
    )
    .unwrap();
    let out = ok(&ulak(&s, &["customers", "import", cari.to_str().unwrap()]));
    assert!(out.contains("1 rows: 1 imported"), "{out}");
    let list = json(&ulak(&s, &["customers", "list", "--json"]));
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["balance_minor"], 150_000);
    assert_eq!(items[0]["balance_minor"], -250);

    // Templates, sender headers and SMS settings.
    let out = ok(&ulak(
        &s,
        &[
            "templates",
            "add",
            "Bakiye",
            "--body",
            "Sayın {{ad}}, bakiyeniz {{bakiye}} TL.",
        ],
    ));
    assert!(out.contains("fields: ad, bakiye"), "{out}");
    let o = ulak(&s, &["templates", "add", "Bozuk", "--body", "Merhaba {{ad"]);
    assert_eq!(o.status.code(), Some(1));
    ok(&ulak(&s, &["sender-headers", "add", "FIRMA", "--default"]));
    let table = ok(&ulak(&s, &["sender-headers", "list"]));
    assert!(table.contains("FIRMA") && table.contains("yes"), "{table}");
    let out = Command::new(env!("CARGO_BIN_EXE_ulak"))
        .args([
            "sms-settings",
            "set",
            "--country-type",
            "kktc",
            "--otp-username",
            "otp1",
            "--otp-password-env",
            "OTP_PW",
        ])
        .env("ULAK_URL", &s.url)
        .env("ULAK_API_KEY", KEY)
        .env("OTP_PW", "gizli-parola")
        .output()
        .unwrap();
    let out = ok(&out);
    assert!(
        out.contains("KKTC") && out.contains("OTP password stored:      yes"),
        "{out}"
    );
    assert!(!out.contains("gizli-parola"));
    let shown = json(&ulak(&s, &["sms-settings", "show", "--json"]));
    assert_eq!(shown["otp_username"], "otp1");
    let o = ulak(&s, &["sms-settings", "set"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "nothing to change is a usage error"
    );
}

#[test]
fn send_waits_for_the_delivery_report() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("data"));
    // Without credit the server refuses: exit 1 with its reason.
    let o = ulak(&s, &["send", "--to", "0532 123 45 67", "--text", "Merhaba"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("insufficient credit"));
    assert!(ok(&ulak(&s, &["credit", "add", "5"])).contains("balance 5"));
    let out = ok(&ulak(
        &s,
        &[
            "send",
            "--to",
            "0532 123 45 67",
            "--text",
            "Merhaba",
            "--wait",
        ],
    ));
    assert!(out.contains("delivered"), "{out}");
    assert!(
        out.contains("+905321234567") && out.contains("from ULAK"),
        "{out}"
    );
    let args = [
        "send",
        "--to",
        "05321234567",
        "--text",
        "İkinci",
        "--json",
        "--idempotency-key",
        "k1",
    ];
    let m = json(&ulak(&s, &args));
    let again = json(&ulak(&s, &args));
    assert_eq!(m["id"], again["id"], "a retried command sends nothing new");
    let shown = ok(&ulak(&s, &["messages", "show", &m["id"].to_string()]));
    assert!(shown.contains(&format!("message {}", m["id"])), "{shown}");
    assert!(ok(&ulak(&s, &["credit"])).contains("remaining credit: 3"));
}

#[test]
fn a_campaign_to_a_group_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("data"));
    ok(&ulak(&s, &["groups", "create", "VIP"]));
    let csv = dir.path().join("vip.csv");
    std::fs::write(&csv, "name,phone\nAyşe,05321234567\nAli,05421234567\n").unwrap();
    ok(&ulak(
        &s,
        &[
            "subscribers",
            "import",
            csv.to_str().unwrap(),
            "--group",
            "VIP",
        ],
    ));
    ok(&ulak(&s, &["credit", "add", "10"]));
    let out = ok(&ulak(
        &s,
        &[
            "campaign",
            "create",
            "--name",
            "Bayram",
            "--group",
            "VIP",
            "--text",
            "Sayın {{ad}}, bayramınız kutlu olsun.",
            "--start",
            "--wait",
        ],
    ));
    assert!(
        out.contains("finished") && out.contains("delivered 2"),
        "{out}"
    );
    let id = out.split_whitespace().nth(1).unwrap().to_owned();
    let status = json(&ulak(&s, &["campaign", "status", &id, "--json"]));
    assert_eq!(status["counts"]["delivered"], 2);
    let draft = json(&ulak(
        &s,
        &[
            "campaign",
            "create",
            "--name",
            "Taslak",
            "--number",
            "0312 000 00 00",
            "--number",
            "05321234567",
            "--text",
            "x",
            "--json",
        ],
    ));
    let preview = ok(&ulak(
        &s,
        &["campaign", "preview", &draft["id"].to_string()],
    ));
    assert!(preview.starts_with("1 recipients"), "{preview}");
    assert!(preview.contains("invalid number"), "{preview}");
    let cancelled = ok(&ulak(&s, &["campaign", "cancel", &draft["id"].to_string()]));
    assert!(cancelled.contains("cancelled"), "{cancelled}");
}

#[test]
fn routes_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("data"));
    // A fresh start has no routes: everything goes through the simulator account (id 1).
    let none = json(&ulak(&s, &["routes", "list", "--json"]));
    assert_eq!(none["items"], serde_json::json!([]));
    let out = ok(&ulak(
        &s,
        &[
            "routes",
            "add",
            "--position",
            "5",
            "--zone",
            "kktc",
            "--class",
            "otp",
            "--account",
            "1:5",
        ],
    ));
    assert!(out.contains("added route 1 (position 5)"), "{out}");
    let table = ok(&ulak(&s, &["routes", "list"]));
    assert!(
        table.contains("zone=kktc class=otp") && table.contains("1×5"),
        "{table}"
    );
    // The server's refusals, by field; nothing added.
    let o = ulak(
        &s,
        &["routes", "add", "--zone", "cyprus", "--account", "999"],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("zone: expected one of"), "{err}");
    let o = ulak(&s, &["routes", "add", "--account", "999"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("targets[0].account_id"), "{err}");
    // A malformed option is the caller's mistake (2), not the server's refusal (1).
    let o = ulak(&s, &["routes", "add", "--account", "1:heavy"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("weight"));
    assert!(ok(&ulak(&s, &["routes", "remove", "1"])).contains("removed route 1"));
    let o = ulak(&s, &["routes", "remove", "1"]);
    assert_eq!(o.status.code(), Some(1));
    let none = json(&ulak(&s, &["routes", "list", "--json"]));
    assert_eq!(none["items"], serde_json::json!([]));
}
