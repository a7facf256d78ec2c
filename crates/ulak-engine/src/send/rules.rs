//! The rules every message obeys, whoever sends it (a single send, a campaign, later OTP and
//! alerts): which sender header a recipient gets, and the message itself built under the
//! account's text policy. Pure: the caller loads the company's setup once.

use ulak_core::Code;
use ulak_core::model::{NewMessage, ProviderAccount, Recipient, SenderName, ValidationErrors};

/// What sending needs to know of a company, loaded once per send or campaign.
#[derive(Debug, Clone)]
pub struct SenderSetup {
    /// The header a phone send gets: the one asked for, or the default (`None`: neither).
    pub header: Option<SenderName>,
    /// The TC-ID header, when one is set.
    pub tckn_header: Option<SenderName>,
    /// Whether the company's TC-ID subscription is active.
    pub tckn_subscription: bool,
}

/// Why a recipient gets no sender header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderRefusal {
    /// The field to fix (`to` or `sender`).
    pub field: &'static str,
    /// Why, as a stable code.
    pub code: Code,
    /// What is wrong, in English.
    pub message: String,
}

impl SenderRefusal {
    fn new(field: &'static str, code: Code, message: impl Into<String>) -> Self {
        Self {
            field,
            code,
            message: message.into(),
        }
    }
}

/// The two kinds of recipient, as far as headers go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientKind {
    /// A mobile number.
    Phone,
    /// A TC ID number.
    Tckn,
}

impl From<&Recipient> for RecipientKind {
    fn from(r: &Recipient) -> Self {
        match r {
            Recipient::Msisdn(_) => RecipientKind::Phone,
            Recipient::Tckn(_) => RecipientKind::Tckn,
        }
    }
}

/// The header a recipient of `kind` is sent with. TC ID sends use the TC-ID header, with the
/// subscription active, and no other header may be asked for them (`asked`: the one the
/// request named); phone sends the company's header from `setup`.
pub fn sender_for(
    setup: &SenderSetup,
    kind: RecipientKind,
    asked: Option<&SenderName>,
) -> Result<SenderName, SenderRefusal> {
    match kind {
        RecipientKind::Tckn => {
            if !setup.tckn_subscription {
                let m = "the company's TC-ID subscription is not active";
                return Err(SenderRefusal::new("to", Code::TcknSubscriptionOff, m));
            }
            let Some(h) = &setup.tckn_header else {
                let m = "no TC-ID sender header is set in the SMS settings";
                return Err(SenderRefusal::new("to", Code::TcknNoSender, m));
            };
            if asked.is_some_and(|s| s != h) {
                let m = format!("TC ID sends use the TC-ID header {}", h.as_str());
                return Err(SenderRefusal::new("sender", Code::SenderTcknOnly, m));
            }
            Ok(h.clone())
        }
        RecipientKind::Phone => match (&setup.header, asked) {
            (Some(h), _) => Ok(h.clone()),
            (None, Some(_)) => {
                let m = "not one of the company's sender headers";
                Err(SenderRefusal::new("sender", Code::SenderUnknown, m))
            }
            (None, None) => {
                let m = "no default sender header is set";
                Err(SenderRefusal::new("sender", Code::SenderNoDefault, m))
            }
        },
    }
}

/// Credits one segment costs.
pub const PRICE_PER_SEGMENT: i64 = 1;

/// The message to `to`: its text encoded under `account`'s policy, priced, bound to the
/// account. Refused for an empty, unencodable or over-long text.
pub fn message_for(
    account: &ProviderAccount,
    to: Recipient,
    sender: SenderName,
    text: &str,
    scheduled_at: Option<i64>,
    valid_until: i64,
) -> Result<NewMessage, ValidationErrors> {
    NewMessage::new(
        to,
        sender,
        text,
        account.text_policy,
        PRICE_PER_SEGMENT,
        Some(account.id),
        scheduled_at,
        valid_until,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ulak_core::{CountryType, Tckn};

    fn name(s: &str) -> SenderName {
        SenderName::parse(s).unwrap()
    }

    fn phone() -> Recipient {
        Recipient::parse("05321234567", CountryType::Tr).unwrap()
    }

    fn tckn() -> Recipient {
        Recipient::Tckn(Tckn::parse("10000000078").unwrap())
    }

    #[test]
    fn headers_by_recipient_kind_and_setup() {
        let full = SenderSetup {
            header: Some(name("ACME")),
            tckn_header: Some(name("ACME TCKN")),
            tckn_subscription: true,
        };
        let code = |s: &SenderSetup, to: &Recipient, asked: Option<&str>| {
            sender_for(s, to.into(), asked.map(name).as_ref()).map_err(|e| (e.field, e.code))
        };
        assert_eq!(code(&full, &phone(), None), Ok(name("ACME")));
        assert_eq!(code(&full, &tckn(), None), Ok(name("ACME TCKN")));
        assert_eq!(
            code(&full, &tckn(), Some("ACME TCKN")),
            Ok(name("ACME TCKN"))
        );
        assert_eq!(
            code(&full, &tckn(), Some("ACME")),
            Err(("sender", Code::SenderTcknOnly))
        );
        let off = SenderSetup {
            tckn_subscription: false,
            ..full.clone()
        };
        assert_eq!(
            code(&off, &tckn(), None),
            Err(("to", Code::TcknSubscriptionOff))
        );
        // A phone send does not care about the TC-ID setup.
        assert_eq!(code(&off, &phone(), None), Ok(name("ACME")));
        let bare = SenderSetup {
            header: None,
            tckn_header: None,
            tckn_subscription: true,
        };
        assert_eq!(code(&bare, &tckn(), None), Err(("to", Code::TcknNoSender)));
        assert_eq!(
            code(&bare, &phone(), Some("OTHER")),
            Err(("sender", Code::SenderUnknown))
        );
        assert_eq!(
            code(&bare, &phone(), None),
            Err(("sender", Code::SenderNoDefault))
        );
    }
}
