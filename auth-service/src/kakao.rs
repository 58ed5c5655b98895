//! The Kakao client: one shared `reqwest::Client` with connect and total
//! timeouts, the token exchange and the user API, and Kakao's error shapes
//! (`KOE…` codes on kauth, negative codes on kapi) turned into three kinds
//! of failure the caller can act on. Every call passes the circuit breaker
//! ([`circuit`]), which refuses calls at once while Kakao is down.

use std::{sync::Arc, time::Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use crate::{
    configuration::KakaoSettings,
    domain::AuthorizationCode,
    metrics::{KakaoEndpoint, KakaoOutcome, Metrics},
    providers::api::ProviderError,
};
use circuit::{Circuit, Permit};
use profile::UserMe;

pub mod circuit;
mod profile;
mod provider;

pub use provider::KakaoProvider;

/// Tokens from Kakao's token endpoint. Only the access token is used: we
/// read the profile once and issue our own session.
pub struct KakaoTokens {
    /// Kakao's access token, used once to read the profile.
    pub access_token: SecretString,
    /// Present when OpenID Connect is on; verified by [`crate::kakao_oidc`].
    pub id_token: Option<String>,
}

/// The profile fields we keep, from `/v2/user/me`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KakaoUser {
    /// Kakao's user id.
    pub id: i64,
    /// Nickname; may be empty.
    pub nickname: String,
    /// Profile image URL, unless Kakao's default image.
    pub profile_image_url: Option<String>,
    /// Thumbnail URL, unless Kakao's default image.
    pub thumbnail_image_url: Option<String>,
    /// Only when Kakao says it is valid and verified.
    pub email: Option<String>,
}

/// Talks to Kakao. Cheap to share: holds one connection pool. Every token
/// and user request is timed into `auth_provider_request_duration_seconds`.
pub struct KakaoClient {
    http: reqwest::Client,
    metrics: Arc<Metrics>,
    client_id: String,
    client_secret: Option<SecretString>,
    redirect_uri: String,
    authorize_url: Url,
    token_url: Url,
    user_me_url: Url,
    circuit: Circuit,
}

/// `path` under `base`, keeping the base's own path (the emulator serves
/// Naver under `/naver`, Google under `/google`). Every provider client
/// builds its endpoints with it.
pub(crate) fn endpoint(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!("{}{}", base.path().trim_end_matches('/'), path);
    url.set_path(&joined);
    url
}

impl KakaoClient {
    /// The client for `settings`, calling through `http` (the providers'
    /// shared pool) and recording into `metrics`.
    pub fn new(settings: &KakaoSettings, http: reqwest::Client, metrics: Arc<Metrics>) -> Self {
        KakaoClient {
            http,
            metrics,
            client_id: settings.client_id.clone(),
            client_secret: settings.client_secret.clone(),
            redirect_uri: settings.redirect_uri.to_string(),
            authorize_url: endpoint(&settings.browser_auth_base_url, "/oauth/authorize"),
            token_url: endpoint(&settings.auth_base_url, "/oauth/token"),
            user_me_url: endpoint(&settings.api_base_url, "/v2/user/me"),
            circuit: Circuit::new(settings.circuit_open),
        }
    }

    /// The authorize URL for one login attempt.
    pub fn authorize_url(&self, params: &AuthorizeParams<'_>) -> Url {
        let mut url = self.authorize_url.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &self.client_id)
                .append_pair("redirect_uri", &self.redirect_uri)
                .append_pair("response_type", "code")
                .append_pair("state", params.state)
                .append_pair("nonce", params.nonce)
                .append_pair("code_challenge", params.code_challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(scope) = params.scope {
                q.append_pair("scope", scope);
            }
            if let Some(prompt) = params.prompt {
                q.append_pair("prompt", prompt);
            }
        }
        url
    }

    /// The configured client id (the id_token's expected `aud`).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The shared connection pool (the JWKS is fetched through it too).
    pub fn http_client(&self) -> reqwest::Client {
        self.http.clone()
    }

    /// Exchanges an authorization code (with its PKCE verifier) for tokens.
    pub async fn exchange_code(
        &self,
        code: &AuthorizationCode,
        verifier: &str,
    ) -> Result<KakaoTokens, ProviderError> {
        let permit = self.permit()?;
        let started = Instant::now();
        let result = self.request_tokens(permit, code, verifier).await;
        self.metrics
            .kakao_request(KakaoEndpoint::Token, outcome(&result), started.elapsed());
        result
    }

    /// Reads the user's profile with a Kakao access token.
    pub async fn fetch_user(
        &self,
        access_token: &SecretString,
    ) -> Result<KakaoUser, ProviderError> {
        let permit = self.permit()?;
        let started = Instant::now();
        let result = self.request_user_me(permit, access_token).await;
        self.metrics
            .kakao_request(KakaoEndpoint::UserMe, outcome(&result), started.elapsed());
        result
    }

    /// Leave to call Kakao, unless the circuit is open.
    fn permit(&self) -> Result<Permit<'_>, ProviderError> {
        self.circuit
            .permit(Instant::now())
            .map_err(|_| ProviderError::Unavailable("circuit open".into()))
    }

    /// Sends `request` and reads the answer, telling the circuit whether
    /// Kakao was down (no answer in time, or a 5xx).
    async fn send(
        &self,
        permit: Permit<'_>,
        request: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), ProviderError> {
        let answer = async {
            let response = request.send().await?;
            let status = response.status();
            Ok((status, response.bytes().await?.to_vec()))
        }
        .await
        .map_err(transport_error);
        let outage = answer.as_ref().map_or(true, |(s, _)| s.is_server_error());
        permit.finish(outage, Instant::now());
        answer
    }

    async fn request_tokens(
        &self,
        permit: Permit<'_>,
        code: &AuthorizationCode,
        verifier: &str,
    ) -> Result<KakaoTokens, ProviderError> {
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("code", code.expose()),
            ("code_verifier", verifier),
        ];
        if let Some(secret) = &self.client_secret {
            form.push(("client_secret", secret.expose_secret()));
        }
        let request = self
            .http
            .post(self.token_url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form);
        let (status, body) = self.send(permit, request).await?;
        if status.is_success() {
            return read_tokens(&body);
        }
        Err(token_error(status, &body))
    }

    async fn request_user_me(
        &self,
        permit: Permit<'_>,
        access_token: &SecretString,
    ) -> Result<KakaoUser, ProviderError> {
        let request = self
            .http
            .get(self.user_me_url.clone())
            .query(&[("secure_resource", "true")])
            .bearer_auth(access_token.expose_secret());
        let (status, body) = self.send(permit, request).await?;
        if status.is_success() {
            return read_user(&body);
        }
        Err(api_error(status, &body))
    }
}

/// Per-attempt parameters of the authorize URL.
pub struct AuthorizeParams<'a> {
    /// The login state.
    pub state: &'a str,
    /// The OIDC nonce.
    pub nonce: &'a str,
    /// The PKCE S256 challenge.
    pub code_challenge: &'a str,
    /// `KAKAO_SCOPE`, when set.
    pub scope: Option<&'a str>,
    /// `KAKAO_PROMPT`, when set.
    pub prompt: Option<&'a str>,
}

/// The metrics label of a Kakao request's result.
fn outcome<T>(result: &Result<T, ProviderError>) -> KakaoOutcome {
    match result {
        Ok(_) => KakaoOutcome::Ok,
        Err(ProviderError::Rejected(_)) => KakaoOutcome::Rejected,
        Err(ProviderError::Unavailable(_)) => KakaoOutcome::Unavailable,
        Err(ProviderError::Misconfigured(_)) => KakaoOutcome::Misconfigured,
    }
}

fn transport_error(e: reqwest::Error) -> ProviderError {
    let what = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect failed"
    } else {
        "transport error"
    };
    ProviderError::Unavailable(what.into())
}

/// The tokens of a successful token answer (an access token is required).
pub(crate) fn read_tokens(body: &[u8]) -> Result<KakaoTokens, ProviderError> {
    let parsed: TokenResponse = serde_json::from_slice(body)
        .map_err(|_| ProviderError::Unavailable("unreadable token response".into()))?;
    if parsed.access_token.is_empty() {
        return Err(ProviderError::Unavailable(
            "token response without access_token".into(),
        ));
    }
    Ok(KakaoTokens {
        access_token: SecretString::from(parsed.access_token),
        id_token: parsed.id_token,
    })
}

/// The profile of a successful `/v2/user/me` answer.
pub(crate) fn read_user(body: &[u8]) -> Result<KakaoUser, ProviderError> {
    let me: UserMe = serde_json::from_slice(body)
        .map_err(|_| ProviderError::Unavailable("unreadable user response".into()))?;
    Ok(me.into_user())
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    id_token: Option<String>,
}

#[derive(Deserialize, Default)]
struct OAuthError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_code: String,
}

pub(crate) fn token_error(status: reqwest::StatusCode, body: &[u8]) -> ProviderError {
    if status.is_server_error() {
        return ProviderError::Unavailable(format!("token endpoint answered {}", status.as_u16()));
    }
    let e: OAuthError = serde_json::from_slice(body).unwrap_or_default();
    let label = if e.error_code.is_empty() {
        short(&e.error)
    } else {
        short(&e.error_code)
    };
    let label = if label.is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        label
    };
    match (e.error.as_str(), e.error_code.as_str()) {
        (_, "KOE237") | (_, "KOE003") => ProviderError::Unavailable(label),
        ("invalid_client", _)
        | ("misconfigured", _)
        | (_, "KOE010" | "KOE101" | "KOE009" | "KOE008") => ProviderError::Misconfigured(label),
        _ if status == reqwest::StatusCode::TOO_MANY_REQUESTS => ProviderError::Unavailable(label),
        _ => ProviderError::Rejected(label),
    }
}

#[derive(Deserialize, Default)]
struct ApiError {
    #[serde(default)]
    code: i64,
}

pub(crate) fn api_error(status: reqwest::StatusCode, body: &[u8]) -> ProviderError {
    let e: ApiError = serde_json::from_slice(body).unwrap_or_default();
    let label = if e.code != 0 {
        e.code.to_string()
    } else {
        format!("HTTP {}", status.as_u16())
    };
    match e.code {
        -1 | -10 | -603 | -9798 => ProviderError::Unavailable(label),
        _ if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS => {
            ProviderError::Unavailable(label)
        }
        _ => ProviderError::Rejected(label),
    }
}

/// Keeps only a short, safe label (error codes are `KOE320`, `invalid_grant`, ...).
fn short(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(32)
        .collect()
}

#[cfg(test)]
mod tests;
