//! `auth-service`: serve gRPC (no arguments), or manage signing keys:
//! `auth-service keys rotate | keys list | keys retire <kid>`.
//!
//! Starts through service-kit: `.env`, `LOG_FORMAT`, logging to stderr; a
//! configuration error prints one line naming the variable and exits 2.

use std::process::ExitCode;

use auth_service::{Application, Settings, configuration, key_ring, persistence};
use secrecy::SecretString;

const PROGRAM: &str = "auth-service";
const USAGE: &str = "auth-service [serve] | keys rotate | keys list | keys retire <kid>";

#[tokio::main]
async fn main() -> ExitCode {
    if let Err(code) = service_kit::start(PROGRAM) {
        return code;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] | ["serve"] => serve().await,
        ["keys", rest @ ..] => keys(rest).await,
        ["--help"] | ["-h"] | ["help"] => {
            println!("usage: {USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("unknown arguments; usage: {USAGE}");
            ExitCode::from(service_kit::CONFIG_ERROR_EXIT)
        }
    }
}

async fn serve() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => return e.exit(PROGRAM),
    };
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("{PROGRAM} failed to start: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    match app.run_until_stopped(service_kit::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{PROGRAM} stopped with an error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn keys(args: &[&str]) -> ExitCode {
    let url = std::env::var("DATABASE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| configuration::defaults::DATABASE_URL.to_owned());
    let db = match persistence::connect_and_migrate(&SecretString::from(url)).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("DATABASE_URL: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let result = match args {
        ["rotate"] => key_ring::rotate(&db.write).await.map(|kid| {
            println!("added signing key {kid}; replicas sign with it within a minute, older keys stay published until retired");
        }),
        ["list"] => persistence::signing_keys::all(&db.read).await.map_err(Into::into).map(|keys| {
            println!("{:<18} {:<7} {:<14} status", "kid", "alg", "created (unix)");
            for k in keys {
                let status = if k.retired_at.is_some() { "retired" } else { "published" };
                println!("{:<18} {:<7} {:<14} {status}", k.kid, k.algorithm, k.created_at / 1000);
            }
        }),
        ["retire", kid] => match key_ring::retire(&db.write, kid).await {
            Ok(true) => {
                println!("retired {kid}: running replicas refuse tokens signed with it within a second");
                Ok(())
            }
            Ok(false) => Err(anyhow::anyhow!("no published key {kid}")),
            Err(e) => Err(e.into()),
        },
        _ => Err(anyhow::anyhow!("usage: auth-service keys rotate | keys list | keys retire <kid>")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
