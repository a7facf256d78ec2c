//! Which address a request comes from when Ulak runs behind a reverse proxy: the per-address
//! rate limits and sign-in lockouts must count the client, not the proxy (behind nginx every
//! request comes from 127.0.0.1, and one guesser would lock everybody out).
//!
//! `X-Forwarded-For` is believed only from a proxy the system administrator names
//! (`trusted_proxies`); anyone else could write any address into it. Each proxy appends the
//! address it got the request from, so the list is read from the right: proxies named as
//! trusted are skipped, and the first address that is not one is the client.
//!
//! The header is read as bytes, entry by entry: a client can put anything left of what the
//! proxies append (a non-ASCII byte, say), and that must not make the whole header
//! unreadable, or the proxy would be counted for every client behind it. An entry that is
//! no address (not UTF-8, garbage, `unknown`) is never skipped over: the walk stops there
//! and the client is the last address read, the trusted proxy that reported that entry (or
//! the peer). Skipping it would let whatever stands further left, written by the client,
//! pass for the client; stopping counts the proxy, which only a proxy's own odd entry can
//! cause, as proxies append well-formed addresses.

use std::net::IpAddr;

use crate::net::Cidr;

/// The most addresses of `X-Forwarded-For` read (a longer chain is no real deployment).
pub const MAX_HOPS: usize = 16;

/// The client's address: `peer` (who connected) unless `peer` is a trusted proxy, then the
/// last address of `forwarded_for` (the header's values in order, as raw bytes, each
/// comma-separated) that is not a trusted proxy. An entry that is not an address ends the
/// walk at what was read so far: a broken chain is not followed further to the left.
pub fn client_address<'a>(
    peer: IpAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'a [u8]>,
    trusted: &[Cidr],
) -> IpAddr {
    let trusted_ip = |ip: IpAddr| trusted.iter().any(|c| c.contains(canonical(ip)));
    if !trusted_ip(peer) {
        return peer;
    }
    let mut client = peer;
    let hops = forwarded_for
        .rev()
        .flat_map(|v| v.rsplit(|b| *b == b','))
        .take(MAX_HOPS);
    for hop in hops {
        let Some(ip) = std::str::from_utf8(hop)
            .ok()
            .and_then(|h| parse_hop(h.trim()))
        else {
            break;
        };
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

    /// [`client_address`] of header values given as text.
    fn client<const N: usize>(peer: &str, values: [&str; N], trusted: &[Cidr]) -> IpAddr {
        client_address(ip(peer), values.into_iter().map(str::as_bytes), trusted)
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        let proxy = blocks(&["127.0.0.1/32", "10.0.0.0/8"]);
        let xff = ["203.0.113.7"];
        // Not from a named proxy: the header is anyone's to write, so it is ignored.
        assert_eq!(client("198.51.100.9", xff, &proxy), ip("198.51.100.9"));
        assert_eq!(client("127.0.0.1", xff, &[]), ip("127.0.0.1"));
        assert_eq!(client("127.0.0.1", xff, &proxy), ip("203.0.113.7"));
        // A mapped IPv4 peer matches the IPv4 block.
        assert_eq!(client("::ffff:127.0.0.1", xff, &proxy), ip("203.0.113.7"));
    }

    #[test]
    fn the_chain_is_read_from_the_right_past_trusted_proxies_only() {
        let proxy = blocks(&["127.0.0.1/32", "10.0.0.0/8"]);
        // The client claims to be 1.2.3.4; the proxies appended what they saw.
        let xff = ["1.2.3.4, 203.0.113.7", "10.1.2.3"];
        assert_eq!(client("127.0.0.1", xff, &proxy), ip("203.0.113.7"));
        // Every hop trusted: the leftmost one read.
        assert_eq!(
            client("127.0.0.1", ["10.0.0.5, 10.0.0.6"], &proxy),
            ip("10.0.0.5")
        );
        // Ports and brackets as some proxies write them.
        for hop in ["203.0.113.7:4711", "[2001:db8::7]", "[2001:db8::7]:4711"] {
            let want = if hop.contains("db8") {
                "2001:db8::7"
            } else {
                "203.0.113.7"
            };
            assert_eq!(client("127.0.0.1", [hop], &proxy), ip(want), "{hop}");
        }
    }

    #[test]
    fn a_broken_or_missing_header_leaves_the_last_good_address() {
        let proxy = blocks(&["127.0.0.1/32", "10.0.0.0/8"]);
        assert_eq!(client("127.0.0.1", [], &proxy), ip("127.0.0.1"));
        assert_eq!(
            client("127.0.0.1", ["1.2.3.4, garbage, 10.0.0.9"], &proxy),
            ip("10.0.0.9")
        );
        assert_eq!(client("127.0.0.1", ["unknown"], &proxy), ip("127.0.0.1"));
        // A chain longer than anyone deploys is read no further than MAX_HOPS.
        let long = vec!["10.0.0.1"; 100].join(", ");
        assert_eq!(client("127.0.0.1", [long.as_str()], &proxy), ip("10.0.0.1"));
    }

    #[test]
    fn a_bad_byte_left_of_the_client_does_not_hide_the_hops_to_its_right() {
        let proxy = blocks(&["127.0.0.1/32", "10.0.0.0/8"]);
        let peer = ip("127.0.0.1");
        let read = |values: &[&[u8]]| client_address(peer, values.iter().copied(), &proxy);
        // The client wrote a non-ASCII byte (the header is no text then); the proxy appended
        // the client's address to the same line: that address still counts.
        assert_eq!(read(&[b"1.2.3.4\xff, 203.0.113.7"]), ip("203.0.113.7"));
        assert_eq!(
            read(&[b"\xc3\xa7\xff", b"203.0.113.7, 10.0.0.2"]),
            ip("203.0.113.7")
        );
        // Where the client would be, an entry that is no address: the trusted proxy that
        // reported it counts, never an address further left (which the client wrote).
        assert_eq!(
            read(&[b"203.0.113.9, 1.2.3.4\xff, 10.0.0.2"]),
            ip("10.0.0.2")
        );
        assert_eq!(read(&[b"203.0.113.9, \xff"]), peer);
        assert_eq!(read(&[b"203.0.113.9", b"", b"10.0.0.2"]), ip("10.0.0.2"));
    }
}
