//! Webhooks: a company's endpoints, the events they subscribe to, and what became of each
//! delivery. Signing and sending live in `ulak-engine`, the durable outbox in `ulak-store`;
//! deliveries follow the Standard Webhooks specification (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature`).

use crate::Code;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::validation::{RuleError, ValidationErrors, opt_text};
use super::{CompanyId, WebhookEndpointId};
use crate::net::{OutboundPolicy, host_ip};

/// Longest endpoint URL accepted.
pub const MAX_WEBHOOK_URL: usize = 2000;
/// Longest endpoint description accepted.
pub const MAX_WEBHOOK_DESCRIPTION: usize = 500;

/// What a webhook tells about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum WebhookEventType {
    /// The operator took a message (`message.sent`).
    #[serde(rename = "message.sent")]
    MessageSent,
    /// A message reached the handset (`message.delivered`).
    #[serde(rename = "message.delivered")]
    MessageDelivered,
    /// A message ended in any other final state: undeliverable, expired, rejected, unknown,
    /// or failed before the operator took it (`message.failed`).
    #[serde(rename = "message.failed")]
    MessageFailed,
    /// An inbound message arrived (`inbound.received`).
    #[serde(rename = "inbound.received")]
    InboundReceived,
    /// Every recipient of a campaign reached a final state (`campaign.finished`).
    #[serde(rename = "campaign.finished")]
    CampaignFinished,
}

impl WebhookEventType {
    /// Every event type, in a stable order.
    pub const ALL: [WebhookEventType; 5] = [
        Self::MessageSent,
        Self::MessageDelivered,
        Self::MessageFailed,
        Self::InboundReceived,
        Self::CampaignFinished,
    ];

    /// The stable name (`message.delivered`…).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MessageSent => "message.sent",
            Self::MessageDelivered => "message.delivered",
            Self::MessageFailed => "message.failed",
            Self::InboundReceived => "inbound.received",
            Self::CampaignFinished => "campaign.finished",
        }
    }
}

impl FromStr for WebhookEventType {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                RuleError::new(
                    Code::WebhookEventUnknown,
                    "expected one of: message.sent message.delivered message.failed \
                     inbound.received campaign.finished",
                )
            })
    }
}

impl fmt::Display for WebhookEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a delivery (one event to one endpoint) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookDeliveryState {
    /// Waiting for its first or next attempt.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt of the retry schedule failed.
    Failed,
}

impl WebhookDeliveryState {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

impl FromStr for WebhookDeliveryState {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Self::Pending),
            "delivered" => Ok(Self::Delivered),
            "failed" => Ok(Self::Failed),
            _ => Err(RuleError::new(
                Code::ValueInvalid,
                "expected one of: pending delivered failed",
            )),
        }
    }
}

/// Checks an endpoint URL: `http://` or `https://` with a host, at most
/// [`MAX_WEBHOOK_URL`] characters, no spaces or control characters, no user name or
/// password in it (the signature authenticates the sender; credentials in a URL would be
/// stored and shown in clear), and a host `policy` allows when it is an address (in any
/// notation the HTTP client reads: `http://2130706433/` is loopback) or `localhost`.
pub fn parse_webhook_url(s: &str, policy: &OutboundPolicy) -> Result<String, RuleError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(RuleError::new(Code::ValueEmpty, "must not be empty"));
    }
    let n = t.chars().count();
    if n > MAX_WEBHOOK_URL {
        return Err(RuleError::new(
            Code::ValueTooLong,
            format!("{n} characters, at most {MAX_WEBHOOK_URL} allowed"),
        ));
    }
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(RuleError::new(
            Code::UrlInvalid,
            "must not contain spaces or control characters",
        ));
    }
    let lower = t.to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &t["https://".len()..]
    } else if lower.starts_with("http://") {
        &t["http://".len()..]
    } else {
        return Err(RuleError::new(
            Code::UrlScheme,
            "must start with http:// or https://",
        ));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(RuleError::new(
            Code::UrlCredentials,
            "must not contain a user name or password",
        ));
    }
    // `[v6]` or `[v6]:port` (nothing else after the bracket), or `host` or `host:port`.
    let bad = |m: &str| RuleError::new(Code::UrlInvalid, m);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, rest) = v6
            .split_once(']')
            .ok_or_else(|| bad("an IPv6 address needs its closing ]"))?;
        match rest {
            "" => (host, None),
            _ => (
                host,
                Some(
                    rest.strip_prefix(':')
                        .ok_or_else(|| bad("a port follows ':'"))?,
                ),
            ),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(bad("must name a host"));
    }
    // Digits only: the URL parser refuses a sign that `u16::from_str` would take.
    let bad_port = |p: &str| {
        !p.bytes().all(|b| b.is_ascii_digit()) || p.parse::<u16>().map_or(true, |p| p == 0)
    };
    if port.is_some_and(bad_port) {
        return Err(bad("the port must be 1 to 65535"));
    }
    // The host as the HTTP client will see it: the WHATWG parser turns `0x7f.1`, `%31...`
    // and full-width digits into the address they stand for.
    let parsed =
        url::Url::parse(t).map_err(|_| RuleError::new(Code::UrlInvalid, "not a valid URL"))?;
    let ip = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(d)) => host_ip(d),
        None => return Err(RuleError::new(Code::UrlInvalid, "must name a host")),
    };
    if ip.is_some_and(|ip| !policy.allows(ip)) {
        return Err(crate::net::not_allowed());
    }
    Ok(t.to_owned())
}

/// Reads event type names; an empty list means every type. Duplicates are dropped.
fn event_types(names: &[String], e: &mut ValidationErrors) -> Option<Vec<WebhookEventType>> {
    let mut out = Vec::new();
    let mut ok = true;
    for (i, n) in names.iter().enumerate() {
        match e.take(&format!("event_types[{i}]"), n.trim().parse()) {
            Some(t) if !out.contains(&t) => out.push(t),
            Some(_) => {}
            None => ok = false,
        }
    }
    out.sort();
    ok.then_some(out)
}

/// A new webhook endpoint, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhookEndpoint {
    /// Where deliveries are POSTed.
    pub url: String,
    /// A note for people.
    pub description: Option<String>,
    /// The event types it gets; empty means all.
    pub event_types: Vec<WebhookEventType>,
    /// Whether deliveries are made.
    pub enabled: bool,
}

impl NewWebhookEndpoint {
    /// Checks the URL ([`parse_webhook_url`] under `policy`), the description (at most 500
    /// characters) and the event type names.
    pub fn new(
        url: &str,
        description: Option<&str>,
        event_types_in: &[String],
        enabled: bool,
        policy: &OutboundPolicy,
    ) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let url = e.take("url", parse_webhook_url(url, policy));
        let description = e.take(
            "description",
            opt_text(description, MAX_WEBHOOK_DESCRIPTION),
        );
        let types = event_types(event_types_in, &mut e);
        e.finish(|| {
            Some(Self {
                url: url?,
                description: description?,
                event_types: types?,
                enabled,
            })
        })
    }
}

/// Changes to an endpoint; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookEndpointPatch {
    /// New URL.
    pub url: Option<String>,
    /// New description; `Some(None)` clears it.
    pub description: Option<Option<String>>,
    /// New event types (empty: all).
    pub event_types: Option<Vec<WebhookEventType>>,
    /// Enable or disable deliveries.
    pub enabled: Option<bool>,
}

impl WebhookEndpointPatch {
    /// Checks the given fields with the rules of [`NewWebhookEndpoint::new`].
    pub fn new(
        url: Option<&str>,
        description: Option<Option<&str>>,
        event_types_in: Option<&[String]>,
        enabled: Option<bool>,
        policy: &OutboundPolicy,
    ) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let url = match url {
            None => Some(None),
            Some(u) => e.take("url", parse_webhook_url(u, policy)).map(Some),
        };
        let description = match description {
            None => Some(None),
            Some(d) => e
                .take("description", opt_text(d, MAX_WEBHOOK_DESCRIPTION))
                .map(Some),
        };
        let types = match event_types_in {
            None => Some(None),
            Some(t) => event_types(t, &mut e).map(Some),
        };
        e.finish(|| {
            Some(Self {
                url: url?,
                description: description?,
                event_types: types?,
                enabled,
            })
        })
    }
}

/// A stored endpoint; its signing secret is never part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookEndpoint {
    /// Row id.
    pub id: WebhookEndpointId,
    /// Owning company.
    pub company_id: CompanyId,
    /// Where deliveries are POSTed.
    pub url: String,
    /// A note for people.
    pub description: Option<String>,
    /// The event types it gets; empty means all.
    pub event_types: Vec<WebhookEventType>,
    /// Whether deliveries are made.
    pub enabled: bool,
    /// Created, unix milliseconds.
    pub created_at: i64,
    /// Last changed, unix milliseconds.
    pub updated_at: i64,
}

impl WebhookEndpoint {
    /// Whether it gets events of `t`.
    pub fn wants(&self, t: WebhookEventType) -> bool {
        self.event_types.is_empty() || self.event_types.contains(&t)
    }
}

/// One try of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookAttemptLog {
    /// When it was made, unix milliseconds.
    pub at: i64,
    /// The HTTP status the endpoint answered, if it answered.
    pub status: Option<u16>,
    /// Why it did not count as delivered (no answer, timeout, non-2xx).
    pub error: Option<String>,
    /// How long it took, milliseconds.
    pub duration_ms: i64,
}

/// One event on its way to one endpoint, with every try.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookAttempt {
    /// Row id.
    pub id: i64,
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// The event's `webhook-id` (the same on every try).
    pub msg_id: String,
    /// The event type (`message.delivered`…).
    pub event_type: String,
    /// Where it stands.
    pub state: WebhookDeliveryState,
    /// Tries made.
    pub attempts: u32,
    /// When the next try is due (pending only), unix milliseconds.
    pub next_attempt_at: Option<i64>,
    /// The last HTTP status answered.
    pub last_status: Option<u16>,
    /// The last error.
    pub last_error: Option<String>,
    /// When the last try was made.
    pub last_attempt_at: Option<i64>,
    /// When it was delivered.
    pub delivered_at: Option<i64>,
    /// When the event happened.
    pub created_at: i64,
    /// Every try, oldest first.
    pub history: Vec<WebhookAttemptLog>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn event_type_names_round_trip() {
        for t in WebhookEventType::ALL {
            assert_eq!(t.as_str().parse::<WebhookEventType>().unwrap(), t);
            let json = format!("\"{}\"", t.as_str());
            assert_eq!(
                serde_json::from_str::<WebhookEventType>(&json).unwrap(),
                t,
                "serde uses the same names"
            );
        }
        assert_eq!(
            "message.read".parse::<WebhookEventType>().unwrap_err().code,
            Code::WebhookEventUnknown
        );
    }

    #[test]
    fn urls_are_checked() {
        let strict = OutboundPolicy::default();
        for ok in [
            "https://example.com/hooks",
            "http://8.8.8.8:8080/x?y=1",
            "HTTPS://Example.com",
            "http://[2606:4700::1111]:9000/",
        ] {
            assert!(parse_webhook_url(ok, &strict).is_ok(), "{ok}");
        }
        let code = |u: &str| parse_webhook_url(u, &strict).unwrap_err().code;
        assert_eq!(code(""), Code::ValueEmpty);
        assert_eq!(code("ftp://example.com"), Code::UrlScheme);
        assert_eq!(code("example.com/hook"), Code::UrlScheme);
        assert_eq!(code("https://"), Code::UrlInvalid);
        assert_eq!(code("https:///path"), Code::UrlInvalid);
        assert_eq!(code("https://a b.com"), Code::UrlInvalid);
        assert_eq!(code("https://user:pw@example.com"), Code::UrlCredentials);
        assert_eq!(code("http://example.com:0/"), Code::UrlInvalid);
        assert_eq!(code("http://example.com:99999/"), Code::UrlInvalid);
        let long = format!("https://example.com/{}", "a".repeat(MAX_WEBHOOK_URL));
        assert_eq!(code(&long), Code::ValueTooLong);
    }

    /// Loopback, private, link-local, metadata and other special addresses are refused in
    /// every notation the HTTP client reads, unless the policy allows them.
    #[test]
    fn special_addresses_are_refused_in_any_notation() {
        let strict = OutboundPolicy::default();
        for url in [
            "http://127.0.0.1/h",
            "http://127.0.0.1:8080/h",
            "http://127.1/h",
            "http://127.0.1/h",
            "http://2130706433/h",
            "http://0x7f000001/h",
            "http://0x7F.0.0.1/h",
            "http://0177.0.0.1/h",
            "http://017700000001/h",
            "http://127.0.0.1./h",
            "http://%31%32%37.0.0.1/h",
            "http://\u{ff11}\u{ff12}\u{ff17}.0.0.1/h",
            "http://localhost:8080/h",
            "http://LOCALHOST/h",
            "http://api.localhost/h",
            "http://0.0.0.0/h",
            "http://0/h",
            "http://10.1.2.3/h",
            "http://172.16.0.1/h",
            "http://192.168.1.1/h",
            "http://100.64.0.1/h",
            "http://169.254.169.254/latest/meta-data/",
            "http://2852039166/",
            "http://169.254.43518/",
            "http://0xa9fea9fe/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://192.0.2.1/",
            "http://[::1]/h",
            "http://[::]/h",
            "http://[0:0:0:0:0:0:0:1]/h",
            "http://[::ffff:127.0.0.1]/h",
            "http://[::ffff:7f00:1]/h",
            "http://[::ffff:169.254.169.254]/h",
            "http://[64:ff9b::a9fe:a9fe]/h",
            "http://[fd00::1]/h",
            "http://[fe80::1]/h",
            "http://[ff02::1]/h",
            "http://[2001:db8::1]/h",
            "https://[::1]:8443/h",
        ] {
            assert_eq!(
                parse_webhook_url(url, &strict).map_err(|e| e.code),
                Err(Code::UrlTargetNotAllowed),
                "{url}"
            );
            assert!(
                parse_webhook_url(url, &OutboundPolicy::any()).is_ok(),
                "allowed by configuration: {url}"
            );
        }
        let lo = OutboundPolicy::allowing(vec!["127.0.0.0/8".parse().unwrap()]);
        assert!(parse_webhook_url("http://localhost:9/h", &lo).is_ok());
        assert!(parse_webhook_url("http://2130706433/h", &lo).is_ok());
        assert!(parse_webhook_url("http://10.0.0.1/h", &lo).is_err());
        let e = parse_webhook_url("http://127.0.0.1:6379/", &strict).unwrap_err();
        assert!(!e.message.contains("127.0.0.1"), "the input is not echoed");
    }

    #[test]
    fn new_endpoints_report_every_problem() {
        let e = NewWebhookEndpoint::new(
            "ftp://x",
            Some(&"d".repeat(501)),
            &["message.sent".into(), "nope".into()],
            true,
            &OutboundPolicy::default(),
        )
        .unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["url", "description", "event_types[1]"]);
        let ok = NewWebhookEndpoint::new(
            " https://example.com/h ",
            Some("  "),
            &[
                "message.failed".into(),
                "message.sent".into(),
                "message.sent".into(),
            ],
            true,
            &OutboundPolicy::default(),
        )
        .unwrap();
        assert_eq!(ok.url, "https://example.com/h");
        assert_eq!(ok.description, None);
        assert_eq!(
            ok.event_types,
            vec![
                WebhookEventType::MessageSent,
                WebhookEventType::MessageFailed
            ]
        );
        let strict = OutboundPolicy::default();
        let p =
            WebhookEndpointPatch::new(None, Some(None), Some(&[]), Some(false), &strict).unwrap();
        assert_eq!(p.url, None);
        assert_eq!(p.description, Some(None));
        assert_eq!(p.event_types, Some(vec![]));
        assert!(WebhookEndpointPatch::new(Some("nope"), None, None, None, &strict).is_err());
        assert!(
            WebhookEndpointPatch::new(Some("http://[::1]/"), None, None, None, &strict).is_err()
        );
    }
}
