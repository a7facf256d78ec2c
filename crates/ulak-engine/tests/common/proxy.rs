//! A TCP proxy in front of a simulator that can be switched off: the SMSC gone.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A TCP proxy that can be switched off (all connections closed, port not listening) and on.
pub struct Proxy {
    /// Where it listens.
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    cut: Arc<std::sync::Mutex<CancellationToken>>,
}

impl Proxy {
    /// Starts a proxy to `target`.
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let cut = Arc::new(std::sync::Mutex::new(CancellationToken::new()));
        let (u, c) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            let mut listener = Some(listener);
            loop {
                if !u.load(Ordering::SeqCst) {
                    // Down: not even listening, so connects are refused.
                    listener = None;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                let l = match &listener {
                    Some(l) => l,
                    None => match TcpListener::bind(addr).await {
                        Ok(l) => listener.insert(l),
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                };
                let accepted = tokio::time::timeout(Duration::from_millis(100), l.accept()).await;
                let Ok(Ok((mut inbound, _))) = accepted else {
                    continue;
                };
                let token = c.lock().unwrap().clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        () = token.cancelled() => {}
                    }
                });
            }
        });
        Proxy { addr, up, cut }
    }

    /// Closes every connection and stops listening.
    pub fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        let mut c = self.cut.lock().unwrap();
        c.cancel();
        *c = CancellationToken::new();
    }

    /// Listens again.
    pub fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}
