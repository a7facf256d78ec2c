//! Ulak's domain types and rules: recipients' identities (phone numbers for TR, AZ and KKTC;
//! TC ID numbers), and the per-country defaults the other crates start from.

pub mod code;
pub mod forwarded;
pub mod model;
pub mod net;
pub mod phone;
pub mod tckn;

pub use code::{Code, Lang};
pub use phone::{CountryType, Msisdn, NumberKind, PhoneError, UnknownCountryType, Zone};
pub use tckn::{Tckn, TcknError};
/// The text engine's encoding policy, which provider accounts and countries carry.
pub use ulak_text::Policy as TextPolicy;
