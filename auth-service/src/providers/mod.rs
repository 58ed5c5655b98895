//! The identity providers behind one door: what a login needs from any of
//! them (an authorize URL for a sealed attempt, then a verified person for
//! a code), and what unlinking needs (revoke our grant). Each provider
//! keeps its own rules in its own client: Kakao ([`crate::kakao`] with
//! [`crate::kakao_oidc`]), Naver ([`crate::naver`]), Google
//! ([`crate::google`]). [`Providers`] holds the enabled ones; the login
//! flow ([`crate::login`]) never names a provider's type.

use std::{sync::Arc, time::Duration};

pub mod api;

pub use api::{AuthorizeParams, Provider, ProviderError, ProviderUser, SignedIn};
use secrecy::SecretString;
use url::Url;

use crate::{
    configuration::Settings, domain::AuthorizationCode, google::GoogleClient, kakao::KakaoProvider,
    metrics::Metrics, naver::NaverClient,
};

/// The one HTTP client every provider is called through: connect and total
/// timeouts (`KAKAO_CONNECT_TIMEOUT`, `KAKAO_TIMEOUT`), idle connections
/// kept a minute, redirects never followed.
pub fn http_client(settings: &Settings) -> anyhow::Result<reqwest::Client> {
    let http = settings
        .kakao
        .as_ref()
        .map(|k| (k.connect_timeout, k.request_timeout))
        .or_else(|| {
            settings
                .naver
                .as_ref()
                .map(|n| (n.http.connect_timeout, n.http.request_timeout))
        })
        .or_else(|| {
            settings
                .google
                .as_ref()
                .map(|g| (g.http.connect_timeout, g.http.request_timeout))
        })
        .unwrap_or((Duration::from_secs(2), Duration::from_secs(5)));
    Ok(reqwest::Client::builder()
        .connect_timeout(http.0)
        .timeout(http.1)
        .pool_idle_timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            "kakao-login-auth-service/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()?)
}

/// The enabled providers, each with its own circuit breaker.
pub struct Providers {
    kakao: Option<KakaoProvider>,
    naver: Option<NaverClient>,
    google: Option<GoogleClient>,
}

impl Providers {
    /// Builds a client for every provider the settings enable, all on one
    /// connection pool ([`http_client`]). Loads the TLS root certificates:
    /// call it off the async threads.
    pub fn new(settings: &Settings, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let http = http_client(settings)?;
        Ok(Providers {
            kakao: settings
                .kakao
                .as_ref()
                .map(|s| KakaoProvider::new(s, http.clone(), metrics.clone())),
            naver: settings
                .naver
                .as_ref()
                .map(|s| NaverClient::new(s, http.clone(), metrics.clone())),
            google: settings
                .google
                .as_ref()
                .map(|s| GoogleClient::new(s, http.clone(), metrics.clone())),
        })
    }

    /// Whether `provider` is configured here.
    pub fn is_enabled(&self, provider: Provider) -> bool {
        match provider.or_kakao() {
            Provider::Naver => self.naver.is_some(),
            Provider::Google => self.google.is_some(),
            _ => self.kakao.is_some(),
        }
    }

    /// The enabled providers, in [`Provider::NAMED`] order.
    pub fn enabled(&self) -> impl Iterator<Item = Provider> + '_ {
        Provider::NAMED.into_iter().filter(|p| self.is_enabled(*p))
    }

    /// Whether `provider` takes a PKCE challenge (Kakao, Google; not Naver's
    /// classic flow).
    pub fn uses_pkce(provider: Provider) -> bool {
        !matches!(provider.or_kakao(), Provider::Naver)
    }

    /// The authorize URL of one attempt; `None` when `provider` is not
    /// enabled. Google's may need its discovery document first.
    pub async fn authorize_url(
        &self,
        provider: Provider,
        params: &AuthorizeParams<'_>,
    ) -> Option<Result<Url, ProviderError>> {
        Some(match provider.or_kakao() {
            Provider::Naver => Ok(self.naver.as_ref()?.authorize_url(params.state)),
            Provider::Google => self.google.as_ref()?.authorize_url(params).await,
            _ => Ok(self.kakao.as_ref()?.authorize_url(params)),
        })
    }

    /// Exchanges a callback's code and verifies who signed in; `None` when
    /// `provider` is not enabled. `verifier` is the PKCE verifier (ignored
    /// by Naver), `nonce` the attempt's OIDC nonce, `state` the state the
    /// authorize URL carried (Naver wants it again on the token call).
    pub async fn sign_in(
        &self,
        provider: Provider,
        code: &AuthorizationCode,
        verifier: &str,
        nonce: &str,
        state: &str,
    ) -> Option<Result<SignedIn, crate::error::AuthError>> {
        Some(match provider.or_kakao() {
            Provider::Naver => self
                .naver
                .as_ref()?
                .sign_in(code, state)
                .await
                .map_err(|e| crate::error::AuthError::from_provider(Provider::Naver, e)),
            Provider::Google => self.google.as_ref()?.sign_in(code, verifier, nonce).await,
            _ => self.kakao.as_ref()?.sign_in(code, verifier, nonce).await,
        })
    }

    /// Asks `provider` to revoke `grant` (best effort: the answer says
    /// whether it confirmed). Kakao's admin unlink takes the user's Kakao
    /// id as `subject` instead of a grant.
    pub async fn revoke(
        &self,
        provider: Provider,
        subject: &str,
        grant: Option<&SecretString>,
    ) -> Result<(), ProviderError> {
        let disabled = || ProviderError::Misconfigured("provider disabled".into());
        match provider.or_kakao() {
            Provider::Naver => match grant {
                Some(grant) => {
                    self.naver
                        .as_ref()
                        .ok_or_else(disabled)?
                        .revoke(grant)
                        .await
                }
                None => Err(ProviderError::Rejected("no grant kept".into())),
            },
            Provider::Google => match grant {
                Some(grant) => {
                    self.google
                        .as_ref()
                        .ok_or_else(disabled)?
                        .revoke(grant)
                        .await
                }
                None => Err(ProviderError::Rejected("no grant kept".into())),
            },
            _ => {
                self.kakao
                    .as_ref()
                    .ok_or_else(disabled)?
                    .unlink(subject)
                    .await
            }
        }
    }

    /// The Kakao provider, for the unlink callback's settings.
    pub fn kakao(&self) -> Option<&KakaoProvider> {
        self.kakao.as_ref()
    }
}
