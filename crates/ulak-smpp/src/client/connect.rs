//! Opening one link: resolve the SMSC's address, connect to an allowed one, bind. Failures
//! are categories, never the OS's text (which names addresses and ports). [`probe`] does it
//! once and unbinds: an account's "test connection".

use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use super::ClientConfig;
use super::session::Role;
use crate::CommandStatus;
use crate::conn::{self, Reader, Writer};
use crate::pdu::{Bind, Body, Pdu};

/// Why a connect or bind failed: a category, without the OS's text or the address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The host name did not resolve.
    #[error("DNS failure")]
    Dns,
    /// Every address of the host is one the connect filter refuses.
    #[error("target not allowed")]
    NotAllowed,
    /// Nothing listens there.
    #[error("connection refused")]
    Refused,
    /// No connection or no bind_resp within the connect timeout.
    #[error("timed out")]
    TimedOut,
    /// No route to the host or network.
    #[error("host unreachable")]
    Unreachable,
    /// Any other connect failure.
    #[error("connection failed")]
    Failed,
    /// The SMSC answered the bind with an error status.
    #[error("bind refused: {0}")]
    BindRefused(CommandStatus),
    /// The SMSC answered the bind with generic_nack.
    #[error("bind answered with generic_nack {0}")]
    GenericNack(CommandStatus),
    /// The SMSC closed the link before answering the bind.
    #[error("connection closed")]
    Closed,
    /// The SMSC sent something that is not SMPP.
    #[error("protocol error")]
    Protocol,
}

impl From<&std::io::Error> for ConnectError {
    fn from(e: &std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::ConnectionRefused => Self::Refused,
            K::TimedOut => Self::TimedOut,
            K::HostUnreachable | K::NetworkUnreachable => Self::Unreachable,
            K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof => Self::Closed,
            _ => Self::Failed,
        }
    }
}

impl From<ConnectError> for super::BindError {
    fn from(e: ConnectError) -> Self {
        use super::BindError as B;
        match e {
            ConnectError::BindRefused(s) => B::Refused(s),
            ConnectError::GenericNack(s) => B::GenericNack(s),
            ConnectError::TimedOut => B::ConnectTimeout,
            ConnectError::Closed => B::Closed,
            ConnectError::Protocol => B::Link(e.to_string()),
            ConnectError::Dns
            | ConnectError::NotAllowed
            | ConnectError::Refused
            | ConnectError::Unreachable
            | ConnectError::Failed => B::Connect(e.to_string()),
        }
    }
}

/// Resolves the SMSC's address and connects to the first of its addresses the filter allows
/// (every resolved address is checked, so a name cannot lead somewhere the filter refuses).
async fn open(cfg: &super::ClientConfig) -> Result<TcpStream, ConnectError> {
    let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host(cfg.addr.as_str())
        .await
        .map_err(|_| ConnectError::Dns)?
        .collect();
    if addrs.is_empty() {
        return Err(ConnectError::Dns);
    }
    let mut last = ConnectError::NotAllowed;
    for a in addrs {
        if cfg
            .connect_filter
            .as_ref()
            .is_some_and(|f| !f.allows(a.ip()))
        {
            continue;
        }
        match TcpStream::connect(a).await {
            Ok(s) => return Ok(s),
            Err(e) => last = ConnectError::from(&e),
        }
    }
    Err(last)
}

pub(super) async fn connect(
    cfg: &ClientConfig,
    role: Role,
) -> Result<(Reader, Writer, JoinHandle<()>), ConnectError> {
    let stream = tokio::time::timeout(cfg.connect_timeout, open(cfg))
        .await
        .map_err(|_| ConnectError::TimedOut)??;
    let (mut reader, writer, wtask) = conn::split(stream, cfg.max_command_length);
    let bind = Bind {
        system_id: cfg.system_id.clone(),
        password: cfg.password.clone(),
        system_type: cfg.system_type.clone(),
        ..Default::default()
    };
    let req = Pdu::new(1, role.bind(bind));
    let want = req.command_id() | 0x8000_0000;
    writer.send(req);
    let deadline = tokio::time::Instant::now() + cfg.connect_timeout;
    let fail = |wtask: JoinHandle<()>, e: ConnectError| {
        wtask.abort();
        Err(e)
    };
    loop {
        let item = match tokio::time::timeout_at(deadline, reader.next()).await {
            Ok(i) => i,
            Err(_) => return fail(wtask, ConnectError::TimedOut),
        };
        match item {
            Ok(Some(Ok(pdu))) if pdu.sequence == 1 && pdu.command_id() == want => {
                if pdu.status.is_ok() {
                    return Ok((reader, writer, wtask));
                }
                return fail(wtask, ConnectError::BindRefused(pdu.status));
            }
            Ok(Some(Ok(pdu))) if pdu.body == Body::GenericNack => {
                return fail(wtask, ConnectError::GenericNack(pdu.status));
            }
            Ok(Some(Ok(pdu))) if pdu.body == Body::EnquireLink => {
                writer.send(Pdu::new(pdu.sequence, Body::EnquireLinkResp));
            }
            Ok(Some(_)) => {}
            Ok(None) => return fail(wtask, ConnectError::Closed),
            Err(crate::framing::FrameError::Io(e)) => return fail(wtask, ConnectError::from(&e)),
            Err(_) => return fail(wtask, ConnectError::Protocol),
        }
    }
}

/// Connects to `cfg.addr` (only where `cfg.connect_filter` allows), binds once as a
/// transceiver with `cfg`'s credentials within `cfg.connect_timeout`, then unbinds (waiting
/// at most `cfg.unbind_timeout` for the answer). Nothing is submitted and nothing retried.
pub async fn probe(cfg: &ClientConfig) -> Result<(), ConnectError> {
    let (mut reader, writer, wtask) = connect(cfg, Role::Transceiver).await?;
    writer.send(Pdu::new(2, Body::Unbind));
    let deadline = tokio::time::Instant::now() + cfg.unbind_timeout;
    // Bound is what was asked; the unbind is courtesy, so its failure is not the caller's.
    while let Ok(Ok(Some(Ok(pdu)))) = tokio::time::timeout_at(deadline, reader.next()).await {
        match pdu.body {
            Body::UnbindResp => break,
            Body::EnquireLink => {
                writer.send(Pdu::new(pdu.sequence, Body::EnquireLinkResp));
            }
            _ => {}
        }
    }
    drop(writer);
    // The writer task ends once its queue is written and the link shut down.
    if tokio::time::timeout(cfg.unbind_timeout, wtask)
        .await
        .is_err()
    {
        tracing::debug!("the probe link did not close in time");
    }
    Ok(())
}
