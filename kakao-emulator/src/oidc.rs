//! OpenID Connect as Kakao offers it: the discovery document, the JWKS,
//! and RS256 id_tokens, which the token endpoint adds when the granted
//! scope holds `openid` (so fast mode and plain logins never sign).
//!
//! The signing keys are Kakao's two fixed development keys (see
//! [`crate::jws`]). Only the active one is published;
//! [`crate::Control::rotate_signing_key`] switches to the other, as a key
//! rotation at Kakao would. [`IdTokenFault`]s spoil the next tokens in one
//! precise way each, for the verifier's tests.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use warp::http::StatusCode;
use warp::reply::Response;

use crate::config::TestUser;
use crate::control_wire::{Endpoint, IdTokenFault};
use crate::jws::SigningKeys;
use crate::reply::{self, fault_gate};
use crate::state::{ACCESS_TOKEN_TTL, Shared};

/// Kakao's issuer, `iss` of every id_token and of the discovery document.
pub(crate) const ISSUER: &str = "https://kauth.kakao.com";

/// `Cache-Control: max-age` of the JWKS, in seconds.
pub(crate) const JWKS_MAX_AGE_SECONDS: u64 = 3600;

/// The discovery document, endpoints on `base` (the emulator as the client
/// reached it), issuer [`ISSUER`] as at Kakao.
pub(crate) fn discovery(base: &str) -> Value {
    json!({
        "issuer": ISSUER,
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "userinfo_endpoint": format!("{base}/v1/oidc/userinfo"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "request_uri_parameter_supported": false,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["iss", "aud", "sub", "auth_time", "exp", "iat", "nonce", "nickname", "picture", "email"],
    })
}

/// `GET /.well-known/jwks.json`, cacheable for [`JWKS_MAX_AGE_SECONDS`].
pub(crate) async fn jwks_response(shared: &Shared) -> Response {
    if let Some(faulted) = fault_gate(shared, Endpoint::Jwks).await {
        return faulted;
    }
    let active = shared.lock().signing_key;
    reply::cacheable_json(&SigningKeys::kakao().jwks(active), JWKS_MAX_AGE_SECONDS)
}

/// `GET /.well-known/openid-configuration`, endpoints on the `Host` the
/// request named.
pub(crate) async fn discovery_response(shared: &Shared, host: Option<&str>) -> Response {
    if let Some(faulted) = fault_gate(shared, Endpoint::Discovery).await {
        return faulted;
    }
    let base = format!("http://{}", host.unwrap_or("localhost"));
    reply::json(StatusCode::OK, &discovery(&base))
}

/// What an id_token is issued for.
pub(crate) struct IdTokenFor<'a> {
    pub(crate) user: &'a TestUser,
    pub(crate) client_id: &'a str,
    pub(crate) nonce: Option<&'a str>,
    /// The active key's index.
    pub(crate) key: usize,
    pub(crate) fault: Option<IdTokenFault>,
}

/// The id_token for `request`, spoiled as its fault says; `None` for
/// [`IdTokenFault::Missing`].
pub(crate) fn id_token(request: &IdTokenFor<'_>) -> Option<String> {
    let fault = request.fault;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let user = request.user;
    let mut claims = json!({
        "iss": if fault == Some(IdTokenFault::WrongIssuer) { "https://kauth.example.net" } else { ISSUER },
        "aud": if fault == Some(IdTokenFault::WrongAudience) { "another-apps-key" } else { request.client_id },
        "sub": if fault == Some(IdTokenFault::WrongSubject) { user.id + 1 } else { user.id }.to_string(),
        "iat": now,
        "auth_time": now,
        "exp": if fault == Some(IdTokenFault::Expired) { now.saturating_sub(3600) } else { now + ACCESS_TOKEN_TTL.as_secs() },
        "nickname": user.nickname,
    });
    let nonce = match fault {
        Some(IdTokenFault::NoNonce) => None,
        Some(IdTokenFault::WrongNonce) => Some("not-the-nonce-you-sent"),
        _ => request.nonce,
    };
    if let Some(map) = claims.as_object_mut() {
        if let Some(nonce) = nonce {
            map.insert("nonce".into(), nonce.into());
        }
        if let Some(picture) = &user.thumbnail_image_url {
            map.insert("picture".into(), picture.as_str().into());
        }
        if let (Some(email), true) = (&user.email, user.is_email_valid && user.is_email_verified) {
            map.insert("email".into(), email.as_str().into());
        }
    }
    SigningKeys::kakao().sign(&claims, request.key, fault)
}
