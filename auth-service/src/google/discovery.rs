//! Google's discovery document (`{GOOGLE_ISSUER}/.well-known/openid-configuration`):
//! the one URL we are configured with; every endpoint comes from it, as
//! Google asks. Fetched on first use (so starting the service does no I/O),
//! then kept for its `Cache-Control: max-age`, bounded by
//! [`MIN_LIFETIME`] and [`MAX_LIFETIME`]. A failed fetch is not cached (the
//! next use tries again); a failed refetch keeps the endpoints already
//! known, which Google practically never moves.

use std::{
    future::Future,
    sync::{Arc, PoisonError, RwLock},
    time::{Duration, Instant},
};

use serde::Deserialize;
use url::Url;

use crate::{kakao_oidc::jwks::cache_lifetime, providers::ProviderError};

/// Where the document lives under the issuer.
pub(crate) const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
/// Shortest time a document is kept, whatever `Cache-Control` says.
pub(crate) const MIN_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// Longest time a document is kept, whatever `Cache-Control` says.
pub(crate) const MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// The endpoints the sign-in and the revocation use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoints {
    /// `authorization_endpoint`: where the browser is sent.
    pub(crate) authorize: Url,
    /// `token_endpoint`: the code exchange.
    pub(crate) token: Url,
    /// `jwks_uri`: the id_token signing keys.
    pub(crate) jwks: Url,
    /// `revocation_endpoint` (Google publishes one; it is optional in OIDC).
    pub(crate) revoke: Option<Url>,
}

#[derive(Deserialize)]
struct Document {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    revocation_endpoint: Option<String>,
}

/// `GOOGLE_ISSUER` + [`DISCOVERY_PATH`].
pub(crate) fn discovery_url(issuer: &Url) -> Url {
    let mut url = issuer.clone();
    let path = format!("{}{DISCOVERY_PATH}", issuer.path().trim_end_matches('/'));
    url.set_path(&path);
    url.set_query(None);
    url
}

/// The `iss` values accepted for `issuer`: its string without a trailing
/// slash, and the same without its scheme (Google sends
/// `https://accounts.google.com` or `accounts.google.com`).
pub(crate) fn accepted_issuers(issuer: &Url) -> [String; 2] {
    let full = issuer.as_str().trim_end_matches('/').to_owned();
    let bare = full
        .split_once("://")
        .map_or_else(|| full.clone(), |(_, rest)| rest.to_owned());
    [full, bare]
}

/// How long a document answered with this `Cache-Control` is kept.
pub(crate) fn lifetime(cache_control: Option<&str>) -> Duration {
    cache_lifetime(cache_control).clamp(MIN_LIFETIME, MAX_LIFETIME)
}

/// The endpoints of a discovery document fetched for `issuer`. A document
/// naming another issuer, or (for an https issuer) a plain-http endpoint,
/// means `GOOGLE_ISSUER` points at the wrong place: `Misconfigured`.
/// Unreadable: `Unavailable`.
pub(crate) fn parse(body: &[u8], issuer: &Url) -> Result<Endpoints, ProviderError> {
    let document: Document = serde_json::from_slice(body)
        .map_err(|_| ProviderError::Unavailable("unreadable discovery document".into()))?;
    if !accepted_issuers(issuer).contains(&document.issuer.trim_end_matches('/').to_owned()) {
        return Err(ProviderError::Misconfigured(
            "discovery names another issuer".into(),
        ));
    }
    let secure = issuer.scheme() == "https";
    let endpoint = |raw: &str| -> Result<Url, ProviderError> {
        let url = Url::parse(raw)
            .map_err(|_| ProviderError::Unavailable("discovery endpoint is not a URL".into()))?;
        match url.scheme() {
            "https" => Ok(url),
            "http" if !secure => Ok(url),
            _ => Err(ProviderError::Misconfigured(
                "discovery endpoint is not https".into(),
            )),
        }
    };
    Ok(Endpoints {
        authorize: endpoint(&document.authorization_endpoint)?,
        token: endpoint(&document.token_endpoint)?,
        jwks: endpoint(&document.jwks_uri)?,
        revoke: document
            .revocation_endpoint
            .as_deref()
            .map(endpoint)
            .transpose()?,
    })
}

struct Cached {
    endpoints: Arc<Endpoints>,
    expires_at: Instant,
}

/// The endpoints once fetched, and until when they are fresh.
#[derive(Default)]
pub(crate) struct DiscoveryCache {
    cached: RwLock<Option<Cached>>,
    /// Held while fetching, so concurrent first uses make one request.
    fetching: tokio::sync::Mutex<()>,
}

impl DiscoveryCache {
    /// The endpoints: cached while fresh, else `fetch`ed (one fetch at a
    /// time). When the fetch fails, endpoints known from before are used
    /// (stale); with none known, the fetch's error is the answer.
    pub(crate) async fn get<F, Fut>(&self, fetch: F) -> Result<Arc<Endpoints>, ProviderError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(Endpoints, Duration), ProviderError>>,
    {
        if let Some(fresh) = self.fresh(Instant::now()) {
            return Ok(fresh);
        }
        let _fetching = self.fetching.lock().await;
        if let Some(fresh) = self.fresh(Instant::now()) {
            return Ok(fresh);
        }
        match fetch().await {
            Ok((endpoints, lifetime)) => {
                let endpoints = Arc::new(endpoints);
                *self.cached.write().unwrap_or_else(PoisonError::into_inner) = Some(Cached {
                    endpoints: endpoints.clone(),
                    expires_at: Instant::now() + lifetime,
                });
                Ok(endpoints)
            }
            Err(e) => match self.stale() {
                Some(stale) => {
                    tracing::warn!(
                        provider = "google",
                        error = %e,
                        "discovery refetch failed; using the endpoints known"
                    );
                    Ok(stale)
                }
                None => Err(e),
            },
        }
    }

    fn fresh(&self, now: Instant) -> Option<Arc<Endpoints>> {
        let cached = self.cached.read().unwrap_or_else(PoisonError::into_inner);
        cached
            .as_ref()
            .filter(|c| now < c.expires_at)
            .map(|c| c.endpoints.clone())
    }

    fn stale(&self) -> Option<Arc<Endpoints>> {
        let cached = self.cached.read().unwrap_or_else(PoisonError::into_inner);
        cached.as_ref().map(|c| c.endpoints.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn document(issuer: &str, base: &str) -> Vec<u8> {
        serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{base}/o/oauth2/v2/auth"),
            "token_endpoint": format!("{base}/token"),
            "jwks_uri": format!("{base}/oauth2/v3/certs"),
            "userinfo_endpoint": format!("{base}/v1/userinfo"),
            "revocation_endpoint": format!("{base}/revoke"),
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn the_document_sits_under_the_issuer() {
        for (issuer, expected) in [
            (
                "https://accounts.google.com",
                "https://accounts.google.com/.well-known/openid-configuration",
            ),
            (
                "http://127.0.0.1:9/google/",
                "http://127.0.0.1:9/google/.well-known/openid-configuration",
            ),
        ] {
            assert_eq!(discovery_url(&url(issuer)).as_str(), expected);
        }
    }

    #[test]
    fn both_spellings_of_the_issuer_are_accepted() {
        assert_eq!(
            accepted_issuers(&url("https://accounts.google.com")),
            ["https://accounts.google.com", "accounts.google.com"]
        );
        assert_eq!(
            accepted_issuers(&url("http://127.0.0.1:9/google")),
            ["http://127.0.0.1:9/google", "127.0.0.1:9/google"]
        );
    }

    #[test]
    fn endpoints_come_from_the_document_of_our_issuer() {
        let issuer = url("https://accounts.google.com");
        let endpoints = parse(
            &document(
                "https://accounts.google.com",
                "https://oauth2.googleapis.com",
            ),
            &issuer,
        )
        .unwrap();
        assert_eq!(
            endpoints.token.as_str(),
            "https://oauth2.googleapis.com/token"
        );
        assert!(parse(&document("accounts.google.com", "https://g"), &issuer).is_ok());
        assert_eq!(
            parse(&document("https://evil.example", "https://g"), &issuer),
            Err(ProviderError::Misconfigured(
                "discovery names another issuer".into()
            ))
        );
        assert!(matches!(
            parse(
                &document("https://accounts.google.com", "http://g"),
                &issuer
            ),
            Err(ProviderError::Misconfigured(_))
        ));
        assert!(matches!(
            parse(b"<html>", &issuer),
            Err(ProviderError::Unavailable(_))
        ));
        let local = url("http://127.0.0.1:9/google");
        assert!(
            parse(
                &document("http://127.0.0.1:9/google", "http://127.0.0.1:9/google"),
                &local
            )
            .is_ok()
        );
    }

    #[test]
    fn the_lifetime_is_max_age_within_hours() {
        assert_eq!(lifetime(Some("public, max-age=3600")), MIN_LIFETIME);
        assert_eq!(lifetime(Some("max-age=20000")), Duration::from_secs(20000));
        assert_eq!(lifetime(Some("no-store")), MIN_LIFETIME);
        assert_eq!(lifetime(Some("max-age=9999999")), MAX_LIFETIME);
    }

    fn endpoints(base: &str) -> Endpoints {
        Endpoints {
            authorize: url(&format!("{base}/auth")),
            token: url(&format!("{base}/token")),
            jwks: url(&format!("{base}/certs")),
            revoke: None,
        }
    }

    #[tokio::test]
    async fn a_fresh_document_is_reused_a_failure_is_not_cached_and_stale_beats_none() {
        let cache = DiscoveryCache::default();
        let down = || async { Err(ProviderError::Unavailable("timeout".into())) };
        assert!(cache.get(down).await.is_err());
        let first = cache
            .get(|| async { Ok((endpoints("https://a"), Duration::ZERO)) })
            .await
            .unwrap();
        assert_eq!(first.token.as_str(), "https://a/token");
        // Expired at once: the next use refetches; that failing, stale is used.
        let stale = cache.get(down).await.unwrap();
        assert_eq!(stale, first);
        cache
            .get(|| async { Ok((endpoints("https://b"), MAX_LIFETIME)) })
            .await
            .unwrap();
        let fresh = cache
            .get(|| async { panic!("a fresh document is not fetched again") })
            .await
            .unwrap();
        assert_eq!(fresh.token.as_str(), "https://b/token");
    }
}
