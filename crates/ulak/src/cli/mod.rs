//! One module per CLI command family.

pub mod admin;
pub mod api;
pub mod campaign;
pub mod check;
pub mod conn;
pub mod count;
pub mod export;
pub mod inbox;
pub mod manage;
pub mod messages;
pub mod out;
pub mod routes;
pub mod send;
pub mod serve;
pub mod smpp;
pub mod time;
