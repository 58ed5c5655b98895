//! Typed settings read from the environment (an optional `.env` is loaded
//! first by [`service_kit::start`]). Every value is parsed here, once, so a
//! bad value stops the process at start with one line naming the variable
//! ([`ConfigError`], exit code 2). The log format is service-kit's.

use std::net::SocketAddr;

use ipnet::IpNet;
use service_kit::ConfigError;
use url::Url;

use crate::service_tls::AuthServiceTls;

/// The edge's configuration. All fields are public so tests can build one
/// directly.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `EDGE_ADDR`: where the edge listens (default `127.0.0.1:8080`).
    pub addr: SocketAddr,
    /// `AUTH_SERVICE_URL`: the auth-service's gRPC endpoint
    /// (default `http://127.0.0.1:50051`; `https://` for TLS).
    pub auth_service_url: String,
    /// `AUTH_SERVICE_CA`, `AUTH_SERVICE_CLIENT_CERT`,
    /// `AUTH_SERVICE_CLIENT_KEY`: TLS to an `https://` auth-service.
    pub auth_service_tls: Option<AuthServiceTls>,
    /// `FRONTEND_URL`: where logins land (default `http://localhost:8080/`).
    pub frontend_url: Url,
    /// `FRONTEND_ERROR_URL`: the frontend's error route; gets `?error=<code>`
    /// (default: `FRONTEND_URL`).
    pub frontend_error_url: Url,
    /// `ALLOWED_ORIGINS`: comma-separated origins (`https://app.example.com`)
    /// allowed for CORS with credentials and for POSTs (default: the origin
    /// of `FRONTEND_URL`). Stored in serialized origin form (lower case, no
    /// default port, no trailing slash).
    pub allowed_origins: Vec<String>,
    /// `COOKIE_DOMAIN`: the `Domain` attribute of every cookie (default unset:
    /// host-only cookies).
    pub cookie_domain: Option<String>,
    /// `JWT_ISSUER` (default `kakao-login-auth-service`).
    pub jwt_issuer: String,
    /// `JWT_AUDIENCE` (default `kakao-login`).
    pub jwt_audience: String,
    /// `DEMO_PAGE`: serve the demo page at `/` (default `true`).
    pub demo_page: bool,
    /// `LOGIN_RATE_LIMIT`, `CALLBACK_RATE_LIMIT`, `TRUSTED_PROXIES`.
    pub rate_limits: RateLimitSettings,
}

/// How many logins one client address may start, and how many callbacks it
/// may send, per minute on this replica ([`crate::rate_limits`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// `LOGIN_RATE_LIMIT`: `GET /auth/{provider}/login` and `/link` per
    /// client per minute, all providers together
    /// (default 120; 0 turns the limit off).
    pub login_per_minute: u16,
    /// `CALLBACK_RATE_LIMIT`: `GET /auth/{provider}/callback` carrying a
    /// code and a state (each may cost one call to the provider's token
    /// endpoint) per client
    /// per minute (default 60; 0 turns the limit off).
    pub callback_per_minute: u16,
    /// `TRUSTED_PROXIES`: comma-separated addresses or CIDR blocks of the
    /// proxies whose `X-Forwarded-For` is believed (default none: the client
    /// is the peer address).
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            login_per_minute: 120,
            callback_per_minute: 60,
            trusted_proxies: Vec::new(),
        }
    }
}

impl RateLimitSettings {
    /// No limit at all (the benchmark and tests that log in many times from
    /// one address).
    pub fn off() -> Self {
        RateLimitSettings {
            login_per_minute: 0,
            callback_per_minute: 0,
            trusted_proxies: Vec::new(),
        }
    }
}

const DEFAULT_ADDR: &str = "127.0.0.1:8080";
const DEFAULT_AUTH_SERVICE_URL: &str = "http://127.0.0.1:50051";
const DEFAULT_FRONTEND_URL: &str = "http://localhost:8080/";
const DEFAULT_JWT_ISSUER: &str = "kakao-login-auth-service";
const DEFAULT_JWT_AUDIENCE: &str = "kakao-login";

impl Settings {
    /// Reads the settings from the process environment. An empty variable
    /// counts as unset.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (a variable name to its value), so
    /// parsing can be tested without touching the process environment.
    pub(crate) fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let addr = var("EDGE_ADDR")
            .as_deref()
            .unwrap_or(DEFAULT_ADDR)
            .parse()
            .map_err(|_| ConfigError::new("EDGE_ADDR", "not a socket address (host:port)"))?;
        let auth_service_url = var("AUTH_SERVICE_URL").unwrap_or(DEFAULT_AUTH_SERVICE_URL.into());
        let auth_service_tls = AuthServiceTls::from_vars(
            &var,
            parse_http_url(&auth_service_url, "AUTH_SERVICE_URL")?.scheme() == "https",
        )?;
        let frontend_url = parse_http_url(
            var("FRONTEND_URL")
                .as_deref()
                .unwrap_or(DEFAULT_FRONTEND_URL),
            "FRONTEND_URL",
        )?;
        let frontend_error_url = match var("FRONTEND_ERROR_URL") {
            Some(v) => parse_http_url(&v, "FRONTEND_ERROR_URL")?,
            None => frontend_url.clone(),
        };
        let allowed_origins = match var("ALLOWED_ORIGINS") {
            Some(v) => parse_origins(&v)?,
            None => vec![frontend_url.origin().ascii_serialization()],
        };
        let cookie_domain = var("COOKIE_DOMAIN")
            .map(|d| parse_cookie_domain(&d))
            .transpose()?;
        let demo_page = match var("DEMO_PAGE") {
            Some(v) => parse_bool(&v)
                .ok_or_else(|| ConfigError::new("DEMO_PAGE", "expected true or false"))?,
            None => true,
        };
        let defaults = RateLimitSettings::default();
        let rate_limits = RateLimitSettings {
            login_per_minute: match var("LOGIN_RATE_LIMIT") {
                Some(v) => parse_per_minute(&v, "LOGIN_RATE_LIMIT")?,
                None => defaults.login_per_minute,
            },
            callback_per_minute: match var("CALLBACK_RATE_LIMIT") {
                Some(v) => parse_per_minute(&v, "CALLBACK_RATE_LIMIT")?,
                None => defaults.callback_per_minute,
            },
            trusted_proxies: match var("TRUSTED_PROXIES") {
                Some(v) => parse_trusted_proxies(&v)?,
                None => defaults.trusted_proxies,
            },
        };

        Ok(Settings {
            addr,
            auth_service_url,
            auth_service_tls,
            frontend_url,
            frontend_error_url,
            allowed_origins,
            cookie_domain,
            jwt_issuer: var("JWT_ISSUER").unwrap_or(DEFAULT_JWT_ISSUER.into()),
            jwt_audience: var("JWT_AUDIENCE").unwrap_or(DEFAULT_JWT_AUDIENCE.into()),
            demo_page,
            rate_limits,
        })
    }
}

/// The most a per-minute limit may be set to.
const MAX_PER_MINUTE: u16 = 10_000;

fn parse_per_minute(value: &str, variable: &'static str) -> Result<u16, ConfigError> {
    value
        .parse()
        .ok()
        .filter(|n| *n <= MAX_PER_MINUTE)
        .ok_or_else(|| {
            ConfigError::new(
                variable,
                "expected a count per minute from 0 (off) to 10000",
            )
        })
}

fn parse_trusted_proxies(value: &str) -> Result<Vec<IpNet>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(IpNet::from))
                .map(|net| net.trunc())
                .map_err(|_| {
                    ConfigError::new(
                        "TRUSTED_PROXIES",
                        "expected a comma-separated list of addresses or CIDR blocks",
                    )
                })
        })
        .collect()
}

/// `EDGE_WORKER_THREADS`: the threads of the edge's runtime; `None` (unset)
/// is one per core, tokio's default. Read apart from [`Settings`], before
/// the runtime exists.
///
/// One thread spends somewhat less CPU per login (the request task, tonic's
/// buffer worker and the h2 connection task wake each other without
/// crossing threads) but, on a machine shared with the auth-service, a
/// descheduled single worker stalls every request: the p99 of logins
/// doubled in the benchmark. Hence one per core unless told otherwise.
pub fn worker_threads_from_env() -> Result<Option<usize>, ConfigError> {
    parse_worker_threads(std::env::var("EDGE_WORKER_THREADS").ok().as_deref())
}

fn parse_worker_threads(value: Option<&str>) -> Result<Option<usize>, ConfigError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=1024).contains(n))
            .map(Some)
            .ok_or_else(|| ConfigError::new("EDGE_WORKER_THREADS", "expected 1 to 1024")),
    }
}

fn parse_http_url(value: &str, variable: &'static str) -> Result<Url, ConfigError> {
    let url = Url::parse(value)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .filter(|u| u.username().is_empty() && u.password().is_none());
    url.ok_or_else(|| ConfigError::new(variable, "not an absolute http(s) URL"))
}

fn parse_origins(value: &str) -> Result<Vec<String>, ConfigError> {
    const PROBLEM: &str = "expected a comma-separated list of http(s) origins with no path";
    let origins = value
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| {
            let url = parse_http_url(o, "ALLOWED_ORIGINS")
                .map_err(|_| ConfigError::new("ALLOWED_ORIGINS", PROBLEM))?;
            let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
            if bare {
                Ok(url.origin().ascii_serialization())
            } else {
                Err(ConfigError::new("ALLOWED_ORIGINS", PROBLEM))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    if origins.is_empty() {
        return Err(ConfigError::new("ALLOWED_ORIGINS", PROBLEM));
    }
    Ok(origins)
}

fn parse_cookie_domain(value: &str) -> Result<String, ConfigError> {
    let domain = value.strip_prefix('.').unwrap_or(value);
    let valid = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if valid {
        Ok(domain.to_ascii_lowercase())
    } else {
        Err(ConfigError::new("COOKIE_DOMAIN", "not a domain name"))
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Settings for the crate's unit tests: a frontend at
/// `https://app.example.com` and an auth-service URL where nothing listens,
/// so every call fails at once as `unavailable`.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn for_tests(demo_page: bool) -> Settings {
    Settings {
        addr: "127.0.0.1:0".parse().expect("a socket address"),
        auth_service_url: "http://127.0.0.1:1".into(),
        auth_service_tls: None,
        frontend_url: Url::parse("https://app.example.com/").expect("a URL"),
        frontend_error_url: Url::parse("https://app.example.com/error").expect("a URL"),
        allowed_origins: vec!["https://app.example.com".into()],
        cookie_domain: None,
        jwt_issuer: "i".into(),
        jwt_audience: "a".into(),
        demo_page,
        rate_limits: RateLimitSettings::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(s.auth_service_url, "http://127.0.0.1:50051");
        assert_eq!(s.frontend_url.as_str(), "http://localhost:8080/");
        assert_eq!(s.frontend_error_url, s.frontend_url);
        assert_eq!(s.allowed_origins, vec!["http://localhost:8080".to_owned()]);
        assert_eq!(s.cookie_domain, None);
        assert_eq!(s.jwt_issuer, "kakao-login-auth-service");
        assert_eq!(s.jwt_audience, "kakao-login");
        assert!(s.demo_page);
        assert_eq!(s.rate_limits, RateLimitSettings::default());
        assert_eq!(s.rate_limits.login_per_minute, 120);
        assert_eq!(s.rate_limits.callback_per_minute, 60);
        assert!(s.rate_limits.trusted_proxies.is_empty());
    }

    #[test]
    fn rate_limits_and_trusted_proxies_are_read() {
        let s = settings(&[
            ("LOGIN_RATE_LIMIT", "0"),
            ("CALLBACK_RATE_LIMIT", "10000"),
            ("TRUSTED_PROXIES", " 10.0.0.0/8, 192.168.1.7 ,fd00::1:2/64,"),
        ])
        .unwrap();
        assert_eq!(s.rate_limits.login_per_minute, 0);
        assert_eq!(s.rate_limits.callback_per_minute, 10_000);
        let proxies: Vec<String> = s
            .rate_limits
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(proxies, ["10.0.0.0/8", "192.168.1.7/32", "fd00::/64"]);
    }

    #[test]
    fn worker_threads_default_to_one_per_core_and_must_be_a_small_count() {
        assert_eq!(parse_worker_threads(None), Ok(None));
        assert_eq!(parse_worker_threads(Some(" ")), Ok(None));
        assert_eq!(parse_worker_threads(Some("4")), Ok(Some(4)));
        for bad in ["0", "-1", "two", "5000"] {
            let err = parse_worker_threads(Some(bad)).unwrap_err();
            assert_eq!(err.variable, "EDGE_WORKER_THREADS", "{bad}");
        }
    }

    #[test]
    fn empty_values_count_as_unset() {
        let s = settings(&[
            ("FRONTEND_URL", ""),
            ("COOKIE_DOMAIN", " "),
            ("ALLOWED_ORIGINS", ""),
        ])
        .unwrap();
        assert_eq!(s.frontend_url.as_str(), "http://localhost:8080/");
        assert_eq!(s.cookie_domain, None);
    }

    #[test]
    fn a_bad_frontend_url_names_the_variable_in_one_line() {
        for bad in [
            "not a url",
            "/relative",
            "ftp://example.com/",
            "https://user:pw@example.com/",
        ] {
            let err = settings(&[("FRONTEND_URL", bad)]).unwrap_err();
            assert_eq!(err.to_string(), "FRONTEND_URL: not an absolute http(s) URL");
        }
    }

    #[test]
    fn other_bad_values_name_their_variable() {
        let cases = [
            ("EDGE_ADDR", "localhost"),
            ("AUTH_SERVICE_URL", "127.0.0.1:50051"),
            ("FRONTEND_ERROR_URL", "nope"),
            ("ALLOWED_ORIGINS", "https://app.example.com/path"),
            ("COOKIE_DOMAIN", "exa mple.com"),
            ("DEMO_PAGE", "maybe"),
            ("LOGIN_RATE_LIMIT", "-1"),
            ("LOGIN_RATE_LIMIT", "lots"),
            ("CALLBACK_RATE_LIMIT", "10001"),
            ("TRUSTED_PROXIES", "10.0.0.0/33"),
            ("TRUSTED_PROXIES", "proxy.example.com"),
        ];
        for (variable, value) in cases {
            let err = settings(&[(variable, value)]).unwrap_err();
            assert_eq!(err.variable, variable);
            assert!(err.to_string().starts_with(&format!("{variable}: ")));
            assert!(!err.to_string().contains('\n'));
        }
    }

    #[test]
    fn allowed_origins_default_to_the_frontend_origin() {
        let s = settings(&[("FRONTEND_URL", "https://app.example.com:443/welcome")]).unwrap();
        assert_eq!(
            s.allowed_origins,
            vec!["https://app.example.com".to_owned()]
        );
    }

    #[test]
    fn allowed_origins_are_parsed_and_normalized() {
        let s = settings(&[(
            "ALLOWED_ORIGINS",
            " https://App.Example.com , http://localhost:3000/,https://b.example.com:8443",
        )])
        .unwrap();
        assert_eq!(
            s.allowed_origins,
            vec![
                "https://app.example.com".to_owned(),
                "http://localhost:3000".to_owned(),
                "https://b.example.com:8443".to_owned(),
            ]
        );
    }

    #[test]
    fn allowed_origins_refuse_anything_but_bare_origins() {
        for bad in [
            "https://a.example.com/app",
            "https://a.example.com?x=1",
            "https://a.example.com#x",
            "*",
            "null",
            "javascript:alert(1)",
            "a.example.com",
            ",",
        ] {
            let err = settings(&[("ALLOWED_ORIGINS", bad)]).unwrap_err();
            assert_eq!(err.variable, "ALLOWED_ORIGINS", "{bad}");
        }
    }

    #[test]
    fn the_error_url_cookie_domain_and_demo_flag_are_read() {
        let s = settings(&[
            (
                "FRONTEND_ERROR_URL",
                "https://app.example.com/login/error?lang=ko",
            ),
            ("COOKIE_DOMAIN", ".Example.com"),
            ("DEMO_PAGE", "false"),
        ])
        .unwrap();
        assert_eq!(
            s.frontend_error_url.as_str(),
            "https://app.example.com/login/error?lang=ko"
        );
        assert_eq!(s.cookie_domain.as_deref(), Some("example.com"));
        assert!(!s.demo_page);
    }
}
