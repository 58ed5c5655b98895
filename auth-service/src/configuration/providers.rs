//! The identity providers' settings: Naver's and Google's (Kakao's are
//! [`super::KakaoSettings`]), and what every provider client shares
//! ([`ProviderHttp`]). A provider is enabled when its client id is set.

use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::ConfigError;

/// How every provider client talks over HTTP: `KAKAO_CONNECT_TIMEOUT`,
/// `KAKAO_TIMEOUT` and `KAKAO_CIRCUIT_OPEN` apply to Naver and Google too
/// (one set of knobs; the names predate the other providers).
#[derive(Debug, Clone, Copy)]
pub struct ProviderHttp {
    /// Connect timeout (default 2s).
    pub connect_timeout: Duration,
    /// Whole-request timeout (default 5s).
    pub request_timeout: Duration,
    /// How long calls are refused at once after five failures in a row
    /// (default 15s).
    pub circuit_open: Duration,
}

/// Naver Login (the classic OAuth 2.0 flow: no PKCE, a required client
/// secret, errors inside HTTP 200 answers).
#[derive(Debug, Clone)]
pub struct NaverSettings {
    /// `NAVER_CLIENT_ID`: enables Naver.
    pub client_id: String,
    /// `NAVER_CLIENT_SECRET`: required when Naver is enabled.
    pub client_secret: SecretString,
    /// `NAVER_REDIRECT_URI` (default `http://localhost:8080/auth/naver/callback`).
    pub redirect_uri: Url,
    /// `NAVER_AUTH_BASE_URL` (default `https://nid.naver.com`): authorize,
    /// token and revoke, under `/oauth2.0/`. The browser is sent here too.
    pub auth_base_url: Url,
    /// `NAVER_API_BASE_URL` (default `https://openapi.naver.com`): the
    /// profile, `/v1/nid/me`.
    pub api_base_url: Url,
    /// Timeouts and circuit breaker.
    pub http: ProviderHttp,
}

/// Google (OpenID Connect: PKCE S256, nonce, RS256 id_token).
#[derive(Debug, Clone)]
pub struct GoogleSettings {
    /// `GOOGLE_CLIENT_ID`: enables Google; the id_token's required `aud`.
    pub client_id: String,
    /// `GOOGLE_CLIENT_SECRET`: required when Google is enabled.
    pub client_secret: SecretString,
    /// `GOOGLE_REDIRECT_URI` (default `http://localhost:8080/auth/google/callback`).
    pub redirect_uri: Url,
    /// `GOOGLE_ISSUER` (default `https://accounts.google.com`): the
    /// discovery base (`/.well-known/openid-configuration` under it) and
    /// the id_token's `iss` (also accepted without its scheme, as Google
    /// sends either).
    pub issuer: Url,
    /// Timeouts and circuit breaker.
    pub http: ProviderHttp,
}

/// Defaults of the providers' variables.
pub mod defaults {
    /// Default `NAVER_REDIRECT_URI`.
    pub const NAVER_REDIRECT_URI: &str = "http://localhost:8080/auth/naver/callback";
    /// Default `NAVER_AUTH_BASE_URL`.
    pub const NAVER_AUTH_BASE_URL: &str = "https://nid.naver.com";
    /// Default `NAVER_API_BASE_URL`.
    pub const NAVER_API_BASE_URL: &str = "https://openapi.naver.com";
    /// Default `GOOGLE_REDIRECT_URI`.
    pub const GOOGLE_REDIRECT_URI: &str = "http://localhost:8080/auth/google/callback";
    /// Default `GOOGLE_ISSUER`.
    pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
}

/// Reads a variable (trimmed; empty counts as unset).
pub(super) type Get<'a> = &'a dyn Fn(&str) -> Option<&'a str>;
/// Parses a provider URL variable (https, or http to an allowed host).
pub(super) type ProviderUrl<'a> = &'a dyn Fn(&'static str, &str) -> Result<Url, ConfigError>;

impl NaverSettings {
    /// Naver's settings, `None` when `NAVER_CLIENT_ID` is unset.
    pub(super) fn read(
        get: Get<'_>,
        provider_url: ProviderUrl<'_>,
        redirect: ProviderUrl<'_>,
        http: ProviderHttp,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(client_id) = get("NAVER_CLIENT_ID") else {
            return Ok(None);
        };
        let client_secret = get("NAVER_CLIENT_SECRET").ok_or_else(|| {
            ConfigError::new(
                "NAVER_CLIENT_SECRET",
                "required when NAVER_CLIENT_ID is set (the Client Secret of your Naver app)",
            )
        })?;
        let var =
            |name: &'static str, default: &str| provider_url(name, get(name).unwrap_or(default));
        Ok(Some(NaverSettings {
            client_id: client_id.to_owned(),
            client_secret: SecretString::from(client_secret),
            redirect_uri: redirect(
                "NAVER_REDIRECT_URI",
                get("NAVER_REDIRECT_URI").unwrap_or(defaults::NAVER_REDIRECT_URI),
            )?,
            auth_base_url: var("NAVER_AUTH_BASE_URL", defaults::NAVER_AUTH_BASE_URL)?,
            api_base_url: var("NAVER_API_BASE_URL", defaults::NAVER_API_BASE_URL)?,
            http,
        }))
    }
}

impl GoogleSettings {
    /// Google's settings, `None` when `GOOGLE_CLIENT_ID` is unset.
    pub(super) fn read(
        get: Get<'_>,
        provider_url: ProviderUrl<'_>,
        redirect: ProviderUrl<'_>,
        http: ProviderHttp,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(client_id) = get("GOOGLE_CLIENT_ID") else {
            return Ok(None);
        };
        let client_secret = get("GOOGLE_CLIENT_SECRET").ok_or_else(|| {
            ConfigError::new(
                "GOOGLE_CLIENT_SECRET",
                "required when GOOGLE_CLIENT_ID is set (the OAuth client secret from Google Cloud)",
            )
        })?;
        Ok(Some(GoogleSettings {
            client_id: client_id.to_owned(),
            client_secret: SecretString::from(client_secret),
            redirect_uri: redirect(
                "GOOGLE_REDIRECT_URI",
                get("GOOGLE_REDIRECT_URI").unwrap_or(defaults::GOOGLE_REDIRECT_URI),
            )?,
            issuer: provider_url(
                "GOOGLE_ISSUER",
                get("GOOGLE_ISSUER").unwrap_or(defaults::GOOGLE_ISSUER),
            )?,
            http,
        }))
    }
}
