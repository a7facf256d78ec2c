//! Row ids as distinct types, so a `GroupId` can never be passed where a `SubscriberId` is meant.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Declares an id newtype over the database's `i64` row id.
macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// The raw row id.
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl From<i64> for $name {
            fn from(v: i64) -> Self {
                Self(v)
            }
        }
    )*};
}

id_type! {
    /// A company (tenant).
    CompanyId;
    /// An outgoing message.
    MessageId;
    /// A user of a company.
    UserId;
    /// An API key.
    ApiKeyId;
    /// A mobile subscriber.
    SubscriberId;
    /// A group of subscribers.
    GroupId;
    /// A customer account ("cari hesap").
    CustomerAccountId;
    /// An SMS template.
    TemplateId;
    /// An operator (provider) account.
    ProviderAccountId;
    /// A sender header (originator).
    SenderHeaderId;
    /// An opt-out list entry.
    OptOutId;
    /// A credit ledger entry.
    CreditEntryId;
    /// A webhook endpoint.
    WebhookEndpointId;
}
