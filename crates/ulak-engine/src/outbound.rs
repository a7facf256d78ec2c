//! Connections made on a tenant's behalf (webhook endpoints, operator SMPP hosts) go only
//! where the outbound policy allows (`ulak_core::net`): every address a name resolves to is
//! checked when connecting, so a name that resolved to a public address when it was entered
//! cannot later lead to loopback or the metadata service (DNS rebinding). What went wrong is
//! recorded as a category, never as the client's own error text, which would name addresses
//! and ports and tell what listens behind them.

use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use ulak_core::net::OutboundPolicy;
use ulak_smpp::client::ConnectFilter;

/// Why an outbound connection was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The name did not resolve.
    #[error("DNS failure")]
    Dns,
    /// Every address of the target is one the policy refuses.
    #[error("target not allowed")]
    NotAllowed,
}

/// A resolver for the HTTP client that drops every address the policy refuses.
#[derive(Debug, Clone)]
pub struct PolicyResolver {
    policy: OutboundPolicy,
}

impl PolicyResolver {
    /// Resolves with the system resolver, keeping what `policy` allows.
    pub fn new(policy: OutboundPolicy) -> Self {
        PolicyResolver { policy }
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|_| OutboundError::Dns)?
                .collect();
            if found.is_empty() {
                return Err(OutboundError::Dns.into());
            }
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| policy.allows(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(OutboundError::NotAllowed.into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// Whether a URL's host passes the policy when it is a literal address (the HTTP client
/// connects to those without asking the resolver); names are the resolver's to check.
pub fn literal_host_allowed(url: &reqwest::Url, policy: &OutboundPolicy) -> bool {
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        _ => return true,
    };
    policy.allows(ip)
}

/// The SMPP client's connect-time filter for `policy`.
pub fn smpp_filter(policy: &OutboundPolicy) -> ConnectFilter {
    let policy = policy.clone();
    ConnectFilter::new(move |ip| policy.allows(ip))
}

/// What a failed request comes down to, as a category: no address, port, URL or OS text.
pub fn category(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        return "timed out";
    }
    if e.is_builder() {
        return "invalid URL";
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(o) = s.downcast_ref::<OutboundError>() {
            return match o {
                OutboundError::Dns => "DNS failure",
                OutboundError::NotAllowed => "target not allowed",
            };
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            match io.kind() {
                K::ConnectionRefused => return "connection refused",
                K::TimedOut => return "timed out",
                K::HostUnreachable | K::NetworkUnreachable => return "host unreachable",
                K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof | K::BrokenPipe => {
                    return "connection closed";
                }
                // TLS libraries report handshake and certificate failures as invalid data.
                K::InvalidData if e.is_connect() => return "TLS error",
                _ => {}
            }
        }
        source = s.source();
    }
    if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    }
}
