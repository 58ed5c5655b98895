//! Access tokens: issuing a JWT with the contract's [`AccessClaims`] and
//! verifying one with the contract's [`access_token_validation`], using the
//! keys of a [`KeyRing`]. Revocation (and the verified-token cache) is the
//! session logic's (`sessions::verify_access_token`), not this module's.
//!
//! Verification pins the contract's algorithm: a token whose header names
//! any other (`none`, `HS256` keyed with the public key, `RS256`, ...) is
//! refused before any key is looked at.

use std::time::Duration;

use auth_proto::{
    AccessClaims, Reason,
    claims::{ACCESS_TOKEN_ALGORITHM, access_token_validation},
};
use jsonwebtoken::{Header, Validation, errors::ErrorKind};
use sea_orm::ConnectionTrait;

use crate::{
    domain::random_token, key_ring::KeyRing, persistence::now_ms, token_cache::VerifiedToken,
};

/// A freshly signed access token.
pub struct IssuedAccessToken {
    /// The compact JWT. Never log it.
    pub token: String,
    /// Lifetime in seconds.
    pub expires_in: i64,
}

/// Why a token was refused. Each is UNAUTHENTICATED with the reason of
/// [`VerifyError::reason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not a JWT, or claims missing or unreadable.
    #[error("access token is malformed")]
    Malformed,
    /// The header names another algorithm than the contract's.
    #[error("access token algorithm is not allowed")]
    WrongAlgorithm,
    /// No `kid`, or one that is not published.
    #[error("access token is signed by an unknown key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("access token signature is invalid")]
    BadSignature,
    /// Past `exp` (beyond the leeway).
    #[error("access token has expired")]
    Expired,
    /// Another `iss`.
    #[error("access token has the wrong issuer")]
    WrongIssuer,
    /// Another `aud`.
    #[error("access token has the wrong audience")]
    WrongAudience,
    /// The token's session is revoked, expired, unknown or another user's.
    #[error("access token's session is revoked")]
    Revoked,
}

impl VerifyError {
    /// The reason sent to the caller.
    pub fn reason(self) -> Reason {
        match self {
            VerifyError::Expired => Reason::TokenExpired,
            VerifyError::Revoked => Reason::SessionRevoked,
            _ => Reason::InvalidToken,
        }
    }
}

/// Who access tokens are issued by and for, and for how long.
pub struct AccessTokens {
    issuer: String,
    audience: String,
    ttl_secs: i64,
    validation: Validation,
}

impl AccessTokens {
    /// Tokens from `issuer` for `audience`, valid for `ttl`.
    pub fn new(issuer: String, audience: String, ttl: Duration) -> Self {
        // jsonwebtoken signs and verifies with the process-wide provider.
        service_kit::crypto::install();
        let validation = access_token_validation(&issuer, &audience);
        AccessTokens {
            issuer,
            audience,
            ttl_secs: i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
            validation,
        }
    }

    /// Signs an access token for `user_id` in session `session_id` with the
    /// ring's signing key.
    pub fn issue(
        &self,
        keys: &KeyRing,
        user_id: &str,
        session_id: &str,
    ) -> anyhow::Result<IssuedAccessToken> {
        let signing = keys
            .signing_key()
            .ok_or_else(|| anyhow::anyhow!("no signing key is published"))?;
        let now = now_ms() / 1000;
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user_id.to_owned(),
            iat: now,
            exp: now.saturating_add(self.ttl_secs),
            jti: random_token(16),
            sid: session_id.to_owned(),
        };
        let mut header = Header::new(ACCESS_TOKEN_ALGORITHM);
        header.kid = Some(signing.kid.clone());
        let token = signing.sign(&header, &claims)?;
        Ok(IssuedAccessToken {
            token,
            expires_in: self.ttl_secs,
        })
    }

    /// Checks algorithm, `kid`, signature, `exp`, `iss` and `aud`. Does not
    /// check revocation.
    pub async fn verify(
        &self,
        keys: &KeyRing,
        db: &impl ConnectionTrait,
        token: &str,
    ) -> Result<VerifiedToken, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        if header.alg != ACCESS_TOKEN_ALGORITHM {
            return Err(VerifyError::WrongAlgorithm);
        }
        let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
        let key = keys
            .verifying_key(db, &kid)
            .await
            .ok_or(VerifyError::UnknownKey)?;
        jsonwebtoken::decode::<AccessClaims>(token, &key, &self.validation)
            .map(|data| VerifiedToken::new(data.claims, &kid))
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => VerifyError::Expired,
                ErrorKind::InvalidIssuer => VerifyError::WrongIssuer,
                ErrorKind::InvalidAudience => VerifyError::WrongAudience,
                ErrorKind::InvalidSignature => VerifyError::BadSignature,
                ErrorKind::InvalidAlgorithm => VerifyError::WrongAlgorithm,
                _ => VerifyError::Malformed,
            })
    }
}
