//! An OpenID provider's id_token signing keys (Kakao's, Google's: one
//! [`JwksCache`] per provider): fetched from the JWKS, parsed once per
//! fetch into ready [`DecodingKey`]s, and cached for as long as the answer's
//! `Cache-Control: max-age` says (bounded by [`MIN_LIFETIME`] and
//! [`MAX_LIFETIME`]).
//!
//! A `kid` missing from a fresh cache (the provider rotated its keys)
//! triggers one refetch, but at most one per [`UNKNOWN_KID_REFETCH_FLOOR`]:
//! a stream of tokens with made-up kids cannot turn every login into a JWKS
//! request, which the provider may block. Fetches are single-flight: logins
//! that miss together wait for one request. When a refetch fails, keys
//! already known keep working (stale) until the provider answers again.

use std::{
    collections::HashMap,
    sync::{Arc, PoisonError, RwLock},
    time::{Duration, Instant},
};

use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use url::Url;

use crate::{
    metrics::{KakaoOutcome, Metrics},
    providers::api::Provider,
};

/// Shortest cache lifetime, whatever `Cache-Control` says (`no-store`,
/// `no-cache` and `max-age=0` included).
pub const MIN_LIFETIME: Duration = Duration::from_secs(60);
/// Longest cache lifetime, whatever `Cache-Control` says.
pub const MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// Cache lifetime when the answer has no `max-age`.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// At most one refetch for an unknown `kid` per this interval.
pub const UNKNOWN_KID_REFETCH_FLOOR: Duration = Duration::from_secs(60);

/// The outcome of a key lookup.
pub(crate) enum KeyLookup {
    /// The key for the `kid`.
    Found(Arc<DecodingKey>),
    /// The provider does not publish this `kid` (after a refetch, or the
    /// refetch floor forbade one).
    Unknown,
    /// The JWKS could not be fetched and the `kid` is not cached.
    Unavailable(String),
}

/// What to do for one lookup, decided on the cached state alone.
enum Plan {
    Use(Arc<DecodingKey>),
    Refuse,
    Fetch { unknown_kid: bool },
}

#[derive(Default)]
struct Cached {
    keys: HashMap<String, Arc<DecodingKey>>,
    /// `None` until the first successful fetch.
    expires_at: Option<Instant>,
    last_unknown_kid_refetch: Option<Instant>,
}

impl Cached {
    fn plan(&self, kid: &str, now: Instant) -> Plan {
        let fresh = self.expires_at.is_some_and(|at| now < at);
        match (fresh, self.keys.get(kid)) {
            (true, Some(key)) => Plan::Use(key.clone()),
            (true, None) => {
                let allowed = self.last_unknown_kid_refetch.is_none_or(|at| {
                    now.saturating_duration_since(at) >= UNKNOWN_KID_REFETCH_FLOOR
                });
                if allowed {
                    Plan::Fetch { unknown_kid: true }
                } else {
                    Plan::Refuse
                }
            }
            (false, _) => Plan::Fetch { unknown_kid: false },
        }
    }
}

/// The cached JWKS of one provider.
pub(crate) struct JwksCache {
    http: reqwest::Client,
    provider: Provider,
    metrics: Arc<Metrics>,
    cached: RwLock<Cached>,
    /// Held while fetching, so concurrent misses make one request.
    fetching: tokio::sync::Mutex<()>,
}

impl JwksCache {
    /// An empty cache of `provider`'s JWKS, fetched with `http` and
    /// measured as its `jwks` requests.
    pub(crate) fn new(http: reqwest::Client, provider: Provider, metrics: Arc<Metrics>) -> Self {
        JwksCache {
            http,
            provider,
            metrics,
            cached: RwLock::new(Cached::default()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// The key the provider publishes as `kid`, fetching the JWKS at `url`
    /// when the cache is cold, expired, or (within the floor) does not know
    /// the `kid`. `url` is the provider's one JWKS address (Google's comes
    /// from its discovery document, so it is passed, not kept).
    pub(crate) async fn key(&self, url: &Url, kid: &str) -> KeyLookup {
        if let Plan::Use(key) = self.read().plan(kid, Instant::now()) {
            return KeyLookup::Found(key);
        }
        let _fetching = self.fetching.lock().await;
        let now = Instant::now();
        let plan = self.read().plan(kid, now);
        match plan {
            Plan::Use(key) => KeyLookup::Found(key),
            Plan::Refuse => KeyLookup::Unknown,
            Plan::Fetch { unknown_kid } => {
                if unknown_kid {
                    self.write().last_unknown_kid_refetch = Some(now);
                }
                match self.fetch(url).await {
                    Ok((keys, lifetime)) => {
                        let mut cached = self.write();
                        cached.keys = keys;
                        cached.expires_at = Some(Instant::now() + lifetime);
                        cached
                            .keys
                            .get(kid)
                            .cloned()
                            .map_or(KeyLookup::Unknown, KeyLookup::Found)
                    }
                    Err(why) => match self.read().keys.get(kid) {
                        Some(stale) => {
                            tracing::warn!(
                                provider = self.provider.slug(),
                                error = %why,
                                "JWKS refetch failed; using the cached key"
                            );
                            KeyLookup::Found(stale.clone())
                        }
                        None => KeyLookup::Unavailable(why),
                    },
                }
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cached> {
        self.cached.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Cached> {
        self.cached.write().unwrap_or_else(PoisonError::into_inner)
    }

    async fn fetch(
        &self,
        url: &Url,
    ) -> Result<(HashMap<String, Arc<DecodingKey>>, Duration), String> {
        let started = Instant::now();
        let result = self.request(url).await;
        let outcome = if result.is_ok() {
            KakaoOutcome::Ok
        } else {
            KakaoOutcome::Unavailable
        };
        self.metrics
            .provider_request(self.provider, "jwks", outcome, started.elapsed());
        result
    }

    async fn request(
        &self,
        url: &Url,
    ) -> Result<(HashMap<String, Arc<DecodingKey>>, Duration), String> {
        let response = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "jwks timeout".to_owned()
                } else {
                    "jwks transport error".to_owned()
                }
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("jwks endpoint answered {}", status.as_u16()));
        }
        let lifetime = cache_lifetime(
            response
                .headers()
                .get(reqwest::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
        );
        let body = response
            .bytes()
            .await
            .map_err(|_| "jwks transport error".to_owned())?;
        let keys = parse_jwks(&body).ok_or_else(|| "unreadable jwks".to_owned())?;
        if keys.is_empty() {
            return Err("jwks without an RS256 signing key".to_owned());
        }
        Ok((keys, lifetime))
    }
}

/// How long a JWKS answer may be used: its `max-age`, bounded.
pub(crate) fn cache_lifetime(cache_control: Option<&str>) -> Duration {
    let Some(value) = cache_control else {
        return DEFAULT_LIFETIME;
    };
    let mut lifetime = DEFAULT_LIFETIME;
    for directive in value.split(',').map(|d| d.trim().to_ascii_lowercase()) {
        if directive == "no-store" || directive == "no-cache" {
            return MIN_LIFETIME;
        }
        if let Some(seconds) = directive.strip_prefix("max-age=") {
            lifetime = seconds
                .trim_matches('"')
                .parse::<u64>()
                .map_or(MIN_LIFETIME, Duration::from_secs);
        }
    }
    lifetime.clamp(MIN_LIFETIME, MAX_LIFETIME)
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RsaJwk {
    kid: String,
    kty: String,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    usage: Option<String>,
    n: String,
    e: String,
}

/// The RS256 signing keys of a JWKS document by `kid`; other keys (another
/// type, algorithm or use, or unreadable) are skipped. `None` when the
/// document itself is unreadable.
pub(crate) fn parse_jwks(body: &[u8]) -> Option<HashMap<String, Arc<DecodingKey>>> {
    let set: JwkSet = serde_json::from_slice(body).ok()?;
    let keys = set
        .keys
        .into_iter()
        .filter_map(|value| serde_json::from_value::<RsaJwk>(value).ok())
        .filter(|jwk| {
            jwk.kty == "RSA"
                && jwk.alg.as_deref().is_none_or(|a| a == "RS256")
                && jwk.usage.as_deref().is_none_or(|u| u == "sig")
        })
        .filter_map(|jwk| {
            let key = DecodingKey::from_rsa_components(&jwk.n, &jwk.e).ok()?;
            Some((jwk.kid, Arc::new(key)))
        })
        .collect();
    Some(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_respected_within_bounds() {
        let cases = [
            (None, DEFAULT_LIFETIME),
            (Some("public, max-age=3600"), Duration::from_secs(3600)),
            (
                Some("max-age=7200, must-revalidate"),
                Duration::from_secs(7200),
            ),
            (Some("MAX-AGE=600"), Duration::from_secs(600)),
            (Some("max-age=5"), MIN_LIFETIME),
            (Some("max-age=0"), MIN_LIFETIME),
            (Some("max-age=31536000"), MAX_LIFETIME),
            (Some("max-age=soon"), MIN_LIFETIME),
            (Some("no-store"), MIN_LIFETIME),
            (Some("public, no-cache, max-age=9000"), MIN_LIFETIME),
            (Some("public"), DEFAULT_LIFETIME),
        ];
        for (header, expected) in cases {
            assert_eq!(cache_lifetime(header), expected, "{header:?}");
        }
    }

    fn cached_with(kid: &str, now: Instant, lifetime: Duration) -> Cached {
        let key = DecodingKey::from_rsa_components("AQAB", "AQAB").unwrap();
        Cached {
            keys: HashMap::from([(kid.to_owned(), Arc::new(key))]),
            expires_at: Some(now + lifetime),
            last_unknown_kid_refetch: None,
        }
    }

    #[test]
    fn a_fresh_known_kid_is_used_and_an_expired_cache_refetches() {
        let now = Instant::now();
        let cached = cached_with("a", now, Duration::from_secs(60));
        assert!(matches!(cached.plan("a", now), Plan::Use(_)));
        assert!(matches!(
            cached.plan("a", now + Duration::from_secs(61)),
            Plan::Fetch { unknown_kid: false }
        ));
        assert!(matches!(
            Cached::default().plan("a", now),
            Plan::Fetch { unknown_kid: false }
        ));
    }

    #[test]
    fn unknown_kids_refetch_at_most_once_per_floor() {
        let now = Instant::now();
        let mut cached = cached_with("a", now, MAX_LIFETIME);
        assert!(matches!(
            cached.plan("b", now),
            Plan::Fetch { unknown_kid: true }
        ));
        cached.last_unknown_kid_refetch = Some(now);
        let soon = now + UNKNOWN_KID_REFETCH_FLOOR - Duration::from_secs(1);
        assert!(matches!(cached.plan("c", soon), Plan::Refuse));
        assert!(matches!(cached.plan("a", soon), Plan::Use(_)));
        let later = now + UNKNOWN_KID_REFETCH_FLOOR;
        assert!(matches!(
            cached.plan("c", later),
            Plan::Fetch { unknown_kid: true }
        ));
    }

    #[test]
    fn only_rs256_signing_keys_are_kept() {
        let n = "AQAB";
        let body = serde_json::json!({"keys": [
            {"kid": "rs", "kty": "RSA", "alg": "RS256", "use": "sig", "n": n, "e": "AQAB"},
            {"kid": "bare", "kty": "RSA", "n": n, "e": "AQAB"},
            {"kid": "enc", "kty": "RSA", "alg": "RS256", "use": "enc", "n": n, "e": "AQAB"},
            {"kid": "ps", "kty": "RSA", "alg": "PS256", "n": n, "e": "AQAB"},
            {"kid": "ec", "kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "RSA", "n": n, "e": "AQAB"},
        ]});
        let keys = parse_jwks(body.to_string().as_bytes()).unwrap();
        let mut kids: Vec<_> = keys.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, ["bare", "rs"]);
        assert!(parse_jwks(b"<html>").is_none());
    }
}
