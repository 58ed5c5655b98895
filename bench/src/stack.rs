//! Starting and stopping the processes under test, and their databases.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use tokio::process::{Child, Command};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A child process, stopped with SIGTERM (then SIGKILL) when asked, and
/// killed when dropped.
pub struct Proc {
    pub name: &'static str,
    child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(
        name: &'static str,
        program: &Path,
        args: &[&str],
        env: &[(&str, String)],
        dir: &Path,
        cwd: Option<&Path>,
    ) -> anyhow::Result<Proc> {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log)?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true);
        if let Some(cwd) = cwd {
            cmd.current_dir(cwd);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        Ok(Proc { name, child, log })
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// Fails with the end of the log if the process has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Ok(Some(status)) = self.child.try_wait() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!("{} exited ({status}):\n{}", self.name, tail.join("\n"));
        }
        Ok(())
    }

    /// SIGTERM, up to 5 s for a clean exit, then SIGKILL.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
            if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
                .await
                .is_ok()
            {
                return;
            }
        }
        let _ = self.child.kill().await;
    }
}

/// Polls `url` until it answers 2xx.
pub async fn wait_http(proc: &mut Proc, url: &str, within: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()?;
    while started.elapsed() < within {
        if let Ok(res) = client.get(url).send().await
            && res.status().is_success()
        {
            return Ok(started.elapsed());
        }
        proc.check_alive()?;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    bail!("{url} did not answer 2xx within {within:?}")
}

/// Polls the gRPC health check of `port` until it answers SERVING.
pub async fn wait_serving(
    proc: &mut Proc,
    port: u16,
    within: Duration,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
        .connect_timeout(Duration::from_millis(200))
        .timeout(Duration::from_secs(1));
    while started.elapsed() < within {
        if let Ok(channel) = endpoint.connect().await {
            let mut health = HealthClient::new(channel);
            loop {
                match health.check(HealthCheckRequest::default()).await {
                    Ok(res) if res.get_ref().status == ServingStatus::Serving as i32 => {
                        return Ok(started.elapsed());
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
                proc.check_alive()?;
                if started.elapsed() > within {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        proc.check_alive()?;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    bail!("the auth-service was not SERVING within {within:?}")
}

/// Which database the auth-service uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A database made for this run: a SQLite file in the run's temp dir, or a
/// randomly named PostgreSQL database dropped by [`BenchDb::drop_db`].
pub struct BenchDb {
    pub url: String,
    pub kind: Db,
    admin_url: Option<String>,
    pub name: String,
}

impl BenchDb {
    pub async fn create(kind: Db, dir: &Path, pg_admin_url: &str) -> anyhow::Result<BenchDb> {
        match kind {
            Db::Sqlite => Ok(BenchDb {
                url: format!("sqlite://{}?mode=rwc", dir.join("auth.db").display()),
                kind,
                admin_url: None,
                name: "auth.db".to_owned(),
            }),
            Db::Postgres => {
                let name = format!("bench_{:016x}", rand::random::<u64>());
                let admin = Database::connect(pg_admin_url)
                    .await
                    .with_context(|| format!("connecting to {pg_admin_url}"))?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await?;
                admin.close().await?;
                // The same server and parameters (`?sslmode=...`), this database.
                let (path, query) = pg_admin_url
                    .split_once('?')
                    .map_or((pg_admin_url, None), |(p, q)| (p, Some(q)));
                let base = path.rsplit_once('/').map_or(path, |(base, _)| base);
                let query = query.map(|q| format!("?{q}")).unwrap_or_default();
                Ok(BenchDb {
                    url: format!("{base}/{name}{query}"),
                    kind,
                    admin_url: Some(pg_admin_url.to_owned()),
                    name,
                })
            }
        }
    }

    pub async fn connect(&self) -> anyhow::Result<DatabaseConnection> {
        Ok(Database::connect(&self.url).await?)
    }

    pub async fn drop_db(&self) {
        if let Some(admin_url) = &self.admin_url
            && let Ok(admin) = Database::connect(admin_url).await
        {
            let _ = admin
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await;
            let _ = admin.close().await;
        }
    }
}

/// The Kakao id of seeded user `i`; the bench's returning users are seeded ones.
pub const SEEDED_KAKAO_BASE: i64 = 1_000_000_000;
/// Sign-ups use ids from here up, never seeded.
pub const FRESH_KAKAO_BASE: u64 = 5_000_000_000;

/// Rows `from..to` of the users table and their Kakao identities, inserted by the database itself
/// (one statement, batched by 100k), in the schema the auth-service
/// migrates (`auth-service/src/persistence/migration.rs`).
pub async fn seed_service_users(
    db: &DatabaseConnection,
    kind: Db,
    from: u64,
    to: u64,
) -> anyhow::Result<()> {
    let now = now_ms();
    let mut start = from;
    while start < to {
        let end = (start + 100_000).min(to);
        // Each seeded user has one Kakao identity (subject = the Kakao id).
        let (rows, uuid) = match kind {
            Db::Sqlite => (
                format!(
                    "WITH RECURSIVE n(i) AS (SELECT {start} UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {end}) "
                ),
                "printf('00000000-0000-4000-8000-%012d', i)",
            ),
            Db::Postgres => (
                String::new(),
                "'00000000-0000-4000-8000-' || lpad(i::text, 12, '0')",
            ),
        };
        let from_rows = match kind {
            Db::Sqlite => "FROM n".to_owned(),
            Db::Postgres => {
                format!("FROM generate_series({start}::bigint, {end}::bigint - 1) AS i")
            }
        };
        let users = format!(
            "INSERT INTO users (id, nickname, profile_image_url, thumbnail_image_url, email, created_at, last_login_at, unlinked_at) \
             {rows}SELECT {uuid}, 'user ' || ({SEEDED_KAKAO_BASE} + i), NULL, NULL, \
             'user' || ({SEEDED_KAKAO_BASE} + i) || '@example.com', {now}, {now}, NULL {from_rows}"
        );
        let identities = format!(
            "INSERT INTO identities (id, user_id, provider, subject, email, grant_sealed, created_at, last_login_at) \
             {rows}SELECT {identity_uuid}, {uuid}, 'kakao', CAST({SEEDED_KAKAO_BASE} + i AS TEXT), \
             'user' || ({SEEDED_KAKAO_BASE} + i) || '@example.com', NULL, {now}, {now} {from_rows}",
            identity_uuid = uuid.replace("4000-8000", "4000-9000"),
        );
        db.execute_unprepared(&users)
            .await
            .context("seeding users")?;
        db.execute_unprepared(&identities)
            .await
            .context("seeding identities")?;
        start = end;
    }
    // A database in service has its statistics and no backlog: the seeding
    // must not leave its WAL for the measured logins to checkpoint.
    match kind {
        Db::Postgres => db.execute_unprepared("ANALYZE users, identities").await?,
        Db::Sqlite => {
            db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                .await?
        }
    };
    Ok(())
}

/// The same rows in the Express app's users table (`bench/express/schema.sql`).
pub async fn seed_express_users(db: &DatabaseConnection, from: u64, to: u64) -> anyhow::Result<()> {
    let now = now_ms();
    let mut start = from;
    while start < to {
        let end = (start + 100_000).min(to);
        db.execute_unprepared(&format!(
            "INSERT INTO users (id, kakao_id, nickname, email, created_at, last_login_at) \
             WITH RECURSIVE n(i) AS (SELECT {start} UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {end}) \
             SELECT printf('00000000-0000-4000-8000-%012d', i), {SEEDED_KAKAO_BASE} + i, 'user ' || ({SEEDED_KAKAO_BASE} + i), \
             'user' || ({SEEDED_KAKAO_BASE} + i) || '@example.com', {now}, {now} FROM n"
        ))
        .await
        .context("seeding the express users")?;
        start = end;
    }
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
