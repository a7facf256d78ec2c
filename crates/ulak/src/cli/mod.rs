//! One module per CLI command family.

pub mod admin;
pub mod api;
pub mod campaign;
pub mod check;
pub mod count;
pub mod manage;
pub mod send;
pub mod serve;
pub mod smpp;
