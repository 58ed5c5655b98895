//! The systems under test: a fresh database per test (SQLite file, or a
//! randomly named PostgreSQL database when `TEST_DATABASE_URL` is a postgres
//! URL), the Kakao emulator on port 0, and the real auth-service on port 0.

use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};

use crate::browser::http;

use auth_proto::v1::auth_service_client::AuthServiceClient;
use auth_service::{Application, AuthCore, Settings};
use kakao_emulator::{EmulatorConfig, RunningEmulator};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use tokio::{sync::oneshot, task::JoinHandle};
use tonic::transport::{Channel, ClientTlsConfig};

use crate::tls::TestPki;

/// The client id the emulator and the service agree on.
pub const CLIENT_ID: &str = "test-rest-api-key";
/// The edge callback registered at the emulator.
pub const REDIRECT_URI: &str = "http://localhost:8080/auth/kakao/callback";
/// The frontend all tests log in to.
pub const FRONTEND_URL: &str = "http://localhost:3000/";
/// The emulator's default Naver app.
pub const NAVER_CLIENT_ID: &str = "DemoNaverClientId";
/// Its secret.
pub const NAVER_CLIENT_SECRET: &str = "DemoNaverClientSecret";
/// The edge's Naver callback.
pub const NAVER_REDIRECT_URI: &str = "http://localhost:8080/auth/naver/callback";
/// The emulator's default Google client.
pub const GOOGLE_CLIENT_ID: &str = "demo-google-client.apps.googleusercontent.com";
/// Its secret.
pub const GOOGLE_CLIENT_SECRET: &str = "GOCSPX-demo-google-secret";
/// The edge's Google callback.
pub const GOOGLE_REDIRECT_URI: &str = "http://localhost:8080/auth/google/callback";

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    drop_pg: Option<(String, String)>,
    _dir: Option<TempDir>,
}

/// A temporary directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn random_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_owned()
}

impl TestDb {
    /// A new empty database: PostgreSQL when `TEST_DATABASE_URL` names one
    /// (a randomly named database is created there and dropped afterwards),
    /// else an SQLite file in a temporary directory.
    pub async fn new() -> TestDb {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin) if admin.starts_with("postgres") => {
                let name = format!("auth_test_{}", random_suffix());
                let conn = Database::connect(admin.as_str())
                    .await
                    .expect("connect to TEST_DATABASE_URL");
                conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                conn.close().await.ok();
                let mut url = url::Url::parse(&admin).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&format!("/{name}"));
                TestDb {
                    url: url.to_string(),
                    drop_pg: Some((admin, name)),
                    _dir: None,
                }
            }
            _ => {
                let dir = std::env::temp_dir().join(format!("auth-test-{}", random_suffix()));
                std::fs::create_dir_all(&dir).expect("create temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.join("auth.db").display());
                TestDb {
                    url,
                    drop_pg: None,
                    _dir: Some(TempDir(dir)),
                }
            }
        }
    }

    /// Whether this is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.drop_pg.is_some()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.drop_pg.take() {
            // Async drop is not possible; drop the database from a helper thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let conn = Database::connect(admin.as_str()).await.ok()?;
                    conn.execute_unprepared(&format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    ))
                    .await
                    .ok()?;
                    conn.close().await.ok()
                })
            })
            .join();
        }
    }
}

/// Settings for a test auth-service: everything on loopback, port 0.
pub fn settings(db_url: &str, kakao_base: &str, extra: &[(&str, &str)]) -> Settings {
    let base = kakao_base.trim_end_matches('/');
    let naver_base = format!("{base}/naver");
    let google_issuer = format!("{base}/google");
    let mut vars: HashMap<String, String> = [
        // Naver and Google at the same emulator, under their prefixes.
        ("NAVER_CLIENT_ID", NAVER_CLIENT_ID),
        ("NAVER_CLIENT_SECRET", NAVER_CLIENT_SECRET),
        ("NAVER_REDIRECT_URI", NAVER_REDIRECT_URI),
        ("NAVER_AUTH_BASE_URL", naver_base.as_str()),
        ("NAVER_API_BASE_URL", naver_base.as_str()),
        ("GOOGLE_CLIENT_ID", GOOGLE_CLIENT_ID),
        ("GOOGLE_CLIENT_SECRET", GOOGLE_CLIENT_SECRET),
        ("GOOGLE_REDIRECT_URI", GOOGLE_REDIRECT_URI),
        ("GOOGLE_ISSUER", google_issuer.as_str()),
        ("KAKAO_CLIENT_ID", CLIENT_ID),
        ("KAKAO_REDIRECT_URI", REDIRECT_URI),
        ("KAKAO_AUTH_BASE_URL", kakao_base),
        ("KAKAO_API_BASE_URL", kakao_base),
        ("DATABASE_URL", db_url),
        ("AUTH_GRPC_ADDR", "127.0.0.1:0"),
        ("METRICS_ADDR", "127.0.0.1:0"),
        ("FRONTEND_URL", FRONTEND_URL),
        ("ALLOWED_ORIGINS", "https://admin.example.com"),
        ("KAKAO_TIMEOUT", "1s"),
        ("KAKAO_CONNECT_TIMEOUT", "1s"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in extra {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    Settings::from_vars(&vars).expect("test settings are valid")
}

/// A running auth-service.
pub struct AuthHandle {
    pub addr: SocketAddr,
    /// The metrics port's address (`None` with `METRICS_ADDR=off`).
    pub metrics_addr: Option<SocketAddr>,
    pub core: Arc<AuthCore>,
    /// How clients reach it over TLS (`None`: plain HTTP/2).
    pub client_tls: Option<ClientTlsConfig>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl AuthHandle {
    /// Starts the real service with these settings.
    pub async fn start(settings: Settings) -> AuthHandle {
        let app = Application::build(settings)
            .await
            .expect("auth-service builds");
        let addr = app.local_addr();
        let metrics_addr = app.metrics_addr();
        let core = app.core();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(app.run_until_stopped(async {
            let _ = rx.await;
        }));
        AuthHandle {
            addr,
            metrics_addr,
            core,
            client_tls: None,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Starts the real service with TLS settings; clients connect with
    /// `client_tls`.
    pub async fn start_tls(settings: Settings, client_tls: ClientTlsConfig) -> AuthHandle {
        let mut handle = AuthHandle::start(settings).await;
        handle.client_tls = Some(client_tls);
        handle
    }

    /// `http://127.0.0.1:PORT` (`https://` when it serves TLS).
    pub fn url(&self) -> String {
        let scheme = if self.client_tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// The text of `GET /metrics` on the metrics port.
    pub async fn scrape_metrics(&self) -> String {
        let addr = self.metrics_addr.expect("metrics port is on");
        let res = http()
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .expect("GET /metrics");
        assert_eq!(res.status(), 200, "GET /metrics");
        res.text().await.expect("metrics text")
    }

    /// A fresh gRPC channel (for the health and reflection clients).
    pub async fn channel(&self) -> Channel {
        self.channel_with(self.client_tls.clone())
            .await
            .expect("connect to auth-service")
    }

    /// A fresh gRPC channel over `tls` (plain when `None`); the error of a
    /// refused connection or handshake.
    pub async fn channel_with(
        &self,
        tls: Option<ClientTlsConfig>,
    ) -> Result<Channel, tonic::transport::Error> {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut endpoint =
            tonic::transport::Endpoint::from_shared(format!("{scheme}://{}", self.addr))
                .expect("valid url")
                .connect_timeout(Duration::from_secs(2));
        if let Some(tls) = tls {
            endpoint = endpoint.tls_config(tls)?;
        }
        endpoint.connect().await
    }

    /// A fresh gRPC client.
    pub async fn client(&self) -> AuthServiceClient<Channel> {
        AuthServiceClient::new(self.channel().await)
    }

    /// The row count of every table of the service's database (whatever
    /// tables later migrations add), sorted by table name.
    pub async fn row_counts(&self) -> Vec<(String, i64)> {
        let db = &self.core.db.read;
        let backend = db.get_database_backend();
        let list = match backend {
            DbBackend::Postgres => {
                "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
            }
            _ => "SELECT name FROM sqlite_master WHERE type = 'table'",
        };
        let tables = db
            .query_all_raw(Statement::from_string(backend, list))
            .await
            .expect("list the tables");
        let mut counts = Vec::new();
        for row in tables {
            let table: String = row.try_get("", "name").expect("a table name");
            let count = db
                .query_one_raw(Statement::from_string(
                    backend,
                    format!(r#"SELECT COUNT(*) AS n FROM "{table}""#),
                ))
                .await
                .expect("count the rows")
                .and_then(|row| row.try_get::<i64>("", "n").ok())
                .expect("a row count");
            counts.push((table, count));
        }
        counts.sort();
        counts
    }

    /// Graceful stop; waits for the server task.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for AuthHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Database + emulator + auth-service.
pub struct Stack {
    pub auth: AuthHandle,
    pub kakao: RunningEmulator,
    pub db: TestDb,
    /// The certificates when the service serves TLS ([`Stack::start_tls`]).
    pub pki: Option<TestPki>,
}

impl Stack {
    /// The default stack.
    pub async fn start() -> Stack {
        Stack::start_with(EmulatorConfig::default(), &[]).await
    }

    /// A stack with a custom emulator configuration and extra settings.
    pub async fn start_with(emulator: EmulatorConfig, extra: &[(&str, &str)]) -> Stack {
        let kakao = start_emulator(emulator).await;
        let db = TestDb::new().await;
        let auth = AuthHandle::start(settings(&db.url, &kakao.base_url(), extra)).await;
        Stack {
            auth,
            kakao,
            db,
            pki: None,
        }
    }

    /// A stack whose service serves TLS and requires a client certificate
    /// of a fresh test CA; [`Stack::pki`] holds the CA, and the stack's own
    /// clients present a certificate with CN `test-client`.
    pub async fn start_tls(extra: &[(&str, &str)]) -> Stack {
        let pki = TestPki::new();
        let kakao = start_emulator(EmulatorConfig::default()).await;
        let db = TestDb::new().await;
        let tls_vars = pki.service_vars();
        let mut vars: Vec<(&str, &str)> = tls_vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        vars.extend_from_slice(extra);
        let client = pki.client("test-client");
        let auth = AuthHandle::start_tls(
            settings(&db.url, &kakao.base_url(), &vars),
            pki.client_tls(Some(&client)),
        )
        .await;
        Stack {
            auth,
            kakao,
            db,
            pki: Some(pki),
        }
    }
}

/// Starts the Kakao emulator on port 0 with `config`, its client id and
/// redirect URI set to the ones the test services use ([`CLIENT_ID`],
/// [`REDIRECT_URI`]). Turns on test logging first.
pub async fn start_emulator(mut config: EmulatorConfig) -> RunningEmulator {
    init_tracing();
    config.client_id = CLIENT_ID.to_owned();
    config.redirect_uris = vec![REDIRECT_URI.to_owned()];
    kakao_emulator::start(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("emulator starts")
}

/// Logs go to the test's captured output (shown on failure).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

/// The default test users' Kakao ids.
pub mod users {
    /// 홍길동 🙂, valid and verified e-mail.
    pub const HONG: i64 = 3208537903;
    /// 김카카오, e-mail not valid.
    pub const KIM: i64 = 3208537904;
    /// 🐱 고양이 😺, no e-mail.
    pub const CAT: i64 = 3208537905;
    /// Default nickname and image.
    pub const DEFAULT: i64 = 3208537906;

    /// Naver's 길동이 🌿 (the emulator's account key).
    pub const NAVER_GILDONG: &str = "gildong";
    /// Another Naver account.
    pub const NAVER_BEAR: &str = "bear";
    /// Google's kim, with a verified e-mail (`sub`).
    pub const GOOGLE_KIM: &str = "110248495921238986420";
    /// Google's emile, whose e-mail is not verified.
    pub const GOOGLE_EMILE: &str = "108516029483746120935";
}
