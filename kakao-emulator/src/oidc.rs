//! OpenID Connect as Kakao offers it: the discovery document, the JWKS,
//! and RS256 id_tokens, which the token endpoint adds when the granted
//! scope holds `openid` (so fast mode and plain logins never sign).
//!
//! The signing keys are two fixed RSA-2048 *development* keys checked in
//! under `keys/`: anyone can read them, which is fine for an emulator and
//! keeps its start fast (no key generation). Only the active one is
//! published; [`crate::Control::rotate_signing_key`] switches to the other,
//! as a key rotation at Kakao would. [`IdTokenFault`]s spoil the next
//! tokens in one precise way each, for the verifier's tests.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::hmac;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents};
use serde_json::{Value, json};
use warp::http::header::CACHE_CONTROL;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

use crate::config::TestUser;
use crate::control_wire::{Endpoint, IdTokenFault};
use crate::reply::{self, fault_gate};
use crate::state::{ACCESS_TOKEN_TTL, Shared};

/// Kakao's issuer, `iss` of every id_token and of the discovery document.
pub(crate) const ISSUER: &str = "https://kauth.kakao.com";

/// `Cache-Control: max-age` of the JWKS, in seconds.
pub(crate) const JWKS_MAX_AGE_SECONDS: u64 = 3600;

/// The checked-in development keys (PKCS#8 PEM) and their key ids.
const KEY_FILES: [(&str, &str); 2] = [
    ("emulator-dev-a", include_str!("../keys/dev-signing-a.pem")),
    ("emulator-dev-b", include_str!("../keys/dev-signing-b.pem")),
];

/// One signing key: its kid, the key pair, and its public numbers.
pub(crate) struct SigningKey {
    kid: &'static str,
    pair: RsaKeyPair,
    modulus: Vec<u8>,
    exponent: Vec<u8>,
}

/// The two development keys, parsed on first use.
pub(crate) struct SigningKeys([SigningKey; 2]);

static KEYS: OnceLock<SigningKeys> = OnceLock::new();

impl SigningKeys {
    /// The parsed keys (parsed once per process, on the first id_token or
    /// JWKS request).
    pub(crate) fn get() -> &'static SigningKeys {
        KEYS.get_or_init(|| SigningKeys(KEY_FILES.map(|(kid, pem)| parse(kid, pem))))
    }

    /// The key at `index` (0 or 1; any other number wraps).
    fn key(&self, index: usize) -> &SigningKey {
        &self.0[index % self.0.len()]
    }

    /// The JWKS document publishing the key at `index` only.
    pub(crate) fn jwks(&self, index: usize) -> Value {
        let key = self.key(index);
        json!({ "keys": [{
            "kid": key.kid,
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "n": URL_SAFE_NO_PAD.encode(&key.modulus),
            "e": URL_SAFE_NO_PAD.encode(&key.exponent),
        }]})
    }
}

/// Parses a checked-in key. These are constants of this crate, not input:
/// a failure is a bug caught by the first test that signs.
fn parse(kid: &'static str, pem: &str) -> SigningKey {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(body).expect("the dev key is base64");
    let pair = RsaKeyPair::from_pkcs8(&der).expect("the dev key is an RSA PKCS#8 key");
    let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
    SigningKey {
        kid,
        modulus: public.n,
        exponent: public.e,
        pair,
    }
}

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
    let mut response = reply::json(StatusCode::OK, &SigningKeys::get().jwks(active));
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={JWKS_MAX_AGE_SECONDS}")) {
        response.headers_mut().insert(CACHE_CONTROL, value);
    }
    response
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
    let keys = SigningKeys::get();
    let key = keys.key(request.key);
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
    let (alg, kid) = match fault {
        Some(IdTokenFault::Missing) => return None,
        Some(IdTokenFault::AlgNone) => ("none", key.kid),
        Some(IdTokenFault::Hs256) => ("HS256", key.kid),
        Some(IdTokenFault::UnknownKid) => ("RS256", "emulator-never-published"),
        _ => ("RS256", key.kid),
    };
    let header = json!({ "alg": alg, "typ": "JWT", "kid": kid });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = match fault {
        Some(IdTokenFault::AlgNone) => Vec::new(),
        Some(IdTokenFault::Hs256) => {
            let hmac_key = hmac::Key::new(hmac::HMAC_SHA256, &key.modulus);
            hmac::sign(&hmac_key, signing_input.as_bytes())
                .as_ref()
                .to_vec()
        }
        // Signed by the other key, which the JWKS does not publish.
        Some(IdTokenFault::WrongSignature) => rs256(keys.key(request.key + 1), &signing_input)?,
        _ => rs256(key, &signing_input)?,
    };
    Some(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

fn rs256(key: &SigningKey, input: &str) -> Option<Vec<u8>> {
    let mut signature = vec![0; key.pair.public().modulus_len()];
    key.pair
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            input.as_bytes(),
            &mut signature,
        )
        .ok()?;
    Some(signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_keys_parse_and_differ() {
        let keys = SigningKeys::get();
        let (a, b) = (keys.jwks(0), keys.jwks(1));
        assert_eq!(a["keys"][0]["kid"], "emulator-dev-a");
        assert_eq!(b["keys"][0]["kid"], "emulator-dev-b");
        assert_ne!(a["keys"][0]["n"], b["keys"][0]["n"]);
        assert_eq!(a["keys"][0]["e"], "AQAB");
    }
}
