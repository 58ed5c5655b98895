//! `auth-service`: serve gRPC (no arguments), or manage signing keys:
//! `auth-service keys rotate | keys list | keys retire <kid> | keys rewrap`.
//!
//! Starts through service-kit: `.env`, `LOG_FORMAT`, logging to stderr; a
//! configuration error prints one line naming the variable and exits 2.

use std::process::ExitCode;

use std::collections::HashMap;

use auth_service::{
    Application, Settings, configuration, domain::KeyEncryption, key_ring, keys_at_rest,
    persistence,
};
use secrecy::SecretString;

const PROGRAM: &str = "auth-service";
const USAGE: &str =
    "auth-service [serve] | keys rotate | keys list | keys retire <kid> | keys rewrap";

fn main() -> ExitCode {
    // Before the runtime's threads exist: the malloc arena cap set here
    // binds only threads that have not allocated yet.
    if let Err(code) = service_kit::start(PROGRAM) {
        return code;
    }
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run()),
        Err(err) => {
            eprintln!("{PROGRAM} failed: cannot start its runtime: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
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
        // A key-encryption key that does not open the stored keys is a
        // configuration error: one line naming the variable, exit 2.
        Err(e) => match e.downcast_ref::<configuration::ConfigError>() {
            Some(config) => return config.exit(PROGRAM),
            None => {
                eprintln!("{PROGRAM} failed to start: {e:#}");
                return ExitCode::FAILURE;
            }
        },
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
    let vars: HashMap<String, String> = std::env::vars().collect();
    let kek = match configuration::key_encryption_key(&vars, "KEY_ENCRYPTION_KEY") {
        Ok(kek) => kek,
        Err(e) => return e.exit(PROGRAM),
    };
    let url = vars
        .get("DATABASE_URL")
        .filter(|v| !v.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| configuration::defaults::DATABASE_URL.to_owned());
    let db = match persistence::connect_and_migrate(&SecretString::from(url)).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("DATABASE_URL: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let encryption = KeyEncryption::new(kek.clone());
    let result = match args {
        ["rotate"] => match configuration::key_activation_delay(&vars) {
            Err(e) => return e.exit(PROGRAM),
            Ok(delay) => {
                match keys_at_rest::check_at_start(&db.read, &encryption).await {
                    Ok(()) => key_ring::rotate(&db.write, &encryption, delay).await,
                    Err(e) => Err(e),
                }
                .map(|kid| {
                    println!(
                        "added signing key {kid}: published now, signing in {} (KEY_ACTIVATION_DELAY); older keys stay published until retired",
                        humantime::format_duration(delay)
                    );
                })
            }
        },
        ["list"] => persistence::signing_keys::all(&db.read).await.map_err(Into::into).map(|keys| {
            let now = persistence::now_ms();
            println!("{:<18} {:<7} {:<14} {:<14} status", "kid", "alg", "created (unix)", "signs from");
            for k in keys {
                let activates_at = k.activates_at.unwrap_or(k.created_at);
                let status = match (k.retired_at, activates_at <= now) {
                    (Some(_), _) => "retired",
                    (None, true) => "published",
                    (None, false) => "pending (published, not signing yet)",
                };
                println!("{:<18} {:<7} {:<14} {:<14} {status}", k.kid, k.algorithm, k.created_at / 1000, activates_at / 1000);
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
        ["rewrap"] => rewrap(&vars, &db.write, kek.as_ref()).await,
        _ => Err(anyhow::anyhow!("usage: auth-service keys rotate | keys list | keys retire <kid> | keys rewrap")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<configuration::ConfigError>() {
            Some(config) => config.exit(PROGRAM),
            None => {
                eprintln!("{e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// `keys rewrap`: every stored key encrypted under KEY_ENCRYPTION_KEY
/// (from the clear, or from OLD_KEY_ENCRYPTION_KEY).
async fn rewrap(
    vars: &HashMap<String, String>,
    db: &sea_orm::DatabaseConnection,
    kek: Option<&auth_service::domain::KeyEncryptionKey>,
) -> anyhow::Result<()> {
    let kek = kek.ok_or_else(|| {
        configuration::ConfigError::new("KEY_ENCRYPTION_KEY", "required by keys rewrap")
    })?;
    let old = configuration::key_encryption_key(vars, "OLD_KEY_ENCRYPTION_KEY")?;
    let done = keys_at_rest::rewrap(db, kek, old.as_ref()).await?;
    println!(
        "rewrapped {} keys under KEY_ENCRYPTION_KEY ({} were already); restart the replicas with it",
        done.rewrapped, done.unchanged
    );
    Ok(())
}
