//! Who the client is, for counting: the peer address, or, when the peer is
//! one of `TRUSTED_PROXIES`, the address its proxies saw.
//!
//! `X-Forwarded-For` is read from the right (each proxy appends the address
//! it received the request from), skipping trusted proxies; the first
//! untrusted address is the client. Entries further left were written by
//! the client itself and are never believed. When every entry is trusted,
//! or one is not an address, the left-most trusted address reached stands
//! for the client.
//!
//! An IPv6 client is counted by its /64 network: one subscriber usually
//! holds a whole /64, and counting its addresses apart would let it start
//! 2^64 times more logins.

use std::net::{IpAddr, Ipv6Addr};

use http::HeaderMap;
use ipnet::IpNet;

/// The header whose entries trusted proxies append.
const FORWARDED_FOR: &str = "x-forwarded-for";

/// The address that stands for the client of a request from `peer`.
pub(crate) fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |addr: &IpAddr| trusted.iter().any(|net| net.contains(addr));
    let mut client = canonical(peer);
    if !is_trusted(&client) {
        return client;
    }
    let entries = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .rev()
        .flat_map(|value| value.to_str().unwrap_or("").rsplit(','));
    for entry in entries {
        let Some(addr) = parse_entry(entry) else {
            break;
        };
        client = canonical(addr);
        if !is_trusted(&client) {
            break;
        }
    }
    client
}

/// The counting key of `addr`: an IPv4 address as such (IPv4-mapped IPv6
/// included), an IPv6 address by its /64.
pub(crate) fn key(addr: IpAddr) -> u128 {
    match canonical(addr) {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6) & !u128::from(u64::MAX),
    }
}

fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port
/// (`192.0.2.1:4711`, `[2001:db8::1]:4711`, `[2001:db8::1]`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(addr) = entry.parse() {
        return Some(addr);
    }
    if let Ok(socket) = entry.parse::<std::net::SocketAddr>() {
        return Some(socket.ip());
    }
    let bracketed = entry.strip_prefix('[')?.strip_suffix(']')?;
    bracketed.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(FORWARDED_FOR, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_address() {
        let proxies = nets(&["10.0.0.0/8", "2001:db8:ffff::/48"]);
        let table: &[(&str, &[&str], &[IpNet], &str)] = &[
            // Nothing trusted: the peer, whatever the header says.
            ("203.0.113.9", &["198.51.100.1"], &[], "203.0.113.9"),
            ("10.0.0.1", &["198.51.100.1"], &[], "10.0.0.1"),
            // An untrusted peer's header is never read.
            ("203.0.113.9", &["198.51.100.1"], &proxies, "203.0.113.9"),
            // A trusted peer: the right-most entry that is not a proxy.
            ("10.0.0.1", &["198.51.100.1"], &proxies, "198.51.100.1"),
            (
                "10.0.0.1",
                &["1.1.1.1, 198.51.100.1, 10.2.3.4"],
                &proxies,
                "198.51.100.1",
            ),
            (
                "10.0.0.1",
                &["1.1.1.1", "198.51.100.1,10.2.3.4"],
                &proxies,
                "198.51.100.1",
            ),
            (
                "10.0.0.1",
                &["[2001:db8::7]:443, 2001:db8:ffff::1"],
                &proxies,
                "2001:db8::7",
            ),
            ("10.0.0.1", &["198.51.100.1:5000"], &proxies, "198.51.100.1"),
            (
                "::ffff:10.0.0.1",
                &["::ffff:198.51.100.1"],
                &proxies,
                "198.51.100.1",
            ),
            // No header, only proxies, or garbage: the last proxy reached.
            ("10.0.0.1", &[], &proxies, "10.0.0.1"),
            ("10.0.0.1", &["10.9.9.9, 10.8.8.8"], &proxies, "10.9.9.9"),
            (
                "10.0.0.1",
                &["198.51.100.1, nonsense, 10.8.8.8"],
                &proxies,
                "10.8.8.8",
            ),
            ("10.0.0.1", &[""], &proxies, "10.0.0.1"),
        ];
        for (peer, values, trusted, expected) in table {
            let got = client_addr(peer.parse().unwrap(), &headers(values), trusted);
            assert_eq!(got.to_string(), *expected, "{peer} {values:?}");
        }
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() {
        let key_of = |a: &str| key(a.parse().unwrap());
        assert_eq!(key_of("2001:db8:1:2::1"), key_of("2001:db8:1:2:ffff::9"));
        assert_ne!(key_of("2001:db8:1:2::1"), key_of("2001:db8:1:3::1"));
        assert_eq!(key_of("::ffff:192.0.2.1"), key_of("192.0.2.1"));
        assert_ne!(key_of("192.0.2.1"), key_of("192.0.2.2"));
    }

    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn an_untrusted_peer_is_counted_as_itself_whatever_it_forwards(
            peer in any::<Ipv4Addr>(),
            forwarded in "[0-9a-f.,:\\[\\] ]{0,40}",
        ) {
            let proxies = nets(&["10.0.0.0/8"]);
            prop_assume!(!proxies[0].contains(&IpAddr::V4(peer)));
            let got = client_addr(IpAddr::V4(peer), &headers(&[forwarded.as_str()]), &proxies);
            prop_assert_eq!(got, IpAddr::V4(peer));
        }

        #[test]
        fn behind_proxies_the_right_most_untrusted_entry_is_the_client(
            spoofed in any::<Ipv4Addr>(),
            client in any::<Ipv4Addr>(),
            hops in prop::collection::vec(any::<[u8; 3]>(), 0..4),
        ) {
            let proxies = nets(&["10.0.0.0/8"]);
            prop_assume!(!proxies[0].contains(&IpAddr::V4(client)));
            let mut entries = vec![spoofed.to_string(), client.to_string()];
            entries.extend(hops.iter().map(|[a, b, c]| format!("10.{a}.{b}.{c}")));
            let header = entries.join(", ");
            let got = client_addr("10.0.0.1".parse().unwrap(), &headers(&[&header]), &proxies);
            prop_assert_eq!(got, IpAddr::V4(client));
        }
    }
}
