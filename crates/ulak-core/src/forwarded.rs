//! Which address a request comes from when Ulak runs behind a reverse proxy: the per-address
//! rate limits and sign-in lockouts must count the client, not the proxy (behind nginx every
//! request comes from 127.0.0.1, and one guesser would lock everybody out).
//!
//! `X-Forwarded-For` is believed only from a proxy the system administrator names
//! (`trusted_proxies`); anyone else could write any address into it. Each proxy appends the
//! address it got the request from, so the list is read from the right: proxies named as
//! trusted are skipped, and the first address that is not one is the client.

use std::net::IpAddr;

use crate::net::Cidr;

/// The most addresses of `X-Forwarded-For` read (a longer chain is no real deployment).
pub const MAX_HOPS: usize = 16;

/// The client's address: `peer` (who connected) unless `peer` is a trusted proxy, then the
/// last address of `forwarded_for` (the header's values in order, each comma-separated) that
/// is not a trusted proxy. A value that is not an address ends the walk at what was read so
/// far: a broken chain is not followed further to the left.
pub fn client_address<'a>(
    peer: IpAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &[Cidr],
) -> IpAddr {
    let trusted_ip = |ip: IpAddr| trusted.iter().any(|c| c.contains(canonical(ip)));
    if !trusted_ip(peer) {
        return peer;
    }
    let mut client = peer;
    let hops = forwarded_for
        .rev()
        .flat_map(|v| v.rsplit(','))
        .map(str::trim)
        .take(MAX_HOPS);
    for hop in hops {
        let Some(ip) = parse_hop(hop) else { break };
        client = ip;
        if !trusted_ip(ip) {
            break;
        }
    }
    client
}

/// An address as proxies write it: `192.0.2.1`, `2001:db8::1`, `[2001:db8::1]`, or with a
/// port (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sa) = hop.parse::<std::net::SocketAddr>() {
        return Some(canonical(sa.ip()));
    }
    let inner = hop.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<IpAddr>().ok().map(canonical)
}

/// An IPv4 address mapped into IPv6 (`::ffff:192.0.2.1`, as a dual-stack listener reports
/// IPv4 peers) is its IPv4 address, so IPv4 blocks match it.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    fn blocks(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|b| b.parse().expect("a block")).collect()
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        let proxy = blocks(&["127.0.0.1/32", "10.0.0.0/8"]);
        let xff = ["203.0.113.7"];
        // Not from a named proxy: the header is anyone's to write, so it is ignored.
        assert_eq!(
            client_address(ip("198.51.100.9"), xff.into_iter(), &proxy),
            ip("198.51.100.9")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), xff.into_iter(), &[]),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), xff.into_iter(), &proxy),
            ip("203.0.113.7")
        );
        // A mapped IPv4 peer matches the IPv4 block.
        assert_eq!(
            client_address(ip("::ffff:127.0.0.1"), xff.into_iter(), &proxy),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn the_chain_is_read_from_the_right_past_trusted_proxies_only() {
        let proxy = blocks(&["127.0.0.1/32", "10.0.0.0/8"]);
        // The client claims to be 1.2.3.4; the proxies appended what they saw.
        let xff = ["1.2.3.4, 203.0.113.7", "10.1.2.3"];
        assert_eq!(
            client_address(ip("127.0.0.1"), xff.into_iter(), &proxy),
            ip("203.0.113.7")
        );
        // Every hop trusted: the leftmost one read.
        assert_eq!(
            client_address(ip("127.0.0.1"), ["10.0.0.5, 10.0.0.6"].into_iter(), &proxy),
            ip("10.0.0.5")
        );
        // Ports and brackets as some proxies write them.
        for hop in ["203.0.113.7:4711", "[2001:db8::7]", "[2001:db8::7]:4711"] {
            let want = if hop.contains("db8") {
                "2001:db8::7"
            } else {
                "203.0.113.7"
            };
            assert_eq!(
                client_address(ip("127.0.0.1"), [hop].into_iter(), &proxy),
                ip(want),
                "{hop}"
            );
        }
    }

    #[test]
    fn a_broken_or_missing_header_leaves_the_last_good_address() {
        let proxy = blocks(&["127.0.0.1/32", "10.0.0.0/8"]);
        assert_eq!(
            client_address(ip("127.0.0.1"), std::iter::empty(), &proxy),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_address(
                ip("127.0.0.1"),
                ["1.2.3.4, garbage, 10.0.0.9"].into_iter(),
                &proxy
            ),
            ip("10.0.0.9")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), ["unknown"].into_iter(), &proxy),
            ip("127.0.0.1")
        );
        // A chain longer than anyone deploys is read no further than MAX_HOPS.
        let long = vec!["10.0.0.1"; 100].join(", ");
        assert_eq!(
            client_address(ip("127.0.0.1"), [long.as_str()].into_iter(), &proxy),
            ip("10.0.0.1")
        );
    }
}
