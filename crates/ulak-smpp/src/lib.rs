//! SMPP 3.4 stack for Ulak: PDU codec, framing, ESME client sessions and an SMSC simulator.
//!
//! Layers, bottom up: [`pdu`] (bytes ↔ PDU, no I/O), [`framing`] (a tokio codec that keeps
//! the session alive on a malformed body), then the client and the simulator.

pub mod client;
mod conn;
pub mod framing;
pub mod inbound;
pub mod pdu;
pub mod receipt;
pub mod sim;
mod status;

pub use status::CommandStatus;
