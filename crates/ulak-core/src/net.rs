//! Which network addresses Ulak may connect to on a tenant's behalf (webhook endpoints,
//! operator SMPP hosts). A company administrator chooses those targets, so without a rule the
//! server would reach its own loopback services, the private network and cloud metadata, and
//! the error text of each try would tell what listens there. Only globally reachable
//! addresses are allowed, plus what the system administrator allows by configuration
//! (`outbound_allow`). The rule is applied twice: to literal addresses when a target is
//! entered, and to every resolved address when a connection is made (a name may resolve
//! differently later).

use crate::Code;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::model::RuleError;

/// An address block, `10.0.0.0/8` or `fd00::/8`; a bare address is a block of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// Why a block could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an address block (like 127.0.0.0/8 or ::1/128)")]
pub struct CidrError(String);

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CidrError(s.to_owned());
        let t = s.trim();
        let (a, p) = t.split_once('/').map_or((t, None), |(a, p)| (a, Some(p)));
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?
            }
            Some(_) => return Err(bad()),
        };
        Ok(Cidr { addr, prefix })
    }
}

impl<'de> serde::Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Cidr {
    /// Whether `ip` is in the block (an IPv4 block never holds an IPv6 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(
                u128::from(net.to_bits()),
                u128::from(ip.to_bits()),
                32,
                self.prefix,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(net.to_bits(), ip.to_bits(), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// Whether the first `prefix` of `width` bits of `a` and `b` agree.
fn prefix_eq(a: u128, b: u128, width: u32, prefix: u8) -> bool {
    let shift = width.saturating_sub(u32::from(prefix));
    a.checked_shr(shift).unwrap_or(0) == b.checked_shr(shift).unwrap_or(0)
}

/// Where outbound connections may go: globally reachable addresses, and the blocks the
/// system administrator allows (`outbound_allow`). The default allows no extra block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    allow: Vec<Cidr>,
}

impl OutboundPolicy {
    /// Global addresses plus the blocks in `allow`.
    pub fn allowing(allow: Vec<Cidr>) -> Self {
        OutboundPolicy { allow }
    }

    /// Every address, private ones included (tests, closed networks).
    pub fn any() -> Self {
        Self::allowing(vec![
            Cidr {
                addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                prefix: 0,
            },
            Cidr {
                addr: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                prefix: 0,
            },
        ])
    }

    /// The extra blocks allowed.
    pub fn allowed_blocks(&self) -> &[Cidr] {
        &self.allow
    }

    /// Whether a connection to `ip` is allowed.
    pub fn allows(&self, ip: IpAddr) -> bool {
        if is_global(ip) {
            return true;
        }
        // An IPv4-mapped IPv6 address reaches the IPv4 one, so a block of either form counts.
        let plain = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        self.allow
            .iter()
            .any(|c| c.contains(ip) || plain.is_some_and(|p| c.contains(p)))
    }

    /// Checks a host as entered (a name or an address in any notation a resolver accepts):
    /// an address, or a name that always means loopback (`localhost`), must be allowed.
    /// Other names are checked when connecting.
    pub fn check_host(&self, host: &str) -> Result<(), RuleError> {
        match host_ip(host) {
            Some(ip) if !self.allows(ip) => Err(not_allowed()),
            _ => Ok(()),
        }
    }
}

/// The error of a refused target (the message names no address: it is the input).
pub(crate) fn not_allowed() -> RuleError {
    RuleError::new(
        Code::UrlTargetNotAllowed,
        "must be a public address: loopback, private, link-local, shared, multicast, \
         documentation and other special addresses are refused unless the system \
         administrator allows them (outbound_allow)",
    )
}

/// The address a host string stands for when it is one: IPv6 with or without brackets, IPv4
/// in every form `inet_aton` and URL parsers take (`2130706433`, `0x7f000001`, `0177.1`,
/// `127.1`, a trailing dot), and `localhost` names (always loopback, RFC 6761).
pub fn host_ip(host: &str) -> Option<IpAddr> {
    let h = host.trim();
    let inner = h.strip_prefix('[').and_then(|r| r.strip_suffix(']'));
    if let Some(v6) = inner.or(Some(h)).and_then(|s| s.parse::<Ipv6Addr>().ok()) {
        return Some(IpAddr::V6(v6));
    }
    let h = h.strip_suffix('.').unwrap_or(h);
    let lower = h.to_ascii_lowercase();
    if lower == "localhost" || lower.ends_with(".localhost") {
        return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    loose_ipv4(h).map(IpAddr::V4)
}

/// IPv4 as `inet_aton` reads it: one to four parts, each decimal, octal (leading `0`) or hex
/// (`0x`); the last part fills the bytes the others leave.
fn loose_ipv4(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for p in &parts {
        values.push(number(p)?);
    }
    let (last, head) = values.split_last()?;
    let mut bits: u64 = 0;
    for (i, v) in head.iter().enumerate() {
        if *v > 255 {
            return None;
        }
        bits |= v << (8 * (3 - i));
    }
    let room = 8 * (4 - head.len());
    if room < 64 && *last >= 1u64 << room {
        return None;
    }
    bits |= last;
    u32::try_from(bits).ok().map(Ipv4Addr::from)
}

/// One part of a loose IPv4 address; `None` unless it is a number that fits in 32 bits.
fn number(p: &str) -> Option<u64> {
    let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
        (h, 16)
    } else if p.len() > 1 && p.starts_with('0') {
        (&p[1..], 8)
    } else {
        (p, 10)
    };
    if digits.is_empty() {
        // `0x` alone is zero to URL parsers; an empty part is no number.
        return (radix == 16).then_some(0);
    }
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix)
        .ok()
        .filter(|v| *v <= u64::from(u32::MAX))
}

/// Whether `ip` is globally reachable: not loopback, private (RFC 1918), shared (CGNAT
/// 100.64/10), link-local (with cloud metadata 169.254.169.254), "this network",
/// benchmarking, documentation, IETF protocol, reserved, broadcast or multicast; for IPv6
/// also not unspecified, unique-local (fc00::/7), link-local (fe80::/10), site-local,
/// discard-only, documentation or outside global unicast (2000::/3). IPv6 forms that carry
/// an IPv4 address (mapped, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by it.
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

fn is_global_v4(ip: Ipv4Addr) -> bool {
    const BLOCKED: [([u8; 4], u8); 15] = [
        ([0, 0, 0, 0], 8),       // "this network", unspecified
        ([10, 0, 0, 0], 8),      // private
        ([100, 64, 0, 0], 10),   // shared address space (CGNAT)
        ([127, 0, 0, 0], 8),     // loopback
        ([169, 254, 0, 0], 16),  // link-local, cloud metadata
        ([172, 16, 0, 0], 12),   // private
        ([192, 0, 0, 0], 24),    // IETF protocol assignments
        ([192, 0, 2, 0], 24),    // documentation (TEST-NET-1)
        ([192, 88, 99, 0], 24),  // 6to4 relay anycast (deprecated)
        ([192, 168, 0, 0], 16),  // private
        ([198, 18, 0, 0], 15),   // benchmarking
        ([198, 51, 100, 0], 24), // documentation (TEST-NET-2)
        ([203, 0, 113, 0], 24),  // documentation (TEST-NET-3)
        ([224, 0, 0, 0], 4),     // multicast
        ([240, 0, 0, 0], 4),     // reserved, with broadcast 255.255.255.255
    ];
    !BLOCKED.iter().any(|(net, prefix)| {
        Cidr {
            addr: IpAddr::V4(Ipv4Addr::from(*net)),
            prefix: *prefix,
        }
        .contains(IpAddr::V4(ip))
    })
}

fn is_global_v6(ip: Ipv6Addr) -> bool {
    let bits = ip.to_bits();
    let in_block = |net: u128, prefix: u8| prefix_eq(net, bits, 128, prefix);
    // The low 32 bits as IPv4, for the forms that carry one.
    let low_v4 = || Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_global_v4(v4);
    }
    if in_block(0x0064_ff9b_u128 << 96, 96) {
        return is_global_v4(low_v4());
    }
    if in_block(0x2002_u128 << 112, 16) {
        // 6to4: the IPv4 address is bits 16..48.
        return is_global_v4(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32));
    }
    let blocked = [
        (0x2001_u128 << 112, 23),     // IETF protocol assignments (Teredo, ORCHID…)
        (0x2001_0db8_u128 << 96, 32), // documentation
        (0x3fff_u128 << 112, 20),     // documentation (RFC 9637)
    ];
    in_block(0x2_u128 << 124, 3) && !blocked.iter().any(|(net, p)| in_block(*net, *p))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn special_addresses_are_not_global() {
        for s in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.255.255",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2002:a00:1::1",
            "2001:db8::1",
            "2001::1",
            "3fff::1",
            "100::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(!is_global(ip(s)), "{s}");
        }
        for s in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "185.60.216.35",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4017:80b::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_global(ip(s)), "{s}");
        }
    }

    #[test]
    fn hosts_in_any_notation_are_read_as_addresses() {
        let lo = Some(ip("127.0.0.1"));
        for h in [
            "127.0.0.1",
            "127.1",
            "127.0.1",
            "2130706433",
            "0x7f000001",
            "0X7F000001",
            "0x7f.1",
            "0177.0.0.1",
            "017700000001",
            "0x7f.0.0.0x1",
            "127.0.0.1.",
            "localhost",
            "LOCALHOST",
            "localhost.",
            "api.localhost",
        ] {
            assert_eq!(host_ip(h), lo, "{h}");
        }
        assert_eq!(host_ip("[::1]"), Some(ip("::1")));
        assert_eq!(host_ip("::ffff:7f00:1"), Some(ip("::ffff:127.0.0.1")));
        assert_eq!(host_ip("0"), Some(ip("0.0.0.0")));
        assert_eq!(host_ip("169.254.43518"), Some(ip("169.254.169.254")));
        assert_eq!(host_ip("2852039166"), Some(ip("169.254.169.254")));
        for name in [
            "example.com",
            "smpp.operator.com.tr",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.3.256",
            "127.16777216",
            "4294967296",
            "08.1.1.1",
            "0xg.1.1.1",
            "1..1",
            "",
            "builtin",
        ] {
            assert_eq!(host_ip(name), None, "{name}");
        }
    }

    #[test]
    fn the_policy_allows_global_and_configured_blocks() {
        let strict = OutboundPolicy::default();
        assert!(strict.allows(ip("8.8.8.8")));
        assert!(!strict.allows(ip("127.0.0.1")));
        assert!(!strict.allows(ip("::ffff:127.0.0.1")));
        let lo = OutboundPolicy::allowing(vec!["127.0.0.0/8".parse().unwrap()]);
        assert!(lo.allows(ip("127.0.0.1")));
        assert!(lo.allows(ip("::ffff:127.0.0.2")));
        assert!(!lo.allows(ip("::1")));
        assert!(!lo.allows(ip("10.0.0.1")));
        let any = OutboundPolicy::any();
        assert!(any.allows(ip("10.0.0.1")) && any.allows(ip("fe80::1")));
        assert_eq!(
            strict.check_host("0x7f000001").unwrap_err().code,
            Code::UrlTargetNotAllowed
        );
        assert!(strict.check_host("smpp.example.com").is_ok());
        assert!(lo.check_host("localhost").is_ok());
    }

    #[test]
    fn blocks_are_read_and_written() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert_eq!(c.to_string(), "10.0.0.0/8");
        assert!(c.contains(ip("10.200.3.4")) && !c.contains(ip("11.0.0.0")));
        let one: Cidr = " ::1 ".parse().unwrap();
        assert_eq!(one.to_string(), "::1/128");
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("255.1.2.3")) && !all.contains(ip("::1")));
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10/8",
            "x",
            "10.0.0.0/-1",
            "",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }
}
