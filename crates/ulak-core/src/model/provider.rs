//! Provider (operator) accounts: the kind of interface an account uses and the settings each
//! kind has, checked per kind. Secrets enter here in clear and leave only encrypted
//! (ulak-store).

use serde::{Deserialize, Serialize};
use ulak_text::Policy;

use super::limits;
use super::sms::Secret;
use super::validation::{Lines, RuleError, ValidationErrors, check_controls, check_length, text};
use super::{CompanyId, ProviderAccountId, parse_webhook_url};
use crate::Code;
use crate::CountryType;
use crate::net::OutboundPolicy;

/// Which kind of interface an operator account uses. An operator's HTTP API joins as a kind
/// of the [`ProviderFamily::Http`] family (and a provider file in the sending engine).
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

/// The settings a kind has: SMPP binds or an HTTP API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderFamily {
    /// Host, port, system id, binds, window, TON/NPI… ([`SmppSettings`]).
    Smpp,
    /// Base URL, credentials, token ([`HttpSettings`]).
    Http,
}

impl ProviderKind {
    /// The settings this kind has.
    pub fn family(self) -> ProviderFamily {
        match self {
            ProviderKind::Simulator | ProviderKind::Smpp => ProviderFamily::Smpp,
            ProviderKind::Http => ProviderFamily::Http,
        }
    }

    /// Whether the sending engine has a provider for this kind: an account of another kind
    /// would take the company's messages and never submit them.
    pub fn sendable(self) -> bool {
        matches!(self, ProviderKind::Simulator | ProviderKind::Smpp)
    }
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

stable_names!(ProviderKind { Simulator => "simulator", Smpp => "smpp", Http => "http" });
stable_names!(BindMode {
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
/// [`NewProviderAccount::new`]. Empty strings, a zero port and `None` mean "not given".
/// `Debug` shows whether a password or token was given, never them.
#[derive(Clone, Default)]
pub struct ProviderAccountDraft {
    /// Name, unique per company.
    pub name: String,
    /// `simulator`, `smpp` or `http`.
    pub kind: String,
    /// SMPP: host name or address.
    pub host: String,
    /// SMPP: TCP port.
    pub port: u16,
    /// SMPP: system_id (the operator user name).
    pub system_id: String,
    /// Operator password in clear; `None` on update keeps the stored one.
    pub password: Option<String>,
    /// SMPP: system_type.
    pub system_type: String,
    /// SMPP: `transceiver`, `transmitter_receiver` or `transmitter`; default transceiver.
    pub bind_mode: Option<String>,
    /// SMPP: number of binds (sessions); default 1.
    pub binds: Option<u32>,
    /// SMPP: outstanding requests per session; default 10.
    pub window: Option<u32>,
    /// Messages per second for the account; default 50.
    pub rate_per_sec: Option<u32>,
    /// Text policy name; default from the country type.
    pub text_policy: Option<String>,
    /// SMPP: source address TON/NPI; default 5/0 (alphanumeric).
    pub source: Option<TonNpi>,
    /// SMPP: destination address TON/NPI; default 1/1 (international, E.164).
    pub destination: Option<TonNpi>,
    /// HTTP: the operator API's base URL.
    pub base_url: Option<String>,
    /// HTTP: the API user name.
    pub username: Option<String>,
    /// HTTP: an API token in clear; `None` on update keeps the stored one.
    pub token: Option<String>,
    /// Whether the sending engine may use it.
    pub enabled: bool,
}

impl std::fmt::Debug for ProviderAccountDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderAccountDraft")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("base_url", &self.base_url)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// The settings of an SMPP account (the simulator's too, which connects to its own host).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmppSettings {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// SMPP system_id.
    pub system_id: String,
    /// SMPP system_type.
    pub system_type: String,
    /// Bind mode.
    pub bind_mode: BindMode,
    /// Binds, 1..=32.
    pub binds: u32,
    /// Window, 1..=1000.
    pub window: u32,
    /// Source TON/NPI.
    pub source: TonNpi,
    /// Destination TON/NPI.
    pub destination: TonNpi,
}

/// The settings of an operator HTTP API account (its password and token are secrets,
/// stored apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpSettings {
    /// The API's base URL (`http(s)://host[:port][/path]`).
    pub base_url: String,
    /// The API user name (empty when the API takes a token alone).
    pub username: String,
}

/// What an account's kind needs to reach its operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ProviderSettings {
    /// SMPP binds.
    Smpp(SmppSettings),
    /// An HTTP API.
    Http(HttpSettings),
}

/// A checked provider account (also used to replace one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProviderAccount {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: ProviderKind,
    /// Operator password; `None` on update keeps the stored one.
    pub password: Option<Secret>,
    /// HTTP API token; `None` on update keeps the stored one.
    pub token: Option<Secret>,
    /// Messages per second, 1..=100000.
    pub rate_per_sec: u32,
    /// Data coding policy.
    pub text_policy: Policy,
    /// Enabled.
    pub enabled: bool,
    /// The kind's settings (of the kind's family).
    pub settings: ProviderSettings,
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

/// Refuses a setting given for a kind that does not have it.
fn other_kind(e: &mut ValidationErrors, given: bool, field: &str, kind: &str) {
    if given {
        e.push(
            field,
            Code::ProviderSettingOtherKind,
            format!("not a setting of {kind} accounts"),
        );
    }
}

impl NewProviderAccount {
    /// Validates every field of the draft, the settings by the kind's family (a setting of
    /// the other family is refused, not ignored); defaults come from `country`. The host of
    /// an operator account must be one `policy` allows when it is an address (the
    /// simulator's host is not used).
    pub fn new(
        d: ProviderAccountDraft,
        country: CountryType,
        policy: &OutboundPolicy,
    ) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let name = e.take("name", text(&d.name, limits::PROVIDER_NAME));
        let kind = e.take("kind", d.kind.parse::<ProviderKind>());
        if kind.is_some_and(|k| !k.sendable()) {
            e.push(
                "kind",
                Code::ProviderKindUnsupported,
                format!("{} provider accounts cannot send yet; use smpp", d.kind),
            );
        }
        let (settings, token) = match kind.map(ProviderKind::family) {
            Some(ProviderFamily::Http) => {
                let (s, t) = http_settings(&d, policy, &mut e);
                (s.map(ProviderSettings::Http), t)
            }
            _ => (
                smpp_settings(&d, kind, policy, &mut e).map(ProviderSettings::Smpp),
                Some(None),
            ),
        };
        let password = match d.password.as_deref() {
            None => Some(None),
            Some(p) => e.take("password", Secret::parse(p)).map(Some),
        };
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
                password: password?,
                token: token?,
                rate_per_sec: rate?,
                text_policy: text_policy?,
                enabled: d.enabled,
                settings: settings?,
            })
        })
    }
}

/// The SMPP family's settings of a draft; HTTP settings in it are refused.
fn smpp_settings(
    d: &ProviderAccountDraft,
    kind: Option<ProviderKind>,
    policy: &OutboundPolicy,
    e: &mut ValidationErrors,
) -> Option<SmppSettings> {
    let name = kind.map_or("smpp", ProviderKind::as_str);
    other_kind(e, d.base_url.is_some(), "base_url", name);
    other_kind(e, d.username.is_some(), "username", name);
    other_kind(e, d.token.is_some(), "token", name);
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
    let bind_mode = match d.bind_mode.as_deref() {
        None => Some(BindMode::Transceiver),
        Some(b) => e.take("bind_mode", b.parse()),
    };
    let binds = e.take("binds", range(d.binds.unwrap_or(1), 1, 32));
    let window = e.take("window", range(d.window.unwrap_or(10), 1, 1000));
    Some(SmppSettings {
        host: host?,
        port: d.port,
        system_id: system_id?,
        system_type: system_type?,
        bind_mode: bind_mode?,
        binds: binds?,
        window: window?,
        source: d.source.unwrap_or(TonNpi { ton: 5, npi: 0 }),
        destination: d.destination.unwrap_or(TonNpi { ton: 1, npi: 1 }),
    })
}

/// The HTTP family's settings of a draft, and its token (`Some(None)`: none given); SMPP
/// settings in it are refused.
fn http_settings(
    d: &ProviderAccountDraft,
    policy: &OutboundPolicy,
    e: &mut ValidationErrors,
) -> (Option<HttpSettings>, Option<Option<Secret>>) {
    let kind = d.kind.as_str();
    other_kind(e, !d.host.is_empty(), "host", kind);
    other_kind(e, d.port != 0, "port", kind);
    other_kind(e, !d.system_id.is_empty(), "system_id", kind);
    other_kind(e, !d.system_type.is_empty(), "system_type", kind);
    other_kind(e, d.bind_mode.is_some(), "bind_mode", kind);
    other_kind(e, d.binds.is_some(), "binds", kind);
    other_kind(e, d.window.is_some(), "window", kind);
    other_kind(e, d.source.is_some(), "source", kind);
    other_kind(e, d.destination.is_some(), "destination", kind);
    // The same rules as a webhook's address: http(s), no credentials in it, and an address
    // host only where the system administrator allows it.
    let base_url = match d.base_url.as_deref() {
        None => {
            e.push(
                "base_url",
                Code::ValueEmpty,
                "an HTTP account needs its API's base URL",
            );
            None
        }
        Some(u) => e.take("base_url", parse_webhook_url(u, policy)),
    };
    // Given, a user name is not blank (leave it out for an API that takes a token alone).
    let username = match d.username.as_deref() {
        None => Some(String::new()),
        Some(u) => e.take("username", text(u, limits::PROVIDER_USERNAME)),
    };
    let token = match d.token.as_deref() {
        None => Some(None),
        Some(t) if t.trim().is_empty() => {
            e.push("token", Code::ValueEmpty, "must not be blank");
            None
        }
        Some(t) => e
            .take("token", Secret::parse_within(t, limits::PROVIDER_TOKEN))
            .map(Some),
    };
    let settings = match (base_url, username) {
        (Some(base_url), Some(username)) => Some(HttpSettings { base_url, username }),
        _ => None,
    };
    (settings, token)
}

/// A stored provider account; its password and token are never part of it (see
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
    /// Whether a password is stored.
    pub has_password: bool,
    /// Whether an HTTP API token is stored.
    pub has_token: bool,
    /// Messages per second.
    pub rate_per_sec: u32,
    /// Data coding policy.
    pub text_policy: Policy,
    /// Enabled.
    pub enabled: bool,
    /// Creation time, unix milliseconds.
    pub created_at: i64,
    /// Last change, unix milliseconds.
    pub updated_at: i64,
    /// The kind's settings.
    #[serde(flatten)]
    pub settings: ProviderSettings,
}

impl ProviderAccount {
    /// The SMPP settings, for an account of the SMPP family.
    pub fn smpp(&self) -> Option<&SmppSettings> {
        match &self.settings {
            ProviderSettings::Smpp(s) => Some(s),
            ProviderSettings::Http(_) => None,
        }
    }

    /// The HTTP settings, for an account of the HTTP family.
    pub fn http(&self) -> Option<&HttpSettings> {
        match &self.settings {
            ProviderSettings::Http(s) => Some(s),
            ProviderSettings::Smpp(_) => None,
        }
    }

    /// How many submits may be awaiting the operator's answer at once: an SMPP account's
    /// windows over its binds; an HTTP account's requests, about a second's worth at its
    /// rate (at most [`MAX_HTTP_IN_FLIGHT`]).
    pub fn in_flight(&self) -> u32 {
        match &self.settings {
            ProviderSettings::Smpp(s) => s.window.max(1).saturating_mul(s.binds.max(1)),
            ProviderSettings::Http(_) => self.rate_per_sec.clamp(1, MAX_HTTP_IN_FLIGHT),
        }
    }
}

/// Most HTTP requests an account has open at once.
pub const MAX_HTTP_IN_FLIGHT: u32 = 64;

#[cfg(test)]
mod tests;
