//! One module per CLI command family.

pub mod check;
pub mod count;
