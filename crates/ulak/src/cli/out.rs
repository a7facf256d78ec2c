//! Standard output and error for the commands, without `println!`'s panic when the reader
//! went away (`ulak subscribers list | head -1`).
//!
//! A closed pipe (EPIPE) stops the output quietly: nothing more is written, no message, and
//! the command goes on to end with its own exit status (so `ulak send --wait | head -1` still
//! exits 1 for a message that was not delivered). Any other write error (a full disk) is
//! reported once on stderr and makes a successful command exit 1, as the output it promised is
//! incomplete.

use std::fmt;
use std::io::{ErrorKind, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// Standard output is gone (closed pipe or failed write): write nothing more to it.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
/// A write failed for another reason than a closed pipe.
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);

/// Writes to standard output; see the module comment for what happens when it cannot.
pub(crate) fn write_out(args: fmt::Arguments<'_>) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != ErrorKind::BrokenPipe {
            STDOUT_FAILED.store(true, Ordering::Relaxed);
            write_err(format_args!("ulak: cannot write to standard output: {e}\n"));
        }
    }
}

/// Writes bytes as they are to standard output (a download), like [`write_out`]; `false`
/// once standard output is gone, so the caller can stop producing.
pub(crate) fn write_out_bytes(bytes: &[u8]) -> bool {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return false;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != ErrorKind::BrokenPipe {
            STDOUT_FAILED.store(true, Ordering::Relaxed);
            write_err(format_args!("ulak: cannot write to standard output: {e}\n"));
        }
        return false;
    }
    true
}

/// Whether standard output is gone (a closed pipe): producing more is wasted.
pub(crate) fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// Writes to standard error; a closed stderr leaves nothing better to do than go on.
pub(crate) fn write_err(args: fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.flush());
}

/// The exit status of a command that ended with `code`: a success whose output could not be
/// written is a failure.
pub(crate) fn exit(code: ExitCode) -> ExitCode {
    if STDOUT_FAILED.load(Ordering::Relaxed) && code == ExitCode::SUCCESS {
        ExitCode::FAILURE
    } else {
        code
    }
}

/// `println!` that never panics (see [`write_out`]).
macro_rules! outln {
    () => {
        $crate::cli::out::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::out::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` that never panics.
macro_rules! errln {
    () => {
        $crate::cli::out::write_err(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::out::write_err(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprint!` that never panics.
macro_rules! err {
    ($($arg:tt)*) => {
        $crate::cli::out::write_err(format_args!($($arg)*))
    };
}

pub(crate) use {err, errln, outln};
