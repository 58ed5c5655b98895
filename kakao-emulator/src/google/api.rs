//! openidconnect.googleapis.com's `/v1/userinfo` and
//! oauth2.googleapis.com's `/revoke`.

use serde_json::{Value, json};
use warp::http::header::WWW_AUTHENTICATE;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

use super::id_token::scoped_claims;
use crate::control_wire::Endpoint;
use crate::params::{Params, bearer_token};
use crate::reply::{self, fault_gate};
use crate::state::Shared;

/// `GET|POST /google/v1/userinfo` with `Authorization: Bearer`: `sub` and
/// the claims of the granted scope (`email_verified` always a boolean).
pub(crate) async fn userinfo(shared: &Shared, authorization: Option<&str>) -> Response {
    if let Some(faulted) = fault_gate(shared, Endpoint::GoogleUserinfo).await {
        return faulted;
    }
    let session = bearer_token(authorization)
        .and_then(|token| shared.lock().google.tokens.access(token).ok().cloned());
    let Some(session) = session else {
        return unauthorized();
    };
    let Some(user) = shared
        .config
        .google
        .users
        .iter()
        .find(|user| user.sub == session.user)
    else {
        return unauthorized();
    };
    let mut claims = scoped_claims(user, &session.scope, false);
    claims.insert("sub".into(), user.sub.clone().into());
    reply::json(StatusCode::OK, &Value::Object(claims))
}

/// A missing, unknown, expired or revoked token: 401 with a
/// `WWW-Authenticate` challenge. The body is Google's as commonly reported
/// (UNCONFIRMED by its docs).
fn unauthorized() -> Response {
    let mut response = reply::json(
        StatusCode::UNAUTHORIZED,
        &json!({ "error": "invalid_request", "error_description": "Invalid Credentials" }),
    );
    response.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static(
            "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
        ),
    );
    response
}

/// `POST /google/revoke` with `token` in the query or a form body, no
/// client credentials (as Google's examples). An access or a refresh
/// token revokes the whole grant of that user to that client (every
/// session, and the "refresh token already issued" mark): 200 with an
/// empty body. An unknown or already revoked token: 400 `invalid_token`.
pub(crate) async fn revoke(shared: &Shared, p: &Params) -> Response {
    if let Some(faulted) = fault_gate(shared, Endpoint::GoogleRevoke).await {
        return faulted;
    }
    let Some(token) = p.get("token") else {
        return reply::json(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "invalid_request", "error_description": "Missing required parameter: token" }),
        );
    };
    let mut memory = shared.lock();
    let google = &mut memory.google;
    let Some(session) = google.tokens.session_of(token).cloned() else {
        return reply::json(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "invalid_token", "error_description": "Token expired or revoked" }),
        );
    };
    google
        .tokens
        .revoke_grant(&session.client_id, &session.user);
    google
        .refresh_issued
        .remove(&(session.client_id, session.user));
    reply::empty(StatusCode::OK)
}
