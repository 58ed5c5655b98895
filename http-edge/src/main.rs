//! Starts the HTTP edge: telemetry (`LOG_FORMAT` = `human` or `json`,
//! `RUST_LOG` filter, default `info`), settings (a bad value stops it with
//! one line and exit code 2), then serve until Ctrl-C or SIGTERM.

use std::process::ExitCode;

use http_edge::{Application, LogFormat, Settings};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    // Read before telemetry so RUST_LOG may come from `.env`. The error is
    // not printed: a parse error would quote the line, maybe a secret.
    if let Err(err) = dotenvy::dotenv()
        && !err.not_found()
    {
        eprintln!(".env: cannot be read or parsed");
        return ExitCode::from(2);
    }
    match LogFormat::from_env() {
        Ok(format) => init_telemetry(format),
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    }
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    let result = match Application::build(settings).await {
        Ok(app) => app.run_until_stopped(shutdown_signal()).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("http-edge failed: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stdout in `format`, filtered by `RUST_LOG` (default `info`).
fn init_telemetry(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Human => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
}

/// Completes at the first Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received");
}
