//! How every binary of the workspace starts and stops, written once:
//! [`load_dotenv`], [`LogFormat`] and [`init_logging`] (one stream, one
//! `LOG_FORMAT` rule), [`ConfigError`] (one line naming the variable, exit
//! code 2 through [`ConfigError::exit`]), [`pem_files`] (TLS files named
//! by a variable), [`shutdown_signal`] and [`crypto::install`] (ring as the
//! one cryptography provider of rustls and jsonwebtoken).

pub mod crypto;
pub mod pem_files;

use std::{fmt, process::ExitCode};

use tracing_subscriber::{filter::Targets, prelude::*};

/// The exit code of a process refused by its configuration.
pub const CONFIG_ERROR_EXIT: u8 = 2;

/// A configuration value that cannot be used. Its `Display` is one line,
/// `VARIABLE: problem`, and never quotes the value (it might be a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl ConfigError {
    /// `variable` is wrong because of `problem`.
    pub fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }

    /// Prints `program: VARIABLE: problem` on stderr and gives exit code 2.
    pub fn exit(&self, program: &str) -> ExitCode {
        eprintln!("{program}: {self}");
        ExitCode::from(CONFIG_ERROR_EXIT)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// Reads `.env` from the working directory when there is one. A file that
/// cannot be parsed is an error whose text never quotes the offending line.
pub fn load_dotenv() -> Result<(), ConfigError> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(err) if err.not_found() => Ok(()),
        Err(_) => Err(ConfigError::new(".env", "cannot be read or parsed")),
    }
}

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// `human` (the default): one readable line per event.
    #[default]
    Human,
    /// `json`: one JSON object per line, with the current span's fields
    /// (the request id) and the span list.
    Json,
}

impl LogFormat {
    /// Reads `LOG_FORMAT` from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::parse(std::env::var("LOG_FORMAT").ok().as_deref())
    }

    /// `None`, empty or `human` is [`LogFormat::Human`]; `json` is
    /// [`LogFormat::Json`]; anything else is an error naming `LOG_FORMAT`.
    pub fn parse(value: Option<&str>) -> Result<Self, ConfigError> {
        match value.map(str::trim).unwrap_or("") {
            "" | "human" => Ok(LogFormat::Human),
            "json" => Ok(LogFormat::Json),
            _ => Err(ConfigError::new("LOG_FORMAT", "expected human or json")),
        }
    }
}

/// Parses `RUST_LOG`: `level` or `target=level`, comma-separated (for
/// example `info,http_edge=debug`); unset or empty is `info`. A
/// [`Targets`] filter, not `EnvFilter`: span and field directives
/// (`target[span{field=value}]`) are refused rather than matched, which
/// leaves a regex engine out of every binary (a third of a MiB of code).
pub fn log_filter(value: Option<&str>) -> Result<Targets, ConfigError> {
    let value = value.map(str::trim).filter(|v| !v.is_empty());
    value.unwrap_or("info").parse::<Targets>().map_err(|_| {
        ConfigError::new(
            "RUST_LOG",
            "expected level or target=level, comma-separated",
        )
    })
}

/// Installs the global subscriber: stderr, filtered by `filter` (see
/// [`log_filter`]), in `format`. Every binary calls this once, first thing.
pub fn init_logging(format: LogFormat, filter: Targets) {
    // Colour codes only for a terminal: in a file or a collector they are
    // noise, and formatting them was a tenth of the edge's work per request.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Human => registry.with(fmt).init(),
        LogFormat::Json => registry
            .with(fmt.json().with_current_span(true).with_span_list(true))
            .init(),
    }
}

/// `.env`, then `LOG_FORMAT`, then logging: the common first steps of every
/// `main`. On error the caller returns the given exit code.
pub fn start(program: &str) -> Result<(), ExitCode> {
    limit_malloc_arenas();
    load_dotenv().map_err(|err| err.exit(program))?;
    let format = LogFormat::from_env().map_err(|err| err.exit(program))?;
    let filter =
        log_filter(std::env::var("RUST_LOG").ok().as_deref()).map_err(|err| err.exit(program))?;
    init_logging(format, filter);
    Ok(())
}

/// Caps glibc's malloc at one arena. By default every thread that
/// allocates (tokio workers, blocking threads, the SQLite connection
/// threads) may get its own arena, and each keeps freed memory for itself:
/// under load two arenas instead of the default cost ~4 MiB of resident
/// memory across our two binaries, and a second arena ~1 MiB more, for no
/// speed we could measure (each thread's tcache serves most small
/// allocations without the arena lock). Other C libraries ignore this.
///
/// `MALLOC_ARENA_MAX` in the environment (glibc's own variable) wins: an
/// operator with memory to spare may give each core an arena. Under a
/// profiler the one arena's lock waits were a fifth of the service's
/// samples at 70-90k gRPC calls/s on one machine, where unlimited arenas
/// served ~10% more logins/s for ~3 MiB more; on a noisier machine
/// (`scripts/bench --target ours`, 1, 2 and 16 arenas alternated twice)
/// no difference showed. mimalloc was tried too: no faster, and twice the
/// memory. The lock's cost moves from run to run (README, Performance):
/// jemalloc with one arena made the service's gRPC rate steady for 3 MiB
/// more, and a larger tcache (`glibc.malloc.tcache_count=128`) for 5 MiB
/// more; the memory target won both times. `tcache_count=32` made both gRPC
/// rates a fifth faster for 1.8 MiB more, and left `VerifyAccessToken` /
/// `Health/Check` where it was; what moved that ratio was allocating less
/// on the hot path in blocks that miss the tcache (README, Performance).
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; a refusal (0)
        // is harmless. It must run before the process starts its own
        // threads (so before building a tokio runtime, not inside
        // `#[tokio::main]`): a thread that allocated before the cap already
        // made its own arena.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

/// Completes at the first Ctrl-C or (on Unix) SIGTERM.
pub async fn shutdown_signal() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_format_accepts_human_and_json_only() {
        assert_eq!(LogFormat::parse(None), Ok(LogFormat::Human));
        assert_eq!(LogFormat::parse(Some("")), Ok(LogFormat::Human));
        assert_eq!(LogFormat::parse(Some("json")), Ok(LogFormat::Json));
        let err = LogFormat::parse(Some("xml")).unwrap_err();
        assert_eq!(err.variable, "LOG_FORMAT");
        assert_eq!(err.to_string(), "LOG_FORMAT: expected human or json");
    }

    #[test]
    fn log_filter_takes_levels_and_targets_and_names_rust_log_otherwise() {
        use tracing::Level;
        let default = log_filter(None).unwrap();
        assert!(default.would_enable("http_edge", &Level::INFO));
        assert!(!default.would_enable("http_edge", &Level::DEBUG));
        assert_eq!(
            log_filter(Some(" ")).unwrap().to_string(),
            default.to_string()
        );
        let mixed = log_filter(Some("warn,http_edge=debug")).unwrap();
        assert!(mixed.would_enable("http_edge::handlers", &Level::DEBUG));
        assert!(!mixed.would_enable("auth_service", &Level::INFO));
        assert!(mixed.would_enable("auth_service", &Level::WARN));
        for bad in ["http_edge=loud", "auth_service[span{user_id=1}]=debug"] {
            let err = log_filter(Some(bad)).unwrap_err();
            assert_eq!(err.variable, "RUST_LOG", "{bad}");
            assert!(!err.to_string().contains(bad), "{err}");
        }
    }
}
