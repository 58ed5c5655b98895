//! The demo page (`/`, `/demo.js`, `/demo.css`): static assets compiled
//! into the binary, served only when `DEMO_PAGE` is on (see
//! [`crate::routes`]), the page under a strict CSP.

use http::{HeaderValue, header::CONTENT_SECURITY_POLICY};
use warp::reply::Response;

use crate::reply::static_response;

const DEMO_HTML: &str = include_str!("../../assets/demo.html");
const DEMO_JS: &str = include_str!("../../assets/demo.js");
const DEMO_CSS: &str = include_str!("../../assets/demo.css");
const DEMO_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// GET / (demo page)
pub(crate) async fn page() -> Response {
    let mut response = static_response("text/html; charset=utf-8", DEMO_HTML);
    response
        .headers_mut()
        .insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(DEMO_CSP));
    response
}

/// GET /demo.js
pub(crate) async fn script() -> Response {
    static_response("text/javascript; charset=utf-8", DEMO_JS)
}

/// GET /demo.css
pub(crate) async fn style() -> Response {
    static_response("text/css; charset=utf-8", DEMO_CSS)
}
