//! Typed settings read once from the environment (and an optional `.env`).
//!
//! Every variable of SPEC.md's configuration table lives here with its
//! default; a bad value yields a [`ConfigError`] (service-kit's: one line
//! naming the variable, exit code 2).

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use secrecy::SecretString;
use url::Url;

pub use service_kit::ConfigError;

mod providers;
pub use providers::{GoogleSettings, NaverSettings, ProviderHttp};

use crate::{
    domain::{AllowedOrigins, KeyEncryption, KeyEncryptionKey},
    grpc_tls::{AdminClients, GrpcTls},
};

/// How the service talks to Kakao.
#[derive(Debug, Clone)]
pub struct KakaoSettings {
    /// `KAKAO_CLIENT_ID`: the app's REST API key.
    pub client_id: String,
    /// `KAKAO_CLIENT_SECRET`: sent on the token request when set.
    pub client_secret: Option<SecretString>,
    /// `KAKAO_REDIRECT_URI`: the edge's callback, registered at Kakao.
    pub redirect_uri: Url,
    /// `KAKAO_AUTH_BASE_URL`: kauth host (authorize, token).
    pub auth_base_url: Url,
    /// `KAKAO_API_BASE_URL`: kapi host (user/me).
    pub api_base_url: Url,
    /// `KAKAO_ADMIN_KEY`: authenticates Kakao's unlink callback.
    pub admin_key: Option<SecretString>,
    /// `KAKAO_APP_ID`: when set, the unlink callback's `app_id` must match.
    pub app_id: Option<String>,
    /// `KAKAO_BROWSER_AUTH_BASE_URL`: the kauth host as the browser reaches
    /// it, for the authorize URL (default: `KAKAO_AUTH_BASE_URL`). Only
    /// differs when the service reaches Kakao (or the emulator) by another
    /// name, e.g. inside docker compose.
    pub browser_auth_base_url: Url,
    /// `KAKAO_SCOPE`: passed through as `scope` when set. With `openid` in
    /// it, every login requires a verified id_token.
    pub scope: Option<String>,
    /// `KAKAO_PROMPT`: passed through as `prompt` when set.
    pub prompt: Option<String>,
    /// `KAKAO_CONNECT_TIMEOUT` (default 2s).
    pub connect_timeout: Duration,
    /// `KAKAO_TIMEOUT`: whole-request timeout (default 5s).
    pub request_timeout: Duration,
    /// `KAKAO_CIRCUIT_OPEN` (default 15s): how long Kakao calls are refused
    /// at once after it failed five times in a row ([`crate::kakao::circuit`]).
    pub circuit_open: Duration,
}

impl KakaoSettings {
    /// Whether `KAKAO_SCOPE` holds `openid` (items separated by commas or
    /// spaces, as Kakao accepts both).
    pub fn requests_openid(&self) -> bool {
        self.scope.as_deref().is_some_and(|scope| {
            scope
                .split(|c: char| c == ',' || c.is_whitespace())
                .any(|item| item == "openid")
        })
    }
}

/// Everything the auth-service needs to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Kakao client settings; `None` when `KAKAO_CLIENT_ID` is unset (then
    /// another provider must be enabled).
    pub kakao: Option<KakaoSettings>,
    /// Naver client settings; `None` when `NAVER_CLIENT_ID` is unset.
    pub naver: Option<NaverSettings>,
    /// Google client settings; `None` when `GOOGLE_CLIENT_ID` is unset.
    pub google: Option<GoogleSettings>,
    /// `DATABASE_URL` (default: `sqlite://auth.db?mode=rwc` in the working directory).
    pub database_url: SecretString,
    /// `AUTH_GRPC_ADDR` (default `127.0.0.1:50051`).
    pub grpc_addr: SocketAddr,
    /// `METRICS_ADDR` (default `127.0.0.1:9090`): where `GET /metrics` is
    /// served; `off` turns the metrics port off.
    pub metrics_addr: Option<SocketAddr>,
    /// `GRPC_MAX_CONCURRENT` (default 512): RPCs handled at once across all
    /// connections; further calls wait for a slot (within the 30 s timeout).
    pub grpc_max_concurrent: usize,
    /// `DB_PING_INTERVAL` (default 5s): how often readiness pings the database.
    pub db_ping_interval: Duration,
    /// `SWEEP_INTERVAL` (default 60s): how often the sweeper deletes ended
    /// sessions, expired refresh tokens and spent login-state claims.
    pub sweep_interval: Duration,
    /// `FRONTEND_URL`: where logins land when no `return_to` was given.
    pub frontend_url: Url,
    /// `ALLOWED_ORIGINS`: origins `return_to` may point at (default: FRONTEND_URL's).
    pub allowed_origins: AllowedOrigins,
    /// `ACCESS_TOKEN_TTL` (default 15m).
    pub access_token_ttl: Duration,
    /// `REFRESH_TOKEN_TTL` (default 14d): each refresh token's lifetime (sliding).
    pub refresh_token_ttl: Duration,
    /// `SESSION_MAX_LIFETIME` (default 30d): a session family's absolute
    /// lifetime, however often it is refreshed. At least REFRESH_TOKEN_TTL.
    pub session_max_lifetime: Duration,
    /// `REFRESH_REUSE_GRACE` (default 10s, at most [`MAX_REFRESH_REUSE_GRACE`]):
    /// how long a rotated refresh token still returns the pair already
    /// issued (two tabs refreshing at once).
    pub refresh_reuse_grace: Duration,
    /// `LOGIN_ATTEMPT_TTL` (default 10m): how long a started login may take.
    pub login_attempt_ttl: Duration,
    /// `JWT_ISSUER` (default `kakao-login-auth-service`).
    pub jwt_issuer: String,
    /// `JWT_AUDIENCE` (default `kakao-login`).
    pub jwt_audience: String,
    /// `KEY_ENCRYPTION_KEY` (base64 of 32 random bytes): encrypts every
    /// private and sealing key stored in the database. Unset: keys are
    /// stored in the clear (development default; warned at start).
    pub key_encryption: KeyEncryption,
    /// `AUTH_GRPC_TLS_CERT`, `AUTH_GRPC_TLS_KEY`, `AUTH_GRPC_CLIENT_CA`: TLS
    /// on the gRPC port (default: plain HTTP/2).
    pub grpc_tls: Option<GrpcTls>,
    /// `AUTH_GRPC_ADMIN_CLIENTS`: callers (by client certificate name) that
    /// may read any user without a session (default: none).
    pub admin_clients: AdminClients,
    /// `GRPC_REFLECTION` (default `true`): serve gRPC server reflection.
    pub grpc_reflection: bool,
}

/// The longest `REFRESH_REUSE_GRACE`: within the grace a stolen, already
/// rotated refresh token still gets the pair already issued instead of
/// revoking the family, so a long grace would blunt reuse detection.
pub const MAX_REFRESH_REUSE_GRACE: Duration = Duration::from_secs(60);

/// The defaults of SPEC.md's configuration table, shared with tests.
pub mod defaults {
    /// Default `KAKAO_REDIRECT_URI`.
    pub const REDIRECT_URI: &str = "http://localhost:8080/auth/kakao/callback";
    /// Default `KAKAO_AUTH_BASE_URL`.
    pub const AUTH_BASE_URL: &str = "https://kauth.kakao.com";
    /// Default `KAKAO_API_BASE_URL`.
    pub const API_BASE_URL: &str = "https://kapi.kakao.com";
    /// Default `DATABASE_URL`.
    pub const DATABASE_URL: &str = "sqlite://auth.db?mode=rwc";
    /// Default `AUTH_GRPC_ADDR`.
    pub const GRPC_ADDR: &str = "127.0.0.1:50051";
    /// Default `METRICS_ADDR`.
    pub const METRICS_ADDR: &str = "127.0.0.1:9090";
    /// Default `GRPC_MAX_CONCURRENT`.
    pub const GRPC_MAX_CONCURRENT: usize = 512;
    /// Default `FRONTEND_URL`.
    pub const FRONTEND_URL: &str = "http://localhost:8080/";
    /// Default `JWT_ISSUER`.
    pub const JWT_ISSUER: &str = "kakao-login-auth-service";
    /// Default `JWT_AUDIENCE`.
    pub const JWT_AUDIENCE: &str = "kakao-login";
    /// Default `KEY_ACTIVATION_DELAY` (`auth-service keys rotate`): the
    /// edge's JWKS refresh interval plus the `max-age` it sends, plus a
    /// margin (see README, "Signing keys"): 3 minutes.
    pub const KEY_ACTIVATION_DELAY: std::time::Duration = std::time::Duration::from_secs(
        auth_proto::claims::JWKS_REFRESH_SECS
            + auth_proto::claims::JWKS_MAX_AGE_SECS
            + auth_proto::claims::KEY_ACTIVATION_MARGIN_SECS,
    );
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Reads the settings from a map of variables (the environment in
    /// production, a literal map in tests). Empty values count as unset.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let url = |name: &'static str, default: &str| parse_url(name, get(name).unwrap_or(default));
        let ttl =
            |name: &'static str, default: &str| parse_duration(name, get(name).unwrap_or(default));

        let frontend_url = url("FRONTEND_URL", defaults::FRONTEND_URL)?;
        let allowed_origins = match get("ALLOWED_ORIGINS") {
            Some(list) => AllowedOrigins::parse_list(list, &frontend_url),
            None => Ok(AllowedOrigins::of(&frontend_url)),
        }
        .map_err(|reason| err("ALLOWED_ORIGINS", reason))?;
        let grpc_addr = get("AUTH_GRPC_ADDR")
            .unwrap_or(defaults::GRPC_ADDR)
            .parse()
            .map_err(|_| {
                err(
                    "AUTH_GRPC_ADDR",
                    "not a socket address like 127.0.0.1:50051",
                )
            })?;
        let metrics_addr = match get("METRICS_ADDR").unwrap_or(defaults::METRICS_ADDR) {
            "off" => None,
            addr => Some(addr.parse().map_err(|_| {
                err(
                    "METRICS_ADDR",
                    "not a socket address like 127.0.0.1:9090, or off",
                )
            })?),
        };
        let grpc_max_concurrent = match get("GRPC_MAX_CONCURRENT") {
            None => defaults::GRPC_MAX_CONCURRENT,
            Some(n) => n
                .parse()
                .ok()
                .filter(|n| (1..=100_000).contains(n))
                .ok_or_else(|| err("GRPC_MAX_CONCURRENT", "not a number from 1 to 100000"))?,
        };
        let access_token_ttl = ttl("ACCESS_TOKEN_TTL", "15m")?;
        let refresh_token_ttl = ttl("REFRESH_TOKEN_TTL", "14d")?;
        if refresh_token_ttl <= access_token_ttl {
            return Err(err(
                "REFRESH_TOKEN_TTL",
                "must be longer than ACCESS_TOKEN_TTL",
            ));
        }
        let session_max_lifetime = ttl("SESSION_MAX_LIFETIME", "30d")?.max(refresh_token_ttl);
        let refresh_reuse_grace = ttl("REFRESH_REUSE_GRACE", "10s")?;
        if refresh_reuse_grace > MAX_REFRESH_REUSE_GRACE {
            return Err(err("REFRESH_REUSE_GRACE", "must be at most 60s"));
        }
        let issuer = get("JWT_ISSUER").unwrap_or(defaults::JWT_ISSUER).to_owned();
        let audience = get("JWT_AUDIENCE")
            .unwrap_or(defaults::JWT_AUDIENCE)
            .to_owned();

        let http_hosts: Vec<&str> = get("KAKAO_ALLOW_HTTP_HOSTS")
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|h| !h.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let kakao_url = |name: &'static str, default: &str| {
            kakao_url(name, get(name).unwrap_or(default), &http_hosts)
        };
        let http = ProviderHttp {
            connect_timeout: ttl("KAKAO_CONNECT_TIMEOUT", "2s")?,
            request_timeout: ttl("KAKAO_TIMEOUT", "5s")?,
            circuit_open: ttl("KAKAO_CIRCUIT_OPEN", "15s")?,
        };
        let kakao = match get("KAKAO_CLIENT_ID") {
            None => None,
            Some(client_id) => {
                let auth_base_url = kakao_url("KAKAO_AUTH_BASE_URL", defaults::AUTH_BASE_URL)?;
                let browser_auth_base_url = match get("KAKAO_BROWSER_AUTH_BASE_URL") {
                    Some(_) => kakao_url("KAKAO_BROWSER_AUTH_BASE_URL", "")?,
                    None => auth_base_url.clone(),
                };
                Some(KakaoSettings {
                    client_id: client_id.to_owned(),
                    app_id: get("KAKAO_APP_ID").map(str::to_owned),
                    browser_auth_base_url,
                    client_secret: get("KAKAO_CLIENT_SECRET").map(SecretString::from),
                    redirect_uri: url("KAKAO_REDIRECT_URI", defaults::REDIRECT_URI)?,
                    auth_base_url,
                    api_base_url: kakao_url("KAKAO_API_BASE_URL", defaults::API_BASE_URL)?,
                    admin_key: get("KAKAO_ADMIN_KEY").map(SecretString::from),
                    scope: get("KAKAO_SCOPE").map(str::to_owned),
                    prompt: get("KAKAO_PROMPT").map(str::to_owned),
                    connect_timeout: http.connect_timeout,
                    request_timeout: http.request_timeout,
                    circuit_open: http.circuit_open,
                })
            }
        };
        let provider_url =
            |name: &'static str, value: &str| self::kakao_url(name, value, &http_hosts);
        let redirect = |name: &'static str, value: &str| parse_url(name, value);
        let naver = NaverSettings::read(&get, &provider_url, &redirect, http)?;
        let google = GoogleSettings::read(&get, &provider_url, &redirect, http)?;
        if kakao.is_none() && naver.is_none() && google.is_none() {
            return Err(err(
                "KAKAO_CLIENT_ID",
                "required (the REST API key of your Kakao app), unless NAVER_CLIENT_ID or GOOGLE_CLIENT_ID is set",
            ));
        }

        let grpc_tls = GrpcTls::from_vars(get)?;
        let admin_clients = AdminClients::parse(
            get("AUTH_GRPC_ADMIN_CLIENTS"),
            grpc_tls
                .as_ref()
                .is_some_and(GrpcTls::requires_client_certificates),
        )?;
        let grpc_reflection = match get("GRPC_REFLECTION") {
            None | Some("true") => true,
            Some("false") => false,
            Some(_) => return Err(err("GRPC_REFLECTION", "expected true or false")),
        };

        Ok(Settings {
            kakao,
            naver,
            google,
            database_url: SecretString::from(get("DATABASE_URL").unwrap_or(defaults::DATABASE_URL)),
            grpc_addr,
            metrics_addr,
            grpc_max_concurrent,
            db_ping_interval: ttl("DB_PING_INTERVAL", "5s")?,
            sweep_interval: ttl("SWEEP_INTERVAL", "60s")?,
            frontend_url,
            allowed_origins,
            access_token_ttl,
            refresh_token_ttl,
            session_max_lifetime,
            refresh_reuse_grace,
            login_attempt_ttl: ttl("LOGIN_ATTEMPT_TTL", "10m")?,
            jwt_issuer: issuer,
            jwt_audience: audience,
            key_encryption: KeyEncryption::new(key_encryption_key(vars, "KEY_ENCRYPTION_KEY")?),
            grpc_tls,
            admin_clients,
            grpc_reflection,
        })
    }
}

/// The key-encryption key in `variable` (`KEY_ENCRYPTION_KEY`, or
/// `OLD_KEY_ENCRYPTION_KEY` for `keys rewrap`); `None` when unset.
pub fn key_encryption_key(
    vars: &HashMap<String, String>,
    variable: &'static str,
) -> Result<Option<KeyEncryptionKey>, ConfigError> {
    match vars
        .get(variable)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
    {
        None => Ok(None),
        Some(value) => KeyEncryptionKey::parse(value).map(Some).ok_or_else(|| {
            err(
                variable,
                "not the base64 of 32 bytes (make one with `openssl rand -base64 32`)",
            )
        }),
    }
}

/// `KEY_ACTIVATION_DELAY` (default 3m; `0s` activates at once): how long
/// after `keys rotate` the new key starts signing. Until then it is only
/// published, so every JWKS cache has it before any token names it.
pub fn key_activation_delay(vars: &HashMap<String, String>) -> Result<Duration, ConfigError> {
    match vars
        .get("KEY_ACTIVATION_DELAY")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
    {
        None => Ok(defaults::KEY_ACTIVATION_DELAY),
        Some(value) => humantime::parse_duration(value)
            .map_err(|_| err("KEY_ACTIVATION_DELAY", "not a duration like 3m, 90s or 0s")),
    }
}

fn err(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::new(variable, problem)
}

fn parse_url(variable: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|_| err(variable, "not an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(err(variable, "must be an http(s) URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err(variable, "must not contain credentials"));
    }
    Ok(url)
}

/// A provider base URL (Kakao's, Naver's, Google's): https, or plain http
/// only to a loopback host (the emulator on this machine) or a host named
/// in `KAKAO_ALLOW_HTTP_HOSTS` (the emulator on a compose network). Codes,
/// tokens and the id_token's keys travel over these URLs.
fn kakao_url(variable: &'static str, value: &str, http_hosts: &[&str]) -> Result<Url, ConfigError> {
    let url = parse_url(variable, value)?;
    let loopback = match url.host() {
        Some(url::Host::Domain(domain)) => {
            domain.eq_ignore_ascii_case("localhost") || http_hosts.contains(&domain)
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if url.scheme() != "https" && !loopback {
        return Err(err(
            variable,
            "must be https (plain http only to a loopback host or one in KAKAO_ALLOW_HTTP_HOSTS)",
        ));
    }
    Ok(url)
}

fn parse_duration(variable: &'static str, value: &str) -> Result<Duration, ConfigError> {
    match humantime::parse_duration(value) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(err(
            variable,
            "not a positive duration like 15m, 14d or 30s",
        )),
    }
}

#[cfg(test)]
mod tests;
