//! Kakao's OpenID Connect id_token, verified for real: RS256 only, against
//! the keys of Kakao's JWKS ([`jwks`], the cache Google's verifier shares),
//! with `iss`, `aud`, `exp`, `sub` and our `nonce` all required.
//!
//! An id_token comes when `openid` is in `KAKAO_SCOPE` (then it is
//! required) or when OIDC is switched on in Kakao's console (then it is
//! verified whenever it comes). Its `sub` must be the user id that
//! `/v2/user/me` reports ([`VerifiedIdToken::check_subject`]); the user API
//! call stays, since only it has the profile image and the email flags.

pub(crate) mod jwks;

pub use jwks::{DEFAULT_LIFETIME, MAX_LIFETIME, MIN_LIFETIME, UNKNOWN_KID_REFETCH_FLOOR};

use std::sync::Arc;

use auth_proto::Reason;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, Validation, errors::ErrorKind};
use serde::Deserialize;
use url::Url;

use crate::{
    configuration::KakaoSettings,
    error::AuthError,
    metrics::Metrics,
    providers::api::{Provider, ProviderError},
};
use jwks::{JwksCache, KeyLookup};
#[cfg(feature = "fuzzing")]
pub(crate) use jwks::{cache_lifetime, parse_jwks};

/// Kakao's issuer: the id_token's required `iss`.
pub const KAKAO_ISSUER: &str = "https://kauth.kakao.com";

/// Where Kakao publishes its signing keys, under `KAKAO_AUTH_BASE_URL`.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// Why an id_token was refused. Messages never include the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdTokenError {
    /// `openid` was asked for but the token response had no id_token.
    Missing,
    /// Not three base64url parts with a JSON header and claims.
    Malformed,
    /// The header names another algorithm than RS256 (`none`, `HS256`, ...).
    WrongAlgorithm,
    /// No `kid`, or a `kid` Kakao's JWKS does not publish.
    UnknownKey,
    /// The signature does not verify with the published key.
    BadSignature,
    /// `iss` is not Kakao.
    WrongIssuer,
    /// `aud` is not our client id.
    WrongAudience,
    /// Past its `exp` (with the default 60 s leeway).
    Expired,
    /// `exp`, `iss`, `aud` or `sub` is missing or of the wrong type.
    MissingClaim,
    /// No `nonce`, or not the one this login sent.
    WrongNonce,
    /// `sub` is not the user `/v2/user/me` reports.
    WrongSubject,
    /// The JWKS could not be fetched and the key is not cached.
    JwksUnavailable(String),
}

impl IdTokenError {
    /// A short, secret-free explanation, as sent to the caller.
    pub fn message(&self) -> &'static str {
        match self {
            IdTokenError::Missing => "kakao sent no id_token although openid was asked for",
            IdTokenError::Malformed => "kakao id_token is malformed",
            IdTokenError::WrongAlgorithm => "kakao id_token is not signed with RS256",
            IdTokenError::UnknownKey => "kakao id_token is signed by a key kakao does not publish",
            IdTokenError::BadSignature => "kakao id_token signature is invalid",
            IdTokenError::WrongIssuer => "kakao id_token has the wrong issuer",
            IdTokenError::WrongAudience => "kakao id_token is for another app",
            IdTokenError::Expired => "kakao id_token has expired",
            IdTokenError::MissingClaim => "kakao id_token lacks a required claim",
            IdTokenError::WrongNonce => "kakao id_token nonce does not match this login",
            IdTokenError::WrongSubject => "kakao id_token names another user",
            IdTokenError::JwksUnavailable(_) => "kakao JWKS unavailable",
        }
    }
}

impl std::fmt::Display for IdTokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdTokenError::JwksUnavailable(why) => write!(f, "kakao JWKS unavailable ({why})"),
            other => f.write_str(other.message()),
        }
    }
}

impl std::error::Error for IdTokenError {}

/// A JWKS outage is Kakao being unavailable; every other failure refuses
/// the login as [`Reason::KakaoRejected`] (the browser's `kakao_error`).
impl From<IdTokenError> for AuthError {
    fn from(e: IdTokenError) -> Self {
        if let IdTokenError::JwksUnavailable(why) = e {
            return AuthError::KakaoUnavailable(ProviderError::Unavailable(why));
        }
        tracing::warn!(error = e.message(), "kakao id_token refused");
        AuthError::refused(Reason::KakaoRejected, e.message())
    }
}

/// A verified id_token: what the login still has to check.
#[derive(Debug)]
pub struct VerifiedIdToken {
    /// Kakao's user id, as a string.
    pub sub: String,
}

impl VerifiedIdToken {
    /// The id_token must name the user the user API reported.
    pub fn check_subject(&self, kakao_user_id: i64) -> Result<(), IdTokenError> {
        if self.sub == kakao_user_id.to_string() {
            Ok(())
        } else {
            Err(IdTokenError::WrongSubject)
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct Header {
    pub(crate) alg: String,
    #[serde(default)]
    pub(crate) kid: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    nonce: Option<String>,
}

/// Verifies Kakao's id_tokens for one app.
pub struct IdTokenVerifier {
    jwks: JwksCache,
    jwks_url: Url,
    validation: Validation,
    required: bool,
}

impl IdTokenVerifier {
    /// A verifier for `settings` (client id, scope, kauth base URL) that
    /// fetches the JWKS with `http` (the Kakao client's connection pool).
    pub fn new(settings: &KakaoSettings, http: reqwest::Client, metrics: Arc<Metrics>) -> Self {
        // jsonwebtoken verifies with the process-wide provider.
        service_kit::crypto::install();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[KAKAO_ISSUER]);
        validation.set_audience(&[settings.client_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        IdTokenVerifier {
            jwks: JwksCache::new(http, Provider::Kakao, metrics),
            jwks_url: jwks_url(&settings.auth_base_url),
            validation,
            required: settings.requests_openid(),
        }
    }

    /// Verifies the id_token of a token response against this login's
    /// `nonce`. `Ok(None)`: none came and none was required.
    pub async fn verify(
        &self,
        id_token: Option<&str>,
        nonce: &str,
    ) -> Result<Option<VerifiedIdToken>, IdTokenError> {
        let Some(token) = id_token else {
            return if self.required {
                Err(IdTokenError::Missing)
            } else {
                Ok(None)
            };
        };
        let header = header(token)?;
        if header.alg != "RS256" {
            return Err(IdTokenError::WrongAlgorithm);
        }
        let kid = header.kid.ok_or(IdTokenError::UnknownKey)?;
        let key = match self.jwks.key(&self.jwks_url, &kid).await {
            KeyLookup::Found(key) => key,
            KeyLookup::Unknown => return Err(IdTokenError::UnknownKey),
            KeyLookup::Unavailable(why) => return Err(IdTokenError::JwksUnavailable(why)),
        };
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map_err(|e| claim_error(e.kind()))?
            .claims;
        if claims.nonce.as_deref() != Some(nonce) {
            return Err(IdTokenError::WrongNonce);
        }
        Ok(Some(VerifiedIdToken { sub: claims.sub }))
    }
}

/// `KAKAO_AUTH_BASE_URL` + [`JWKS_PATH`].
fn jwks_url(base: &Url) -> Url {
    let mut url = base.clone();
    let path = format!("{}{JWKS_PATH}", base.path().trim_end_matches('/'));
    url.set_path(&path);
    url
}

/// The JOSE header, read without trusting anything in it yet.
pub(crate) fn header(token: &str) -> Result<Header, IdTokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(IdTokenError::Malformed);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| IdTokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| IdTokenError::Malformed)
}

fn claim_error(kind: &ErrorKind) -> IdTokenError {
    match kind {
        ErrorKind::InvalidSignature => IdTokenError::BadSignature,
        ErrorKind::ExpiredSignature => IdTokenError::Expired,
        ErrorKind::InvalidIssuer => IdTokenError::WrongIssuer,
        ErrorKind::InvalidAudience => IdTokenError::WrongAudience,
        ErrorKind::InvalidAlgorithm => IdTokenError::WrongAlgorithm,
        ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidClaimFormat(_) => {
            IdTokenError::MissingClaim
        }
        _ => IdTokenError::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jwks_url_sits_under_the_auth_base_url() {
        for (base, expected) in [
            (
                "https://kauth.kakao.com",
                "https://kauth.kakao.com/.well-known/jwks.json",
            ),
            (
                "http://127.0.0.1:8081/kakao/",
                "http://127.0.0.1:8081/kakao/.well-known/jwks.json",
            ),
        ] {
            assert_eq!(jwks_url(&Url::parse(base).unwrap()).as_str(), expected);
        }
    }

    #[test]
    fn headers_are_read_strictly() {
        let enc = |json: &str| URL_SAFE_NO_PAD.encode(json);
        let ok = format!("{}.e30.sig", enc(r#"{"alg":"RS256","kid":"k"}"#));
        assert_eq!(header(&ok).unwrap().kid.as_deref(), Some("k"));
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "!!!.e30.sig",
            &format!("{}.e30.sig", enc("not json")),
        ] {
            assert_eq!(header(bad).err(), Some(IdTokenError::Malformed), "{bad}");
        }
    }

    #[test]
    fn only_a_matching_subject_passes() {
        let verified = VerifiedIdToken {
            sub: "3208537903".into(),
        };
        assert_eq!(verified.check_subject(3_208_537_903), Ok(()));
        assert_eq!(
            verified.check_subject(3_208_537_904),
            Err(IdTokenError::WrongSubject)
        );
    }
}
