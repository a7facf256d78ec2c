//! Interop: Kannel (Debian's bearerbox + smsbox) as an ESME bound to Ulak's SMSC simulator.
//! Sends through Kannel's sendsms HTTP interface on loopback and checks that the simulator
//! saw the submits (a long text as UDH segments), that Kannel got the receipts (dlr-url
//! calls), and that an injected concatenated inbound message reached Kannel's sms-service.
#![allow(clippy::unwrap_used)]

#[path = "interop/common.rs"]
mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};
use tokio::sync::mpsc::UnboundedReceiver;
use ulak_smpp::sim::{InboundConcat, Inject, SimConfig, SimHandle, Simulator};

struct Kannel {
    _bearer: Child,
    _smsbox: Child,
    sendsms_port: u16,
    dir: std::path::PathBuf,
}

impl Drop for Kannel {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn start_kannel(sim: &SimHandle, http_port: u16, bearer: &str, smsbox: &str) -> Kannel {
    let dir = std::env::temp_dir().join(format!("ulak-kannel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (admin, boxp, sendsms) = (
        common::free_port(),
        common::free_port(),
        common::free_port(),
    );
    let log = |n: &str| dir.join(n).display().to_string();
    let conf = format!(
        r#"group = core
admin-port = {admin}
admin-password = adminpw
admin-allow-ip = "127.0.0.1"
smsbox-port = {boxp}
box-allow-ip = "127.0.0.1"
log-file = "{blog}"
log-level = 1
dlr-storage = internal
sms-combine-concatenated-mo = true

group = smsc
smsc = smpp
smsc-id = ulaksim
host = 127.0.0.1
port = {simport}
transceiver-mode = true
smsc-username = kannel
smsc-password = kpass
system-type = ""
interface-version = 34
msg-id-type = 0x00
max-pending-submits = 100
enquire-link-interval = 30
reconnect-delay = 1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {boxp}
sendsms-port = {sendsms}
log-file = "{slog}"
log-level = 1

group = sendsms-user
username = tester
password = testpw
max-messages = 10
concatenation = true

group = sms-service
keyword = default
catch-all = true
max-messages = 0
get-url = "http://127.0.0.1:{http_port}/mo?from=%p&to=%P&text=%a"
"#,
        blog = log("bearerbox.log"),
        slog = log("smsbox.log"),
        simport = sim.local_addr().port(),
    );
    let conf_path = dir.join("kannel.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let spawn = |bin: &str| {
        Command::new(bin)
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    let b = spawn(bearer);
    // smsbox needs the bearerbox port open first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let s = spawn(smsbox);
    Kannel {
        _bearer: b,
        _smsbox: s,
        sendsms_port: sendsms,
        dir,
    }
}

async fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sendsms(k: &Kannel, http_port: u16, to: &str, text: &str, tag: &str) {
    let dlr_url = format!("http://127.0.0.1:{http_port}/dlr?tag={tag}&status=%d&smscid=%F");
    let path = format!(
        "/cgi-bin/sendsms?username=tester&password=testpw&from=ULAK&to={to}&text={}&dlr-mask=3&dlr-url={}",
        common::enc(text),
        common::enc(&dlr_url)
    );
    // smsbox may still be connecting to bearerbox; retry briefly.
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        match common::http_get(k.sendsms_port, &path).await {
            Ok(r) if r.starts_with("HTTP/1.1 202") || r.starts_with("HTTP/1.0 202") => return,
            other => {
                assert!(Instant::now() < end, "sendsms failed: {other:?}");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
}

async fn next_request(rx: &mut UnboundedReceiver<String>, prefix: &str) -> String {
    loop {
        let p = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no {prefix} request from Kannel"))
            .unwrap();
        if p.starts_with(prefix) {
            return p;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kannel_as_esme_against_ulak_simulator() {
    let (Some(bearer), Some(smsbox)) = (
        common::find(&["/usr/sbin/bearerbox", "/usr/bin/bearerbox"]),
        common::find(&["/usr/sbin/smsbox", "/usr/bin/smsbox"]),
    ) else {
        common::missing("kannel (apt-get install kannel)");
        return;
    };
    let sim = Simulator::start(SimConfig {
        accounts: vec![("kannel".into(), "kpass".into())],
        dlr_delay: Duration::from_millis(100),
        hex_ids: false,
        record_submits: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let (http_port, mut http) = common::http_sink().await;
    let k = start_kannel(
        &sim,
        http_port,
        bearer.to_str().unwrap(),
        smsbox.to_str().unwrap(),
    )
    .await;
    wait_for("Kannel to bind", 20, || sim.bound_links() >= 1).await;

    // A short text and its receipt.
    sendsms(
        &k,
        http_port,
        "905321234567",
        "Merhaba from Kannel",
        "short",
    )
    .await;
    wait_for("short submit", 20, || !sim.submits().is_empty()).await;
    let first = sim.submits().remove(0);
    assert_eq!(first.sm.dest.addr, "905321234567");
    assert_eq!(&first.sm.short_message[..], b"Merhaba from Kannel");
    let dlr = next_request(&mut http, "/dlr?tag=short").await;
    assert_eq!(common::param(&dlr, "status").as_deref(), Some("1"), "{dlr}");

    // A long text: Kannel splits it with a concatenation UDH.
    let long = "This is a long message from Kannel through Ulak's simulator. ".repeat(4);
    sendsms(&k, http_port, "905321234568", &long, "long").await;
    // Kannel sends the parts back to back; give the last one a moment after the first.
    wait_for("long submits", 20, || sim.submits().len() >= 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let parts: Vec<_> = sim.submits().into_iter().skip(1).collect();
    assert!(parts.len() >= 2);
    let mut joined = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(p.sm.esm_class & 0x40, 0x40, "segment without UDHI");
        let (udh, len) = ulak_text::Udh::parse(&p.sm.short_message).unwrap();
        let c = udh.concat.unwrap();
        assert_eq!((c.seq as usize, c.total as usize), (i + 1, parts.len()));
        joined.extend_from_slice(&p.sm.short_message[len..]);
    }
    let text = ulak_text::decode_septets(
        &joined,
        ulak_text::LockingTable::Default,
        ulak_text::ShiftTable::Default,
    )
    .unwrap_or_else(|_| String::from_utf8_lossy(&joined).into_owned());
    assert_eq!(text, long);
    // Kannel (1.4.4+) folds the receipts of a split message into one dlr-url call.
    let d = next_request(&mut http, "/dlr?tag=long").await;
    assert_eq!(common::param(&d, "status").as_deref(), Some("1"), "{d}");

    // Inbound: a two-part UDH message, sent out of order, reassembled by Kannel.
    let mo =
        "Inbound from the network, long enough to need two parts when sent as GSM 7-bit text. "
            .repeat(2);
    sim.inject_inbound(&Inject {
        system_id: Some("kannel".into()),
        from: "905321234567".into(),
        to: "4545".into(),
        text: mo.clone(),
        concat: InboundConcat::Udh8,
        reverse: true,
    })
    .unwrap();
    let req = next_request(&mut http, "/mo?").await;
    // %a gives the words of the text, so trailing space is not kept.
    assert_eq!(
        common::param(&req, "text").as_deref(),
        Some(mo.trim_end()),
        "{req}"
    );
    assert_eq!(common::param(&req, "to").as_deref(), Some("4545"));
    // Kannel asks for a receipt on only one part of a split message, so count what was sent.
    let sent = sim.counts();
    let want = sent.receipts_sent + sent.inbound_sent;
    assert_eq!(sent.inbound_sent, 2);
    assert!(sent.receipts_sent >= 2);
    let end = Instant::now() + Duration::from_secs(10);
    while sim.counts().deliver_acked < want && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let c = sim.counts();
    assert_eq!(c.deliver_acked, want, "{c:?}");
    assert_eq!(c.errors, 0, "{c:?}");
    drop(k);
}

/// Kannel's own rate into the simulator: N sendsms requests from parallel HTTP clients,
/// rate measured at the simulator (first to last submit). Run by hand:
/// `cargo test -p ulak-smpp --release --test interop_kannel -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run by hand"]
async fn kannel_rate_into_simulator() {
    let (Some(bearer), Some(smsbox)) = (
        common::find(&["/usr/sbin/bearerbox"]),
        common::find(&["/usr/sbin/smsbox"]),
    ) else {
        common::missing("kannel");
        return;
    };
    let n: u64 = std::env::var("KANNEL_RATE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let sim = Simulator::start(SimConfig {
        accounts: vec![("kannel".into(), "kpass".into())],
        hex_ids: false,
        ..Default::default()
    })
    .await
    .unwrap();
    let (http_port, _http) = common::http_sink().await;
    let k = start_kannel(
        &sim,
        http_port,
        bearer.to_str().unwrap(),
        smsbox.to_str().unwrap(),
    )
    .await;
    wait_for("Kannel to bind", 20, || sim.bound_links() >= 1).await;
    sendsms(&k, http_port, "905321234567", "warm-up", "w").await;
    wait_for("warm-up", 20, || sim.counts().submits >= 1).await;
    let port = k.sendsms_port;
    let clients: u64 = std::env::var("KANNEL_RATE_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..clients {
        tasks.push(tokio::spawn(async move {
            for i in (w..n).step_by(clients as usize) {
                let path = format!(
                    "/cgi-bin/sendsms?username=tester&password=testpw&from=ULAK&to=9053{i:08}&text=rate+test+{i}"
                );
                let _ = common::http_get(port, &path).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let http_secs = t.elapsed().as_secs_f64();
    wait_for("all submits", 300, || sim.counts().submits > n).await;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "kannel: {n} messages, sendsms accepted in {http_secs:.2} s, all submitted in {secs:.2} s: {:.0} submit_sm/s",
        n as f64 / secs
    );
    drop(k);
}
