//! Decisions made from a request's `Origin` and `Sec-Fetch-Site` headers:
//! refusing cross-site POSTs (CSRF) and answering CORS for the configured
//! frontend origins only. Pure functions over headers, so they are tested
//! without a socket.

use http::{
    HeaderMap, HeaderValue,
    header::{
        ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS,
        ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE,
        ACCESS_CONTROL_REQUEST_HEADERS, ORIGIN, VARY,
    },
};

/// Request headers a cross-origin frontend may send (echoed in preflights).
const ALLOWED_REQUEST_HEADERS: &[&str] = &["content-type", "x-requested-with"];

/// The request's `Origin` when it is one of `allowed` (exact match with the
/// serialized origins of the settings).
pub fn allowed_origin<'a>(headers: &'a HeaderMap, allowed: &[String]) -> Option<&'a HeaderValue> {
    let origin = headers.get(ORIGIN)?;
    let text = origin.to_str().ok()?;
    allowed.iter().any(|a| a == text).then_some(origin)
}

/// True when a state-changing request must be refused as cross-site: it
/// carries an `Origin` that is not allowed, or `Sec-Fetch-Site: cross-site`.
/// A request with neither header (curl, a server) is not a browser CSRF and
/// passes.
pub fn is_cross_site(headers: &HeaderMap, allowed: &[String]) -> bool {
    let fetch_cross_site = headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    let foreign_origin = headers.contains_key(ORIGIN) && allowed_origin(headers, allowed).is_none();
    fetch_cross_site || foreign_origin
}

/// Adds the CORS answer headers for an allowed origin (credentials allowed,
/// the origin echoed, never `*`). `Vary: Origin` is always set, since the
/// answer depends on it.
pub fn add_cors_headers(response: &mut HeaderMap, request: &HeaderMap, allowed: &[String]) {
    response.append(VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed_origin(request, allowed) {
        response.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        response.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

/// Adds a successful preflight's method, header and max-age answers, or
/// returns `false` when the preflight must be refused (origin not allowed).
pub fn answer_preflight(response: &mut HeaderMap, request: &HeaderMap, allowed: &[String]) -> bool {
    if allowed_origin(request, allowed).is_none() {
        return false;
    }
    response.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST"),
    );
    response.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        allowed_request_headers(request),
    );
    response.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    true
}

/// The requested headers that are in the allow-list (others are dropped, so
/// the browser refuses them), or `content-type` when none were requested.
fn allowed_request_headers(request: &HeaderMap) -> HeaderValue {
    let requested: Vec<&str> = request
        .get_all(ACCESS_CONTROL_REQUEST_HEADERS)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter_map(|name| {
            ALLOWED_REQUEST_HEADERS
                .iter()
                .copied()
                .find(|allowed| allowed.eq_ignore_ascii_case(name))
        })
        .collect();
    if requested.is_empty() {
        HeaderValue::from_static("content-type")
    } else {
        // Only allow-list entries (static ASCII tokens) are joined here.
        HeaderValue::from_str(&requested.join(", "))
            .unwrap_or_else(|_| HeaderValue::from_static("content-type"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec![
            "https://app.example.com".to_owned(),
            "http://localhost:3000".to_owned(),
        ]
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn posts_are_refused_or_allowed_by_origin_and_fetch_site() {
        let table: &[(&[(&'static str, &'static str)], bool)] = &[
            (&[], false),
            (&[("origin", "https://app.example.com")], false),
            (&[("origin", "http://localhost:3000")], false),
            (
                &[
                    ("origin", "https://app.example.com"),
                    ("sec-fetch-site", "same-site"),
                ],
                false,
            ),
            (&[("sec-fetch-site", "same-origin")], false),
            (&[("sec-fetch-site", "none")], false),
            (&[("origin", "https://evil.example")], true),
            (&[("origin", "null")], true),
            (&[("origin", "https://app.example.com.evil.example")], true),
            (&[("origin", "https://APP.example.com")], true),
            (&[("origin", "http://app.example.com")], true),
            (&[("sec-fetch-site", "cross-site")], true),
            (&[("sec-fetch-site", "Cross-Site")], true),
            (
                &[
                    ("origin", "https://app.example.com"),
                    ("sec-fetch-site", "cross-site"),
                ],
                true,
            ),
        ];
        for (pairs, refused) in table {
            assert_eq!(
                is_cross_site(&headers(pairs), &allowed()),
                *refused,
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn cors_headers_echo_only_an_allowed_origin() {
        let mut response = HeaderMap::new();
        add_cors_headers(
            &mut response,
            &headers(&[("origin", "http://localhost:3000")]),
            &allowed(),
        );
        assert_eq!(
            response[ACCESS_CONTROL_ALLOW_ORIGIN],
            "http://localhost:3000"
        );
        assert_eq!(response[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(response[VARY], "Origin");

        for request in [headers(&[("origin", "https://evil.example")]), headers(&[])] {
            let mut response = HeaderMap::new();
            add_cors_headers(&mut response, &request, &allowed());
            assert!(!response.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
            assert!(!response.contains_key(ACCESS_CONTROL_ALLOW_CREDENTIALS));
            assert_eq!(response[VARY], "Origin");
        }
    }

    #[test]
    fn a_preflight_from_an_allowed_origin_is_answered() {
        let request = headers(&[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "Content-Type, X-Evil, x-requested-with",
            ),
        ]);
        let mut response = HeaderMap::new();
        assert!(answer_preflight(&mut response, &request, &allowed()));
        assert_eq!(response[ACCESS_CONTROL_ALLOW_METHODS], "GET, POST");
        assert_eq!(
            response[ACCESS_CONTROL_ALLOW_HEADERS],
            "content-type, x-requested-with"
        );
        assert_eq!(response[ACCESS_CONTROL_MAX_AGE], "600");
    }

    #[test]
    fn a_preflight_without_requested_headers_allows_content_type() {
        let request = headers(&[("origin", "https://app.example.com")]);
        let mut response = HeaderMap::new();
        assert!(answer_preflight(&mut response, &request, &allowed()));
        assert_eq!(response[ACCESS_CONTROL_ALLOW_HEADERS], "content-type");
    }

    #[test]
    fn a_preflight_from_another_origin_is_refused_without_cors_headers() {
        for request in [headers(&[("origin", "https://evil.example")]), headers(&[])] {
            let mut response = HeaderMap::new();
            assert!(!answer_preflight(&mut response, &request, &allowed()));
            assert!(response.is_empty());
        }
    }
}
