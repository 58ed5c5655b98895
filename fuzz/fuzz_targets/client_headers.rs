//! The client address behind `TRUSTED_PROXIES` (`X-Forwarded-For`) and the
//! CORS/CSRF decisions, from any headers: the counted address matches a
//! reference walk of the header from the right, an untrusted peer's header
//! is never read; an allowed origin is one of the configured ones, and a
//! preflight never allows another header than the allow-list.
#![no_main]

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use arbitrary::Arbitrary;
use http_edge::fuzzing::{
    HeaderMap, HeaderValue, IpNet, allowed_origin, client_addr, client_key, cors_answers,
    is_cross_site,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    peer: IpAddr,
    trusted: Vec<(IpAddr, u8)>,
    forwarded: Vec<&'a str>,
    origin: Option<&'a str>,
    fetch_site: Option<&'a str>,
    request_headers: Vec<&'a str>,
}

fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn entry(e: &str) -> Option<IpAddr> {
    let e = e.trim();
    e.parse()
        .ok()
        .or_else(|| e.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            let inner = e.strip_prefix('[')?.strip_suffix(']')?;
            inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
        })
}

/// The documented walk: from the right, past trusted proxies.
fn reference(peer: IpAddr, values: &[&HeaderValue], trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |a: &IpAddr| trusted.iter().any(|n| n.contains(a));
    let mut client = canonical(peer);
    let mut entries = Vec::new();
    for v in values {
        entries.extend(v.to_str().unwrap_or("").split(','));
    }
    for e in entries.iter().rev() {
        if !is_trusted(&client) {
            break;
        }
        match entry(e) {
            Some(addr) => client = canonical(addr),
            None => break,
        }
    }
    client
}

const ALLOWED_HEADERS: &[&str] = &["content-type", "x-requested-with"];

fuzz_target!(|input: Input<'_>| {
    let trusted: Vec<IpNet> = input
        .trusted
        .iter()
        .filter_map(|&(addr, len)| IpNet::new(addr, len % 129).ok())
        .collect();
    let mut headers = HeaderMap::new();
    for value in &input.forwarded {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.append("x-forwarded-for", v);
        }
    }
    let client = client_addr(input.peer, &headers, &trusted);
    let values: Vec<&HeaderValue> = headers.get_all("x-forwarded-for").iter().collect();
    assert_eq!(client, reference(input.peer, &values, &trusted));
    if !trusted.iter().any(|n| n.contains(&canonical(input.peer))) {
        assert_eq!(
            client,
            canonical(input.peer),
            "an untrusted peer's header was read"
        );
    }
    assert_eq!(client, canonical(client));
    let _ = client_key(input.peer);

    let allowed = [
        "https://app.example.com".to_owned(),
        "http://localhost:3000".to_owned(),
    ];
    let mut request = HeaderMap::new();
    if let Some(origin) = input.origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        request.insert("origin", origin);
    }
    if let Some(site) = input.fetch_site.and_then(|s| HeaderValue::from_str(s).ok()) {
        request.insert("sec-fetch-site", site);
    }
    for h in &input.request_headers {
        if let Ok(v) = HeaderValue::from_str(h) {
            request.append("access-control-request-headers", v);
        }
    }
    let ok_origin = allowed_origin(&request, &allowed);
    if let Some(origin) = &ok_origin {
        assert!(allowed.iter().any(|a| a.as_bytes() == origin.as_bytes()));
    }
    if !is_cross_site(&request, &allowed) {
        assert!(!request.contains_key("origin") || ok_origin.is_some());
        let site = request
            .get("sec-fetch-site")
            .map(|s| s.as_bytes().to_ascii_lowercase());
        assert_ne!(site.as_deref(), Some(&b"cross-site"[..]));
    }
    let (answer, preflight) = cors_answers(&request, &allowed);
    assert_eq!(
        answer.get("vary").map(|v| v.as_bytes()),
        Some(&b"Origin"[..])
    );
    match answer.get("access-control-allow-origin") {
        Some(echoed) => assert_eq!(Some(echoed), ok_origin.as_ref()),
        None => assert!(ok_origin.is_none()),
    }
    if let Some(preflight) = preflight {
        assert!(ok_origin.is_some());
        let listed = preflight
            .get("access-control-allow-headers")
            .expect("allowed headers")
            .to_str()
            .expect("ASCII");
        for name in listed.split(", ") {
            assert!(ALLOWED_HEADERS.contains(&name), "{name:?} allowed");
        }
    }
});
