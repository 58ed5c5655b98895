//! The access token: its claims and how every verifier must check them.
//! The auth-service signs with these claims; the edge and the service verify
//! with [`access_token_validation`], so both agree on algorithm, issuer,
//! audience and leeway by construction.

use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};

/// The one signing algorithm: EdDSA over Ed25519. Pinned on verification,
/// so `none` and HS/RS confusion never reach a key.
pub const ACCESS_TOKEN_ALGORITHM: Algorithm = Algorithm::EdDSA;

/// The algorithm's name in a JWK's `alg`.
pub const ACCESS_TOKEN_JWK_ALG: &str = "EdDSA";

/// Clock skew tolerated on `exp`, in seconds.
pub const ACCESS_TOKEN_LEEWAY_SECS: u64 = 30;

/// The longest an edge goes without refetching the JWK set (`GetJwks`), in
/// seconds: a key added by `keys rotate` is in every edge's set within it.
pub const JWKS_REFRESH_SECS: u64 = 60;

/// The `max-age` an edge sends on `/.well-known/jwks.json`, in seconds.
pub const JWKS_MAX_AGE_SECS: u64 = 60;

/// Added to the two above for the default delay between `keys rotate` and
/// the new key's first signature (replicas reload keys every minute too).
pub const KEY_ACTIVATION_MARGIN_SECS: u64 = 60;

/// The claims of an access token. No personal data: `sub` is our user id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// `JWT_ISSUER`.
    pub iss: String,
    /// `JWT_AUDIENCE`.
    pub aud: String,
    /// Our user id (never the provider's id).
    pub sub: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// Unique id of this token.
    pub jti: String,
    /// The session family id, checked against revocation.
    pub sid: String,
}

/// How an access token is validated: [`ACCESS_TOKEN_ALGORITHM`] only, the
/// given issuer and audience, `exp`, `iss`, `aud` and `sub` required,
/// [`ACCESS_TOKEN_LEEWAY_SECS`] of leeway.
pub fn access_token_validation(issuer: &str, audience: &str) -> Validation {
    let mut validation = Validation::new(ACCESS_TOKEN_ALGORITHM);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = ACCESS_TOKEN_LEEWAY_SECS;
    validation
}
