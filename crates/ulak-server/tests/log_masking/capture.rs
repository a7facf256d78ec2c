//! The global subscriber and the buffer it writes everything into.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Everything logged, as the fmt subscriber wrote it.
pub type Buffer = Arc<Mutex<Vec<u8>>>;

/// One writer per event, appending to the shared buffer.
struct Capture(Buffer);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the global subscriber: the binary's fmt output (`ulak serve`'s `init_logs`), with
/// everything enabled at TRACE, span creation and close written too, and no colours.
pub fn capture_logs() -> Buffer {
    let buffer = Buffer::default();
    let writer = Arc::clone(&buffer);
    tracing_subscriber::fmt()
        // Not from the environment: a RUST_LOG must not be able to make the test vacuous.
        .with_env_filter(EnvFilter::new("trace"))
        .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || Capture(Arc::clone(&writer)))
        .try_init()
        .expect("this test binary installs the only global subscriber");
    buffer
}
