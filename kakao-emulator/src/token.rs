//! kauth.kakao.com's `/oauth/token`: the authorization-code exchange
//! (single-use codes, redirect URI and PKCE S256 checks; KOE010/303/320) and
//! the refresh grant (KOE319/322), with Kakao's error shapes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use warp::http::StatusCode;
use warp::reply::Response;

use crate::control_wire::Endpoint;
use crate::fast;
use crate::oidc::{self, IdTokenFor};
use crate::params::{Params, is_form};
use crate::reply::{self, fault_gate};
use crate::state::{ACCESS_TOKEN_TTL, REFRESH_TOKEN_TTL, Shared};

/// A `/oauth/token` refusal, in Kakao's `{"error","error_description","error_code"}` shape.
#[derive(Debug, PartialEq, Eq)]
enum TokenError {
    InvalidRequest(&'static str),
    UnknownClient(String),
    BadClientCredentials,
    UnsupportedGrantType,
    CodeNotFound,
    RedirectUriMismatch,
    PkceFailed,
    RefreshTokenMissing,
    RefreshTokenNotFound,
}

impl TokenError {
    fn response(&self) -> Response {
        let (status, error, description, code) = match self {
            TokenError::InvalidRequest(what) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                (*what).to_owned(),
                None,
            ),
            TokenError::UnknownClient(client_id) => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                format!("Not exist client_id [{client_id}]"),
                Some("KOE101"),
            ),
            TokenError::BadClientCredentials => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Bad client credentials".to_owned(),
                Some("KOE010"),
            ),
            TokenError::UnsupportedGrantType => (
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "unsupported grant_type".to_owned(),
                Some("KOE310"),
            ),
            // Kakao echoes the code here; the emulator does not, so codes never reach logs.
            TokenError::CodeNotFound => (
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "authorization code not found for code=(not shown)".to_owned(),
                Some("KOE320"),
            ),
            TokenError::RedirectUriMismatch => (
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "redirect_uri mismatch".to_owned(),
                Some("KOE303"),
            ),
            TokenError::PkceFailed => (
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "PKCE verification failed".to_owned(),
                Some("KOE320"),
            ),
            TokenError::RefreshTokenMissing => (
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "refresh_token missing".to_owned(),
                Some("KOE319"),
            ),
            TokenError::RefreshTokenNotFound => (
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "refresh token not found or expired".to_owned(),
                Some("KOE322"),
            ),
        };
        let mut body = json!({ "error": error, "error_description": description });
        if let (Some(code), Some(map)) = (code, body.as_object_mut()) {
            map.insert("error_code".to_owned(), code.into());
        }
        reply::json(status, &body)
    }
}

/// `POST /oauth/token`
pub(crate) async fn token(shared: &Shared, content_type: Option<&str>, body: &[u8]) -> Response {
    let params = Params::parse(body);
    shared.lock().last_token_request = Some(params.seen());
    if let Some(faulted) = fault_gate(shared, Endpoint::Token).await {
        return faulted;
    }
    let result = if is_form(content_type) {
        exchange(shared, &params)
    } else {
        Err(TokenError::InvalidRequest(
            "Content-Type must be application/x-www-form-urlencoded",
        ))
    };
    match result {
        Ok(body) => reply::json(StatusCode::OK, &body),
        Err(error) => error.response(),
    }
}

/// Client authentication, then the grant.
fn exchange(shared: &Shared, p: &Params) -> Result<Value, TokenError> {
    let config = &shared.config;
    let grant_type = p
        .get("grant_type")
        .ok_or(TokenError::InvalidRequest("grant_type is required"))?;
    let client_id = p.get("client_id").unwrap_or_default();
    if client_id != config.client_id {
        return Err(TokenError::UnknownClient(client_id.to_owned()));
    }
    if let Some(secret) = &config.client_secret
        && p.get("client_secret") != Some(secret.as_str())
    {
        return Err(TokenError::BadClientCredentials);
    }
    match grant_type {
        "authorization_code" => exchange_code(shared, p, client_id),
        "refresh_token" => refresh(shared, p, client_id),
        _ => Err(TokenError::UnsupportedGrantType),
    }
}

fn exchange_code(shared: &Shared, p: &Params, client_id: &str) -> Result<Value, TokenError> {
    let code = p
        .get("code")
        .ok_or(TokenError::InvalidRequest("code is required"))?;
    let redirect_uri = p
        .get("redirect_uri")
        .ok_or(TokenError::InvalidRequest("redirect_uri is required"))?;
    if let Some(user_id) = fast::user_id(&shared.config, code) {
        return Ok(fast::token_body(user_id));
    }
    let mut state = shared.lock();
    // Taken before any other check: a code is spent by its first presentation.
    let grant = state
        .take_code(code)
        .filter(|grant| grant.client_id == client_id)
        .ok_or(TokenError::CodeNotFound)?;
    if grant.redirect_uri != redirect_uri {
        return Err(TokenError::RedirectUriMismatch);
    }
    if let Some(challenge) = &grant.code_challenge {
        let verified = p
            .get("code_verifier")
            .is_some_and(|verifier| s256(verifier) == *challenge);
        if !verified {
            return Err(TokenError::PkceFailed);
        }
    }
    let tokens = state.issue_tokens(grant.user_id, client_id);
    let signing = (state.signing_key, state.id_token_fault);
    drop(state);
    let mut body = json!({
        "token_type": "bearer",
        "access_token": tokens.access_token,
        "expires_in": ACCESS_TOKEN_TTL.as_secs(),
        "refresh_token": tokens.refresh_token,
        "refresh_token_expires_in": REFRESH_TOKEN_TTL.as_secs(),
        "scope": grant.scope.join(" "),
    });
    // Signed outside the lock, and only for OIDC grants.
    if grant.scope.iter().any(|item| item == "openid")
        && let Some(user) = shared.user(grant.user_id)
        && let Some(id_token) = oidc::id_token(&IdTokenFor {
            user,
            client_id,
            nonce: grant.nonce.as_deref(),
            key: signing.0,
            fault: signing.1,
        })
        && let Some(map) = body.as_object_mut()
    {
        map.insert("id_token".to_owned(), id_token.into());
    }
    Ok(body)
}

fn refresh(shared: &Shared, p: &Params, client_id: &str) -> Result<Value, TokenError> {
    let refresh_token = p
        .get("refresh_token")
        .ok_or(TokenError::RefreshTokenMissing)?;
    let refreshed = shared
        .lock()
        .refresh(refresh_token, client_id)
        .ok_or(TokenError::RefreshTokenNotFound)?;
    let mut body = json!({
        "token_type": "bearer",
        "access_token": refreshed.access_token,
        "expires_in": ACCESS_TOKEN_TTL.as_secs(),
    });
    if let (Some(new_refresh), Some(map)) = (refreshed.refresh_token, body.as_object_mut()) {
        map.insert("refresh_token".to_owned(), new_refresh.into());
        map.insert(
            "refresh_token_expires_in".to_owned(),
            REFRESH_TOKEN_TTL.as_secs().into(),
        );
    }
    Ok(body)
}

/// PKCE S256: base64url-no-pad(SHA-256(verifier)).
pub(crate) fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_the_rfc_7636_example() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
