//! oauth2.googleapis.com's `/token`: the code exchange (single-use codes
//! bound to the client and redirect URI, PKCE `S256`/`plain`) and the
//! refresh grant, with Google's RFC 6749 error shapes (400/401 and
//! `{"error","error_description"}`).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use warp::http::StatusCode;
use warp::reply::Response;

use super::authorize::reported_scope;
use super::id_token::{self, IdTokenFor};
use super::memory::Challenge;
use crate::app::{self, OAuthApp};
use crate::control_wire::Endpoint;
use crate::params::{Params, is_form};
use crate::reply::{self, fault_gate};
use crate::state::Shared;
use crate::store::Session;
use crate::token::s256;

/// `expires_in` of an access token (≈3599 s as observed at Google).
const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(3599);
/// Refresh tokens die after six months unused at Google; the emulator keeps
/// them that long in any case.
const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(183 * 24 * 3600);

/// The parts of a token request the handler reads.
pub(crate) struct TokenRequest<'a> {
    /// `Host`, for the issuer when none is configured.
    pub(crate) host: Option<&'a str>,
    pub(crate) authorization: Option<&'a str>,
    pub(crate) content_type: Option<&'a str>,
    pub(crate) body: &'a [u8],
}

/// A refusal. Descriptions are Google's current terse ones where known;
/// clients must branch on `error` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenError {
    /// Status 400 for these is UNCONFIRMED at Google (RFC 6749's).
    InvalidRequest(&'static str),
    UnknownClient,
    BadSecret,
    UnsupportedGrantType,
    InvalidGrant(&'static str),
    RedirectUriMismatch,
}

impl TokenError {
    fn response(self) -> Response {
        let (status, error, description) = match self {
            TokenError::InvalidRequest(what) => (StatusCode::BAD_REQUEST, "invalid_request", what),
            TokenError::UnknownClient => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "The OAuth client was not found.",
            ),
            TokenError::BadSecret => (StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized"),
            TokenError::UnsupportedGrantType => (
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Invalid grant_type",
            ),
            TokenError::InvalidGrant(what) => (StatusCode::BAD_REQUEST, "invalid_grant", what),
            TokenError::RedirectUriMismatch => (
                StatusCode::BAD_REQUEST,
                "redirect_uri_mismatch",
                "Bad Request",
            ),
        };
        reply::json(
            status,
            &json!({ "error": error, "error_description": description }),
        )
    }
}

/// `POST /google/token` with a form body; client credentials in the body
/// (`client_secret_post`) or in HTTP Basic (`client_secret_basic`).
pub(crate) async fn token(shared: &Shared, request: TokenRequest<'_>) -> Response {
    let params = Params::parse(request.body);
    let basic = basic_credentials(request.authorization);
    let mut seen = params.seen();
    if let Some((id, _)) = &basic {
        seen.had_client_secret = true;
        if seen.client_id.is_empty() {
            seen.client_id = id.clone();
        }
    }
    shared.lock().google.last_token_request = Some(seen);
    if let Some(faulted) = fault_gate(shared, Endpoint::GoogleToken).await {
        return faulted;
    }
    let result = if is_form(request.content_type) {
        exchange(shared, &params, basic, request.host)
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

fn exchange(
    shared: &Shared,
    p: &Params,
    basic: Option<(String, String)>,
    host: Option<&str>,
) -> Result<Value, TokenError> {
    let app = authenticate(&shared.config.google.apps, p, basic)?;
    match p.get("grant_type") {
        Some("authorization_code") => exchange_code(shared, p, app, host),
        Some("refresh_token") => refresh(shared, p, app, host),
        Some(_) => Err(TokenError::UnsupportedGrantType),
        None => Err(TokenError::InvalidRequest(
            "Missing required parameter: grant_type",
        )),
    }
}

/// HTTP Basic first (RFC 6749 §2.3.1: each part form-urlencoded), else the
/// body's `client_id` and `client_secret`.
fn authenticate<'a>(
    apps: &'a [OAuthApp],
    p: &Params,
    basic: Option<(String, String)>,
) -> Result<&'a OAuthApp, TokenError> {
    let (client_id, secret) = match &basic {
        Some((id, secret)) => (Some(id.as_str()), Some(secret.as_str())),
        None => (p.get("client_id"), p.get("client_secret")),
    };
    if client_id.is_none() {
        return Err(TokenError::InvalidRequest(
            "Could not determine client ID from request.",
        ));
    }
    let app = app::find(apps, client_id).ok_or(TokenError::UnknownClient)?;
    if app.authenticates(client_id, secret) {
        Ok(app)
    } else {
        Err(TokenError::BadSecret)
    }
}

fn basic_credentials(authorization: Option<&str>) -> Option<(String, String)> {
    let (scheme, encoded) = authorization?.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |part: &str| {
        url::form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

fn exchange_code(
    shared: &Shared,
    p: &Params,
    app: &OAuthApp,
    host: Option<&str>,
) -> Result<Value, TokenError> {
    let code = p.get("code").ok_or(TokenError::InvalidRequest(
        "Missing required parameter: code",
    ))?;
    let redirect_uri = p.get("redirect_uri").ok_or(TokenError::InvalidRequest(
        "Missing required parameter: redirect_uri",
    ))?;
    let mut memory = shared.lock();
    // Taken before any other check: a code is spent by its first presentation.
    let grant = memory
        .google
        .tokens
        .take_code(code)
        .filter(|grant| grant.client_id == app.client_id)
        .ok_or(TokenError::InvalidGrant("Bad Request"))?;
    if grant.redirect_uri != redirect_uri {
        return Err(TokenError::RedirectUriMismatch);
    }
    if let Some(challenge) = &grant.challenge {
        let verifier = p
            .get("code_verifier")
            .ok_or(TokenError::InvalidGrant("Missing code verifier."))?;
        let verified = match challenge {
            Challenge::S256(challenge) => s256(verifier) == *challenge,
            Challenge::Plain(challenge) => verifier == challenge,
        };
        if !verified {
            return Err(TokenError::InvalidGrant("Invalid code verifier."));
        }
    }
    // A refresh token only with access_type=offline, and only on the first
    // exchange for this user and client unless consent was prompted again.
    let pair = (grant.client_id.clone(), grant.user.clone());
    let google = &mut memory.google;
    let refresh = (grant.offline
        && (grant.prompt_consent || !google.refresh_issued.contains(&pair)))
    .then(refresh_token);
    if refresh.is_some() {
        google.refresh_issued.insert(pair);
    }
    let access = access_token();
    google.tokens.start_session(
        Session {
            user: grant.user.clone(),
            client_id: grant.client_id.clone(),
            scope: grant.scope.clone(),
        },
        (access.clone(), ACCESS_TOKEN_TTL),
        refresh.clone().map(|token| (token, REFRESH_TOKEN_TTL)),
    );
    let signing = (google.signing_key, google.id_token);
    drop(memory);
    let mut body = answer(&access, &grant.scope);
    if let Some(map) = body.as_object_mut() {
        if let Some(refresh) = refresh {
            map.insert("refresh_token".into(), refresh.into());
        }
        let issuer = id_token::issuer(&shared.config.google, host);
        if let Some(user) = shared
            .config
            .google
            .users
            .iter()
            .find(|u| u.sub == grant.user)
            && let Some(token) = id_token::id_token(&IdTokenFor {
                user,
                client_id: &app.client_id,
                issuer: &issuer,
                scope: &grant.scope,
                nonce: grant.nonce.as_deref(),
                access_token: &access,
                key: signing.0,
                settings: signing.1,
            })
        {
            map.insert("id_token".into(), token.into());
        }
    }
    Ok(body)
}

/// A new access token and id_token (without `nonce`); no new refresh token.
fn refresh(
    shared: &Shared,
    p: &Params,
    app: &OAuthApp,
    host: Option<&str>,
) -> Result<Value, TokenError> {
    let refresh_token = p.get("refresh_token").ok_or(TokenError::InvalidRequest(
        "Missing required parameter: refresh_token",
    ))?;
    let access = access_token();
    let mut memory = shared.lock();
    let session = memory
        .google
        .tokens
        .refresh(
            refresh_token,
            &app.client_id,
            (access.clone(), ACCESS_TOKEN_TTL),
        )
        .ok_or(TokenError::InvalidGrant(
            "Token has been expired or revoked.",
        ))?;
    let signing = (memory.google.signing_key, memory.google.id_token);
    drop(memory);
    let mut body = answer(&access, &session.scope);
    let issuer = id_token::issuer(&shared.config.google, host);
    if let Some(user) = shared
        .config
        .google
        .users
        .iter()
        .find(|u| u.sub == session.user)
        && let Some(token) = id_token::id_token(&IdTokenFor {
            user,
            client_id: &app.client_id,
            issuer: &issuer,
            scope: &session.scope,
            nonce: None,
            access_token: &access,
            key: signing.0,
            settings: signing.1,
        })
        && let Some(map) = body.as_object_mut()
    {
        map.insert("id_token".into(), token.into());
    }
    Ok(body)
}

fn answer(access: &str, scope: &[String]) -> Value {
    json!({
        "access_token": access,
        "expires_in": ACCESS_TOKEN_TTL.as_secs(),
        "scope": reported_scope(scope),
        "token_type": "Bearer",
    })
}

/// Shaped like Google's (`ya29.a0…`).
fn access_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("ya29.a0Emu{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Shaped like Google's (`1//0…`): slashes that must be form-encoded.
fn refresh_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("1//0Emu{}", URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_base64_of_form_encoded_parts() {
        let header = format!("Basic {}", STANDARD.encode("my%2Bid:s%3Acret"));
        assert_eq!(
            basic_credentials(Some(&header)),
            Some(("my+id".to_owned(), "s:cret".to_owned()))
        );
        assert_eq!(basic_credentials(Some("Bearer abc")), None);
        assert_eq!(basic_credentials(Some("Basic !!!")), None);
    }
}
