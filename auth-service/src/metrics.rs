//! The auth-service's Prometheus metrics, served at `GET /metrics` on
//! `METRICS_ADDR` in the text exposition format 0.0.4. Each [`Metrics`]
//! owns its registry (no global), so every `Application` (and every test)
//! counts on its own. Labels only ever take values from fixed lists: no
//! token, code, user id or request text reaches a label.
//!
//! | metric | labels |
//! |---|---|
//! | `auth_rpc_duration_seconds` | `method` (an `AuthService` RPC, or `other`), `code` (gRPC code name: `OK`, `InvalidArgument`, ...) |
//! | `auth_rpc_in_flight` | none |
//! | `auth_provider_request_duration_seconds` | `provider` (`kakao`, `naver`, `google`), `endpoint` (`token`, `user_me`, `jwks`, `discovery`, `revoke`), `outcome` (`ok`, `rejected`, `unavailable`, `misconfigured`) |
//! | `auth_logins_total` | `provider`, `user` (`new`, `returning`, `linked`) |
//! | `auth_refresh_total` | `outcome` (`rotated`, `grace_replay`, `reuse_detected`, `refused`) |

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::Duration,
};

use auth_proto::v1::Provider;
use prometheus_client::{
    encoding::prometheus_text,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use tokio::net::TcpListener;
use tonic::Code;
use warp::Filter;

/// `Content-Type` of `GET /metrics`.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Every RPC of `auth.v1.AuthService`; any other method is labelled `other`,
/// so a caller cannot grow the label set.
pub const METHODS: [&str; 11] = [
    "BuildLoginUrl",
    "CompleteLogin",
    "RefreshSession",
    "RevokeSession",
    "RevokeAllSessions",
    "VerifyAccessToken",
    "GetUser",
    "HandleUnlink",
    "GetJwks",
    "WatchRevocations",
    "UnlinkIdentity",
];

/// Buckets of the RPC duration histogram, in seconds.
const RPC_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Buckets of the provider request histogram, in seconds (timeouts are ~5 s).
const KAKAO_BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0];

/// A Kakao endpoint we call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KakaoEndpoint {
    /// `POST /oauth/token` (kauth).
    Token,
    /// `GET /v2/user/me` (kapi).
    UserMe,
    /// `GET /.well-known/jwks.json` (kauth): the id_token signing keys.
    Jwks,
}

impl KakaoEndpoint {
    fn as_str(self) -> &'static str {
        match self {
            KakaoEndpoint::Token => "token",
            KakaoEndpoint::UserMe => "user_me",
            KakaoEndpoint::Jwks => "jwks",
        }
    }
}

/// How a provider request ended (`outcome` of
/// `auth_provider_request_duration_seconds`). The provider clients map
/// their own errors onto these, so this module knows nothing of their types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KakaoOutcome {
    /// A usable answer.
    Ok,
    /// Kakao refused the code or the token.
    Rejected,
    /// Kakao could not be reached or answered unusably.
    Unavailable,
    /// Kakao refused our own credentials or configuration.
    Misconfigured,
}

impl KakaoOutcome {
    fn as_str(self) -> &'static str {
        match self {
            KakaoOutcome::Ok => "ok",
            KakaoOutcome::Rejected => "rejected",
            KakaoOutcome::Unavailable => auth_proto::Reason::Unavailable.as_str(),
            KakaoOutcome::Misconfigured => "misconfigured",
        }
    }
}

/// What a completed login did (`auth_logins_total{user=..}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginKind {
    /// Registered a new user.
    New,
    /// Logged in an existing user.
    Returning,
    /// Attached an identity to a logged-in user.
    Linked,
}

/// How a refresh ended (`auth_refresh_total{outcome=..}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The token was retired and a successor issued.
    Rotated,
    /// A just-rotated token came back within the grace window and got the
    /// successor already issued.
    GraceReplay,
    /// A rotated token came back after the grace window: family revoked.
    ReuseDetected,
    /// Missing, malformed, unknown, expired or revoked token or session
    /// (not counted: database failures, which show as `Unavailable` in the
    /// RPC histogram).
    Refused,
}

impl RefreshOutcome {
    const ALL: [RefreshOutcome; 4] = [
        RefreshOutcome::Rotated,
        RefreshOutcome::GraceReplay,
        RefreshOutcome::ReuseDetected,
        RefreshOutcome::Refused,
    ];

    fn as_str(self) -> &'static str {
        match self {
            RefreshOutcome::Rotated => "rotated",
            RefreshOutcome::GraceReplay => "grace_replay",
            RefreshOutcome::ReuseDetected => "reuse_detected",
            RefreshOutcome::Refused => "refused",
        }
    }
}

type Labels<const N: usize> = [(&'static str, &'static str); N];
type Histograms<const N: usize> = Family<Labels<N>, Histogram, fn() -> Histogram>;

/// How many gRPC codes there are (`OK` = 0 to `Unauthenticated` = 16).
const CODES: usize = 17;
/// One slot per `method` label ([`METHODS`], then `other`) and code.
type RpcHistogramSlots = [[OnceLock<Histogram>; CODES]; METHODS.len() + 1];

/// The registry and every metric in it.
pub struct Metrics {
    registry: Registry,
    rpc_duration: Histograms<2>,
    /// Handles on `rpc_duration`'s series, each filled by its first call:
    /// later calls observe without hashing labels under the family's lock.
    rpc_series: RpcHistogramSlots,
    rpc_in_flight: Gauge,
    kakao_duration: Histograms<3>,
    logins: Family<Labels<2>, Counter>,
    refresh: Family<Labels<1>, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered and every counter
    /// label present at zero (so rates work from the first scrape).
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let rpc_duration = Histograms::<2>::new_with_constructor(rpc_histogram);
        let rpc_in_flight = Gauge::default();
        let kakao_duration = Histograms::<3>::new_with_constructor(kakao_histogram);
        let logins = Family::<Labels<2>, Counter>::default();
        let refresh = Family::<Labels<1>, Counter>::default();
        registry.register(
            "auth_rpc_duration_seconds",
            "AuthService RPC duration by method and gRPC status code, in seconds",
            rpc_duration.clone(),
        );
        registry.register(
            "auth_rpc_in_flight",
            "AuthService RPCs being answered",
            rpc_in_flight.clone(),
        );
        registry.register(
            "auth_provider_request_duration_seconds",
            "Identity provider request duration by provider, endpoint and outcome, in seconds",
            kakao_duration.clone(),
        );
        registry.register(
            "auth_logins",
            "Completed logins and links, by provider and new, returning or linked user",
            logins.clone(),
        );
        registry.register(
            "auth_refresh",
            "Refresh token presentations by outcome",
            refresh.clone(),
        );
        for provider in Provider::NAMED {
            for user in ["new", "returning", "linked"] {
                logins.get_or_create_owned(&[("provider", provider.slug()), ("user", user)]);
            }
        }
        for outcome in RefreshOutcome::ALL {
            refresh.get_or_create_owned(&[("outcome", outcome.as_str())]);
        }
        Metrics {
            registry,
            rpc_duration,
            rpc_series: std::array::from_fn(|_| std::array::from_fn(|_| OnceLock::new())),
            rpc_in_flight,
            kakao_duration,
            logins,
            refresh,
        }
    }

    /// Counts an RPC as started; see [`Metrics::rpc_finished`].
    pub fn rpc_started(&self) {
        self.rpc_in_flight.inc();
    }

    /// Records an RPC that ended with `code` after `elapsed`. `method` is
    /// the last path segment; unknown names are recorded as `other`.
    pub fn rpc_finished(&self, method: &str, code: Code, elapsed: Duration) {
        self.rpc_in_flight.dec();
        let method_index = METHODS
            .iter()
            .position(|m| *m == method)
            .unwrap_or(METHODS.len());
        let series = || {
            let labels = [("method", method_label(method)), ("code", code_name(code))];
            self.rpc_duration.get_or_create(&labels).clone()
        };
        let slot = usize::try_from(i32::from(code))
            .ok()
            .and_then(|code| self.rpc_series.get(method_index)?.get(code));
        match slot {
            Some(slot) => slot.get_or_init(series).observe(elapsed.as_secs_f64()),
            None => series().observe(elapsed.as_secs_f64()),
        }
    }

    /// Records one Kakao request and how it ended.
    pub fn kakao_request(&self, endpoint: KakaoEndpoint, outcome: KakaoOutcome, elapsed: Duration) {
        self.provider_request(Provider::Kakao, endpoint.as_str(), outcome, elapsed);
    }

    /// Records one request to an identity provider and how it ended.
    /// `endpoint` is a fixed word (`token`, `user_me`, `jwks`, `discovery`,
    /// `revoke`), never request data.
    pub fn provider_request(
        &self,
        provider: Provider,
        endpoint: &'static str,
        outcome: KakaoOutcome,
        elapsed: Duration,
    ) {
        self.kakao_duration
            .get_or_create(&[
                ("provider", provider.slug()),
                ("endpoint", endpoint),
                ("outcome", outcome.as_str()),
            ])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a completed login (of a new or a returning user) or link.
    pub fn login(&self, provider: Provider, user: LoginKind) {
        let user = match user {
            LoginKind::New => "new",
            LoginKind::Returning => "returning",
            LoginKind::Linked => "linked",
        };
        self.logins
            .get_or_create(&[("provider", provider.slug()), ("user", user)])
            .inc();
    }

    /// Counts a refresh that ended with `outcome`.
    pub fn refresh(&self, outcome: RefreshOutcome) {
        self.refresh
            .get_or_create(&[("outcome", outcome.as_str())])
            .inc();
    }

    /// Every metric in the Prometheus text format 0.0.4.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// The `method` label of an RPC named `method`: itself when it is one of
/// [`METHODS`], else `other`.
pub fn method_label(method: &str) -> &'static str {
    METHODS
        .iter()
        .copied()
        .find(|m| *m == method)
        .unwrap_or("other")
}

fn rpc_histogram() -> Histogram {
    Histogram::new(RPC_BUCKETS)
}

fn kakao_histogram() -> Histogram {
    Histogram::new(KAKAO_BUCKETS)
}

/// The gRPC code's name as used in labels (`OK`, `InvalidArgument`, ...).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Cancelled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// Serves `GET /metrics` on `listener` until `shutdown` resolves.
pub async fn serve(
    metrics: Arc<Metrics>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    // GET /metrics
    let route = warp::path!("metrics")
        .and(warp::get())
        .map(move || match metrics.encode() {
            Ok(text) => warp::http::Response::builder()
                .header(warp::http::header::CONTENT_TYPE, CONTENT_TYPE)
                .body(text),
            Err(_) => warp::http::Response::builder()
                .status(warp::http::StatusCode::INTERNAL_SERVER_ERROR)
                .body(String::new()),
        });
    warp::serve(route)
        .incoming(listener)
        .graceful(shutdown)
        .run()
        .await;
}

/// Binds the metrics port, when one is configured.
pub async fn bind(addr: Option<SocketAddr>) -> anyhow::Result<Option<TcpListener>> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("bind METRICS_ADDR {addr}: {e}"))?;
    Ok(Some(listener))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_method_list_matches_the_proto() {
        let proto = include_str!("../../proto/auth/v1/auth.proto");
        let mut in_proto: Vec<&str> = proto
            .lines()
            .filter_map(|l| l.trim().strip_prefix("rpc "))
            .filter_map(|l| l.split('(').next())
            .map(str::trim)
            .collect();
        let mut listed = METHODS.to_vec();
        in_proto.sort_unstable();
        listed.sort_unstable();
        assert_eq!(in_proto, listed);
    }

    #[test]
    fn repeated_rpcs_count_in_one_series_per_method_and_code() {
        let metrics = Metrics::new();
        for (method, code) in [
            ("VerifyAccessToken", Code::Ok),
            ("VerifyAccessToken", Code::Ok),
            ("VerifyAccessToken", Code::Unauthenticated),
            ("NoSuchMethod", Code::Unimplemented),
            ("AnotherOne", Code::Unimplemented),
        ] {
            metrics.rpc_started();
            metrics.rpc_finished(method, code, Duration::from_millis(1));
        }
        let text = metrics.encode().unwrap();
        for needle in [
            r#"auth_rpc_duration_seconds_count{method="VerifyAccessToken",code="OK"} 2"#,
            r#"auth_rpc_duration_seconds_count{method="VerifyAccessToken",code="Unauthenticated"} 1"#,
            r#"auth_rpc_duration_seconds_count{method="other",code="Unimplemented"} 2"#,
            "auth_rpc_in_flight 0",
        ] {
            assert!(text.contains(needle), "{needle} missing in\n{text}");
        }
    }

    #[test]
    fn every_metric_appears_in_the_text_format_with_bounded_labels() {
        let metrics = Metrics::new();
        metrics.rpc_started();
        metrics.rpc_finished("CompleteLogin", Code::Ok, Duration::from_millis(3));
        metrics.rpc_started();
        metrics.rpc_finished("../../etc/passwd", Code::Unimplemented, Duration::ZERO);
        metrics.kakao_request(
            KakaoEndpoint::Token,
            KakaoOutcome::Rejected,
            Duration::from_millis(20),
        );
        metrics.login(Provider::Kakao, LoginKind::New);
        metrics.refresh(RefreshOutcome::GraceReplay);
        let text = metrics.encode().unwrap();
        for needle in [
            r#"auth_rpc_duration_seconds_count{method="CompleteLogin",code="OK"} 1"#,
            r#"auth_rpc_duration_seconds_count{method="other",code="Unimplemented"} 1"#,
            "auth_rpc_in_flight 0",
            r#"auth_provider_request_duration_seconds_count{provider="kakao",endpoint="token",outcome="rejected"} 1"#,
            r#"auth_logins_total{provider="kakao",user="new"} 1"#,
            r#"auth_logins_total{provider="kakao",user="returning"} 0"#,
            r#"auth_refresh_total{outcome="grace_replay"} 1"#,
            r#"auth_refresh_total{outcome="reuse_detected"} 0"#,
        ] {
            assert!(text.contains(needle), "{needle} missing in\n{text}");
        }
        assert!(!text.contains("passwd"));
    }
}
