//! Runs the Kakao emulator for the demo stack, configured from the environment:
//! `EMULATOR_ADDR` (default `127.0.0.1:8081`), `KAKAO_CLIENT_ID` (default
//! `demo-rest-api-key`), `KAKAO_CLIENT_SECRET`, `KAKAO_ADMIN_KEY` (optional;
//! empty means unset) and `EMULATOR_REDIRECT_URIS` (comma list, default
//! `http://localhost:8080/auth/kakao/callback`). A bad value exits with code 2.

use std::net::SocketAddr;
use std::process::ExitCode;

use kakao_emulator::EmulatorConfig;
use tracing_subscriber::EnvFilter;

const DEFAULT_ADDR: &str = "127.0.0.1:8081";
const DEFAULT_REDIRECT_URIS: &str = "http://localhost:8080/auth/kakao/callback";

/// A variable whose value cannot be used.
#[derive(Debug, PartialEq, Eq)]
struct BadVar {
    name: &'static str,
    why: &'static str,
}

/// Read the settings through `var` (the process environment in `main`).
fn settings(
    var: impl Fn(&'static str) -> Result<Option<String>, BadVar>,
) -> Result<(SocketAddr, EmulatorConfig), BadVar> {
    let bad = |name, why| BadVar { name, why };
    let addr = var("EMULATOR_ADDR")?
        .unwrap_or_else(|| DEFAULT_ADDR.to_owned())
        .parse::<SocketAddr>()
        .map_err(|_| bad("EMULATOR_ADDR", "expected an ip:port socket address"))?;
    let client_id = var("KAKAO_CLIENT_ID")?.unwrap_or_else(|| "demo-rest-api-key".to_owned());
    if client_id.trim().is_empty() {
        return Err(bad("KAKAO_CLIENT_ID", "must not be empty"));
    }
    let optional = |name| Ok::<_, BadVar>(var(name)?.filter(|v: &String| !v.is_empty()));
    let redirect_uris = var("EMULATOR_REDIRECT_URIS")?
        .unwrap_or_else(|| DEFAULT_REDIRECT_URIS.to_owned())
        .split(',')
        .map(str::trim)
        .filter(|uri| !uri.is_empty())
        .map(|uri| match url::Url::parse(uri) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(uri.to_owned()),
            _ => Err(bad(
                "EMULATOR_REDIRECT_URIS",
                "expected comma-separated absolute http(s) URLs",
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let config = EmulatorConfig {
        client_id,
        client_secret: optional("KAKAO_CLIENT_SECRET")?,
        admin_key: optional("KAKAO_ADMIN_KEY")?,
        redirect_uris,
        ..EmulatorConfig::default()
    };
    Ok((addr, config))
}

fn env_var(name: &'static str) -> Result<Option<String>, BadVar> {
    match std::env::var(name) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(BadVar {
            name,
            why: "not valid UTF-8",
        }),
    }
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let (addr, config) = match settings(env_var) {
        Ok(settings) => settings,
        Err(BadVar { name, why }) => {
            eprintln!("kakao-emulator: bad {name}: {why}");
            return ExitCode::from(2);
        }
    };
    tracing::info!(
        client_id = %config.client_id,
        client_secret = config.client_secret.is_some(),
        admin_key = config.admin_key.is_some(),
        redirect_uris = ?config.redirect_uris,
        users = config.users.len(),
        "starting kakao emulator"
    );
    let emulator = match kakao_emulator::start(config, addr).await {
        Ok(emulator) => emulator,
        Err(error) => {
            eprintln!("kakao-emulator: cannot listen on EMULATOR_ADDR {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(base_url = %emulator.base_url(), "ready");
    shutdown_signal().await;
    tracing::info!("shutting down");
    emulator.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(
        pairs: &[(&'static str, &'static str)],
    ) -> Result<(SocketAddr, EmulatorConfig), BadVar> {
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
    }

    #[test]
    fn bad_values_name_their_variable() {
        assert_eq!(
            with(&[("EMULATOR_ADDR", "localhost")]).unwrap_err().name,
            "EMULATOR_ADDR"
        );
        assert_eq!(
            with(&[("EMULATOR_REDIRECT_URIS", "http://ok/cb, not a url")])
                .unwrap_err()
                .name,
            "EMULATOR_REDIRECT_URIS"
        );
        assert_eq!(
            with(&[("KAKAO_CLIENT_ID", " ")]).unwrap_err().name,
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
