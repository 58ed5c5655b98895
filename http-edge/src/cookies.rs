//! Every cookie the edge sets, reads or clears, built in one place.
//!
//! All cookies are `HttpOnly; Secure; SameSite=Lax` (browsers accept `Secure`
//! cookies on `http://localhost`) and are cleared with the same name, path and
//! domain, an empty value and `Max-Age=0`. Only the access cookie carries
//! `Domain` (when `COOKIE_DOMAIN` is configured), so that the frontend's
//! host can send it to an API on a sibling host; the refresh cookie stays
//! host-only on the edge's host, and the binding cookie is a `__Host-`
//! cookie (`Secure`, `Path=/`, no `Domain`), which a sibling subdomain
//! cannot set or overwrite.

use auth_proto::v1::TokenPair;
use cookie::{Cookie, SameSite};
use http::{HeaderMap, HeaderValue, header::COOKIE};
use hyper::body::Bytes;

/// Name of the access-token cookie (a JWT, sent to every path).
pub const ACCESS_COOKIE: &str = "access_token";
/// Name of the refresh-token cookie (opaque, sent only under `/auth`).
pub const REFRESH_COOKIE: &str = "refresh_token";
/// Name of the short-lived browser-binding cookie of a login attempt. The
/// `__Host-` prefix makes browsers accept it only when `Secure`, with
/// `Path=/` and no `Domain`: no other host can plant one.
pub const BINDING_COOKIE: &str = "__Host-kakao_login_binding";

const ACCESS_PATH: &str = "/";
const REFRESH_PATH: &str = "/auth";
const BINDING_PATH: &str = "/";
const MAX_VALUE_LEN: usize = 3800;

/// A value that cannot be put in a cookie as is (empty, too long, or with a
/// character outside RFC 6265's cookie-octet set). Never carries the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("value not usable in a cookie")]
pub struct UnsafeCookieValue;

/// Builds the `Set-Cookie` header values. Everything but the value and the
/// lifetime is formatted once, at start.
#[derive(Debug, Clone)]
pub struct Cookies {
    access: Template,
    refresh: Template,
    binding: Template,
    clear_access: HeaderValue,
    clear_refresh: HeaderValue,
    clear_binding: HeaderValue,
}

/// One cookie's `name=` and its attributes (`; HttpOnly; ...; Path=..`
/// and `Domain` if configured), formatted by the `cookie` crate at start;
/// a value and `; Max-Age=<n>` complete it.
#[derive(Debug, Clone)]
struct Template {
    name: &'static str,
    attributes: String,
}

impl Template {
    fn new(
        name: &'static str,
        path: &'static str,
        domain: Option<&str>,
    ) -> Result<Self, UnsafeCookieValue> {
        let mut builder = Cookie::build((name, ""))
            .http_only(true)
            .secure(true)
            .same_site(SameSite::Lax)
            .path(path);
        if let Some(domain) = domain {
            builder = builder.domain(domain.to_owned());
        }
        let formatted = builder.build().to_string();
        let attributes = formatted
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('='))
            .ok_or(UnsafeCookieValue)?
            .to_owned();
        // A domain that cannot be in a header fails here, at start.
        HeaderValue::from_str(&attributes).map_err(|_| UnsafeCookieValue)?;
        Ok(Template { name, attributes })
    }

    /// `name=value; <attributes>; Max-Age=<max_age, at least 0>`.
    fn format(&self, value: &str, max_age: i64) -> Result<HeaderValue, UnsafeCookieValue> {
        use std::fmt::Write;
        let mut text =
            String::with_capacity(self.name.len() + value.len() + self.attributes.len() + 32);
        text.push_str(self.name);
        text.push('=');
        text.push_str(value);
        text.push_str(&self.attributes);
        let _ = write!(text, "; Max-Age={}", max_age.max(0));
        HeaderValue::from_maybe_shared(Bytes::from(text)).map_err(|_| UnsafeCookieValue)
    }
}

impl Cookies {
    /// `domain` (`COOKIE_DOMAIN`) goes on the access cookie only. Fails
    /// only when it holds characters not allowed in a header.
    pub fn new(domain: Option<String>) -> Result<Self, UnsafeCookieValue> {
        let access = Template::new(ACCESS_COOKIE, ACCESS_PATH, domain.as_deref())?;
        let refresh = Template::new(REFRESH_COOKIE, REFRESH_PATH, None)?;
        let binding = Template::new(BINDING_COOKIE, BINDING_PATH, None)?;
        Ok(Self {
            clear_access: access.format("", 0)?,
            clear_refresh: refresh.format("", 0)?,
            clear_binding: binding.format("", 0)?,
            access,
            refresh,
            binding,
        })
    }

    /// `access_token=<jwt>; Path=/; Max-Age=<max_age>`.
    pub fn access(&self, token: &str, max_age: i64) -> Result<HeaderValue, UnsafeCookieValue> {
        set(&self.access, token, max_age)
    }

    /// `refresh_token=<opaque>; Path=/auth; Max-Age=<max_age>`.
    pub fn refresh(&self, token: &str, max_age: i64) -> Result<HeaderValue, UnsafeCookieValue> {
        set(&self.refresh, token, max_age)
    }

    /// `__Host-kakao_login_binding=<binding>; Path=/; Max-Age=<max_age>`.
    pub fn binding(&self, binding: &str, max_age: i64) -> Result<HeaderValue, UnsafeCookieValue> {
        set(&self.binding, binding, max_age)
    }

    /// The access and refresh cookies of a new token pair.
    pub fn tokens(&self, tokens: &TokenPair) -> Result<[HeaderValue; 2], UnsafeCookieValue> {
        Ok([
            self.access(&tokens.access_token, tokens.access_expires_in)?,
            self.refresh(&tokens.refresh_token, tokens.refresh_expires_in)?,
        ])
    }

    /// Clears the access cookie.
    pub fn clear_access(&self) -> HeaderValue {
        self.clear_access.clone()
    }

    /// Clears the refresh cookie.
    pub fn clear_refresh(&self) -> HeaderValue {
        self.clear_refresh.clone()
    }

    /// Clears the binding cookie.
    pub fn clear_binding(&self) -> HeaderValue {
        self.clear_binding.clone()
    }
}

/// A cookie of `template` holding `value`, refused unless it is safe.
fn set(template: &Template, value: &str, max_age: i64) -> Result<HeaderValue, UnsafeCookieValue> {
    if !is_cookie_value(value) {
        return Err(UnsafeCookieValue);
    }
    template.format(value, max_age)
}

/// RFC 6265 `cookie-octet`s only, so a value can never add an attribute.
fn is_cookie_value(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_VALUE_LEN
        && value.bytes().all(|b| COOKIE_OCTET[usize::from(b)])
}

/// `COOKIE_OCTET[b]`: whether byte `b` is a `cookie-octet` (one table
/// lookup per byte of a token, instead of five range tests).
const COOKIE_OCTET: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E);
        b += 1;
    }
    table
};

/// The first non-empty value of cookie `name` in the request's `Cookie`
/// headers (unparseable headers and pairs are skipped).
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.value().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_only() -> Cookies {
        Cookies::new(None).unwrap()
    }

    fn with_domain() -> Cookies {
        Cookies::new(Some("example.com".into())).unwrap()
    }

    #[test]
    fn the_access_cookie_has_exactly_its_attributes() {
        assert_eq!(
            host_only().access("a.b.c", 900).unwrap(),
            "access_token=a.b.c; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=900"
        );
    }

    #[test]
    fn the_refresh_cookie_is_scoped_to_auth() {
        assert_eq!(
            host_only().refresh("r-_1", 1_209_600).unwrap(),
            "refresh_token=r-_1; HttpOnly; SameSite=Lax; Secure; Path=/auth; Max-Age=1209600"
        );
    }

    #[test]
    fn the_binding_cookie_is_a_host_cookie() {
        assert_eq!(
            host_only().binding("bind", 600).unwrap(),
            "__Host-kakao_login_binding=bind; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=600"
        );
    }

    #[test]
    fn a_configured_domain_is_added_to_the_access_cookie_only() {
        let c = with_domain();
        assert_eq!(
            c.access("t", 60).unwrap(),
            "access_token=t; HttpOnly; SameSite=Lax; Secure; Path=/; Domain=example.com; Max-Age=60"
        );
        assert_eq!(
            c.clear_access(),
            "access_token=; HttpOnly; SameSite=Lax; Secure; Path=/; Domain=example.com; Max-Age=0"
        );
        assert_eq!(
            c.refresh("r", 60).unwrap(),
            "refresh_token=r; HttpOnly; SameSite=Lax; Secure; Path=/auth; Max-Age=60"
        );
        assert_eq!(
            c.clear_refresh(),
            "refresh_token=; HttpOnly; SameSite=Lax; Secure; Path=/auth; Max-Age=0"
        );
        assert_eq!(
            c.binding("b", 60).unwrap(),
            "__Host-kakao_login_binding=b; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=60"
        );
    }

    #[test]
    fn clearing_keeps_name_path_and_domain_with_an_empty_value_and_max_age_zero() {
        let c = host_only();
        assert_eq!(
            c.clear_access(),
            "access_token=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0"
        );
        assert_eq!(
            c.clear_refresh(),
            "refresh_token=; HttpOnly; SameSite=Lax; Secure; Path=/auth; Max-Age=0"
        );
        assert_eq!(
            c.clear_binding(),
            "__Host-kakao_login_binding=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0"
        );
    }

    #[test]
    fn a_negative_lifetime_becomes_zero() {
        assert_eq!(
            host_only().binding("b", -5).unwrap(),
            "__Host-kakao_login_binding=b; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0"
        );
    }

    #[test]
    fn values_that_could_inject_attributes_are_refused() {
        let c = host_only();
        for bad in [
            "",
            "a;Domain=evil.com",
            "a b",
            "a,b",
            "a\"b",
            "a\\b",
            "한글",
            "a\r\nb",
        ] {
            assert_eq!(c.access(bad, 60), Err(UnsafeCookieValue), "{bad:?}");
        }
        assert!(c.access(&"x".repeat(MAX_VALUE_LEN + 1), 60).is_err());
    }

    #[test]
    fn reading_finds_the_named_cookie_among_several_headers() {
        let mut headers = HeaderMap::new();
        headers.append(
            COOKIE,
            HeaderValue::from_static("theme=dark; access_token="),
        );
        headers.append(
            COOKIE,
            HeaderValue::from_static("refresh_token=r1; access_token=a1"),
        );
        assert_eq!(read(&headers, ACCESS_COOKIE).as_deref(), Some("a1"));
        assert_eq!(read(&headers, REFRESH_COOKIE).as_deref(), Some("r1"));
        assert_eq!(read(&headers, BINDING_COOKIE), None);
        assert_eq!(read(&HeaderMap::new(), ACCESS_COOKIE), None);
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn a_value_the_edge_sets_is_read_back_as_itself(value in "[ -~]{1,20}|\\PC{0,10}") {
            if let Ok(set) = host_only().access(&value, 60) {
                let set = set.to_str().unwrap();
                let expected = format!("{ACCESS_COOKIE}={value}; ");
                prop_assert!(set.starts_with(&expected), "{}", set);
                let mut headers = HeaderMap::new();
                let echoed = format!("theme=dark; {ACCESS_COOKIE}={value}; x=1");
                headers.append(COOKIE, HeaderValue::from_str(&echoed).unwrap());
                prop_assert_eq!(read(&headers, ACCESS_COOKIE), Some(value));
            } else {
                prop_assert!(value.is_empty() || value.bytes().any(|b| !COOKIE_OCTET[usize::from(b)]));
            }
        }

        #[test]
        fn a_read_value_is_never_empty_and_never_holds_a_semicolon(
            header in "[a-z_=; \"]{0,40}"
        ) {
            let mut headers = HeaderMap::new();
            headers.append(COOKIE, HeaderValue::from_str(&header).unwrap());
            for name in ["a", "b", "a_b", ACCESS_COOKIE] {
                if let Some(value) = read(&headers, name) {
                    prop_assert!(!value.is_empty() && !value.contains(';'), "{value:?}");
                }
            }
        }
    }
}
