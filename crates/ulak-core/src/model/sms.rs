//! A company's SMS settings: provider (operator) accounts, sender headers and the OTP and
//! TC-ID sending options. Secrets enter here in clear and leave only encrypted (ulak-store).

use crate::Code;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use ulak_text::Policy;

use super::limits;
use super::validation::{Lines, RuleError, ValidationErrors, check_controls, check_length, text};
use super::{CompanyId, ProviderAccountId, SenderHeaderId};
use crate::CountryType;
use crate::net::OutboundPolicy;

/// A secret in clear (operator password), held only until it is encrypted; `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// 1..=256 characters, no control character.
    pub fn parse(s: &str) -> Result<Self, RuleError> {
        if s.is_empty() {
            return Err(RuleError::new(Code::ValueEmpty, "must not be empty"));
        }
        check_length(s, limits::SECRET)?;
        check_controls(s, Lines::One)?;
        Ok(Self(s.to_owned()))
    }

    /// The clear text, for encryption or for the sending engine.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A sender header (originator): alphanumeric, 1..=11 of ASCII letters, digits, space and
/// `.-_&` with at least one letter (operators reject Turkish letters here), or numeric,
/// 3..=15 digits. Surrounding spaces are trimmed; at most 15 characters as typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct SenderName(String);

impl SenderName {
    /// Checks the rules above.
    pub fn parse(s: &str) -> Result<Self, RuleError> {
        check_length(s, limits::SENDER)?;
        check_controls(s, Lines::One)?;
        let s = s.trim();
        if s.is_empty() {
            return Err(RuleError::new(Code::ValueEmpty, "must not be empty"));
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            if !(3..=15).contains(&s.len()) {
                return Err(RuleError::new(
                    Code::SenderNumericLength,
                    "a numeric sender has 3..=15 digits",
                ));
            }
            return Ok(Self(s.to_owned()));
        }
        if s.chars().any(|c| "çğıöşüÇĞİÖŞÜ".contains(c)) {
            return Err(RuleError::new(
                Code::SenderTurkishLetter,
                "Turkish letters are not allowed",
            ));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " .-_&".contains(c))
        {
            return Err(RuleError::new(
                Code::SenderInvalidCharacter,
                "only A-Z, a-z, 0-9, space and .-_&",
            ));
        }
        if s.len() > limits::SENDER_ALPHANUMERIC {
            return Err(RuleError::new(
                Code::SenderTooLong,
                "an alphanumeric sender has at most 11 characters",
            ));
        }
        if !s.bytes().any(|b| b.is_ascii_alphabetic()) {
            return Err(RuleError::new(
                Code::SenderNoLetter,
                "an alphanumeric sender has at least one letter (or is 3 to 15 digits)",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// Rebuilds a stored name without re-checking it.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    /// The header.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it is a numeric originator (TON/NPI differ for those).
    pub fn is_numeric(&self) -> bool {
        self.0.bytes().all(|b| b.is_ascii_digit())
    }
}

/// Input for a sender header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSenderHeader {
    /// The header, unique per company.
    pub name: SenderName,
    /// Make it the company's default.
    pub is_default: bool,
}

impl NewSenderHeader {
    /// Validates `name`.
    pub fn new(name: &str, is_default: bool) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let name = e.take("name", SenderName::parse(name));
        e.finish(|| {
            Some(Self {
                name: name?,
                is_default,
            })
        })
    }
}

/// A stored sender header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SenderHeader {
    /// Row id.
    pub id: SenderHeaderId,
    /// Owning company.
    pub company_id: CompanyId,
    /// The header.
    pub name: SenderName,
    /// Whether it is the default (at most one per company).
    pub is_default: bool,
    /// Creation time, unix milliseconds.
    pub created_at: i64,
}

/// The per-company SMS settings that are not lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmsSettings {
    /// Owning company.
    pub company_id: CompanyId,
    /// How national numbers are read; default text policy.
    pub country_type: CountryType,
    /// The sender header used for TC-ID addressed messages.
    pub tckn_sender: Option<SenderName>,
    /// Whether the company's TC-ID sending subscription is active.
    pub tckn_subscription_active: bool,
    /// OTP account user name.
    pub otp_username: Option<String>,
    /// Whether an OTP password is stored (it is never returned).
    pub has_otp_password: bool,
    /// Words that, as the first word of an inbound message, put its sender on the opt-out
    /// list (default `RET`, `IPTAL`).
    pub opt_out_keywords: Vec<String>,
}

/// Changes to the SMS settings; `None` leaves a field, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmsSettingsPatch {
    /// New country type.
    pub country_type: Option<CountryType>,
    /// New TC-ID sender header.
    pub tckn_sender: Option<Option<SenderName>>,
    /// New TC-ID subscription flag.
    pub tckn_subscription_active: Option<bool>,
    /// New OTP user name.
    pub otp_username: Option<Option<String>>,
    /// New OTP password.
    pub otp_password: Option<Option<Secret>>,
    /// New opt-out keywords.
    pub opt_out_keywords: Option<Vec<String>>,
}

/// Raw changes to the SMS settings as the API receives them; `None` leaves a field,
/// `Some(None)` clears it. Checked by [`SmsSettingsPatch::new`].
#[derive(Debug, Clone, Default)]
pub struct SmsSettingsDraft {
    /// `TR`, `AZ` or `KKTC`.
    pub country_type: Option<CountryType>,
    /// TC-ID sender header.
    pub tckn_sender: Option<Option<String>>,
    /// TC-ID subscription flag.
    pub tckn_subscription_active: Option<bool>,
    /// OTP user name.
    pub otp_username: Option<Option<String>>,
    /// OTP password in clear.
    pub otp_password: Option<Option<String>>,
    /// Opt-out keywords (1 to 10 words of letters and digits).
    pub opt_out_keywords: Option<Vec<String>>,
}

impl SmsSettingsPatch {
    /// Validates the given fields: the TC-ID header follows the sender header rules, the OTP
    /// user name is 1..=64 characters and the password 1..=256.
    pub fn new(d: SmsSettingsDraft) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let tckn_sender = match d.tckn_sender {
            None => Some(None),
            Some(None) => Some(Some(None)),
            Some(Some(s)) => e
                .take("tckn_sender", SenderName::parse(&s))
                .map(|s| Some(Some(s))),
        };
        let otp_username = match d.otp_username {
            None => Some(None),
            Some(None) => Some(Some(None)),
            Some(Some(s)) => e
                .take("otp_username", text(&s, limits::OTP_USERNAME))
                .map(|s| Some(Some(s))),
        };
        let otp_password = match d.otp_password {
            None => Some(None),
            Some(None) => Some(Some(None)),
            Some(Some(s)) => e
                .take("otp_password", Secret::parse(&s))
                .map(|s| Some(Some(s))),
        };
        let keywords = match d.opt_out_keywords {
            None => Some(None),
            Some(k) => opt_out_keywords(&k, &mut e).map(Some),
        };
        e.finish(|| {
            Some(Self {
                opt_out_keywords: keywords?,
                country_type: d.country_type,
                tckn_sender: tckn_sender?,
                tckn_subscription_active: d.tckn_subscription_active,
                otp_username: otp_username?,
                otp_password: otp_password?,
            })
        })
    }
}

/// Checks opt-out keywords: 1 to 10, each one word of letters and digits of at most 20
/// characters as typed (surrounding spaces included), kept in upper case.
fn opt_out_keywords(k: &[String], e: &mut ValidationErrors) -> Option<Vec<String>> {
    if k.is_empty() || k.len() > 10 {
        e.push(
            "opt_out_keywords",
            Code::ValueOutOfRange,
            "1 to 10 keywords",
        );
        return None;
    }
    let mut ok = true;
    for (i, w) in k.iter().enumerate() {
        let field = format!("opt_out_keywords[{i}]");
        let rules = check_length(w, limits::OPT_OUT_KEYWORD)
            .and_then(|()| check_controls(w, Lines::One))
            .and_then(|()| {
                let t = w.trim();
                if t.is_empty() || !t.chars().all(char::is_alphanumeric) {
                    Err(RuleError::new(
                        Code::ValueInvalid,
                        "a keyword is one word of letters and digits (at most 20)",
                    ))
                } else {
                    Ok(())
                }
            });
        ok &= e.take(&field, rules).is_some();
    }
    ok.then(|| k.iter().map(|w| w.trim().to_uppercase()).collect())
}

/// Which kind of interface an operator account uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Ulak's built-in SMSC simulator.
    Simulator,
    /// SMPP 3.4.
    Smpp,
    /// An operator's HTTP API (later: accounts of this kind cannot be created yet).
    Http,
}

/// How SMPP sessions bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindMode {
    /// One transceiver session per bind.
    Transceiver,
    /// A transmitter plus a receiver session per bind.
    TransmitterReceiver,
    /// Transmitter only (no delivery reports on this account).
    Transmitter,
}

/// Declares `as_str`/`FromStr` for a snake-case enum.
macro_rules! names {
    ($t:ty { $($v:ident => $s:literal),* }) => {
        impl $t {
            /// Stable name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
        }
        impl FromStr for $t {
            type Err = RuleError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($s => Ok(Self::$v),)*
                    _ => Err(RuleError::new(Code::ValueInvalid, concat!("expected one of:", $(" ", $s),*))),
                }
            }
        }
    };
}

names!(ProviderKind { Simulator => "simulator", Smpp => "smpp", Http => "http" });
names!(BindMode {
    Transceiver => "transceiver",
    TransmitterReceiver => "transmitter_receiver",
    Transmitter => "transmitter"
});

/// SMPP type of number and numbering plan indicator of an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TonNpi {
    /// TON (0 unknown, 1 international, 5 alphanumeric…).
    pub ton: u8,
    /// NPI (0 unknown, 1 E.164…).
    pub npi: u8,
}

/// Raw input for a provider account, as the API receives it; checked by
/// [`NewProviderAccount::new`].
#[derive(Debug, Clone, Default)]
pub struct ProviderAccountDraft {
    /// Name, unique per company.
    pub name: String,
    /// `simulator`, `smpp` or `http`.
    pub kind: String,
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// SMPP system_id (the operator user name).
    pub system_id: String,
    /// Operator password in clear; `None` on update keeps the stored one.
    pub password: Option<String>,
    /// SMPP system_type.
    pub system_type: String,
    /// `transceiver`, `transmitter_receiver` or `transmitter`; default transceiver.
    pub bind_mode: Option<String>,
    /// Number of binds (sessions); default 1.
    pub binds: Option<u32>,
    /// Outstanding requests per session; default 10.
    pub window: Option<u32>,
    /// Messages per second for the account; default 50.
    pub rate_per_sec: Option<u32>,
    /// Text policy name; default from the country type.
    pub text_policy: Option<String>,
    /// Source address TON/NPI; default 5/0 (alphanumeric).
    pub source: Option<TonNpi>,
    /// Destination address TON/NPI; default 1/1 (international, E.164).
    pub destination: Option<TonNpi>,
    /// Whether the sending engine may use it.
    pub enabled: bool,
}

/// A checked provider account (also used to replace one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProviderAccount {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: ProviderKind,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// SMPP system_id.
    pub system_id: String,
    /// Operator password; `None` on update keeps the stored one.
    pub password: Option<Secret>,
    /// SMPP system_type.
    pub system_type: String,
    /// Bind mode.
    pub bind_mode: BindMode,
    /// Binds, 1..=32.
    pub binds: u32,
    /// Window, 1..=1000.
    pub window: u32,
    /// Messages per second, 1..=100000.
    pub rate_per_sec: u32,
    /// Data coding policy.
    pub text_policy: Policy,
    /// Source TON/NPI.
    pub source: TonNpi,
    /// Destination TON/NPI.
    pub destination: TonNpi,
    /// Enabled.
    pub enabled: bool,
}

/// Refuses kinds the engine cannot send through yet: an account of such a kind would take
/// the company's messages and never submit them.
fn sendable(kind: ProviderKind) -> Result<ProviderKind, RuleError> {
    match kind {
        ProviderKind::Simulator | ProviderKind::Smpp => Ok(kind),
        ProviderKind::Http => Err(RuleError::new(
            Code::ProviderKindUnsupported,
            "http provider accounts cannot send yet; use smpp",
        )),
    }
}

/// Checks `v` is in `lo..=hi`.
fn range(v: u32, lo: u32, hi: u32) -> Result<u32, RuleError> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(RuleError::new(
            Code::ValueOutOfRange,
            format!("must be {lo}..={hi}"),
        ))
    }
}

impl NewProviderAccount {
    /// Validates every field of the draft; defaults come from `country`. The host of an
    /// operator account must be one `policy` allows when it is an address (the simulator's
    /// host is not used).
    pub fn new(
        d: ProviderAccountDraft,
        country: CountryType,
        policy: &OutboundPolicy,
    ) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let name = e.take("name", text(&d.name, limits::PROVIDER_NAME));
        let kind = e.take("kind", d.kind.parse::<ProviderKind>().and_then(sendable));
        let host = e.take(
            "host",
            text(&d.host, limits::PROVIDER_HOST).and_then(|h| match kind {
                Some(ProviderKind::Simulator) => Ok(h),
                _ => policy.check_host(&h).map(|()| h),
            }),
        );
        if d.port == 0 {
            e.push("port", Code::ValueOutOfRange, "must be 1..=65535");
        }
        // SMPP 3.4 limits system_id to 15 and system_type to 12 octets (plus NUL).
        let system_id = e.take("system_id", text(&d.system_id, limits::SYSTEM_ID));
        // May be empty (most operators leave it so).
        let system_type = e.take(
            "system_type",
            check_length(&d.system_type, limits::SYSTEM_TYPE)
                .and_then(|()| check_controls(&d.system_type, Lines::One))
                .map(|()| d.system_type.trim().to_owned()),
        );
        let password = match d.password.as_deref() {
            None => Some(None),
            Some(p) => e.take("password", Secret::parse(p)).map(Some),
        };
        let bind_mode = match d.bind_mode.as_deref() {
            None => Some(BindMode::Transceiver),
            Some(b) => e.take("bind_mode", b.parse()),
        };
        let binds = e.take("binds", range(d.binds.unwrap_or(1), 1, 32));
        let window = e.take("window", range(d.window.unwrap_or(10), 1, 1000));
        let rate = e.take(
            "rate_per_sec",
            range(d.rate_per_sec.unwrap_or(50), 1, 100_000),
        );
        let text_policy = match d.text_policy.as_deref() {
            None => Some(country.default_text_policy()),
            Some(p) => match p.parse::<Policy>() {
                Ok(p) => Some(p),
                Err(err) => {
                    e.push("text_policy", Code::ValueInvalid, err.to_string());
                    None
                }
            },
        };
        e.finish(|| {
            Some(Self {
                name: name?,
                kind: kind?,
                host: host?,
                port: d.port,
                system_id: system_id?,
                password: password?,
                system_type: system_type?,
                bind_mode: bind_mode?,
                binds: binds?,
                window: window?,
                rate_per_sec: rate?,
                text_policy: text_policy?,
                source: d.source.unwrap_or(TonNpi { ton: 5, npi: 0 }),
                destination: d.destination.unwrap_or(TonNpi { ton: 1, npi: 1 }),
                enabled: d.enabled,
            })
        })
    }
}

/// A stored provider account; the password is never part of it (see
/// `Store::decrypt_provider_password`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderAccount {
    /// Row id.
    pub id: ProviderAccountId,
    /// Owning company.
    pub company_id: CompanyId,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: ProviderKind,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// SMPP system_id.
    pub system_id: String,
    /// Whether a password is stored.
    pub has_password: bool,
    /// SMPP system_type.
    pub system_type: String,
    /// Bind mode.
    pub bind_mode: BindMode,
    /// Binds.
    pub binds: u32,
    /// Window.
    pub window: u32,
    /// Messages per second.
    pub rate_per_sec: u32,
    /// Data coding policy.
    pub text_policy: Policy,
    /// Source TON/NPI.
    pub source: TonNpi,
    /// Destination TON/NPI.
    pub destination: TonNpi,
    /// Enabled.
    pub enabled: bool,
    /// Creation time, unix milliseconds.
    pub created_at: i64,
    /// Last change, unix milliseconds.
    pub updated_at: i64,
}
