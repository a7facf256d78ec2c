//! Serving HTTP/1.1 with hyper directly, for what `axum::serve` has no knobs for: a limit on
//! open connections, time-outs for request heads, idle keep-alive and whole requests, and a
//! stop that idle or half-sent connections cannot hold up (docs/decisions/0004-http-api.md).
//!
//! Each connection is tracked: *busy* while a request is handled and its response written,
//! else idle. An idle connection is closed after `idle_timeout` without a byte, or
//! `header_read_timeout` after the first byte of a request head that is still not complete;
//! at the connection limit a new connection closes the oldest idle one, so slow or idle
//! clients can never lock out a client that sends its request at once.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::response::IntoResponse;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::config::Settings;
use crate::error::ApiError;

/// A busy connection whose response is still not written this long after the request
/// time-out (a client that does not read) is closed.
const WRITE_SLACK: Duration = Duration::from_secs(10);

/// Open files kept for everything but HTTP connections (database, SMPP links, webhooks,
/// imports' temporary files).
const FILES_RESERVED: u64 = 256;

/// The limits a server runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// Open connections at most.
    pub max_connections: usize,
    /// From the first byte of a request head to its end.
    pub header_read_timeout: Duration,
    /// Without a request, before the first or between two.
    pub idle_timeout: Duration,
    /// A whole request, body included.
    pub request_timeout: Duration,
    /// Reverse proxies whose `X-Forwarded-For` names the client ([`Settings::trusted_proxies`]).
    pub trusted_proxies: std::sync::Arc<[ulak_core::net::Cidr]>,
}

impl HttpLimits {
    /// The limits in `settings`, with the connection limit kept below `open_files` (the
    /// soft open-file limit) so accepting never fails for want of a file descriptor.
    pub fn new(settings: &Settings, open_files: Option<u64>) -> Self {
        let by_files = open_files.map_or(usize::MAX, |n| {
            let spare = n.saturating_sub(FILES_RESERVED.min(n / 2));
            usize::try_from(spare).unwrap_or(usize::MAX)
        });
        HttpLimits {
            max_connections: settings.max_connections.min(by_files).max(1),
            header_read_timeout: Duration::from_secs(settings.header_read_timeout_secs),
            idle_timeout: Duration::from_secs(settings.idle_timeout_secs),
            request_timeout: Duration::from_secs(settings.request_timeout_secs),
            trusted_proxies: settings.trusted_proxies.clone().into(),
        }
    }
}

/// Raises the soft limit of open files to the hard one (a default soft limit of 1,024 would
/// otherwise cap the server near a thousand connections); returns the soft limit in force.
pub fn raise_open_file_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => {
            tracing::info!(open_files = n, "open-file limit");
            Some(n)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read or raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        }
    }
}

/// When a connection's state last changed.
#[derive(Debug)]
struct Times {
    /// Since when it has been idle (or since it opened).
    idle_since: Instant,
    /// When the first byte of a request head came, while idle.
    head_started: Option<Instant>,
    /// When its request began, while busy.
    busy_since: Instant,
}

/// One open connection.
#[derive(Debug)]
struct Conn {
    busy: AtomicUsize,
    times: Mutex<Times>,
    /// Woken when `busy` or `head_started` changes, so the deadline is looked at again.
    changed: Notify,
    /// Cancelled to close the connection for a new one.
    evict: CancellationToken,
}

impl Conn {
    fn new() -> Self {
        let now = Instant::now();
        Conn {
            busy: AtomicUsize::new(0),
            times: Mutex::new(Times {
                idle_since: now,
                head_started: None,
                busy_since: now,
            }),
            changed: Notify::new(),
            evict: CancellationToken::new(),
        }
    }

    fn times(&self) -> std::sync::MutexGuard<'_, Times> {
        self.times.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_idle(&self) -> bool {
        self.busy.load(Ordering::Acquire) == 0
    }

    /// Bytes came in: while idle, the first one starts the head's clock.
    fn on_read(&self) {
        if self.is_idle() {
            let mut t = self.times();
            if t.head_started.is_none() {
                t.head_started = Some(Instant::now());
                drop(t);
                self.changed.notify_one();
            }
        }
    }

    /// A request begins; the guard ends it when its response is written (or dropped).
    fn begin(self: &Arc<Self>) -> BusyGuard {
        if self.busy.fetch_add(1, Ordering::AcqRel) == 0 {
            let mut t = self.times();
            t.busy_since = Instant::now();
            t.head_started = None;
        }
        self.changed.notify_one();
        BusyGuard(Arc::clone(self))
    }

    /// When the connection is to be closed unless something happens first.
    fn deadline(&self, limits: &HttpLimits) -> Instant {
        let t = self.times();
        if !self.is_idle() {
            t.busy_since + limits.request_timeout + WRITE_SLACK
        } else if let Some(h) = t.head_started {
            h + limits.header_read_timeout
        } else {
            t.idle_since + limits.idle_timeout
        }
    }
}

/// Marks a connection busy while it lives.
struct BusyGuard(Arc<Conn>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        if self.0.busy.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.times().idle_since = Instant::now();
        }
        self.0.changed.notify_one();
    }
}

/// The open connections, oldest first.
#[derive(Default)]
struct Registry {
    conns: Mutex<BTreeMap<u64, Arc<Conn>>>,
    next: AtomicU64,
}

impl Registry {
    /// Takes a new connection in, closing the oldest idle one at the limit; `None` when all
    /// are busy (the new one is closed).
    fn admit(&self, max: usize) -> Option<(u64, Arc<Conn>)> {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        if conns.len() >= max {
            let oldest_idle = conns.iter().find(|(_, c)| c.is_idle()).map(|(id, _)| *id);
            match oldest_idle.and_then(|id| conns.remove(&id)) {
                Some(c) => c.evict.cancel(),
                None => return None,
            }
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn::new());
        conns.insert(id, Arc::clone(&conn));
        Some((id, conn))
    }

    fn remove(&self, id: u64) {
        self.conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }
}

/// A TCP stream that tells its connection when bytes come in.
struct Tracked {
    stream: TcpStream,
    conn: Arc<Conn>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.conn.on_read();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Serves `router` on `listener` until `stop` is cancelled; then takes no new connection,
/// closes idle ones at once, lets busy ones finish their request, and returns when all are
/// closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let registry = Arc::new(Registry::default());
    let tracker = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors or a connection reset before it was taken:
                    // not the listener's fault; wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some((id, conn)) = registry.admit(limits.max_connections) else {
            tracing::debug!("connection limit reached with every connection busy");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = Tracked {
            stream,
            conn: Arc::clone(&conn),
        };
        let router = router.clone();
        let registry = Arc::clone(&registry);
        let stop = stop.clone();
        let limits = limits.clone();
        tracker.spawn(async move {
            run_connection(io, peer, conn, router, limits, stop).await;
            registry.remove(id);
        });
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
    Ok(())
}

/// One connection, until the client closes it, a time-out, eviction or the stop.
async fn run_connection(
    io: Tracked,
    peer: SocketAddr,
    conn: Arc<Conn>,
    router: Router,
    limits: HttpLimits,
    stop: CancellationToken,
) {
    let service_conn = Arc::clone(&conn);
    let service_limits = limits.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let guard = service_conn.begin();
        let router = router.clone();
        // Behind a named proxy the client is who the proxy says; every per-address limit
        // reads this. As bytes: a value that is no text still has the proxy's hop in it.
        let forwarded = req.headers().get_all("x-forwarded-for").iter();
        let client = ulak_core::forwarded::client_address(
            peer.ip(),
            forwarded.map(axum::http::HeaderValue::as_bytes),
            &service_limits.trusted_proxies,
        );
        let limits = service_limits.clone();
        async move {
            let mut req = req.map(axum::body::Body::new);
            req.extensions_mut()
                .insert(ConnectInfo(SocketAddr::new(client, peer.port())));
            let response =
                match tokio::time::timeout(limits.request_timeout, router.oneshot(req)).await {
                    Ok(Ok(r)) => r,
                    Ok(Err(never)) => match never {},
                    Err(_) => ApiError::TimedOut(format!(
                        "the request took longer than {} s",
                        limits.request_timeout.as_secs()
                    ))
                    .into_response(),
                };
            // The connection stays busy until the body is written: the guard goes with it.
            let response = response.map(|body| {
                axum::body::Body::new(body.map_frame(move |frame| {
                    let _busy = &guard;
                    frame
                }))
            });
            Ok::<_, Infallible>(response)
        }
    });
    let http = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(http);
    let mut stopping = false;
    loop {
        let deadline = conn.deadline(&limits);
        let changed = conn.changed.notified();
        tokio::select! {
            done = http.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            () = conn.evict.cancelled() => break,
            () = stop.cancelled(), if !stopping => {
                if conn.is_idle() {
                    break;
                }
                // Finish the request in hand, then close.
                http.as_mut().graceful_shutdown();
                stopping = true;
            }
            () = changed => {
                if stopping && conn.is_idle() {
                    break;
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                if Instant::now() >= conn.deadline(&limits) {
                    break;
                }
            }
        }
    }
}
