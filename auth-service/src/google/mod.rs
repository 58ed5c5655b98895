//! Google Sign-In (OpenID Connect, server-side code flow): every endpoint
//! from the discovery document under `GOOGLE_ISSUER` ([`discovery`],
//! fetched on first use), PKCE S256 and a nonce on the authorize URL, the
//! code exchanged with our client secret, and the id_token verified for
//! real ([`id_token`]): the person is its `sub`, never the email.
//!
//! The grant kept for unlinking is the refresh token. We ask for one with
//! `access_type=offline`; Google sends it only on a user's first consent
//! to this client (not with every login), so later sign-ins carry the
//! access token instead, which Google's revocation endpoint also accepts
//! (revoking it revokes the whole grant while it is valid). We do not send
//! `prompt=consent` to force a new refresh token: that would show the
//! consent screen at every login.
//!
//! Every call passes one circuit breaker ([`Circuit`], as Kakao's) and is
//! measured as `auth_provider_request_duration_seconds{provider="google"}`
//! (`discovery`, `token`, `jwks`, `revoke`).

pub(crate) mod answers;
pub(crate) mod discovery;
mod id_token;

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use self::{
    answers::{GoogleTokens, read_tokens, revoke_answer, token_error},
    discovery::{DiscoveryCache, Endpoints},
    id_token::IdTokenVerifier,
};
use crate::{
    configuration::GoogleSettings,
    domain::AuthorizationCode,
    error::AuthError,
    kakao::circuit::{Circuit, Permit},
    metrics::{KakaoOutcome, Metrics},
    providers::api::{AuthorizeParams, Provider, ProviderError, SignedIn},
};

/// The scope of a sign-in: who (`openid`), the email and the profile.
pub const SCOPE: &str = "openid email profile";

/// Talks to Google.
pub struct GoogleClient {
    http: reqwest::Client,
    metrics: Arc<Metrics>,
    client_id: String,
    client_secret: SecretString,
    redirect_uri: Url,
    issuer: Url,
    circuit: Circuit,
    discovery: DiscoveryCache,
    id_tokens: IdTokenVerifier,
}

impl GoogleClient {
    /// The client for `settings`, calling through `http`. Does no I/O: the
    /// discovery document is fetched on first use.
    pub fn new(settings: &GoogleSettings, http: reqwest::Client, metrics: Arc<Metrics>) -> Self {
        GoogleClient {
            id_tokens: IdTokenVerifier::new(settings, http.clone(), metrics.clone()),
            http,
            metrics,
            client_id: settings.client_id.clone(),
            client_secret: settings.client_secret.clone(),
            redirect_uri: settings.redirect_uri.clone(),
            issuer: settings.issuer.clone(),
            circuit: Circuit::named("google", settings.http.circuit_open),
            discovery: DiscoveryCache::default(),
        }
    }

    /// The authorize URL of one attempt: `response_type=code`, [`SCOPE`],
    /// the state, the nonce, the PKCE S256 challenge and
    /// `access_type=offline`. Needs the discovery document: `Unavailable`
    /// when it cannot be had.
    pub async fn authorize_url(&self, params: &AuthorizeParams<'_>) -> Result<Url, ProviderError> {
        let endpoints = self.endpoints().await?;
        let mut url = endpoints.authorize.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", self.redirect_uri.as_str())
            .append_pair("scope", SCOPE)
            .append_pair("state", params.state)
            .append_pair("nonce", params.nonce)
            .append_pair("code_challenge", params.code_challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("access_type", "offline");
        Ok(url)
    }

    /// Exchanges the code (with its PKCE `verifier`) and verifies the
    /// id_token against this login's `nonce`. The grant is the refresh
    /// token when one came, else the access token.
    pub async fn sign_in(
        &self,
        code: &AuthorizationCode,
        verifier: &str,
        nonce: &str,
    ) -> Result<SignedIn, AuthError> {
        let failed = |e| AuthError::from_provider(Provider::Google, e);
        let endpoints = self.endpoints().await.map_err(failed)?;
        let tokens = self
            .exchange_code(&endpoints.token, code, verifier)
            .await
            .map_err(failed)?;
        let user = self
            .id_tokens
            .verify(&endpoints.jwks, tokens.id_token.as_deref(), nonce)
            .await?;
        Ok(SignedIn {
            user,
            // Only a refresh token is kept: Google sends one at the first
            // consent only, and an access token (an hour's life) would
            // overwrite it on the identity at the next login, leaving
            // nothing that still revokes at unlink time.
            grant: tokens.refresh_token,
        })
    }

    /// Revokes the grant (Google's refresh or access token): the user's
    /// whole grant to this client ends. A token Google no longer knows
    /// counts as revoked.
    pub async fn revoke(&self, grant: &SecretString) -> Result<(), ProviderError> {
        let endpoints = self.endpoints().await?;
        let url = endpoints
            .revoke
            .clone()
            .ok_or_else(|| ProviderError::Misconfigured("no revocation_endpoint".into()))?;
        self.measured("revoke", async {
            let request = self
                .http
                .post(url)
                .form(&[("token", grant.expose_secret())]);
            let answer = self.send(request).await?;
            revoke_answer(answer.status, &answer.body)
        })
        .await
    }

    /// The endpoints, from the cached discovery document or a fetch.
    async fn endpoints(&self) -> Result<Arc<Endpoints>, ProviderError> {
        self.discovery
            .get(|| self.measured("discovery", self.fetch_discovery()))
            .await
    }

    async fn fetch_discovery(&self) -> Result<(Endpoints, Duration), ProviderError> {
        let request = self
            .http
            .get(discovery::discovery_url(&self.issuer))
            .header(reqwest::header::ACCEPT, "application/json");
        let answer = self.send(request).await?;
        if !answer.status.is_success() {
            return Err(ProviderError::Unavailable(format!(
                "discovery answered {}",
                answer.status.as_u16()
            )));
        }
        let lifetime = discovery::lifetime(answer.cache_control.as_deref());
        Ok((discovery::parse(&answer.body, &self.issuer)?, lifetime))
    }

    async fn exchange_code(
        &self,
        token_url: &Url,
        code: &AuthorizationCode,
        verifier: &str,
    ) -> Result<GoogleTokens, ProviderError> {
        self.measured("token", async {
            let form = [
                ("grant_type", "authorization_code"),
                ("code", code.expose()),
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.expose_secret()),
                ("redirect_uri", self.redirect_uri.as_str()),
                ("code_verifier", verifier),
            ];
            let request = self
                .http
                .post(token_url.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .form(&form);
            let answer = self.send(request).await?;
            if answer.status.is_success() {
                read_tokens(&answer.body)
            } else {
                Err(token_error(answer.status, &answer.body))
            }
        })
        .await
    }

    /// Leave to call Google, unless the circuit is open.
    fn permit(&self) -> Result<Permit<'_>, ProviderError> {
        self.circuit
            .permit(Instant::now())
            .map_err(|_| ProviderError::Unavailable("circuit open".into()))
    }

    /// Sends `request` through the circuit and reads the whole answer,
    /// telling the circuit whether Google was down (no answer in time, or
    /// a 5xx).
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Answer, ProviderError> {
        let permit = self.permit()?;
        let answer = async {
            let response = request.send().await?;
            let status = response.status();
            let cache_control = response
                .headers()
                .get(reqwest::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = response.bytes().await?.to_vec();
            Ok::<_, reqwest::Error>(Answer {
                status,
                cache_control,
                body,
            })
        }
        .await
        .map_err(|e| transport_error(&e));
        let outage = answer.as_ref().map_or(true, |a| a.status.is_server_error());
        permit.finish(outage, Instant::now());
        answer
    }

    /// Runs `call`, recording it as one request to `endpoint`.
    async fn measured<T>(
        &self,
        endpoint: &'static str,
        call: impl Future<Output = Result<T, ProviderError>>,
    ) -> Result<T, ProviderError> {
        let started = Instant::now();
        let result = call.await;
        let outcome = match &result {
            Ok(_) => KakaoOutcome::Ok,
            Err(ProviderError::Rejected(_)) => KakaoOutcome::Rejected,
            Err(ProviderError::Unavailable(_)) => KakaoOutcome::Unavailable,
            Err(ProviderError::Misconfigured(_)) => KakaoOutcome::Misconfigured,
        };
        self.metrics
            .provider_request(Provider::Google, endpoint, outcome, started.elapsed());
        result
    }
}

/// An HTTP answer, read whole.
struct Answer {
    status: StatusCode,
    cache_control: Option<String>,
    body: Vec<u8>,
}

fn transport_error(e: &reqwest::Error) -> ProviderError {
    let what = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect failed"
    } else {
        "transport error"
    };
    ProviderError::Unavailable(what.into())
}
