//! Google's id_token, verified although it came straight from the token
//! endpoint: RS256 only (any other `alg` is refused before a key is looked
//! up), a `kid` Google's JWKS publishes ([`JwksCache`], shared with Kakao),
//! `iss` one of the issuer's two spellings, `aud` our client id (and `azp`,
//! when present, ours too), `exp` within the default 60 s leeway, our
//! `nonce`, and a `sub`. The person is the `sub`; the email is kept only
//! when Google says it is verified.

use std::sync::Arc;

use auth_proto::Reason;
use jsonwebtoken::{Algorithm, Validation, errors::ErrorKind};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::discovery::accepted_issuers;
use crate::{
    configuration::GoogleSettings,
    error::AuthError,
    kakao_oidc::{
        self,
        jwks::{JwksCache, KeyLookup},
    },
    metrics::Metrics,
    providers::api::{Provider, ProviderError, ProviderUser},
};

/// Why an id_token was refused. Messages never include the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IdTokenError {
    /// The token response had no id_token although `openid` was asked for.
    Missing,
    /// Not three base64url parts with a JSON header and readable claims.
    Malformed,
    /// The header names another algorithm than RS256 (`none`, `HS256`, ...).
    WrongAlgorithm,
    /// No `kid`, or one Google's JWKS does not publish.
    UnknownKey,
    /// The signature does not verify with the published key.
    BadSignature,
    /// `iss` is not our configured issuer (in either spelling).
    WrongIssuer,
    /// `aud` is not our client id.
    WrongAudience,
    /// `azp` names another client, or is missing with several audiences.
    WrongPresenter,
    /// Past its `exp` (with the 60 s leeway).
    Expired,
    /// `exp`, `iss`, `aud` or `sub` is missing, empty or of the wrong type.
    MissingClaim,
    /// No `nonce`, or not the one this login sent.
    WrongNonce,
    /// The JWKS could not be fetched and the key is not cached.
    JwksUnavailable(String),
}

impl IdTokenError {
    /// A short, secret-free explanation saying which check failed.
    pub(crate) fn message(&self) -> &'static str {
        match self {
            IdTokenError::Missing => "google sent no id_token",
            IdTokenError::Malformed => "google id_token is malformed",
            IdTokenError::WrongAlgorithm => "google id_token is not signed with RS256",
            IdTokenError::UnknownKey => {
                "google id_token is signed by a key google does not publish"
            }
            IdTokenError::BadSignature => "google id_token signature is invalid",
            IdTokenError::WrongIssuer => "google id_token has the wrong issuer",
            IdTokenError::WrongAudience => "google id_token is for another app",
            IdTokenError::WrongPresenter => "google id_token was presented to another app",
            IdTokenError::Expired => "google id_token has expired",
            IdTokenError::MissingClaim => "google id_token lacks a required claim",
            IdTokenError::WrongNonce => "google id_token nonce does not match this login",
            IdTokenError::JwksUnavailable(_) => "google JWKS unavailable",
        }
    }
}

/// A JWKS outage is Google being unavailable; every other failure refuses
/// the login as [`Reason::ProviderRejected`], logged by kind.
impl From<IdTokenError> for AuthError {
    fn from(e: IdTokenError) -> Self {
        if let IdTokenError::JwksUnavailable(why) = e {
            return AuthError::from_provider(Provider::Google, ProviderError::Unavailable(why));
        }
        tracing::warn!(provider = "google", error = e.message(), "id_token refused");
        AuthError::refused(Reason::ProviderRejected, e.message())
    }
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Value,
    #[serde(default)]
    aud: Value,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Value,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    picture: Option<String>,
}

/// Verifies Google's id_tokens for one client.
pub(crate) struct IdTokenVerifier {
    jwks: JwksCache,
    validation: Validation,
    client_id: String,
}

impl IdTokenVerifier {
    /// A verifier for `settings` (client id, issuer) fetching the JWKS with
    /// `http`.
    pub(crate) fn new(
        settings: &GoogleSettings,
        http: reqwest::Client,
        metrics: Arc<Metrics>,
    ) -> Self {
        // jsonwebtoken verifies with the process-wide provider.
        service_kit::crypto::install();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&accepted_issuers(&settings.issuer));
        validation.set_audience(&[settings.client_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        IdTokenVerifier {
            jwks: JwksCache::new(http, Provider::Google, metrics),
            validation,
            client_id: settings.client_id.clone(),
        }
    }

    /// Verifies `id_token` (with keys from `jwks_uri`) against this
    /// login's `nonce`: the person it names.
    pub(crate) async fn verify(
        &self,
        jwks_uri: &Url,
        id_token: Option<&str>,
        nonce: &str,
    ) -> Result<ProviderUser, IdTokenError> {
        let token = id_token.ok_or(IdTokenError::Missing)?;
        let header = kakao_oidc::header(token).map_err(|_| IdTokenError::Malformed)?;
        if header.alg != "RS256" {
            return Err(IdTokenError::WrongAlgorithm);
        }
        let kid = header.kid.ok_or(IdTokenError::UnknownKey)?;
        let key = match self.jwks.key(jwks_uri, &kid).await {
            KeyLookup::Found(key) => key,
            KeyLookup::Unknown => return Err(IdTokenError::UnknownKey),
            KeyLookup::Unavailable(why) => return Err(IdTokenError::JwksUnavailable(why)),
        };
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map_err(|e| claim_error(e.kind()))?
            .claims;
        self.check(claims, nonce)
    }

    /// The checks jsonwebtoken does not make: `sub`, `azp`, `nonce`; then
    /// the person.
    fn check(&self, claims: Claims, nonce: &str) -> Result<ProviderUser, IdTokenError> {
        let subject = match claims.sub {
            Value::String(sub) if !sub.is_empty() => sub,
            _ => return Err(IdTokenError::MissingClaim),
        };
        let several_audiences = claims.aud.as_array().is_some_and(|aud| aud.len() > 1);
        match claims.azp.as_deref() {
            Some(azp) if azp != self.client_id => return Err(IdTokenError::WrongPresenter),
            None if several_audiences => return Err(IdTokenError::WrongPresenter),
            _ => {}
        }
        if nonce.is_empty() || claims.nonce.as_deref() != Some(nonce) {
            return Err(IdTokenError::WrongNonce);
        }
        Ok(ProviderUser {
            subject,
            nickname: claims.name.unwrap_or_default(),
            profile_image_url: claims.picture.filter(|p| !p.is_empty()),
            thumbnail_image_url: None,
            email: claims
                .email
                .filter(|e| !e.is_empty() && is_true(&claims.email_verified)),
        })
    }
}

/// `email_verified` as Google sends it: `true`, or `"true"` as an example
/// in its docs shows.
fn is_true(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
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
    use std::time::Duration;

    use secrecy::SecretString;
    use serde_json::json;

    use super::*;
    use crate::configuration::ProviderHttp;

    const CLIENT: &str = "ours.apps.googleusercontent.com";

    fn verifier() -> IdTokenVerifier {
        service_kit::crypto::install();
        let second = Duration::from_secs(1);
        let settings = GoogleSettings {
            client_id: CLIENT.into(),
            client_secret: SecretString::from("s"),
            redirect_uri: Url::parse("http://localhost/cb").unwrap(),
            issuer: Url::parse("https://accounts.google.com").unwrap(),
            http: ProviderHttp {
                connect_timeout: second,
                request_timeout: second,
                circuit_open: second,
            },
        };
        IdTokenVerifier::new(&settings, reqwest::Client::new(), Arc::new(Metrics::new()))
    }

    fn claims(extra: Value) -> Claims {
        let mut base = json!({
            "sub": "110248495921238986420",
            "aud": CLIENT,
            "nonce": "n-1",
            "email": "kim@gmail.com",
            "email_verified": true,
            "name": "Kim",
            "picture": "https://lh3.googleusercontent.com/a/x",
        });
        if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                if v.is_null() {
                    base.remove(k);
                } else {
                    base.insert(k.clone(), v.clone());
                }
            }
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn the_person_is_the_sub_with_name_picture_and_a_verified_email() {
        let user = verifier().check(claims(json!({})), "n-1").unwrap();
        assert_eq!(user.subject, "110248495921238986420");
        assert_eq!(user.nickname, "Kim");
        assert_eq!(user.email.as_deref(), Some("kim@gmail.com"));
        assert_eq!(
            user.profile_image_url.as_deref(),
            Some("https://lh3.googleusercontent.com/a/x")
        );
    }

    #[test]
    fn the_email_is_kept_only_when_verified_as_true_or_the_string_true() {
        for (verified, kept) in [
            (json!(true), true),
            (json!("true"), true),
            (json!(false), false),
            (json!("false"), false),
            (json!(1), false),
            (Value::Null, false),
        ] {
            let user = verifier()
                .check(claims(json!({ "email_verified": verified })), "n-1")
                .unwrap();
            assert_eq!(user.email.is_some(), kept, "{verified}");
        }
    }

    #[test]
    fn sub_azp_and_nonce_are_checked() {
        let v = verifier();
        let cases = [
            (json!({ "sub": null }), IdTokenError::MissingClaim),
            (json!({ "sub": "" }), IdTokenError::MissingClaim),
            (json!({ "sub": 123 }), IdTokenError::MissingClaim),
            (json!({ "azp": "other" }), IdTokenError::WrongPresenter),
            (
                json!({ "aud": [CLIENT, "other"] }),
                IdTokenError::WrongPresenter,
            ),
            (json!({ "nonce": null }), IdTokenError::WrongNonce),
            (json!({ "nonce": "n-2" }), IdTokenError::WrongNonce),
        ];
        for (extra, expected) in cases {
            let label = extra.to_string();
            assert_eq!(
                v.check(claims(extra), "n-1").err(),
                Some(expected),
                "{label}"
            );
        }
        let ok = claims(json!({ "aud": [CLIENT, "other"], "azp": CLIENT }));
        assert!(v.check(ok, "n-1").is_ok());
        assert_eq!(
            v.check(claims(json!({ "nonce": "" })), "").err(),
            Some(IdTokenError::WrongNonce)
        );
    }

    #[tokio::test]
    async fn other_algorithms_are_refused_before_any_key_lookup() {
        use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
        let v = verifier();
        // An unroutable JWKS: a lookup would answer unavailable, not this.
        let jwks = Url::parse("http://127.0.0.1:1/certs").unwrap();
        for alg in ["none", "HS256", "RS512", "ES256"] {
            let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","kid":"k"}}"#));
            let token = format!("{header}.e30.");
            assert_eq!(
                v.verify(&jwks, Some(&token), "n").await.err(),
                Some(IdTokenError::WrongAlgorithm),
                "{alg}"
            );
        }
        let no_kid = format!("{}.e30.sig", URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#));
        assert_eq!(
            v.verify(&jwks, Some(&no_kid), "n").await.err(),
            Some(IdTokenError::UnknownKey)
        );
        assert_eq!(
            v.verify(&jwks, None, "n").await.err(),
            Some(IdTokenError::Missing)
        );
    }
}
