//! Google (OpenID Connect): PLACEHOLDER, being written.

use std::sync::Arc;

use secrecy::SecretString;
use url::Url;

use crate::{
    configuration::GoogleSettings,
    domain::AuthorizationCode,
    error::AuthError,
    metrics::Metrics,
    providers::api::{AuthorizeParams, ProviderError, SignedIn},
};

/// Talks to Google.
pub struct GoogleClient {
    _http: reqwest::Client,
    _metrics: Arc<Metrics>,
    issuer: Url,
}

impl GoogleClient {
    /// The client for `settings`, calling through `http`.
    pub fn new(settings: &GoogleSettings, http: reqwest::Client, metrics: Arc<Metrics>) -> Self {
        GoogleClient {
            _http: http,
            _metrics: metrics,
            issuer: settings.issuer.clone(),
        }
    }

    /// The authorize URL of one attempt (PKCE S256, nonce).
    pub async fn authorize_url(&self, _params: &AuthorizeParams<'_>) -> Result<Url, ProviderError> {
        Ok(self.issuer.clone())
    }

    /// Exchanges the code and verifies the id_token.
    pub async fn sign_in(
        &self,
        _code: &AuthorizationCode,
        _verifier: &str,
        _nonce: &str,
    ) -> Result<SignedIn, AuthError> {
        Err(AuthError::from_provider(
            crate::providers::api::Provider::Google,
            ProviderError::Unavailable("not built".into()),
        ))
    }

    /// Revokes the grant (Google's refresh or access token).
    pub async fn revoke(&self, _grant: &SecretString) -> Result<(), ProviderError> {
        Err(ProviderError::Unavailable("not built".into()))
    }
}
