//! Naver Login (classic OAuth 2.0): PLACEHOLDER, being written.

use std::sync::Arc;

use secrecy::SecretString;
use url::Url;

use crate::{
    configuration::NaverSettings,
    domain::AuthorizationCode,
    metrics::Metrics,
    providers::{ProviderError, SignedIn},
};

/// Talks to Naver.
pub struct NaverClient {
    _http: reqwest::Client,
    _metrics: Arc<Metrics>,
    authorize: Url,
}

impl NaverClient {
    /// The client for `settings`, calling through `http`.
    pub fn new(settings: &NaverSettings, http: reqwest::Client, metrics: Arc<Metrics>) -> Self {
        NaverClient {
            _http: http,
            _metrics: metrics,
            authorize: settings.auth_base_url.clone(),
        }
    }

    /// The authorize URL of one attempt (no PKCE, no nonce).
    pub fn authorize_url(&self, _state: &str) -> Url {
        self.authorize.clone()
    }

    /// Exchanges the code (with the state, as Naver wants it) and reads the profile.
    pub async fn sign_in(
        &self,
        _code: &AuthorizationCode,
        _state: &str,
    ) -> Result<SignedIn, ProviderError> {
        Err(ProviderError::Unavailable("not built".into()))
    }

    /// Revokes the grant (Naver's refresh token).
    pub async fn revoke(&self, _grant: &SecretString) -> Result<(), ProviderError> {
        Err(ProviderError::Unavailable("not built".into()))
    }
}
