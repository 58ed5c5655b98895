//! What a login, a token verification and an empty gRPC call cost the
//! auth-service, and how much memory each binary holds.
//!
//!     cargo bench -p auth-service --bench login_cost
//!
//! The auth-service and the http-edge run as real processes (release
//! build); the Kakao emulator runs inside this process, so its work is not
//! counted. CPU time is read from /proc/<pid>/stat before and after each
//! phase, so it is the service's own CPU, whatever else the machine does.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use auth_proto::v1::{
    BuildLoginUrlRequest, CompleteLoginRequest, VerifyAccessTokenRequest,
    auth_service_client::AuthServiceClient,
};
use kakao_emulator::EmulatorConfig;
use tonic::transport::Channel;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

const REDIRECT_URI: &str = "http://localhost:8080/auth/kakao/callback";
const LOGINS: usize = 400;
const CALLS: usize = 5000;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// (user+system CPU seconds, resident MiB) of a process.
fn usage(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = fields
        .get(11)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    (ticks / 100.0, rss_kib / 1024.0)
}

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_for(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("port {port} never opened");
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

fn report(name: &str, n: usize, wall: &mut [Duration], cpu: f64) {
    wall.sort();
    println!(
        "{name:<28} n={n:<5} p50={:>8.1?} p99={:>8.1?}  service CPU/op={:>7.1} µs",
        pct(wall, 0.5),
        pct(wall, 0.99),
        cpu / n as f64 * 1e6
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let emulator = kakao_emulator::start(
        EmulatorConfig {
            redirect_uris: vec![REDIRECT_URI.into()],
            ..EmulatorConfig::default()
        },
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("emulator");
    let dir = std::env::temp_dir().join(format!("auth-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let grpc_port = free_port();
    let metrics_port = free_port();
    let service = Proc(
        Command::new(env!("CARGO_BIN_EXE_auth-service"))
            .env_clear()
            .env("KAKAO_CLIENT_ID", "demo-rest-api-key")
            .env("KAKAO_AUTH_BASE_URL", emulator.base_url())
            .env("KAKAO_API_BASE_URL", emulator.base_url())
            .env(
                "DATABASE_URL",
                std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| {
                    format!("sqlite://{}?mode=rwc", dir.join("bench.db").display())
                }),
            )
            .env("AUTH_GRPC_ADDR", format!("127.0.0.1:{grpc_port}"))
            .env("METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn auth-service"),
    );
    let pid = service.0.id();
    wait_for(grpc_port).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, idle_rss) = usage(pid);

    let channel = Channel::from_shared(format!("http://127.0.0.1:{grpc_port}"))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let mut client = AuthServiceClient::new(channel.clone());
    let mut health = HealthClient::new(channel);
    let control = emulator.control();

    let login = async |client: &mut AuthServiceClient<Channel>| {
        let started = client
            .build_login_url(BuildLoginUrlRequest {
                return_to: "/".into(),
                binding: String::new(),
            })
            .await
            .expect("BuildLoginUrl")
            .into_inner();
        let url = url::Url::parse(&started.authorize_url).expect("url");
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        let code = control
            .issue_code_for(3208537903, REDIRECT_URI, Some(&q["code_challenge"]))
            .expect("code");
        client
            .complete_login(CompleteLoginRequest {
                code,
                state: q["state"].clone(),
                binding: started.binding,
            })
            .await
            .expect("CompleteLogin")
            .into_inner()
    };

    for _ in 0..20 {
        login(&mut client).await;
    }
    let (cpu0, _) = usage(pid);
    let mut wall = Vec::with_capacity(LOGINS);
    let mut token = String::new();
    for _ in 0..LOGINS {
        let t = Instant::now();
        let done = login(&mut client).await;
        wall.push(t.elapsed());
        token = done.tokens.expect("tokens").access_token;
    }
    let (cpu1, _) = usage(pid);
    println!(
        "\nauth-service (release, {}), {} logins then {} calls each:",
        if std::env::var("BENCH_DATABASE_URL").is_ok() {
            "BENCH_DATABASE_URL"
        } else {
            "SQLite"
        },
        LOGINS,
        CALLS
    );
    report("login (Build+Complete)", LOGINS, &mut wall, cpu1 - cpu0);

    let mut wall = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        client
            .verify_access_token(VerifyAccessTokenRequest {
                access_token: token.clone(),
            })
            .await
            .expect("verify");
        wall.push(t.elapsed());
    }
    let (cpu2, _) = usage(pid);
    report("VerifyAccessToken", CALLS, &mut wall, cpu2 - cpu1);

    let mut wall = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .expect("health");
        wall.push(t.elapsed());
    }
    let (cpu3, busy_rss) = usage(pid);
    report("empty call (Health/Check)", CALLS, &mut wall, cpu3 - cpu2);

    let edge_port = free_port();
    let edge = Proc(
        Command::new(
            std::path::Path::new(env!("CARGO_BIN_EXE_auth-service")).with_file_name("http-edge"),
        )
        .env_clear()
        .env("EDGE_ADDR", format!("127.0.0.1:{edge_port}"))
        .env("AUTH_SERVICE_URL", format!("http://127.0.0.1:{grpc_port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn http-edge (cargo build --release -p http-edge first)"),
    );
    wait_for(edge_port).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, edge_rss) = usage(edge.0.id());
    println!(
        "\nresident memory: auth-service idle {idle_rss:.1} MiB, after the run {busy_rss:.1} MiB; http-edge idle {edge_rss:.1} MiB"
    );
    drop(edge);
    drop(service);
    let _ = std::fs::remove_dir_all(&dir);
}
