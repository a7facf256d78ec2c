//! Domain types and rules.

pub mod phone;
pub mod tckn;

pub use phone::{CountryType, Msisdn, NumberKind, PhoneError, UnknownCountryType, Zone};
pub use tckn::{Tckn, TcknError};
