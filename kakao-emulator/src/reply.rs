//! Response builders shared by the handlers, and the fault gate every
//! emulated endpoint passes first.

use warp::Reply;
use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

use crate::control_wire::{Endpoint, Fault};
use crate::state::Shared;

const JSON: &str = "application/json;charset=UTF-8";
const HTML: &str = "text/html;charset=utf-8";

/// Build a response with a body, status and content type.
fn with_body(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut response = body.into_response();
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A JSON body, as Kakao sends it (`application/json;charset=UTF-8`).
pub(crate) fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    with_body(status, JSON, body.to_string())
}

/// A 200 JSON body that clients may cache for `max_age` seconds
/// (`Cache-Control: public, max-age=…`), as JWKS and discovery documents are.
pub(crate) fn cacheable_json(body: &serde_json::Value, max_age: u64) -> Response {
    let mut response = json(StatusCode::OK, body);
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        response.headers_mut().insert(CACHE_CONTROL, value);
    }
    response
}

/// An HTML page.
pub(crate) fn html(status: StatusCode, page: String) -> Response {
    with_body(status, HTML, page)
}

/// A kapi error: `{"msg":...,"code":...}`.
pub(crate) fn api_error(status: StatusCode, code: i64, msg: &str) -> Response {
    json(status, &serde_json::json!({ "msg": msg, "code": code }))
}

/// A 302 to `location` (already a serialized absolute URL).
pub(crate) fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut response = StatusCode::FOUND.into_response();
            response.headers_mut().insert(LOCATION, value);
            response
        }
        Err(_) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            "<html><body>redirect URL is not a valid header value</body></html>".to_owned(),
        ),
    }
}

/// How spaces are written in the parameters a redirect appends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spaces {
    /// `%20`, as Kakao and Google write them.
    Percent20,
    /// `+`, form style, as Naver writes them (`Canceled+By+User`).
    Plus,
}

/// A 302 to `redirect_uri` with `pairs` appended to its query (pairs whose
/// value is `None` are left out); `None` if `redirect_uri` is not a URL.
pub(crate) fn redirect_appending(
    redirect_uri: &str,
    pairs: &[(&str, Option<&str>)],
    spaces: Spaces,
) -> Option<Response> {
    let mut url = url::Url::parse(redirect_uri).ok()?;
    let mut added = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        if let Some(value) = value {
            added.append_pair(key, value);
        }
    }
    let added = added.finish();
    // The serializer escapes a literal '+' as %2B, so every '+' left is a space.
    let added = match spaces {
        Spaces::Percent20 => added.replace('+', "%20"),
        Spaces::Plus => added,
    };
    let query = match url.query() {
        Some(existing) if !existing.is_empty() => format!("{existing}&{added}"),
        _ => added,
    };
    url.set_query(Some(&query));
    Some(found(url.as_str()))
}

/// A response with `status` and no body.
pub(crate) fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Default::default());
    *response.status_mut() = status;
    response
}

/// Count the call and apply the endpoint's fault: `Some(response)` answers
/// instead of the endpoint, `None` lets the endpoint do its work.
pub(crate) async fn fault_gate(shared: &Shared, endpoint: Endpoint) -> Option<Response> {
    let fault = shared.lock().record_call(endpoint);
    match fault? {
        Fault::Status { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(json(status, &body))
        }
        Fault::Delay(delay) => {
            shared.sleep_unless_shutdown(delay).await;
            None
        }
        Fault::Hang => {
            shared
                .sleep_unless_shutdown(std::time::Duration::from_secs(3600))
                .await;
            Some(api_error(
                StatusCode::SERVICE_UNAVAILABLE,
                -9798,
                "emulator shutting down",
            ))
        }
        Fault::Garbage => Some(html(StatusCode::OK, "<html>oops</html>".to_owned())),
    }
}
