//! Starts the HTTP edge the way every binary of the workspace starts
//! ([`service_kit::start`]: `.env`, `LOG_FORMAT`, logging to stderr), reads
//! the settings (a bad value stops it with one line naming the variable and
//! exit code 2), then serves until Ctrl-C or SIGTERM on a runtime of
//! `EDGE_WORKER_THREADS` threads (default one per core: see
//! [`http_edge::worker_threads_from_env`]).

// The route table is one deep warp filter type; the release build (LTO)
// evaluates its auto traits past the default limit of 128.
#![recursion_limit = "256"]

use std::process::ExitCode;

use http_edge::{Application, Settings};

const PROGRAM: &str = "http-edge";

fn main() -> ExitCode {
    if let Err(code) = service_kit::start(PROGRAM) {
        return code;
    }
    let (settings, threads) =
        match Settings::from_env().and_then(|s| Ok((s, http_edge::worker_threads_from_env()?))) {
            Ok(read) => read,
            Err(err) => return err.exit(PROGRAM),
        };
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = threads {
        runtime.worker_threads(threads);
    }
    let runtime = runtime.enable_all().build();
    match runtime {
        Ok(runtime) => runtime.block_on(serve(settings)),
        Err(err) => {
            tracing::error!("http-edge failed: cannot start its runtime: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> ExitCode {
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
