//! Starts the HTTP edge the way every binary of the workspace starts
//! ([`service_kit::start`]: `.env`, `LOG_FORMAT`, logging to stderr), reads
//! the settings (a bad value stops it with one line naming the variable and
//! exit code 2), then serves until Ctrl-C or SIGTERM.

use std::process::ExitCode;

use http_edge::{Application, Settings};

const PROGRAM: &str = "http-edge";

#[tokio::main]
async fn main() -> ExitCode {
    if let Err(code) = service_kit::start(PROGRAM) {
        return code;
    }
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => return err.exit(PROGRAM),
    };
    let result = match Application::build(settings).await {
        Ok(app) => app.run_until_stopped(service_kit::shutdown_signal()).await,
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
