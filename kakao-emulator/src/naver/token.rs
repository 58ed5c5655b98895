//! nid.naver.com's `/oauth2.0/token` (issue, refresh, and the deprecated
//! `grant_type=delete`) and `/oauth2.0/revoke`.
//!
//! Naver's quirk, kept on purpose: the token endpoint answers its errors
//! with **HTTP 200** and `{"error","error_description"}` (seen by several
//! third parties, not stated by Naver's docs), so a client must judge by
//! the presence of `access_token`, never by the status. `expires_in` is the
//! *string* `"3600"`, and access tokens hold `+`, `/` and `=`, so a client
//! that does not URL-encode them in a query string breaks here as at Naver.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use warp::http::StatusCode;
use warp::reply::Response;

use crate::app::{self, OAuthApp};
use crate::control_wire::{Endpoint, NaverQuirks};
use crate::params::Params;
use crate::reply::{self, fault_gate};
use crate::state::Shared;
use crate::store::Session;

/// Access-token lifetime, Naver's documented default.
pub(crate) const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(3600);
/// Refresh-token lifetime: undocumented at Naver (UNCONFIRMED); a year is
/// the emulator's choice.
const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

/// A token-endpoint refusal, answered `{"error","error_description"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenError {
    InvalidRequest(&'static str),
    /// Wrong or unknown client credentials. The classic path's status is
    /// UNCONFIRMED: 200 like every other error here, or 401 (as seen on
    /// Naver's OIDC path) with [`NaverQuirks::invalid_client_as_401`].
    InvalidClient,
    /// An unknown, spent or expired code, or one presented by another app,
    /// with another `state` or another `redirect_uri`: Naver's observed
    /// answer to a reused code.
    NoValidSession,
    /// An unknown, expired, revoked or foreign refresh token (the exact
    /// words are UNCONFIRMED).
    InvalidRefreshToken,
    UnsupportedGrantType,
}

impl TokenError {
    fn response(self, quirks: NaverQuirks) -> Response {
        let (error, description) = match self {
            TokenError::InvalidRequest(what) => ("invalid_request", what),
            TokenError::InvalidClient => ("invalid_client", "Client authentication failed."),
            TokenError::NoValidSession => ("invalid_request", "no valid data in session"),
            TokenError::InvalidRefreshToken => ("invalid_request", "invalid refresh_token"),
            TokenError::UnsupportedGrantType => ("invalid_request", "unsupported grant_type"),
        };
        let status = if self == TokenError::InvalidClient && quirks.invalid_client_as_401 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        };
        reply::json(
            status,
            &json!({ "error": error, "error_description": description }),
        )
    }
}

/// `GET|POST /naver/oauth2.0/token`: parameters from the query (as Naver's
/// examples and SDK send them) or a form body.
pub(crate) async fn token(shared: &Shared, params: &Params) -> Response {
    shared.lock().naver.last_token_request = Some(params.seen());
    if let Some(faulted) = fault_gate(shared, Endpoint::NaverToken).await {
        return faulted;
    }
    match exchange(shared, params) {
        Ok(body) => reply::json(StatusCode::OK, &body),
        Err(error) => {
            let quirks = shared.lock().naver.quirks;
            error.response(quirks)
        }
    }
}

fn exchange(shared: &Shared, p: &Params) -> Result<Value, TokenError> {
    let grant_type = p
        .get("grant_type")
        .ok_or(TokenError::InvalidRequest("grant_type is missing"))?;
    let app = app::find(&shared.config.naver.apps, p.get("client_id"))
        .filter(|app| app.authenticates(p.get("client_id"), p.get("client_secret")))
        .ok_or(TokenError::InvalidClient)?;
    match grant_type {
        "authorization_code" => issue(shared, p, app),
        "refresh_token" => refresh(shared, p, app),
        "delete" => delete(shared, p, app),
        _ => Err(TokenError::UnsupportedGrantType),
    }
}

/// The code exchange. `state` is required (Naver's table lists it) and
/// must be the authorize request's; `redirect_uri` is not in Naver's table
/// but its own samples send it, so when sent it must match. Whether Naver
/// checks either is UNCONFIRMED; a correct client passes both checks.
fn issue(shared: &Shared, p: &Params, app: &OAuthApp) -> Result<Value, TokenError> {
    let code = p
        .get("code")
        .ok_or(TokenError::InvalidRequest("code is missing"))?;
    let state = p
        .get("state")
        .ok_or(TokenError::InvalidRequest("state is missing"))?;
    let mut memory = shared.lock();
    // Taken before any other check: a code is spent by its first presentation.
    let grant = memory
        .naver
        .tokens
        .take_code(code)
        .filter(|grant| {
            grant.client_id == app.client_id
                && grant.state == state
                && p.get("redirect_uri")
                    .is_none_or(|uri| uri == grant.redirect_uri)
        })
        .ok_or(TokenError::NoValidSession)?;
    let (access, refresh) = (access_token(), refresh_token());
    memory.naver.tokens.start_session(
        Session {
            user: grant.user,
            client_id: grant.client_id,
            scope: Vec::new(),
        },
        (access.clone(), ACCESS_TOKEN_TTL),
        Some((refresh.clone(), REFRESH_TOKEN_TTL)),
    );
    Ok(json!({
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "bearer",
        "expires_in": ACCESS_TOKEN_TTL.as_secs().to_string(),
    }))
}

/// A new access token; Naver sends no new refresh token.
fn refresh(shared: &Shared, p: &Params, app: &OAuthApp) -> Result<Value, TokenError> {
    let refresh_token = p
        .get("refresh_token")
        .ok_or(TokenError::InvalidRequest("refresh_token is missing"))?;
    let access = access_token();
    shared
        .lock()
        .naver
        .tokens
        .refresh(
            refresh_token,
            &app.client_id,
            (access.clone(), ACCESS_TOKEN_TTL),
        )
        .ok_or(TokenError::InvalidRefreshToken)?;
    Ok(json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": ACCESS_TOKEN_TTL.as_secs().to_string(),
    }))
}

/// The deprecated `grant_type=delete`: ends the token's session (both
/// tokens) and answers `success` even for an unknown token, as documented.
fn delete(shared: &Shared, p: &Params, app: &OAuthApp) -> Result<Value, TokenError> {
    let token = p
        .get("access_token")
        .ok_or(TokenError::InvalidRequest("access_token is missing"))?;
    revoke_for(shared, app, token);
    Ok(json!({ "access_token": token, "result": "success" }))
}

/// End the session of `token` if it is `app`'s.
fn revoke_for(shared: &Shared, app: &OAuthApp, token: &str) {
    let mut memory = shared.lock();
    let tokens = &mut memory.naver.tokens;
    if tokens
        .session_of(token)
        .is_some_and(|session| session.client_id == app.client_id)
    {
        tokens.revoke(token);
    }
}

/// `POST /naver/oauth2.0/revoke` (RFC 7009): `client_id`, `client_secret`,
/// `token` and an optional, tolerated `token_type_hint`. Revoking either
/// token revokes its pair; success is an empty 200, also for a token that
/// is unknown or already revoked.
pub(crate) async fn revoke(shared: &Shared, p: &Params) -> Response {
    if let Some(faulted) = fault_gate(shared, Endpoint::NaverRevoke).await {
        return faulted;
    }
    let (Some(_), Some(_), Some(token)) =
        (p.get("client_id"), p.get("client_secret"), p.get("token"))
    else {
        return reply::json(
            StatusCode::BAD_REQUEST,
            &json!({
                "error": "invalid_request",
                "error_description": "client_id, client_secret and token are required.",
            }),
        );
    };
    let Some(app) = app::find(&shared.config.naver.apps, p.get("client_id"))
        .filter(|app| app.authenticates(p.get("client_id"), p.get("client_secret")))
    else {
        return reply::json(
            StatusCode::UNAUTHORIZED,
            &json!({
                "error": "unauthorized_client",
                "error_description": "Client authentication failed.",
            }),
        );
    };
    revoke_for(shared, app, token);
    reply::empty(StatusCode::OK)
}

/// Shaped like Naver's (`AAAAQosjWDJ…+6+iZ3gq…`): letters, digits and
/// always some `+`, `/` or `=`, which must be URL-encoded in a query.
fn access_token() -> String {
    let bytes: [u8; 31] = rand::random();
    format!("AAAAQ+{}", STANDARD.encode(bytes))
}

/// Letters and digits only, as Naver documents.
fn refresh_token() -> String {
    let bytes: [u8; 48] = rand::random();
    URL_SAFE_NO_PAD
        .encode(bytes)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_shapes_follow_navers_documented_alphabets() {
        let access = access_token();
        assert!(access.contains('+') && access.ends_with('='), "{access}");
        assert!(access.len() <= 256);
        let refresh = refresh_token();
        assert!(refresh.chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(refresh.len() >= 40);
    }

    #[test]
    fn errors_answer_200_except_a_bad_client_when_asked_for_401() {
        let default = NaverQuirks::default();
        let strict = NaverQuirks {
            invalid_client_as_401: true,
        };
        assert_eq!(
            TokenError::NoValidSession.response(strict).status(),
            StatusCode::OK
        );
        assert_eq!(
            TokenError::InvalidClient.response(default).status(),
            StatusCode::OK
        );
        assert_eq!(
            TokenError::InvalidClient.response(strict).status(),
            StatusCode::UNAUTHORIZED
        );
    }
}
