//! Real processes, as a deployment runs them: `auth-service` and `http-edge`
//! binaries started as child processes against one database (SQLite, or
//! PostgreSQL when `TEST_DATABASE_URL` is set), with the Kakao emulator
//! in-process. Checks that replicas share logins, sessions and users, and
//! that SIGTERM lets in-flight requests finish before a clean exit.
//!
//! The `auth-service` binary is the sibling of this package's `http-edge`
//! binary. Cargo builds it when the command builds auth-service's own test
//! targets (`cargo test --workspace`, `cargo test -p auth-service -p
//! http-edge --tests`), but NOT for `... --test processes` alone (auth-service
//! has no `processes` target): then an older build is used as it is, so run
//! `cargo build -p auth-service` first.

use std::{
    fs::File,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use auth_service::persistence::{
    login_state_claims, refresh_tokens, session_rows as sessions, users as user_rows,
};
use kakao_emulator::{EmulatorConfig, Endpoint, Fault, RunningEmulator};
use reqwest::{Response, header};
use sea_orm::{EntityTrait, PaginatorTrait};
use test_support::{
    CLIENT_ID, EdgeClient, FRONTEND_URL, REDIRECT_URI, TempDir, TestDb, consent, cookie_header,
    http, location, login_across, poll, set_cookies, start_emulator, users, wait_until,
};
use tokio::task::JoinSet;

/// How long a process may take to become ready (edge `/readyz` answers 200).
const READY_WITHIN: Duration = Duration::from_secs(10);
/// How long a process may take to exit after SIGTERM.
const EXIT_WITHIN: Duration = Duration::from_secs(5);

/// The four default test users.
const USERS: [i64; 4] = [users::HONG, users::KIM, users::CAT, users::DEFAULT];

// ---------------------------------------------------------------------------
// Processes

/// The `http-edge` binary cargo built for this test.
fn edge_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_http-edge"))
}

/// The `auth-service` binary next to it; panics with a hint when missing.
fn service_binary() -> PathBuf {
    let edge = edge_binary();
    let path = edge
        .parent()
        .expect("the http-edge binary has a directory")
        .join(format!("auth-service{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build -p auth-service` first, or test both \
         packages' targets (`cargo test --workspace`, \
         `cargo test -p auth-service -p http-edge --tests`)",
        path.display()
    );
    path
}

/// A free loopback port (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// One child process; its stdout and stderr go to a log file.
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if it has exited.
    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Sends SIGTERM.
    fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(
            status.success(),
            "kill -TERM {} ({})",
            self.pid(),
            self.name
        );
    }

    /// Waits up to `limit` for the exit; `None` when still running.
    async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        poll(limit, || {
            let exited = self.exited();
            async move { exited.ok_or(()) }
        })
        .await
        .ok()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Every child of a test, with a working directory for their logs (and so
/// that no `.env` file of the repository is read). Kills them all on drop,
/// and prints their logs when the test is failing.
struct Procs {
    dir: TempDir,
    procs: Vec<Proc>,
}

impl Procs {
    fn new() -> Procs {
        let dir =
            std::env::temp_dir().join(format!("processes-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create the process directory");
        Procs {
            dir: TempDir(dir),
            procs: Vec::new(),
        }
    }

    /// Starts `binary` with exactly `env` (plus `PATH`); returns its index.
    fn spawn(&mut self, name: &str, binary: &Path, env: &[(&str, String)]) -> usize {
        let log = self.dir.0.join(format!("{name}.log"));
        let out = File::create(&log).expect("create the log file");
        let err = out.try_clone().expect("clone the log file");
        let mut cmd = Command::new(binary);
        cmd.env_clear()
            .current_dir(&self.dir.0)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {name} ({}): {e}", binary.display()));
        self.procs.push(Proc {
            name: name.to_owned(),
            child,
            log,
        });
        self.procs.len() - 1
    }

    /// Starts an auth-service; returns (index, gRPC URL for an edge).
    fn service(&mut self, name: &str, db_url: &str, kakao: &RunningEmulator) -> (usize, String) {
        let grpc_port = free_port();
        let env = [
            ("KAKAO_CLIENT_ID", CLIENT_ID.to_owned()),
            ("KAKAO_REDIRECT_URI", REDIRECT_URI.to_owned()),
            ("KAKAO_AUTH_BASE_URL", kakao.base_url()),
            ("KAKAO_API_BASE_URL", kakao.base_url()),
            ("DATABASE_URL", db_url.to_owned()),
            ("AUTH_GRPC_ADDR", format!("127.0.0.1:{grpc_port}")),
            ("METRICS_ADDR", format!("127.0.0.1:{}", free_port())),
            ("FRONTEND_URL", FRONTEND_URL.to_owned()),
            // Short, so a reuse test need not wait out the default window.
            ("REFRESH_REUSE_GRACE", "200ms".to_owned()),
            ("RUST_LOG", "warn".to_owned()),
        ];
        let index = self.spawn(name, &service_binary(), &env);
        (index, format!("http://127.0.0.1:{grpc_port}"))
    }

    /// Starts an http-edge in front of `service_url`; returns (index, a
    /// browser of it).
    fn edge(&mut self, name: &str, service_url: &str) -> (usize, EdgeClient) {
        let port = free_port();
        let env = [
            ("EDGE_ADDR", format!("127.0.0.1:{port}")),
            ("AUTH_SERVICE_URL", service_url.to_owned()),
            ("FRONTEND_URL", FRONTEND_URL.to_owned()),
            ("RUST_LOG", "warn".to_owned()),
        ];
        let index = self.spawn(name, &edge_binary(), &env);
        (index, EdgeClient::new(format!("http://127.0.0.1:{port}")))
    }

    /// Starts one replica, `auth-service{suffix}` and `http-edge{suffix}` in
    /// front of it, and waits until the edge is ready. Returns (service
    /// index, edge index, a browser of the edge).
    async fn replica(
        &mut self,
        suffix: &str,
        db_url: &str,
        kakao: &RunningEmulator,
    ) -> (usize, usize, EdgeClient) {
        let (service, service_url) = self.service(&format!("auth-service{suffix}"), db_url, kakao);
        let (edge_index, edge) = self.edge(&format!("http-edge{suffix}"), &service_url);
        self.wait_ready(&edge).await;
        (service, edge_index, edge)
    }

    /// Polls `GET {edge}/readyz` until 200 (the edge serves and its service
    /// answers SERVING); fails early when any child has exited.
    async fn wait_ready(&mut self, edge: &EdgeClient) {
        let what = format!("{edge}/readyz answers 200");
        wait_until(READY_WITHIN, what, || {
            for p in &mut self.procs {
                if let Some(status) = p.exited() {
                    panic!("{} exited early with {status}", p.name);
                }
            }
            edge.is_ready()
        })
        .await;
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        let failing = std::thread::panicking();
        for p in &mut self.procs {
            if p.exited().is_none() {
                let _ = p.child.kill();
                let _ = p.child.wait();
            }
            if failing {
                eprintln!("----- {} log -----\n{}", p.name, p.log_text());
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The browser

/// A successful login: 302 to the frontend with both token cookies.
fn assert_logged_in(res: &Response, what: &str) {
    assert_eq!(res.status(), 302, "{what}: redirects");
    assert_eq!(location(res), FRONTEND_URL, "{what}: lands on the frontend");
    let cookies = set_cookies(res);
    for name in ["access_token", "refresh_token"] {
        assert!(
            cookies.get(name).is_some_and(|c| !c.value().is_empty()),
            "{what}: {name} cookie set (got {cookies:?})"
        );
    }
}

/// The published signing keys, (kid, created_at), to explain a refusal.
async fn signing_keys(db_url: &str) -> Vec<(String, i64)> {
    let db = sea_orm::Database::connect(db_url)
        .await
        .expect("connect to the test database");
    let keys = auth_service::persistence::signing_keys::all(&db)
        .await
        .expect("read signing keys")
        .into_iter()
        .map(|k| (k.kid, k.created_at))
        .collect();
    db.close().await.ok();
    keys
}

// ---------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_services_and_two_edges_share_logins_sessions_and_users_under_load() {
    let kakao = start_emulator(EmulatorConfig::default()).await;
    let testdb = TestDb::new().await;
    let mut procs = Procs::new();
    // Replica A first (it creates the first signing key), then replica B.
    // Started at the same moment, both may create a key and each edge then
    // refuses the other replica's tokens: see the ignored test below.
    let (_, _, edge_a) = procs.replica("-a", &testdb.url, &kakao).await;
    let (_, _, edge_b) = procs.replica("-b", &testdb.url, &kakao).await;

    // One login across replicas, then the session used on both.
    let first = login_across(&edge_a, &edge_b, users::HONG, "").await;
    assert_logged_in(&first, "login from edge A to edge B");
    let session = cookie_header(&first);
    let res = edge_a.me(&session).await;
    let status = res.status();
    let body = res.text().await.expect("/auth/me body");
    if status != 200 {
        let keys = signing_keys(&testdb.url).await;
        panic!(
            "edge A refuses edge B's login: {status} {body}; signing keys in the \
             database (kid, created_at): {keys:?}"
        );
    }
    let profile: serde_json::Value = serde_json::from_str(&body).expect("profile JSON");
    assert_eq!(profile["kakao_id"], users::HONG.to_string());
    let rotated = http()
        .post(format!("{edge_b}/auth/refresh"))
        .header(header::COOKIE, &session)
        .send()
        .await
        .expect("edge B answers /auth/refresh");
    assert_eq!(rotated.status(), 204, "edge B refreshes the session");
    let rotated_session = cookie_header(&rotated);
    assert!(
        rotated_session.contains("access_token=") && rotated_session.contains("refresh_token="),
        "refresh sets both cookies: {rotated_session}"
    );
    let res = edge_b.me(&rotated_session).await;
    assert_eq!(res.status(), 200, "the refreshed session works on edge B");
    let again: serde_json::Value = res.json().await.expect("profile JSON");
    assert_eq!(again["id"], profile["id"], "the same user");

    // A small load: 24 logins at once, each finishing on the other edge.
    const FLOWS: usize = 24;
    let started = Instant::now();
    let mut flows = JoinSet::new();
    for i in 0..FLOWS {
        let (from, to) = if i % 2 == 0 {
            (edge_a.clone(), edge_b.clone())
        } else {
            (edge_b.clone(), edge_a.clone())
        };
        let user = USERS[i % USERS.len()];
        flows.spawn(async move {
            let res = login_across(&from, &to, user, "").await;
            assert_logged_in(&res, &format!("flow {i} (user {user}, {from} -> {to})"));
        });
    }
    while let Some(done) = flows.join_next().await {
        done.expect("a login flow panicked");
    }
    eprintln!("{FLOWS} concurrent logins took {:?}", started.elapsed());

    let db = sea_orm::Database::connect(testdb.url.as_str())
        .await
        .expect("connect to the test database");
    assert_eq!(
        user_rows::Entity::find().count(&db).await.unwrap(),
        USERS.len() as u64,
        "one row per Kakao user, whatever the races"
    );
    assert_eq!(
        sessions::Entity::find().count(&db).await.unwrap(),
        FLOWS as u64 + 1,
        "one session per completed login"
    );
    assert_eq!(
        refresh_tokens::Entity::find().count(&db).await.unwrap(),
        FLOWS as u64 + 2,
        "one refresh token per login, plus the one rotation"
    );
    assert_eq!(
        login_state_claims::Entity::find().count(&db).await.unwrap(),
        FLOWS as u64 + 1,
        "one claim per completed login, kept until its state expires"
    );
    db.close().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_lets_in_flight_requests_finish_and_exits_zero() {
    let kakao = start_emulator(EmulatorConfig::default()).await;
    let testdb = TestDb::new().await;
    let mut procs = Procs::new();
    let (service, edge_index, edge) = procs.replica("", &testdb.url, &kakao).await;

    kakao
        .control()
        .set_fault(Endpoint::Token, Fault::Delay(Duration::from_millis(1500)));
    let (authorize, binding) = edge.begin("").await;
    let redirect = consent(&authorize, users::HONG, true).await;
    let in_flight = {
        let edge = edge.clone();
        tokio::spawn(async move { edge.callback(&redirect, &binding).await })
    };
    wait_until(
        Duration::from_secs(2),
        "the callback is waiting at Kakao's token endpoint",
        || async { kakao.control().calls(Endpoint::Token) == 1 },
    )
    .await;
    let signalled = Instant::now();
    procs.procs[service].sigterm();
    procs.procs[edge_index].sigterm();

    let res = in_flight.await.expect("the callback task");
    assert_logged_in(&res, "the callback in flight at SIGTERM");
    eprintln!(
        "in-flight callback answered {:?} after SIGTERM",
        signalled.elapsed()
    );

    for index in [service, edge_index] {
        let p = &mut procs.procs[index];
        let status = p.wait_exit(EXIT_WITHIN).await;
        let name = p.name.clone();
        let status = status.unwrap_or_else(|| {
            panic!("{name} still runs {EXIT_WITHIN:?} after SIGTERM");
        });
        assert_eq!(
            status.code(),
            Some(0),
            "{name} exits with status 0 after SIGTERM (got {status}); log:\n{}",
            p.log_text()
        );
    }
    eprintln!(
        "both processes exited {:?} after SIGTERM",
        signalled.elapsed()
    );

    let after = http()
        .get(format!("{edge}/healthz"))
        .send()
        .await
        .expect_err("the stopped edge accepts no request");
    assert!(after.is_connect(), "a connection error, got {after:?}");
}

/// An edge verifies access tokens with the JWK set of its own auth-service.
/// After `auth-service keys rotate`, a replica that started later signs with
/// the new key before the other replicas' periodic reload; the edge's
/// refetch on an unknown `kid` makes `GetJwks` re-read the database, so the
/// token is accepted everywhere at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_key_rotation_every_edge_accepts_tokens_signed_by_every_replica() {
    let kakao = start_emulator(EmulatorConfig::default()).await;
    let testdb = TestDb::new().await;
    let mut procs = Procs::new();
    let (_, _, edge_a) = procs.replica("-a", &testdb.url, &kakao).await;
    let warm = login_across(&edge_a, &edge_a, users::HONG, "").await;
    assert_logged_in(&warm, "login on edge A");
    assert_eq!(edge_a.me(&cookie_header(&warm)).await.status(), 200);

    // The documented rotation: a new key, older ones stay published; here
    // it signs at once (the default waits for every JWKS cache first).
    let rotate = Command::new(service_binary())
        .arg("keys")
        .arg("rotate")
        .env_clear()
        .env("DATABASE_URL", &testdb.url)
        .env("KEY_ACTIVATION_DELAY", "0s")
        .env("RUST_LOG", "warn")
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(&procs.dir.0)
        .output()
        .expect("run auth-service keys rotate");
    assert!(
        rotate.status.success(),
        "keys rotate: {}",
        String::from_utf8_lossy(&rotate.stderr)
    );
    // Replica B starts after the rotation and signs with the new key.
    let (_, _, edge_b) = procs.replica("-b", &testdb.url, &kakao).await;

    let res = login_across(&edge_a, &edge_b, users::HONG, "").await;
    assert_logged_in(&res, "login from edge A to edge B");
    let session = cookie_header(&res);
    assert_eq!(edge_b.me(&session).await.status(), 200, "edge B");
    let res = edge_a.me(&session).await;
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    let published_at_a = http()
        .get(format!("{edge_a}/.well-known/jwks.json"))
        .send()
        .await
        .expect("edge A answers the JWKS")
        .text()
        .await
        .unwrap_or_default();
    assert_eq!(
        status,
        200,
        "edge A refuses a token replica B signed with the rotated key: {body}; \
         keys in the database: {:?}; edge A publishes: {published_at_a}",
        signing_keys(&testdb.url).await
    );
}

/// How long a revocation made through one replica may take to be enforced
/// by every other edge. The target is one second (the service reads the log
/// every 200 ms and streams to the edges); the bound is looser so a loaded
/// test machine does not fail it, and the time taken is printed.
const REVOCATION_REACHES_EVERY_EDGE_WITHIN: Duration = Duration::from_secs(3);

/// Polls `/auth/me` on `edge` with `session` until it answers 401.
async fn wait_refused(edge: &EdgeClient, session: &str, what: &str) -> Duration {
    let started = Instant::now();
    wait_until(REVOCATION_REACHES_EVERY_EDGE_WITHIN, what, || async {
        edge.me(session).await.status() == 401
    })
    .await;
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_logout_or_a_refresh_reuse_on_one_replica_is_enforced_by_the_other_edge() {
    let kakao = start_emulator(EmulatorConfig::default()).await;
    let testdb = TestDb::new().await;
    let mut procs = Procs::new();
    let (_, _, edge_a) = procs.replica("-a", &testdb.url, &kakao).await;
    let (_, _, edge_b) = procs.replica("-b", &testdb.url, &kakao).await;

    // Logout through A while B answers /auth/me from its cache.
    let session = cookie_header(&edge_a.login(users::HONG, "").await);
    for _ in 0..2 {
        assert_eq!(
            edge_b.me(&session).await.status(),
            200,
            "edge B serves the session"
        );
    }
    let out = edge_a
        .post(
            "/auth/logout",
            &session,
            Some(FRONTEND_URL.trim_end_matches('/')),
        )
        .await;
    assert_eq!(out.status(), 204, "edge A logs out");
    let took = wait_refused(&edge_b, &session, "edge B refuses the logged-out session").await;
    eprintln!("logout on A enforced by edge B after {took:?}");

    // A refresh token replayed after its rotation revokes the family; B sees it.
    let session = cookie_header(&edge_b.login(users::KIM, "").await);
    assert_eq!(
        edge_a.me(&session).await.status(),
        200,
        "edge A serves the new session"
    );
    let origin = Some(FRONTEND_URL.trim_end_matches('/'));
    let rotated = edge_b.post("/auth/refresh", &session, origin).await;
    assert_eq!(rotated.status(), 204, "edge B rotates the refresh token");
    let rotated_session = cookie_header(&rotated);
    assert_eq!(
        edge_a.me(&rotated_session).await.status(),
        200,
        "edge A serves it"
    );
    // Outlive the refresh-reuse grace window, then replay the old token.
    wait_until(Duration::from_secs(10), "the reuse is detected", || async {
        edge_b
            .post("/auth/refresh", &session, origin)
            .await
            .status()
            == 401
    })
    .await;
    let took = wait_refused(
        &edge_a,
        &rotated_session,
        "edge A refuses the revoked family",
    )
    .await;
    eprintln!("refresh reuse on B enforced by edge A after {took:?}");
}
