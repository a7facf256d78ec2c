//! `ulak serve` started with the common default soft limit of 1,024 open files: it raises the
//! limit to the hard one, so 2,000 idle and slow (a header byte at a time) connections do not
//! stop `/healthz` or an authenticated call, and SIGTERM still stops it within 10 s.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const KEY: &str = "ulak_frontdoor-test-key-0123456789abcdef0123";

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One request on a new connection; the status line, or why there was none within 5 s.
fn get(port: u16, path: &str, key: Option<&str>) -> Result<String, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let auth = key.map_or(String::new(), |k| format!("Authorization: Bearer {k}\r\n"));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out);
    text.lines()
        .next()
        .map(str::to_owned)
        .ok_or_else(|| "no answer".to_owned())
}

#[test]
fn two_thousand_idle_and_slow_connections_do_not_stop_the_server() {
    // This process holds the client ends: it needs the files too.
    ulak_server::http::raise_open_file_limit();
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("sh")
        .args(["-c", "ulimit -Sn 1024 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_ulak"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .env("ULAK_BOOTSTRAP_API_KEY", KEY)
        .env("ULAK_ENGINE", "false")
        .env("ULAK_SIMULATOR", "false")
        .env("ULAK_LOG", "warn")
        .env_remove("ULAK_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(port, "/readyz", None).is_err() {
        assert!(Instant::now() < deadline, "the server did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }

    let mut idle = Vec::new();
    let mut slow = Vec::new();
    for i in 0..2_000 {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        if i % 2 == 0 {
            idle.push(s);
        } else {
            slow.push(s);
        }
    }
    // The slow half sends a request head one byte at a time, round after round.
    let done = Arc::new(AtomicBool::new(false));
    let dribbler = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let head = b"GET /api/v1/credit HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa";
            for b in head.iter().cycle() {
                if done.load(Ordering::Relaxed) {
                    break;
                }
                for s in &mut slow {
                    let _ = s.write_all(&[*b]);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            slow
        })
    };
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        get(port, "/healthz", None).as_deref(),
        Ok("HTTP/1.1 200 OK")
    );
    assert_eq!(
        get(port, "/api/v1/credit", Some(KEY)).as_deref(),
        Ok("HTTP/1.1 200 OK")
    );

    // SIGTERM with all of them still open: stopped within 10 s, cleanly.
    let term = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "SIGTERM did not stop the server in 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    done.store(true, Ordering::Relaxed);
    drop(dribbler.join().unwrap());
    drop(idle);
}
