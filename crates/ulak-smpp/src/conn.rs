//! One TCP link split into a reader (framed, cancel-safe) and a writer task that batches.
//!
//! The writer runs on its own task so a side that is busy reading never blocks on a full
//! socket, and both peers writing at once cannot deadlock. Batching several PDUs per
//! `write_all` is what makes high windows cheap.

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::codec::Decoder;

use crate::framing::{FrameError, SmppCodec};
use crate::pdu::{Pdu, PduError};

/// Largest batch written at once; bounds the writer's buffer.
const MAX_BATCH: usize = 256 * 1024;

/// The read side: yields PDUs (or body errors) until EOF.
pub(crate) struct Reader {
    rd: OwnedReadHalf,
    buf: BytesMut,
    codec: SmppCodec,
}

impl Reader {
    /// The next item; `Ok(None)` on a clean EOF. Cancel-safe: nothing is lost if dropped.
    pub(crate) async fn next(&mut self) -> Result<Option<Result<Pdu, PduError>>, FrameError> {
        loop {
            if let Some(item) = self.codec.decode(&mut self.buf)? {
                return Ok(Some(item));
            }
            if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.reserve(16 * 1024);
            }
            if self.rd.read_buf(&mut self.buf).await? == 0 {
                return Ok(None);
            }
        }
    }
}

/// The write side: a channel to the writer task.
#[derive(Clone, Debug)]
pub(crate) struct Writer {
    tx: mpsc::UnboundedSender<Pdu>,
}

impl Writer {
    /// Queues a PDU; false when the link is gone.
    pub(crate) fn send(&self, pdu: Pdu) -> bool {
        self.tx.send(pdu).is_ok()
    }

    /// A handle that can write on this link without keeping it open: once every [`Writer`]
    /// is gone (the session ended), sending through it does nothing.
    pub(crate) fn downgrade(&self) -> WeakWriter {
        WeakWriter {
            tx: self.tx.downgrade(),
        }
    }
}

/// A [`Writer`] that does not keep the link open.
#[derive(Clone, Debug)]
pub(crate) struct WeakWriter {
    tx: mpsc::WeakUnboundedSender<Pdu>,
}

impl WeakWriter {
    /// Queues a PDU if the link is still up; false when it is gone.
    pub(crate) fn send(&self, pdu: Pdu) -> bool {
        self.tx.upgrade().is_some_and(|tx| tx.send(pdu).is_ok())
    }
}

/// Splits `stream` into a reader and a writer task.
pub(crate) fn split(stream: TcpStream, max_len: u32) -> (Reader, Writer, JoinHandle<()>) {
    // Small PDUs must leave at once; Nagle would add up to 40 ms per window turn.
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(write_loop(wr, rx));
    (
        Reader {
            rd,
            buf: BytesMut::with_capacity(32 * 1024),
            codec: SmppCodec::new(max_len),
        },
        Writer { tx },
        task,
    )
}

async fn write_loop(mut wr: OwnedWriteHalf, mut rx: mpsc::UnboundedReceiver<Pdu>) {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    while let Some(pdu) = rx.recv().await {
        buf.clear();
        pdu.encode(&mut buf);
        while buf.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => p.encode(&mut buf),
                Err(_) => break,
            }
        }
        if let Err(e) = wr.write_all(&buf).await {
            tracing::debug!(error = %e, "write failed; closing link");
            return;
        }
    }
    let _ = wr.shutdown().await;
}
