//! Local verification of access tokens against the auth-service's public
//! keys, so `/auth/me` needs no verification RPC.
//!
//! The key set comes from the `GetJwks` RPC and is kept in memory: loaded on
//! first use, refreshed in the background every [`REFRESH_EVERY`], and
//! refetched when a token names an unknown `kid` (a key rotation), at most
//! once per [`UNKNOWN_KID_REFETCH_EVERY`] so forged `kid`s cannot turn into
//! a flood of RPCs. Concurrent misses share one fetch.
//!
//! A key the revocation feed says is retired ([`Jwks::retire`]) is dropped
//! from the cache, from the JSON served at `/.well-known/jwks.json`, and
//! from every later fetch (a replica that has not yet seen the retirement
//! may still publish it).

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use auth_proto::{
    AccessClaims,
    claims::{ACCESS_TOKEN_ALGORITHM, JWKS_REFRESH_SECS},
    v1::{GetJwksRequest, auth_service_client::AuthServiceClient},
};
use jsonwebtoken::{
    DecodingKey, Validation,
    errors::ErrorKind,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm},
};
use tokio::{sync::Mutex, time::Instant};
use tonic::transport::Channel;

/// How often the key set is refreshed in the background: a key added by
/// `keys rotate` (published before it signs) or retired while the
/// revocation feed was down is seen within this.
pub(crate) const REFRESH_EVERY: Duration = Duration::from_secs(JWKS_REFRESH_SECS);
/// The `Cache-Control` of `/.well-known/jwks.json`: bounded so that every
/// cache downstream holds a rotated key before it signs (see the README's
/// "Signing keys").
/// (`JWKS_MAX_AGE_SECS` spelled out; a unit test checks they agree.)
pub(crate) const PUBLISHED_CACHE_CONTROL: &str = "public, max-age=60";
/// The least time between two refetches caused by an unknown `kid`.
pub(crate) const UNKNOWN_KID_REFETCH_EVERY: Duration = Duration::from_secs(5);

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum VerifyError {
    /// Malformed, wrong algorithm, unknown `kid`, bad signature, wrong `iss`
    /// or `aud`, missing claims.
    #[error("invalid access token")]
    Invalid,
    /// Well signed but past its `exp` (plus leeway).
    #[error("expired access token")]
    Expired,
    /// The key set could not be fetched.
    #[error(transparent)]
    Keys(#[from] JwksError),
}

/// Why the key set could not be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JwksError {
    /// The auth-service did not answer `GetJwks`.
    #[error("the auth-service's key set cannot be fetched")]
    Unavailable,
    /// It answered something that is not a JWK set.
    #[error("the auth-service's key set is not a JWK set")]
    Malformed,
}

/// Retired `kid`s remembered (key retirements are rare: a few a year).
const MAX_RETIRED: usize = 256;

/// The in-memory key set, as parsed keys and as the JSON text received
/// (less the retired keys), and the `kid`s retired.
#[derive(Default)]
struct Cached {
    keys: HashMap<String, DecodingKey>,
    json: Option<Arc<str>>,
    retired: Vec<String>,
}

/// The key cache and the token verifier built on it.
pub(crate) struct Jwks {
    client: AuthServiceClient<Channel>,
    validation: Validation,
    /// Only ever held for a map lookup or swap, never across an `.await`.
    cached: RwLock<Cached>,
    /// Serializes fetches; holds when the last unknown-`kid` refetch began.
    fetching: Mutex<Option<Instant>>,
}

impl Jwks {
    /// A cache that loads nothing until first used.
    pub(crate) fn new(client: AuthServiceClient<Channel>, issuer: &str, audience: &str) -> Self {
        // jsonwebtoken verifies with the process-wide provider.
        service_kit::crypto::install();
        Self {
            client,
            validation: auth_proto::access_token_validation(issuer, audience),
            cached: RwLock::new(Cached::default()),
            fetching: Mutex::new(None),
        }
    }

    /// Verifies an access token with the contract's validation
    /// ([`auth_proto::access_token_validation`]): the header's `alg` must be
    /// [`ACCESS_TOKEN_ALGORITHM`] (checked
    /// before any key lookup, so `none` and HS256-with-the-public-key never
    /// reach one), its `kid` known, then signature, `exp`, `iss`, `aud`.
    /// Answers the claims and the `kid` of the key that verified them.
    pub(crate) async fn verify(&self, token: &str) -> Result<(AccessClaims, String), VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Invalid)?;
        if header.alg != ACCESS_TOKEN_ALGORITHM {
            return Err(VerifyError::Invalid);
        }
        let kid = header.kid.ok_or(VerifyError::Invalid)?;
        let key = self.key(&kid).await?.ok_or(VerifyError::Invalid)?;
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &key, &self.validation)
            .map_err(|err| match err.kind() {
                ErrorKind::ExpiredSignature => VerifyError::Expired,
                _ => VerifyError::Invalid,
            })?
            .claims;
        if claims.sub.is_empty() || claims.sid.is_empty() {
            return Err(VerifyError::Invalid);
        }
        Ok((claims, kid))
    }

    /// Drops the key `kid` for good: from the cache, the served JSON, and
    /// any later fetch.
    pub(crate) fn retire(&self, kid: &str) {
        let mut cached = self.cached.write().unwrap_or_else(|e| e.into_inner());
        cached.keys.remove(kid);
        if !cached.retired.iter().any(|k| k == kid) {
            if cached.retired.len() >= MAX_RETIRED {
                cached.retired.remove(0);
            }
            cached.retired.push(kid.to_owned());
        }
        if let Some(json) = cached.json.take() {
            cached.json = without_retired(&json, &cached.retired).ok();
        }
    }

    /// Refetches the key set now if one was loaded (the revocation feed
    /// was RESET: a retirement may have been missed). A failure is logged
    /// and the keys already cached stay in use.
    pub(crate) async fn refresh_if_loaded(&self) {
        if self.read(|c| c.json.is_none()) {
            return;
        }
        let _guard = self.fetching.lock().await;
        if let Err(err) = self.fetch().await {
            tracing::warn!("JWKS refresh after a reset failed: {err}");
        }
    }

    /// The key set's JSON text as received, fetched first if none is cached.
    pub(crate) async fn json(&self) -> Result<Arc<str>, JwksError> {
        if let Some(json) = self.read(|c| c.json.clone()) {
            return Ok(json);
        }
        let _guard = self.fetching.lock().await;
        match self.read(|c| c.json.clone()) {
            Some(json) => Ok(json),
            None => self.fetch().await,
        }
    }

    /// Refreshes the key set every [`REFRESH_EVERY`], forever; a failure is
    /// logged and the keys already cached stay in use.
    pub(crate) async fn refresh_periodically(self: Arc<Self>) {
        let mut ticks = tokio::time::interval_at(Instant::now() + REFRESH_EVERY, REFRESH_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let _guard = self.fetching.lock().await;
            if let Err(err) = self.fetch().await {
                tracing::warn!("background JWKS refresh failed: {err}");
            }
        }
    }

    /// The key named `kid`: from the cache, else after loading the cache (if
    /// empty) or refetching it (if this `kid` is new and no refetch happened
    /// in the last [`UNKNOWN_KID_REFETCH_EVERY`]). `None` if still unknown.
    async fn key(&self, kid: &str) -> Result<Option<DecodingKey>, JwksError> {
        if let Some(key) = self.read(|c| c.keys.get(kid).cloned()) {
            return Ok(Some(key));
        }
        // Single flight: whoever waited here may find the key already fetched.
        let mut last_refetch = self.fetching.lock().await;
        let (key, loaded) = self.read(|c| (c.keys.get(kid).cloned(), c.json.is_some()));
        if key.is_some() {
            return Ok(key);
        }
        if loaded {
            if last_refetch.is_some_and(|at| at.elapsed() < UNKNOWN_KID_REFETCH_EVERY) {
                return Ok(None);
            }
            *last_refetch = Some(Instant::now());
        }
        self.fetch().await?;
        Ok(self.read(|c| c.keys.get(kid).cloned()))
    }

    /// Fetches the key set and replaces the cache with it (so retired keys
    /// go). Callers hold `fetching`.
    async fn fetch(&self) -> Result<Arc<str>, JwksError> {
        let answer = self
            .client
            .clone()
            .get_jwks(GetJwksRequest {})
            .await
            .map_err(|status| {
                tracing::warn!(grpc_code = ?status.code(), "GetJwks failed");
                JwksError::Unavailable
            })?;
        let retired = self.read(|c| c.retired.clone());
        let json = without_retired(&answer.into_inner().jwks_json, &retired)?;
        let mut cached = self.cached.write().unwrap_or_else(|e| e.into_inner());
        // A retirement applied while this fetch was in flight still holds.
        let json = if cached.retired.len() == retired.len() {
            json
        } else {
            without_retired(&json, &cached.retired)?
        };
        cached.keys = parse_keys(&json)?;
        cached.json = Some(json.clone());
        tracing::debug!(keys = cached.keys.len(), "JWKS loaded");
        Ok(json)
    }

    fn read<T>(&self, f: impl FnOnce(&Cached) -> T) -> T {
        f(&self.cached.read().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The JWK set `json` less the keys whose `kid` is `retired` (as received
/// when none is).
fn without_retired(json: &str, retired: &[String]) -> Result<Arc<str>, JwksError> {
    if retired.is_empty() {
        return Ok(json.into());
    }
    let mut set: serde_json::Value =
        serde_json::from_str(json).map_err(|_| JwksError::Malformed)?;
    let keys = set
        .get_mut("keys")
        .and_then(serde_json::Value::as_array_mut)
        .ok_or(JwksError::Malformed)?;
    keys.retain(|key| {
        let kid = key.get("kid").and_then(serde_json::Value::as_str);
        !kid.is_some_and(|kid| retired.iter().any(|r| r == kid))
    });
    Ok(set.to_string().into())
}

/// The Ed25519 verification keys of a JWK set, by `kid`. Keys of any other
/// type, curve or algorithm, or without a `kid`, are skipped: they could
/// never verify an EdDSA token, and an `oct` key must never become an HMAC
/// secret.
fn parse_keys(json: &str) -> Result<HashMap<String, DecodingKey>, JwksError> {
    let set: JwkSet = serde_json::from_str(json).map_err(|_| JwksError::Malformed)?;
    Ok(set.keys.iter().filter_map(ed25519_key).collect())
}

fn ed25519_key(jwk: &Jwk) -> Option<(String, DecodingKey)> {
    let AlgorithmParameters::OctetKeyPair(params) = &jwk.algorithm else {
        return None;
    };
    let alg_ok = matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::EdDSA));
    if params.curve != EllipticCurve::Ed25519 || !alg_ok {
        return None;
    }
    let kid = jwk.common.key_id.clone()?;
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some((kid, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_max_age_is_the_contracts() {
        assert_eq!(
            PUBLISHED_CACHE_CONTROL,
            format!("public, max-age={}", auth_proto::claims::JWKS_MAX_AGE_SECS)
        );
    }

    #[test]
    fn only_ed25519_keys_with_a_kid_are_kept() {
        let json = r#"{"keys":[
            {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k1","alg":"EdDSA","use":"sig"},
            {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k2"},
            {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty":"oct","k":"c2VjcmV0","kid":"hmac"},
            {"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"ec"}
        ]}"#;
        let mut kids: Vec<_> = parse_keys(json).unwrap().into_keys().collect();
        kids.sort();
        assert_eq!(kids, ["k1", "k2"]);
    }

    #[test]
    fn retired_keys_are_left_out_of_the_set() {
        let json = r#"{"keys":[{"kid":"k1","kty":"OKP"},{"kid":"k2","kty":"OKP"},{"kty":"OKP"}]}"#;
        assert_eq!(&*without_retired(json, &[]).unwrap(), json);
        assert_eq!(
            &*without_retired(json, &["k1".into()]).unwrap(),
            r#"{"keys":[{"kid":"k2","kty":"OKP"},{"kty":"OKP"}]}"#
        );
    }

    #[test]
    fn a_body_that_is_not_a_jwk_set_is_malformed() {
        for json in ["", "[]", r#"{"keys":"no"}"#, "not json"] {
            assert_eq!(parse_keys(json).err(), Some(JwksError::Malformed), "{json}");
        }
    }
}
