//! The shapes of the edge's successful answers, built in one place: a
//! redirect with cookies, `204 No Content` with cookies, a static text body
//! and a JSON body. Error bodies are [`crate::error`]'s.

use http::{
    HeaderMap, HeaderValue, StatusCode,
    header::{
        CACHE_CONTROL, CONTENT_TYPE, LOCATION, REFERRER_POLICY, SET_COOKIE,
        STRICT_TRANSPORT_SECURITY,
    },
};
use hyper::body::Bytes;
use serde::Serialize;
use warp::reply::Response;

/// 302 to `location` with the cookies; never cached, never leaks a referrer.
pub(crate) fn redirect(
    location: HeaderValue,
    cookies: impl IntoIterator<Item = HeaderValue>,
) -> Response {
    let mut response = with_cookies(Response::new(Default::default()), cookies);
    *response.status_mut() = StatusCode::FOUND;
    let headers = response.headers_mut();
    headers.insert(LOCATION, location);
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// 204 with the cookies.
pub(crate) fn no_content(cookies: impl IntoIterator<Item = HeaderValue>) -> Response {
    let mut response = with_cookies(Response::new(Default::default()), cookies);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// Appends one `Set-Cookie` header per cookie (inserting would replace).
pub(crate) fn with_cookies(
    mut response: Response,
    cookies: impl IntoIterator<Item = HeaderValue>,
) -> Response {
    for cookie in cookies {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// 200 with a body known at compile time.
pub(crate) fn static_response(content_type: &'static str, body: &'static str) -> Response {
    let mut response = Response::new(body.into());
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A JSON response with `Content-Type: application/json`.
pub(crate) fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => json_bytes(status, bytes.into()),
        Err(_) => json_bytes(
            StatusCode::INTERNAL_SERVER_ERROR,
            Bytes::from(format!(
                r#"{{"error":"{}"}}"#,
                auth_proto::Reason::ServerError.as_str()
            )),
        ),
    }
}

/// A JSON response of a body already encoded.
pub(crate) fn json_bytes(status: StatusCode, bytes: Bytes) -> Response {
    let mut response = Response::new(bytes.into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The `Strict-Transport-Security` value: a year, this host only. Not
/// `includeSubDomains`: the edge cannot vouch for every host under its
/// domain (a sibling still served over plain HTTP would become unreachable),
/// and its own cookies need no such help (`Secure` everywhere, the binding
/// cookie `__Host-`). Not `preload` either: that is the operator's call.
pub(crate) const HSTS: &str = "max-age=31536000";

/// Adds `Strict-Transport-Security` when the frontend is served over
/// HTTPS (so the edge is too); a plain-HTTP setup (local development) gets
/// none, as browsers would ignore it over HTTP anyway.
pub(crate) fn add_hsts(headers: &mut HeaderMap, https: bool) {
    if https {
        headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
}
