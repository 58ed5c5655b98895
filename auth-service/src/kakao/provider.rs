//! Kakao as one of the [`crate::providers`]: the authorize URL with PKCE,
//! nonce and the configured scope and prompt; a sign-in (token, then the
//! id_token verified when one came or `openid` asked for one, then the
//! profile, whose id must be the id_token's `sub`); and the admin unlink.

use std::{sync::Arc, time::Instant};

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::{AuthorizeParams as KakaoAuthorizeParams, KakaoClient, endpoint, outcome};
use crate::{
    configuration::KakaoSettings,
    domain::AuthorizationCode,
    error::AuthError,
    kakao_oidc::IdTokenVerifier,
    metrics::Metrics,
    providers::api::{AuthorizeParams, Provider, ProviderError, ProviderUser, SignedIn},
};

/// Kakao's client, its id_token verifier and the settings a login reads.
pub struct KakaoProvider {
    client: KakaoClient,
    id_tokens: IdTokenVerifier,
    scope: Option<String>,
    prompt: Option<String>,
    admin_key: Option<SecretString>,
    unlink_url: Url,
    metrics: Arc<Metrics>,
}

impl KakaoProvider {
    /// Kakao for `settings`, calling through `http`.
    pub fn new(settings: &KakaoSettings, http: reqwest::Client, metrics: Arc<Metrics>) -> Self {
        let id_tokens = IdTokenVerifier::new(settings, http.clone(), metrics.clone());
        KakaoProvider {
            client: KakaoClient::new(settings, http, metrics.clone()),
            id_tokens,
            scope: settings.scope.clone(),
            prompt: settings.prompt.clone(),
            admin_key: settings.admin_key.clone(),
            unlink_url: endpoint(&settings.api_base_url, "/v1/user/unlink"),
            metrics,
        }
    }

    /// The authorize URL of one attempt.
    pub fn authorize_url(&self, params: &AuthorizeParams<'_>) -> Url {
        self.client.authorize_url(&KakaoAuthorizeParams {
            state: params.state,
            nonce: params.nonce,
            code_challenge: params.code_challenge,
            scope: self.scope.as_deref(),
            prompt: self.prompt.as_deref(),
        })
    }

    /// Exchanges the code, verifies the id_token (before its access token
    /// is spent on the profile) and reads the profile.
    pub async fn sign_in(
        &self,
        code: &AuthorizationCode,
        verifier: &str,
        nonce: &str,
    ) -> Result<SignedIn, AuthError> {
        let tokens = self.client.exchange_code(code, verifier).await?;
        let id_token = self
            .id_tokens
            .verify(tokens.id_token.as_deref(), nonce)
            .await?;
        let user = self.client.fetch_user(&tokens.access_token).await?;
        if let Some(id_token) = id_token {
            id_token.check_subject(user.id)?;
        }
        Ok(SignedIn {
            user: ProviderUser {
                subject: user.id.to_string(),
                nickname: user.nickname,
                profile_image_url: user.profile_image_url,
                thumbnail_image_url: user.thumbnail_image_url,
                email: user.email,
            },
            grant: None,
        })
    }

    /// Unlinks the Kakao user `subject` from our app with the admin key
    /// (`POST /v1/user/unlink`); without `KAKAO_ADMIN_KEY` there is no way
    /// to, and the answer is `Misconfigured`.
    pub async fn unlink(&self, subject: &str) -> Result<(), ProviderError> {
        let Some(admin_key) = &self.admin_key else {
            return Err(ProviderError::Misconfigured("no KAKAO_ADMIN_KEY".into()));
        };
        let started = Instant::now();
        let request = self
            .client
            .http
            .post(self.unlink_url.clone())
            .header(
                reqwest::header::AUTHORIZATION,
                format!("KakaoAK {}", admin_key.expose_secret()),
            )
            .form(&[("target_id_type", "user_id"), ("target_id", subject)]);
        let result = match self.client.permit() {
            Err(e) => Err(e),
            Ok(permit) => match self.client.send(permit, request).await {
                Ok((status, _)) if status.is_success() => Ok(()),
                Ok((status, body)) => Err(super::api_error(status, &body)),
                Err(e) => Err(e),
            },
        };
        self.metrics.provider_request(
            Provider::Kakao,
            "unlink",
            outcome(&result),
            started.elapsed(),
        );
        result
    }

    /// `KAKAO_ADMIN_KEY`, which authenticates Kakao's unlink callback.
    pub fn admin_key(&self) -> Option<&SecretString> {
        self.admin_key.as_ref()
    }
}
