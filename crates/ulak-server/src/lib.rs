//! Ulak's HTTP API: layered configuration, two-step start-up, handlers, and the OpenAPI 3.1
//! document generated from them. Thin: rules live in `ulak-core`, SQL in `ulak-store`.

pub mod auth;
pub mod config;
pub mod error;
pub mod http;
pub mod import;
mod numbers;
pub mod ratelimit;
pub mod recovery;
pub mod routes;
pub mod startup;
pub mod web;

pub use config::{Layer, Settings};
pub use startup::{App, AppState};
