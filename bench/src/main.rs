//! `scripts/bench`: the login stack under load on loopback, against the
//! Express + passport-kakao baseline in the same run.
//!
//!     scripts/bench [--db sqlite|postgres] [--users 1k|1m] [--duration 20s]
//!                   [--target both|ours|express] [--only transport] [--json out.json]
//!                   [--browsers 64] [--signup-browsers 16]
//!
//! Starts the Kakao emulator in fast mode (`EMULATOR_FAST=1`: the load
//! generator makes up `fast-<id>` codes, so no consent page and no emulator
//! state), then for each target the processes on free loopback ports, and
//! measures: the full browser flow (login redirect, then callback with the
//! binding cookie) at 64 concurrent browsers over 1,000 returning users and
//! at 16 over never-seen users; CPU time of the processes from
//! /proc/<pid>/stat; machine busy share from /proc/stat; peak memory
//! (VmHWM); gRPC `VerifyAccessToken` against `Health/Check` and the edge's
//! `/auth/me` against `/healthz` with h2load (interleaved, once the machine
//! is idle again: see [`h2load::pair`]); time from spawn to SERVING;
//! and, with `--users 1m`, login latency with 1,000,000 users in the table
//! against 1,000. Prints a table naming the machine and the command, and
//! writes JSON. Ratios compare figures measured in the same run.
//! `--only transport` skips the login phases and measures only the h2load
//! ratios (and the start time): a quick check of a change to a hot path.
//! `--browsers` and `--signup-browsers` change the two phases' concurrency
//! (our CPU per login falls as concurrency rises: batches grow, threads park
//! less), to see how a change behaves away from the judged 64 and 16.

mod h2load;
mod load;
mod procfs;
mod stack;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use auth_proto::v1::{VerifyAccessTokenRequest, auth_service_client::AuthServiceClient};
use serde_json::{Value, json};

use load::{LoadResult, Users};
use stack::{BenchDb, Db, Proc, free_port};

const CLIENT_ID: &str = "demo-rest-api-key";
const RETURNING_USERS: u64 = 1_000;
const LOGIN_BROWSERS: usize = 64;
const SIGNUP_BROWSERS: usize = 16;
/// The most browsers a phase may simulate.
const MAX_BROWSERS: usize = 1024;
const H2_CONNECTIONS: usize = 16;
const H2_STREAMS: usize = 32;
const H1_CONNECTIONS: usize = 32;
const START_SAMPLES: usize = 3;

struct Args {
    db: Db,
    users: u64,
    duration: Duration,
    json: Option<PathBuf>,
    ours: bool,
    express: bool,
    transport_only: bool,
    browsers: usize,
    signup_browsers: usize,
    bin_dir: PathBuf,
    express_dir: PathBuf,
    pg_url: String,
}

fn usage() -> &'static str {
    "usage: bench [--db sqlite|postgres] [--users 1k|1m] [--duration 20s] [--target both|ours|express] \
     [--only transport] [--json FILE] [--browsers 64] [--signup-browsers 16] [--bin-dir target/release] [--express-dir bench/express] [--pg-url postgres://...]"
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        db: Db::Sqlite,
        users: 1_000,
        duration: Duration::from_secs(20),
        json: None,
        ours: true,
        express: true,
        transport_only: false,
        browsers: LOGIN_BROWSERS,
        signup_browsers: SIGNUP_BROWSERS,
        bin_dir: PathBuf::from("target/release"),
        express_dir: PathBuf::from("bench/express"),
        pg_url: std::env::var("BENCH_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".to_owned()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            println!("{}", usage());
            std::process::exit(0);
        }
        let value = it
            .next()
            .with_context(|| format!("{flag} needs a value\n{}", usage()))?;
        match flag.as_str() {
            "--db" => {
                args.db = match value.as_str() {
                    "sqlite" => Db::Sqlite,
                    "postgres" => Db::Postgres,
                    _ => bail!("--db is sqlite or postgres"),
                }
            }
            "--users" => {
                args.users = match value.to_ascii_lowercase().as_str() {
                    "1k" => 1_000,
                    "1m" => 1_000_000,
                    _ => bail!("--users is 1k or 1m"),
                }
            }
            "--duration" => {
                args.duration =
                    humantime::parse_duration(&value).context("--duration, e.g. 20s")?;
                if args.duration < Duration::from_secs(1) {
                    bail!("--duration is at least 1s");
                }
            }
            "--target" => {
                (args.ours, args.express) = match value.as_str() {
                    "both" => (true, true),
                    "ours" => (true, false),
                    "express" => (false, true),
                    _ => bail!("--target is both, ours or express"),
                }
            }
            "--only" => {
                args.transport_only = match value.as_str() {
                    "transport" => true,
                    _ => bail!("--only is transport"),
                }
            }
            "--json" => args.json = Some(PathBuf::from(value)),
            "--browsers" => args.browsers = browsers(&flag, &value)?,
            "--signup-browsers" => args.signup_browsers = browsers(&flag, &value)?,
            "--bin-dir" => args.bin_dir = PathBuf::from(value),
            "--express-dir" => args.express_dir = PathBuf::from(value),
            "--pg-url" => args.pg_url = value,
            _ => bail!("unknown flag {flag}\n{}", usage()),
        }
    }
    if args.transport_only && args.users > RETURNING_USERS {
        bail!("--only transport runs no logins; --users 1m needs them");
    }
    Ok(args)
}

/// A phase's concurrency: 1 to [`MAX_BROWSERS`].
fn browsers(flag: &str, value: &str) -> anyhow::Result<usize> {
    match value.parse::<usize>() {
        Ok(n) if (1..=MAX_BROWSERS).contains(&n) => Ok(n),
        _ => bail!("{flag} is a count from 1 to {MAX_BROWSERS}"),
    }
}

/// The figures of one target, by key (see [`ROWS`]).
type Figures = BTreeMap<&'static str, f64>;

/// Table rows: key, label, decimals. A ratio column compares ours/express.
const ROWS: &[(&str, &str, usize)] = &[
    (
        "logins_per_s",
        "logins/s, {login} browsers, 1k returning users",
        0,
    ),
    ("login_p50_ms", "  login p50 (ms)", 1),
    ("login_p99_ms", "  login p99 (ms)", 1),
    (
        "cpu_us_per_login",
        "  CPU per login, the app's processes (µs)",
        0,
    ),
    (
        "emulator_cpu_us_per_login",
        "  CPU per login, emulator (µs)",
        0,
    ),
    (
        "loadgen_cpu_us_per_login",
        "  CPU per login, load generator (µs)",
        0,
    ),
    (
        "postgres_cpu_us_per_login",
        "  CPU per login, PostgreSQL backends (µs)",
        0,
    ),
    ("machine_busy_pct", "  machine busy (%)", 0),
    ("login_failed", "  failed logins", 0),
    (
        "signups_per_s",
        "sign-ups/s, {signup} browsers, new users",
        0,
    ),
    (
        "cpu_us_per_signup",
        "  CPU per sign-up, the app's processes (µs)",
        0,
    ),
    (
        "postgres_cpu_us_per_signup",
        "  CPU per sign-up, PostgreSQL backends (µs)",
        0,
    ),
    ("signup_failed", "  failed sign-ups", 0),
    ("verify_rps", "gRPC VerifyAccessToken rps (16x32 h2)", 0),
    ("health_rps", "gRPC Health/Check rps (16x32 h2)", 0),
    ("verify_over_health", "  VerifyAccessToken / Health", 2),
    ("me_rps", "/auth/me rps (32 h1 keep-alive)", 0),
    ("healthz_rps", "/healthz rps (32 h1 keep-alive)", 0),
    ("me_over_healthz", "  /auth/me / /healthz", 2),
    ("start_ms", "start to SERVING / ready (ms, median of 3)", 0),
    (
        "peak_rss_service_mib",
        "peak RSS auth-service, login load (MiB)",
        1,
    ),
    (
        "peak_rss_edge_mib",
        "peak RSS http-edge, login load (MiB)",
        1,
    ),
    (
        "peak_rss_mib",
        "peak RSS, all our processes, login load (MiB)",
        1,
    ),
    (
        "peak_rss_all_service_mib",
        "peak RSS auth-service, whole run incl. h2load (MiB)",
        1,
    ),
    (
        "peak_rss_all_edge_mib",
        "peak RSS http-edge, whole run incl. h2load (MiB)",
        1,
    ),
    (
        "peak_rss_all_mib",
        "peak RSS, ours, whole run incl. h2load (MiB)",
        1,
    ),
    ("login_p50_1m_ms", "login p50 with 1M users (ms)", 1),
    ("login_p50_1m_over_1k", "  1M / 1k", 2),
    ("logins_per_s_1m", "  logins/s with 1M users", 0),
    (
        "cpu_us_per_login_1m",
        "  CPU per login with 1M users, the app's (µs)",
        0,
    ),
    ("cpu_per_login_1m_over_1k", "  CPU per login, 1M / 1k", 2),
    (
        "postgres_cpu_us_per_login_1m",
        "  CPU per login with 1M users, PostgreSQL (µs)",
        0,
    ),
];

/// Lower is better for these keys (the ratio column reads "x cheaper").
fn lower_is_better(key: &str) -> bool {
    key.contains("_ms") || key.contains("cpu_") || key.contains("rss")
}

#[tokio::main]
async fn main() -> ExitCode {
    // The load's reqwest clients need the process-wide rustls provider.
    service_kit::crypto::install();
    let args = match parse_args() {
        Ok(args) => args,
        Err(error) => {
            eprintln!("bench: {error:#}");
            return ExitCode::from(2);
        }
    };
    let dir = std::env::temp_dir().join(format!("bench.{:08x}", rand::random::<u32>()));
    if let Err(error) = std::fs::create_dir_all(&dir) {
        eprintln!("bench: cannot create {}: {error}", dir.display());
        return ExitCode::FAILURE;
    }
    let db = if args.ours {
        match BenchDb::create(args.db, &dir, &args.pg_url).await {
            Ok(db) => Some(db),
            Err(error) => {
                eprintln!("bench: database: {error:#}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let outcome = tokio::select! {
        outcome = run(&args, db.as_ref(), &dir) => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    if let Some(db) = &db {
        db.drop_db().await;
    }
    let code = match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench: {error:#}\n(logs kept in {})", dir.display());
            return ExitCode::FAILURE;
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    code
}

async fn run(args: &Args, db: Option<&BenchDb>, dir: &Path) -> anyhow::Result<()> {
    let machine = procfs::machine();
    let command = std::env::var("BENCH_COMMAND")
        .unwrap_or_else(|_| std::env::args().collect::<Vec<_>>().join(" "));
    let ticks = procfs::clock_ticks();

    let emulator_port = free_port();
    let emulator_url = format!("http://127.0.0.1:{emulator_port}");
    let mut emulator = Proc::spawn(
        "kakao-emulator",
        &args.bin_dir.join("kakao-emulator"),
        &[],
        &[
            ("EMULATOR_ADDR", format!("127.0.0.1:{emulator_port}")),
            ("EMULATOR_FAST", "1".to_owned()),
            ("KAKAO_CLIENT_ID", CLIENT_ID.to_owned()),
            (
                "EMULATOR_REDIRECT_URIS",
                "http://127.0.0.1/auth/kakao/callback".to_owned(),
            ),
            ("RUST_LOG", "warn".to_owned()),
        ],
        dir,
        None,
    )?;
    stack::wait_http(
        &mut emulator,
        &format!("{emulator_url}/_emulator/stats"),
        Duration::from_secs(20),
    )
    .await?;
    let ctx = Ctx {
        args,
        dir,
        ticks,
        emulator_pid: emulator.pid(),
        emulator_url,
    };

    let mut targets = BTreeMap::new();
    if let Some(db) = db {
        eprintln!("== our stack ({})", db_name(args.db));
        targets.insert("ours", ctx.ours(db).await?);
    }
    if args.express {
        eprintln!("== express baseline");
        targets.insert("express", ctx.express().await?);
    }
    emulator.stop().await;

    let ratios: Figures = match (targets.get("ours"), targets.get("express")) {
        (Some(ours), Some(theirs)) => ROWS
            .iter()
            .filter_map(|(key, _, _)| {
                let (a, b) = (ours.get(key)?, theirs.get(key)?);
                (*b != 0.0 && a.is_finite() && b.is_finite()).then(|| (*key, a / b))
            })
            .collect(),
        _ => Figures::new(),
    };
    print_table(args, &machine, &command, &targets, &ratios);
    let report = json!({
        "machine": {
            "cpus": machine.cpus,
            "cpu_model": machine.model,
            "memory_gib": machine.memory_gib,
            "kernel": machine.kernel,
        },
        "command": command,
        "config": {
            "db": db_name(args.db),
            "users": args.users,
            "duration_s": args.duration.as_secs_f64(),
            "login_browsers": args.browsers,
            "signup_browsers": args.signup_browsers,
            "returning_users": RETURNING_USERS,
            "grpc_h2load": format!("{H2_CONNECTIONS} connections x {H2_STREAMS} streams"),
            "edge_h2load": format!("{H1_CONNECTIONS} HTTP/1.1 keep-alive connections"),
            "express_db": "sqlite (better-sqlite3), whatever --db says",
        },
        "targets": targets.iter().map(|(k, v)| (k.to_string(), figures_json(v))).collect::<serde_json::Map<_, _>>(),
        "ours_over_express": figures_json(&ratios),
    });
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("\nJSON written to {}", path.display());
    }
    Ok(())
}

fn db_name(db: Db) -> &'static str {
    match db {
        Db::Sqlite => "sqlite",
        Db::Postgres => "postgres",
    }
}

fn figures_json(figures: &Figures) -> Value {
    Value::Object(
        figures
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect(),
    )
}

struct Ctx<'a> {
    args: &'a Args,
    dir: &'a Path,
    ticks: f64,
    emulator_pid: u32,
    emulator_url: String,
}

/// CPU ticks of the measured processes, the emulator, PostgreSQL and the
/// whole machine at one instant.
struct Sample {
    ours: u64,
    loadgen: u64,
    emulator: u64,
    postgres_db: u64,
    machine: (u64, u64),
}

impl Ctx<'_> {
    fn sample(&self, pids: &[u32], database: Option<&str>) -> Sample {
        Sample {
            ours: pids.iter().map(|p| procfs::cpu_ticks(*p)).sum(),
            loadgen: procfs::cpu_ticks(std::process::id()),
            emulator: procfs::cpu_ticks(self.emulator_pid),
            postgres_db: database.map_or(0, |d| procfs::postgres_ticks(d).1),
            machine: procfs::machine_jiffies(),
        }
    }

    /// Waits (at most 30 s) until the machine is idle enough for the h2load
    /// phases: a ratio of two runs means nothing if the database's
    /// background work after the login load (autovacuum, a checkpoint) lands
    /// in one run and not the other. Says what was busy while it waited.
    async fn settle(&self, pids: &[u32], database: Option<&str>) {
        const IDLE_SHARE: f64 = 0.15;
        let started = Instant::now();
        let first = self.sample(pids, database);
        let pg_all = || database.map_or(0, |d| procfs::postgres_ticks(d).0);
        let pg_first = pg_all();
        let mut last = first.machine;
        while started.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let now = procfs::machine_jiffies();
            let busy = (now.0 - last.0) as f64 / (now.1 - last.1).max(1) as f64;
            last = now;
            if busy < IDLE_SHARE {
                break;
            }
        }
        let end = self.sample(pids, database);
        eprintln!(
            "   settled in {:.1} s (CPU meanwhile: ours {} ticks, PostgreSQL {} ticks)",
            started.elapsed().as_secs_f64(),
            end.ours - first.ours,
            pg_all() - pg_first,
        );
    }

    fn us_per(&self, ticks: u64, count: u64) -> f64 {
        ticks as f64 / self.ticks * 1e6 / count.max(1) as f64
    }

    /// A login phase with CPU accounting; records `<prefix>` figures.
    #[allow(clippy::too_many_arguments)]
    async fn phase(
        &self,
        base: &str,
        users: Users,
        browsers: usize,
        pids: &[u32],
        database: Option<&str>,
        what: &str,
    ) -> (LoadResult, Sample, Sample) {
        let before = self.sample(pids, database);
        let result = load::run(base, users, browsers, self.args.duration).await;
        let after = self.sample(pids, database);
        eprintln!(
            "   {what}: {:.0}/s ({} ok, {} failed){}",
            result.per_second(),
            result.ok,
            result.failed,
            result
                .first_error
                .as_deref()
                .map(|e| format!("; first error: {e}"))
                .unwrap_or_default()
        );
        (result, before, after)
    }

    /// The two load phases every target runs, the same way: logins by
    /// 1,000 returning users at `--browsers` (64), then sign-ups at
    /// `--signup-browsers` (16); records their figures (PostgreSQL's CPU
    /// too when `database` names one) and returns the login p50, the
    /// 1M-user run's reference.
    async fn logins_and_signups(
        &self,
        f: &mut Figures,
        base: &str,
        pids: &[u32],
        database: Option<&str>,
    ) -> f64 {
        let pg = database.is_some();
        self.warm_up(base).await;
        let (r, before, after) = self
            .phase(
                base,
                self.returning(RETURNING_USERS),
                self.args.browsers,
                pids,
                database,
                "logins",
            )
            .await;
        self.record_logins(f, &r, &before, &after, pg);
        let p50_1k = r.percentile_ms(50.0);

        let fresh = Users::Fresh(Arc::new(AtomicU64::new(stack::FRESH_KAKAO_BASE)));
        let (r, before, after) = self
            .phase(
                base,
                fresh,
                self.args.signup_browsers,
                pids,
                database,
                "sign-ups",
            )
            .await;
        f.insert("signups_per_s", r.per_second());
        f.insert("signup_failed", r.failed as f64);
        f.insert(
            "cpu_us_per_signup",
            self.us_per(after.ours - before.ours, r.ok),
        );
        if pg {
            f.insert(
                "postgres_cpu_us_per_signup",
                self.us_per(after.postgres_db.saturating_sub(before.postgres_db), r.ok),
            );
        }
        p50_1k
    }

    fn record_logins(
        &self,
        f: &mut Figures,
        r: &LoadResult,
        before: &Sample,
        after: &Sample,
        pg: bool,
    ) {
        f.insert("logins_per_s", r.per_second());
        f.insert("login_p50_ms", r.percentile_ms(50.0));
        f.insert("login_p99_ms", r.percentile_ms(99.0));
        f.insert("login_failed", r.failed as f64);
        f.insert(
            "cpu_us_per_login",
            self.us_per(after.ours - before.ours, r.ok),
        );
        f.insert(
            "emulator_cpu_us_per_login",
            self.us_per(after.emulator - before.emulator, r.ok),
        );
        f.insert(
            "loadgen_cpu_us_per_login",
            self.us_per(after.loadgen - before.loadgen, r.ok),
        );
        if pg {
            f.insert(
                "postgres_cpu_us_per_login",
                self.us_per(after.postgres_db.saturating_sub(before.postgres_db), r.ok),
            );
        }
        let busy = (after.machine.0 - before.machine.0) as f64;
        let total = (after.machine.1 - before.machine.1).max(1) as f64;
        f.insert("machine_busy_pct", 100.0 * busy / total);
    }

    fn returning(&self, seeded: u64) -> Users {
        let stride = seeded / RETURNING_USERS;
        Users::Cycle(Arc::new(
            (0..RETURNING_USERS)
                .map(|i| stack::SEEDED_KAKAO_BASE + (i * stride) as i64)
                .collect(),
        ))
    }

    async fn warm_up(&self, base: &str) {
        let warm = (self.args.duration / 5).clamp(Duration::from_secs(1), Duration::from_secs(3));
        let _ = load::run(
            base,
            self.returning(RETURNING_USERS),
            self.args.browsers,
            warm,
        )
        .await;
    }

    async fn edge_transport(
        &self,
        f: &mut Figures,
        base: &str,
        access: &str,
    ) -> anyhow::Result<()> {
        let cookie = format!("cookie: access_token={access}");
        let (me, healthz) = h2load::pair(
            &h2load::Target {
                url: format!("{base}/auth/me"),
                connections: H1_CONNECTIONS,
                streams: 1,
                http1: true,
                headers: &[&cookie],
                body: None,
            },
            &h2load::Target {
                url: format!("{base}/healthz"),
                connections: H1_CONNECTIONS,
                streams: 1,
                http1: true,
                headers: &[],
                body: None,
            },
            self.args.duration,
        )
        .await?;
        eprintln!(
            "   /auth/me {:.0} rps ({} failed), /healthz {:.0} rps ({} failed)",
            me.rps, me.failed, healthz.rps, healthz.failed
        );
        f.insert("me_rps", me.rps);
        f.insert("healthz_rps", healthz.rps);
        f.insert("me_over_healthz", me.rps / healthz.rps);
        Ok(())
    }

    async fn ours(&self, db: &BenchDb) -> anyhow::Result<Figures> {
        let args = self.args;
        let mut f = Figures::new();
        let pg = db.kind == Db::Postgres;
        let database = pg.then_some(db.name.as_str());
        let (grpc_port, edge_port, metrics_port) = (free_port(), free_port(), free_port());
        let base = format!("http://127.0.0.1:{edge_port}");
        let service_env = vec![
            ("KAKAO_CLIENT_ID", CLIENT_ID.to_owned()),
            ("KAKAO_AUTH_BASE_URL", self.emulator_url.clone()),
            ("KAKAO_API_BASE_URL", self.emulator_url.clone()),
            ("KAKAO_REDIRECT_URI", format!("{base}/auth/kakao/callback")),
            ("DATABASE_URL", db.url.clone()),
            ("AUTH_GRPC_ADDR", format!("127.0.0.1:{grpc_port}")),
            ("METRICS_ADDR", format!("127.0.0.1:{metrics_port}")),
            ("FRONTEND_URL", format!("{base}/")),
            ("RUST_LOG", "info".to_owned()),
        ];
        let service_bin = args.bin_dir.join("auth-service");
        let spawn_service = || {
            Proc::spawn(
                "auth-service",
                &service_bin,
                &[],
                &service_env,
                self.dir,
                None,
            )
        };

        // First start migrates; then seed, then time starts on a migrated database.
        let mut service = spawn_service()?;
        stack::wait_serving(&mut service, grpc_port, Duration::from_secs(60)).await?;
        service.stop().await;
        let conn = db.connect().await?;
        stack::seed_service_users(&conn, db.kind, 0, RETURNING_USERS).await?;
        let mut starts = Vec::new();
        let mut service = loop {
            let mut service = spawn_service()?;
            starts
                .push(stack::wait_serving(&mut service, grpc_port, Duration::from_secs(60)).await?);
            if starts.len() == START_SAMPLES {
                break service;
            }
            service.stop().await;
        };
        starts.sort();
        f.insert("start_ms", starts[START_SAMPLES / 2].as_secs_f64() * 1e3);
        eprintln!("   start to SERVING: {starts:?}");

        let mut edge = Proc::spawn(
            "http-edge",
            &args.bin_dir.join("http-edge"),
            &[],
            &[
                ("EDGE_ADDR", format!("127.0.0.1:{edge_port}")),
                ("AUTH_SERVICE_URL", format!("http://127.0.0.1:{grpc_port}")),
                ("FRONTEND_URL", format!("{base}/")),
                ("DEMO_PAGE", "false".to_owned()),
                // Thousands of logins a second from 127.0.0.1: no per-client limit.
                ("LOGIN_RATE_LIMIT", "0".to_owned()),
                ("CALLBACK_RATE_LIMIT", "0".to_owned()),
                ("RUST_LOG", "info".to_owned()),
            ],
            self.dir,
            None,
        )?;
        stack::wait_http(
            &mut edge,
            &format!("{base}/healthz"),
            Duration::from_secs(30),
        )
        .await?;
        let pids = [service.pid(), edge.pid()];

        let mut p50_1k = f64::NAN;
        if !args.transport_only {
            p50_1k = self
                .logins_and_signups(&mut f, &base, &pids, database)
                .await;
            // Peak memory under login load (logins, then sign-ups), before
            // the transport phases open hundreds of streams.
            let service_kib = procfs::status_kib(service.pid(), "VmHWM");
            let edge_kib = procfs::status_kib(edge.pid(), "VmHWM");
            f.insert("peak_rss_service_mib", service_kib as f64 / 1024.0);
            f.insert("peak_rss_edge_mib", edge_kib as f64 / 1024.0);
            f.insert("peak_rss_mib", (service_kib + edge_kib) as f64 / 1024.0);
            for (name, pid) in [("auth-service", service.pid()), ("http-edge", edge.pid())] {
                eprintln!(
                    "   {name} now: anonymous {} KiB, mapped files {} KiB, threads {}",
                    procfs::status_kib(pid, "RssAnon"),
                    procfs::status_kib(pid, "RssFile"),
                    procfs::status_kib(pid, "Threads"),
                );
            }
        }

        // Transport ratios with a real access token, once the login load's
        // aftermath (PostgreSQL's autovacuum and checkpoint) has passed.
        self.settle(&pids, database).await;
        let access = load::login(&load::browser(), &base, stack::SEEDED_KAKAO_BASE).await?;
        let mut client =
            AuthServiceClient::connect(format!("http://127.0.0.1:{grpc_port}")).await?;
        client
            .verify_access_token(VerifyAccessTokenRequest {
                access_token: access.clone(),
            })
            .await
            .context("the bench's access token does not verify")?;
        let verify_body = self.dir.join("verify.grpc");
        let mut message = vec![0x0a];
        encode_varint(access.len() as u64, &mut message);
        message.extend_from_slice(access.as_bytes());
        std::fs::write(&verify_body, h2load::grpc_frame(&message))?;
        let health_body = self.dir.join("health.grpc");
        std::fs::write(&health_body, h2load::grpc_frame(&[]))?;
        let grpc = format!("http://127.0.0.1:{grpc_port}");
        let grpc_headers = ["content-type: application/grpc", "te: trailers"];
        let (verify, health) = h2load::pair(
            &h2load::Target {
                url: format!("{grpc}/auth.v1.AuthService/VerifyAccessToken"),
                connections: H2_CONNECTIONS,
                streams: H2_STREAMS,
                http1: false,
                headers: &grpc_headers,
                body: Some(&verify_body),
            },
            &h2load::Target {
                url: format!("{grpc}/grpc.health.v1.Health/Check"),
                connections: H2_CONNECTIONS,
                streams: H2_STREAMS,
                http1: false,
                headers: &grpc_headers,
                body: Some(&health_body),
            },
            args.duration,
        )
        .await?;
        eprintln!(
            "   VerifyAccessToken {:.0} rps ({} failed), Health/Check {:.0} rps ({} failed)",
            verify.rps, verify.failed, health.rps, health.failed
        );
        f.insert("verify_rps", verify.rps);
        f.insert("health_rps", health.rps);
        f.insert("verify_over_health", verify.rps / health.rps);
        self.edge_transport(&mut f, &base, &access).await?;

        if args.users > RETURNING_USERS {
            eprintln!("   seeding {} users", args.users);
            stack::seed_service_users(&conn, db.kind, RETURNING_USERS, args.users).await?;
            self.warm_up(&base).await;
            let (r, before, after) = self
                .phase(
                    &base,
                    self.returning(args.users),
                    args.browsers,
                    &pids,
                    database,
                    "logins, 1M users",
                )
                .await;
            f.insert("login_p50_1m_ms", r.percentile_ms(50.0));
            f.insert("login_p50_1m_over_1k", r.percentile_ms(50.0) / p50_1k);
            // What a login costs with a million users: the p50 ratio moves
            // with whatever else the machine does; the CPU does less so.
            f.insert("logins_per_s_1m", r.per_second());
            let cpu_1m = self.us_per(after.ours - before.ours, r.ok);
            f.insert("cpu_us_per_login_1m", cpu_1m);
            if let Some(cpu_1k) = f.get("cpu_us_per_login") {
                f.insert("cpu_per_login_1m_over_1k", cpu_1m / cpu_1k);
            }
            if database.is_some() {
                let pg = after.postgres_db.saturating_sub(before.postgres_db);
                f.insert("postgres_cpu_us_per_login_1m", self.us_per(pg, r.ok));
            }
        }
        conn.close().await?;

        service.check_alive()?;
        edge.check_alive()?;
        let service_kib = procfs::status_kib(service.pid(), "VmHWM");
        let edge_kib = procfs::status_kib(edge.pid(), "VmHWM");
        f.insert("peak_rss_all_mib", (service_kib + edge_kib) as f64 / 1024.0);
        f.insert("peak_rss_all_service_mib", service_kib as f64 / 1024.0);
        f.insert("peak_rss_all_edge_mib", edge_kib as f64 / 1024.0);
        edge.stop().await;
        service.stop().await;
        Ok(f)
    }

    async fn express(&self) -> anyhow::Result<Figures> {
        let args = self.args;
        let mut f = Figures::new();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let db_path = self.dir.join("express.db");
        let db_url = format!("sqlite://{}?mode=rwc", db_path.display());
        let schema = std::fs::read_to_string(args.express_dir.join("schema.sql"))
            .context("bench/express/schema.sql")?;
        let conn = sea_orm::Database::connect(&db_url).await?;
        for statement in schema
            .split(';')
            .filter(|s| !s.trim().is_empty() && s.contains("CREATE"))
        {
            sea_orm::ConnectionTrait::execute_unprepared(&conn, statement).await?;
        }
        sea_orm::ConnectionTrait::execute_unprepared(&conn, "PRAGMA journal_mode = WAL").await?;
        stack::seed_express_users(&conn, 0, RETURNING_USERS).await?;

        let env = [
            ("PORT", port.to_string()),
            ("EMULATOR_URL", self.emulator_url.clone()),
            ("REDIRECT_URI", format!("{base}/auth/kakao/callback")),
            ("DB_PATH", db_path.display().to_string()),
            ("FRONTEND_URL", format!("{base}/")),
            ("KAKAO_CLIENT_ID", CLIENT_ID.to_owned()),
            ("WORKERS", "2".to_owned()),
            ("NODE_ENV", "production".to_owned()),
        ];
        let node = PathBuf::from("node");
        let mut starts = Vec::new();
        let mut app = loop {
            let mut app = Proc::spawn(
                "express",
                &node,
                &["server.js"],
                &env,
                self.dir,
                Some(&args.express_dir),
            )?;
            starts.push(
                stack::wait_http(
                    &mut app,
                    &format!("{base}/healthz"),
                    Duration::from_secs(30),
                )
                .await?,
            );
            if starts.len() == START_SAMPLES {
                break app;
            }
            app.stop().await;
        };
        starts.sort();
        f.insert("start_ms", starts[START_SAMPLES / 2].as_secs_f64() * 1e3);
        // Both workers listen before the first login is timed.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let pids = procfs::with_children(app.pid());
        eprintln!("   start to ready: {starts:?}; pids {pids:?}");

        let p50_1k = if args.transport_only {
            f64::NAN
        } else {
            self.logins_and_signups(&mut f, &base, &pids, None).await
        };

        self.settle(&pids, None).await;
        let access = load::login(&load::browser(), &base, stack::SEEDED_KAKAO_BASE).await?;
        self.edge_transport(&mut f, &base, &access).await?;

        if args.users > RETURNING_USERS {
            eprintln!("   seeding {} users", args.users);
            stack::seed_express_users(&conn, RETURNING_USERS, args.users).await?;
            self.warm_up(&base).await;
            let (r, _, _) = self
                .phase(
                    &base,
                    self.returning(args.users),
                    args.browsers,
                    &pids,
                    None,
                    "logins, 1M users",
                )
                .await;
            f.insert("login_p50_1m_ms", r.percentile_ms(50.0));
            f.insert("login_p50_1m_over_1k", r.percentile_ms(50.0) / p50_1k);
        }
        conn.close().await?;

        app.check_alive()?;
        let kib: u64 = pids.iter().map(|p| procfs::status_kib(*p, "VmHWM")).sum();
        f.insert("peak_rss_mib", kib as f64 / 1024.0);
        app.stop().await;
        Ok(f)
    }
}

fn encode_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn print_table(
    args: &Args,
    machine: &procfs::Machine,
    command: &str,
    targets: &BTreeMap<&str, Figures>,
    ratios: &Figures,
) {
    println!();
    println!(
        "machine: {} CPUs ({}), {:.1} GiB, Linux {}",
        machine.cpus, machine.model, machine.memory_gib, machine.kernel
    );
    println!("command: {command}");
    println!(
        "db: {} (ours; express always better-sqlite3), users: {}, duration: {}",
        db_name(args.db),
        args.users,
        humantime::format_duration(args.duration)
    );
    println!();
    let fmt = |v: Option<&f64>, decimals: usize| match v {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => "-".to_owned(),
    };
    println!(
        "| {:<46} | {:>10} | {:>10} | {:>18} |",
        "figure", "ours", "express", "ours/express"
    );
    println!("|{:-<48}|{:->12}|{:->12}|{:->20}|", "", "", "", "");
    for (key, label, decimals) in ROWS {
        let label = label
            .replace("{login}", &args.browsers.to_string())
            .replace("{signup}", &args.signup_browsers.to_string());
        let ours = targets.get("ours").and_then(|f| f.get(key));
        let theirs = targets.get("express").and_then(|f| f.get(key));
        if ours.is_none() && theirs.is_none() {
            continue;
        }
        let ratio = match ratios.get(key) {
            Some(r) if lower_is_better(key) && *r > 0.0 && *r < 1.0 => {
                format!("{r:.2} ({:.1}x less)", 1.0 / r)
            }
            Some(r) => format!("{r:.2}"),
            None => "-".to_owned(),
        };
        println!(
            "| {:<46} | {:>10} | {:>10} | {:>18} |",
            label,
            fmt(ours, *decimals),
            fmt(theirs, *decimals),
            ratio
        );
    }
}
