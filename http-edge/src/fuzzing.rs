//! Entry points for the fuzz targets in `fuzz/` (the `fuzzing` feature,
//! off in every build of the workspace): the edge's readers of untrusted
//! input (queries, cookies, forwarding and origin headers), answering in
//! plain types. The types they take are re-exported so that the fuzz crate
//! names the very versions the edge links.

use std::net::IpAddr;

pub use http::{HeaderMap, HeaderValue};
pub use ipnet::IpNet;
pub use url::Url;

use crate::{
    configuration,
    cookies::{self, Cookies},
    error::ErrorCode,
    handlers::{
        callback::{self, Callback},
        login,
    },
    origins,
    rate_limits::client,
};

/// The first non-empty value of cookie `name` in the `Cookie` headers.
pub fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    cookies::read(headers, name)
}

/// The `Set-Cookie` value of an access cookie holding `value` (host-only),
/// or `None` when the value is refused.
pub fn access_cookie(value: &str) -> Option<HeaderValue> {
    Cookies::new(None).ok()?.access(value, 60).ok()
}

/// The `(code, state)` of a callback query, or the `?error=` code it ends in.
pub fn parse_callback(query: &str) -> Result<(String, String), ErrorCode> {
    match callback::parse_callback(query, auth_proto::v1::Provider::Kakao) {
        Callback::Complete { code, state } => Ok((code, state)),
        Callback::Refused(code) => Err(code),
    }
}

/// The `return_to` of a login query.
pub fn parse_login(query: &str) -> Result<String, ErrorCode> {
    login::parse_login(query)
}

/// Where the edge lands a login whose service answer names `return_to`,
/// with `frontend_url` and the serialized `allowed_origins` configured.
pub fn landing_url(
    frontend_url: Url,
    allowed_origins: Vec<String>,
    return_to: &str,
) -> Option<String> {
    let mut settings = configuration::for_tests(false);
    settings.frontend_url = frontend_url;
    settings.allowed_origins = allowed_origins;
    let value = callback::landing_url(&settings, return_to)?;
    value.to_str().ok().map(str::to_owned)
}

/// The address counted for a request from `peer` with these headers.
pub fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    client::client_addr(peer, headers, trusted)
}

/// The counting key of an address (IPv6 by its /64).
pub fn client_key(addr: IpAddr) -> u128 {
    client::key(addr)
}

/// The request's `Origin` when it is allowed.
pub fn allowed_origin(headers: &HeaderMap, allowed: &[String]) -> Option<HeaderValue> {
    origins::allowed_origin(headers, allowed).cloned()
}

/// Whether a POST with these headers is refused as cross-site.
pub fn is_cross_site(headers: &HeaderMap, allowed: &[String]) -> bool {
    origins::is_cross_site(headers, allowed)
}

/// The CORS headers of an answer to `request`, and of a preflight (`None`
/// when the preflight is refused).
pub fn cors_answers(request: &HeaderMap, allowed: &[String]) -> (HeaderMap, Option<HeaderMap>) {
    let mut answer = HeaderMap::new();
    origins::add_cors_headers(&mut answer, request, allowed);
    let mut preflight = HeaderMap::new();
    let ok = origins::answer_preflight(&mut preflight, request, allowed);
    (answer, ok.then_some(preflight))
}
