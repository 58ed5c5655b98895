//! Runs the Kakao emulator for the demo stack, configured from the environment:
//! `EMULATOR_ADDR` (default `127.0.0.1:8081`), `KAKAO_CLIENT_ID` (default
//! `demo-rest-api-key`), `KAKAO_CLIENT_SECRET`, `KAKAO_ADMIN_KEY` (optional;
//! empty means unset), `EMULATOR_REDIRECT_URIS` (comma list, default
//! `http://localhost:8080/auth/kakao/callback`) and `EMULATOR_FAST` (`1`
//! turns on the load generators' fast mode, see `kakao_emulator::fast`;
//! unset, empty or `0` leaves it off). Naver (under `/naver`):
//! `NAVER_CLIENT_ID` (default `DemoNaverClientId`), `NAVER_CLIENT_SECRET`
//! (default `DemoNaverClientSecret`), `EMULATOR_NAVER_REDIRECT_URIS` (default
//! `http://localhost:8080/auth/naver/callback`). Google (under `/google`):
//! `GOOGLE_CLIENT_ID` (default `demo-google-client.apps.googleusercontent.com`),
//! `GOOGLE_CLIENT_SECRET` (default `GOCSPX-demo-google-secret`),
//! `EMULATOR_GOOGLE_REDIRECT_URIS` (default
//! `http://localhost:8080/auth/google/callback`), `EMULATOR_GOOGLE_ISSUER`
//! (default: `http://{Host}/google` as each request reached it). A bad
//! value exits with code 2.

use std::net::SocketAddr;
use std::process::ExitCode;

use kakao_emulator::{EmulatorConfig, GoogleConfig, NaverConfig, OAuthApp};
use service_kit::ConfigError;

const PROGRAM: &str = "kakao-emulator";
const DEFAULT_ADDR: &str = "127.0.0.1:8081";
const DEFAULT_REDIRECT_URIS: &str = "http://localhost:8080/auth/kakao/callback";
const DEFAULT_NAVER_REDIRECT_URIS: &str = "http://localhost:8080/auth/naver/callback";
const DEFAULT_GOOGLE_REDIRECT_URIS: &str = "http://localhost:8080/auth/google/callback";

type Var<'a> = &'a dyn Fn(&'static str) -> Result<Option<String>, ConfigError>;

/// A comma list of absolute http(s) URLs from `name`, or `default`.
fn uri_list(var: Var<'_>, name: &'static str, default: &str) -> Result<Vec<String>, ConfigError> {
    var(name)?
        .unwrap_or_else(|| default.to_owned())
        .split(',')
        .map(str::trim)
        .filter(|uri| !uri.is_empty())
        .map(|uri| match url::Url::parse(uri) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(uri.to_owned()),
            _ => Err(ConfigError::new(
                name,
                "expected comma-separated absolute http(s) URLs",
            )),
        })
        .collect()
}

/// `name`, or `default` when unset; empty is refused.
fn non_empty(var: Var<'_>, name: &'static str, default: &str) -> Result<String, ConfigError> {
    let value = var(name)?.unwrap_or_else(|| default.to_owned());
    if value.trim().is_empty() {
        return Err(ConfigError::new(name, "must not be empty"));
    }
    Ok(value)
}

/// One app of Naver or Google from `{id, secret, redirect URIs}` variables.
fn app(
    var: Var<'_>,
    [id, secret, uris]: [&'static str; 3],
    defaults: OAuthApp,
    default_uris: &str,
) -> Result<OAuthApp, ConfigError> {
    Ok(OAuthApp {
        client_id: non_empty(var, id, &defaults.client_id)?,
        client_secret: non_empty(var, secret, &defaults.client_secret)?,
        redirect_uris: uri_list(var, uris, default_uris)?,
    })
}

fn naver(var: Var<'_>) -> Result<NaverConfig, ConfigError> {
    let defaults = NaverConfig::default();
    let first = defaults.apps.first().cloned();
    let app = app(
        var,
        [
            "NAVER_CLIENT_ID",
            "NAVER_CLIENT_SECRET",
            "EMULATOR_NAVER_REDIRECT_URIS",
        ],
        first.unwrap_or_else(|| OAuthApp::new("", "", &[])),
        DEFAULT_NAVER_REDIRECT_URIS,
    )?;
    Ok(NaverConfig {
        apps: vec![app],
        ..defaults
    })
}

fn google(var: Var<'_>) -> Result<GoogleConfig, ConfigError> {
    let defaults = GoogleConfig::default();
    let first = defaults.apps.first().cloned();
    let app = app(
        var,
        [
            "GOOGLE_CLIENT_ID",
            "GOOGLE_CLIENT_SECRET",
            "EMULATOR_GOOGLE_REDIRECT_URIS",
        ],
        first.unwrap_or_else(|| OAuthApp::new("", "", &[])),
        DEFAULT_GOOGLE_REDIRECT_URIS,
    )?;
    let issuer = match var("EMULATOR_GOOGLE_ISSUER")?.filter(|v| !v.is_empty()) {
        Some(issuer) if issuer.contains(char::is_whitespace) => {
            return Err(ConfigError::new(
                "EMULATOR_GOOGLE_ISSUER",
                "must not contain spaces",
            ));
        }
        issuer => issuer,
    };
    Ok(GoogleConfig {
        apps: vec![app],
        issuer,
        ..defaults
    })
}

/// Read the settings through `var` (the process environment in `main`).
fn settings(
    var: impl Fn(&'static str) -> Result<Option<String>, ConfigError>,
) -> Result<(SocketAddr, EmulatorConfig), ConfigError> {
    let addr = var("EMULATOR_ADDR")?
        .unwrap_or_else(|| DEFAULT_ADDR.to_owned())
        .parse::<SocketAddr>()
        .map_err(|_| ConfigError::new("EMULATOR_ADDR", "expected an ip:port socket address"))?;
    let client_id = var("KAKAO_CLIENT_ID")?.unwrap_or_else(|| "demo-rest-api-key".to_owned());
    if client_id.trim().is_empty() {
        return Err(ConfigError::new("KAKAO_CLIENT_ID", "must not be empty"));
    }
    let optional = |name| Ok::<_, ConfigError>(var(name)?.filter(|v: &String| !v.is_empty()));
    let redirect_uris = uri_list(&var, "EMULATOR_REDIRECT_URIS", DEFAULT_REDIRECT_URIS)?;
    // Only the exact value 1 turns fast mode on, so no stray setting
    // ("true", "yes", "on") does it by accident; those are refused instead.
    let fast_mode = match var("EMULATOR_FAST")?.as_deref().map(str::trim) {
        None | Some("" | "0") => false,
        Some("1") => true,
        Some(_) => return Err(ConfigError::new("EMULATOR_FAST", "expected 1 or 0")),
    };
    let config = EmulatorConfig {
        client_id,
        client_secret: optional("KAKAO_CLIENT_SECRET")?,
        admin_key: optional("KAKAO_ADMIN_KEY")?,
        redirect_uris,
        fast_mode,
        naver: naver(&var)?,
        google: google(&var)?,
        ..EmulatorConfig::default()
    };
    Ok((addr, config))
}

fn env_var(name: &'static str) -> Result<Option<String>, ConfigError> {
    match std::env::var(name) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError::new(name, "not valid UTF-8")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    if let Err(code) = service_kit::start(PROGRAM) {
        return code;
    }
    let (addr, config) = match settings(env_var) {
        Ok(settings) => settings,
        Err(error) => return error.exit(PROGRAM),
    };
    tracing::info!(
        client_id = %config.client_id,
        client_secret = config.client_secret.is_some(),
        admin_key = config.admin_key.is_some(),
        redirect_uris = ?config.redirect_uris,
        users = config.users.len(),
        fast_mode = config.fast_mode,
        naver = ?config.naver.apps,
        google = ?config.google.apps,
        google_issuer = ?config.google.issuer,
        "starting kakao emulator (with naver and google)"
    );
    if config.fast_mode {
        tracing::warn!(
            "EMULATOR_FAST=1: made-up fast-<id> codes are accepted without consent, PKCE or single-use checks (load generators only)"
        );
    }
    let emulator = match kakao_emulator::start(config, addr).await {
        Ok(emulator) => emulator,
        Err(error) => {
            eprintln!("{PROGRAM}: cannot listen on EMULATOR_ADDR {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(base_url = %emulator.base_url(), "ready");
    service_kit::shutdown_signal().await;
    tracing::info!("shutting down");
    emulator.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(
        pairs: &[(&'static str, &'static str)],
    ) -> Result<(SocketAddr, EmulatorConfig), ConfigError> {
        settings(|name| {
            Ok(pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned()))
        })
    }

    #[test]
    fn defaults_serve_the_demo_stack() {
        let (addr, config) = with(&[]).unwrap();
        assert_eq!(addr.to_string(), DEFAULT_ADDR);
        assert_eq!(config.client_id, "demo-rest-api-key");
        assert_eq!(config.redirect_uris, [DEFAULT_REDIRECT_URIS]);
        assert!(config.client_secret.is_none());
        assert!(!config.fast_mode);
        let naver = &config.naver.apps[0];
        assert_eq!(naver.client_id, "DemoNaverClientId");
        assert_eq!(naver.redirect_uris, [DEFAULT_NAVER_REDIRECT_URIS]);
        let google = &config.google.apps[0];
        assert_eq!(
            google.client_id,
            "demo-google-client.apps.googleusercontent.com"
        );
        assert_eq!(google.redirect_uris, [DEFAULT_GOOGLE_REDIRECT_URIS]);
        assert!(config.google.issuer.is_none());
    }

    #[test]
    fn naver_and_google_apps_are_read_and_checked() {
        let (_, config) = with(&[
            ("NAVER_CLIENT_ID", "n"),
            ("NAVER_CLIENT_SECRET", "ns"),
            ("EMULATOR_NAVER_REDIRECT_URIS", "http://a/naver"),
            ("GOOGLE_CLIENT_SECRET", "gs"),
            ("EMULATOR_GOOGLE_ISSUER", "https://accounts.google.com"),
        ])
        .unwrap();
        assert_eq!(
            config.naver.apps[0],
            OAuthApp::new("n", "ns", &["http://a/naver"])
        );
        assert_eq!(config.google.apps[0].client_secret, "gs");
        assert_eq!(
            config.google.issuer.as_deref(),
            Some("https://accounts.google.com")
        );
        for (name, bad) in [
            ("NAVER_CLIENT_SECRET", " "),
            ("EMULATOR_GOOGLE_REDIRECT_URIS", "ftp://x/cb"),
            ("EMULATOR_GOOGLE_ISSUER", "https://x y"),
        ] {
            assert_eq!(with(&[(name, bad)]).unwrap_err().variable, name);
        }
    }

    #[test]
    fn fast_mode_is_on_only_for_exactly_one() {
        assert!(with(&[("EMULATOR_FAST", "1")]).unwrap().1.fast_mode);
        for off in ["", "0"] {
            assert!(
                !with(&[("EMULATOR_FAST", off)]).unwrap().1.fast_mode,
                "{off}"
            );
        }
        for refused in ["true", "yes", "on", "2"] {
            assert_eq!(
                with(&[("EMULATOR_FAST", refused)]).unwrap_err().variable,
                "EMULATOR_FAST",
                "{refused}"
            );
        }
    }

    #[test]
    fn bad_values_name_their_variable() {
        assert_eq!(
            with(&[("EMULATOR_ADDR", "localhost")])
                .unwrap_err()
                .variable,
            "EMULATOR_ADDR"
        );
        assert_eq!(
            with(&[("EMULATOR_REDIRECT_URIS", "http://ok/cb, not a url")])
                .unwrap_err()
                .variable,
            "EMULATOR_REDIRECT_URIS"
        );
        assert_eq!(
            with(&[("KAKAO_CLIENT_ID", " ")]).unwrap_err().variable,
            "KAKAO_CLIENT_ID"
        );
    }

    #[test]
    fn secrets_and_lists_are_read() {
        let (_, config) = with(&[
            ("KAKAO_CLIENT_SECRET", "s3cret"),
            ("KAKAO_ADMIN_KEY", ""),
            ("EMULATOR_REDIRECT_URIS", "http://a/cb,https://b/cb"),
        ])
        .unwrap();
        assert_eq!(config.client_secret.as_deref(), Some("s3cret"));
        assert!(config.admin_key.is_none());
        assert_eq!(config.redirect_uris, ["http://a/cb", "https://b/cb"]);
    }
}
