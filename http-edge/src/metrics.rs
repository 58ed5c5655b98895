//! The edge's Prometheus metrics, served at `GET /metrics` in the text
//! exposition format 0.0.4. Each [`Metrics`] owns its registry (no global),
//! so every `Application` (and every test) counts on its own.
//!
//! | metric | labels |
//! |---|---|
//! | `edge_login_funnel_total` | `provider`: `kakao`, `naver` or `google` (the route's, from [`Provider::NAMED`]); `step`: see [`FunnelStep`] (links included: started, then `linked`) |
//! | `edge_logins_total` | `user`: `new` or `returning` |
//! | `edge_refresh_total` | `outcome`: see [`RefreshOutcome`] (one per request: requests that joined a rotation in flight count with its outcome) |
//! | `edge_http_requests_in_flight` | none |
//! | `edge_http_request_duration_seconds` | `route`: the route's label from the route table ([`crate::routes::Route`]): its path, with `{provider}` for the routes of every provider (`/auth/{provider}/login`); or `other` (an unknown path or provider) |
//! | `edge_token_cache_lookups_total` | `result`: `hit`, `miss`, or `bypassed` (the revocation feed is down) |
//! | `edge_profile_cache_lookups_total` | `result`: as above |
//! | `edge_revocation_feed_up` | none: 1 while the revocation feed is followed |

use std::time::Instant;

use prometheus_client::{
    encoding::prometheus_text,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

use auth_proto::{Reason, v1::Provider};

use crate::error::{ApiError, ErrorCode, Refusal};

/// `Content-Type` of `GET /metrics`.
pub(crate) const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Buckets of the request duration histogram, in seconds.
const DURATION_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

type Label = [(&'static str, &'static str); 1];
/// `provider` and `step` of the login funnel.
type FunnelLabels = [(&'static str, &'static str); 2];

/// A step of the login funnel (`edge_login_funnel_total{step=..}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FunnelStep {
    /// The browser was sent to the provider (to log in or to link).
    Started,
    /// The callback ended in a session and a landing redirect.
    Completed,
    /// The callback of a link attached the identity (no new session).
    Linked,
    /// The user cancelled at the provider (`access_denied`).
    Cancelled,
    /// `invalid_state` or `login_expired`.
    StateRejected,
    /// `unavailable`, `kakao_error`, `provider_error` or `server_error`.
    UpstreamFailed,
    /// `invalid_request` or `invalid_return_to`.
    InvalidRequest,
    /// `rate_limited`: the client was over its per-minute limit.
    RateLimited,
    /// `login_required`: a link without a live login.
    LoginRequired,
    /// `identity_in_use`: the identity being linked is another user's.
    IdentityInUse,
}

impl FunnelStep {
    const ALL: [FunnelStep; 10] = [
        FunnelStep::Started,
        FunnelStep::Completed,
        FunnelStep::Linked,
        FunnelStep::Cancelled,
        FunnelStep::StateRejected,
        FunnelStep::UpstreamFailed,
        FunnelStep::InvalidRequest,
        FunnelStep::RateLimited,
        FunnelStep::LoginRequired,
        FunnelStep::IdentityInUse,
    ];

    /// The step a login or callback that failed with `code` ends at.
    pub(crate) fn of_error(code: ErrorCode) -> FunnelStep {
        match code {
            ErrorCode::AccessDenied => FunnelStep::Cancelled,
            ErrorCode::InvalidState | ErrorCode::LoginExpired => FunnelStep::StateRejected,
            ErrorCode::Unavailable
            | ErrorCode::KakaoError
            | ErrorCode::ProviderError
            | ErrorCode::ServerError => FunnelStep::UpstreamFailed,
            ErrorCode::InvalidRequest | ErrorCode::InvalidReturnTo => FunnelStep::InvalidRequest,
            ErrorCode::RateLimited => FunnelStep::RateLimited,
            ErrorCode::LoginRequired => FunnelStep::LoginRequired,
            ErrorCode::IdentityInUse => FunnelStep::IdentityInUse,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            FunnelStep::Started => "started",
            FunnelStep::Completed => "completed",
            FunnelStep::Linked => "linked",
            FunnelStep::Cancelled => "cancelled",
            FunnelStep::StateRejected => "state_rejected",
            FunnelStep::UpstreamFailed => "upstream_failed",
            FunnelStep::InvalidRequest => auth_proto::ErrorCode::InvalidRequest.as_str(),
            FunnelStep::RateLimited => auth_proto::ErrorCode::RateLimited.as_str(),
            FunnelStep::LoginRequired => auth_proto::ErrorCode::LoginRequired.as_str(),
            FunnelStep::IdentityInUse => auth_proto::ErrorCode::IdentityInUse.as_str(),
        }
    }
}

/// How a `POST /auth/refresh` ended (`edge_refresh_total{outcome=..}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshOutcome {
    /// New tokens were issued.
    Rotated,
    /// A retired refresh token was presented (`token_reused`): the session
    /// family is revoked.
    ReuseDetected,
    /// Any other 401 (missing, unknown, expired or revoked token).
    Refused,
    /// The auth-service could not answer (503, and 500s too).
    Unavailable,
}

impl RefreshOutcome {
    /// The outcome of a refresh that failed with `error`.
    pub(crate) fn of_error(error: &ApiError) -> RefreshOutcome {
        match error {
            ApiError::Unauthenticated(Refusal::Reason(Reason::TokenReused)) => {
                RefreshOutcome::ReuseDetected
            }
            ApiError::Unauthenticated(_) => RefreshOutcome::Refused,
            _ => RefreshOutcome::Unavailable,
        }
    }

    const ALL: [RefreshOutcome; 4] = [
        RefreshOutcome::Rotated,
        RefreshOutcome::ReuseDetected,
        RefreshOutcome::Refused,
        RefreshOutcome::Unavailable,
    ];

    fn as_str(self) -> &'static str {
        match self {
            RefreshOutcome::Rotated => "rotated",
            RefreshOutcome::ReuseDetected => "reuse_detected",
            RefreshOutcome::Refused => "refused",
            RefreshOutcome::Unavailable => auth_proto::Reason::Unavailable.as_str(),
        }
    }
}

/// What a cache lookup of `/auth/me` found (`edge_*_cache_lookups_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CacheResult {
    Hit,
    Miss,
    /// The revocation feed is down: the cache was not consulted.
    Bypassed,
}

impl CacheResult {
    const ALL: [CacheResult; 3] = [CacheResult::Hit, CacheResult::Miss, CacheResult::Bypassed];

    fn as_str(self) -> &'static str {
        match self {
            CacheResult::Hit => "hit",
            CacheResult::Miss => "miss",
            CacheResult::Bypassed => "bypassed",
        }
    }
}

/// One counter per [`CacheResult`], resolved once (no label lookup per
/// request).
struct CacheCounters([Counter; 3]);

impl CacheCounters {
    fn register(registry: &mut Registry, name: &str, help: &str) -> Self {
        let family = Family::<Label, Counter>::default();
        registry.register(name, help, family.clone());
        CacheCounters(
            CacheResult::ALL.map(|r| family.get_or_create_owned(&[("result", r.as_str())])),
        )
    }

    fn inc(&self, result: CacheResult) {
        self.0[result as usize].inc();
    }
}

/// The registry and every metric in it.
pub(crate) struct Metrics {
    registry: Registry,
    login_funnel: Family<FunnelLabels, Counter>,
    logins: Family<Label, Counter>,
    refresh: Family<Label, Counter>,
    in_flight: Gauge,
    duration: Family<Label, Histogram, fn() -> Histogram>,
    token_cache: CacheCounters,
    profile_cache: CacheCounters,
    feed_up: Gauge,
}

impl Metrics {
    /// A fresh registry with every metric registered and every known label
    /// value present at zero (so rates work from the first scrape).
    pub(crate) fn new() -> Self {
        let mut registry = Registry::default();
        let login_funnel = Family::<FunnelLabels, Counter>::default();
        let logins = Family::<Label, Counter>::default();
        let refresh = Family::<Label, Counter>::default();
        let in_flight = Gauge::default();
        let duration =
            Family::<Label, Histogram, fn() -> Histogram>::new_with_constructor(duration_histogram);
        registry.register(
            "edge_login_funnel",
            "Browser logins by the step they ended at",
            login_funnel.clone(),
        );
        registry.register(
            "edge_logins",
            "Completed logins, by new or returning user",
            logins.clone(),
        );
        registry.register(
            "edge_refresh",
            "Refresh token rotations by outcome",
            refresh.clone(),
        );
        registry.register(
            "edge_http_requests_in_flight",
            "HTTP requests being answered",
            in_flight.clone(),
        );
        registry.register(
            "edge_http_request_duration_seconds",
            "HTTP request duration by route, in seconds",
            duration.clone(),
        );
        let token_cache = CacheCounters::register(
            &mut registry,
            "edge_token_cache_lookups",
            "Verified-token cache lookups of /auth/me by result",
        );
        let profile_cache = CacheCounters::register(
            &mut registry,
            "edge_profile_cache_lookups",
            "Profile cache lookups of /auth/me by result",
        );
        let feed_up = Gauge::default();
        registry.register(
            "edge_revocation_feed_up",
            "1 while the auth-service's revocation feed is followed (the caches are trusted)",
            feed_up.clone(),
        );
        for provider in Provider::NAMED {
            for step in FunnelStep::ALL {
                login_funnel.get_or_create_owned(&funnel_labels(provider, step));
            }
        }
        for user in ["new", "returning"] {
            logins.get_or_create_owned(&[("user", user)]);
        }
        for outcome in RefreshOutcome::ALL {
            refresh.get_or_create_owned(&[("outcome", outcome.as_str())]);
        }
        Self {
            registry,
            login_funnel,
            logins,
            refresh,
            in_flight,
            duration,
            token_cache,
            profile_cache,
            feed_up,
        }
    }

    /// Counts one `/auth/me` lookup of each cache.
    pub(crate) fn cache_lookup(&self, token: CacheResult, profile: CacheResult) {
        self.token_cache.inc(token);
        self.profile_cache.inc(profile);
    }

    /// Sets whether the revocation feed is followed.
    pub(crate) fn revocation_feed_up(&self, up: bool) {
        self.feed_up.set(i64::from(up));
    }

    /// Counts a login (or a link) with `provider` reaching `step`.
    pub(crate) fn funnel(&self, provider: Provider, step: FunnelStep) {
        self.login_funnel
            .get_or_create(&funnel_labels(provider, step))
            .inc();
    }

    /// Counts a completed login of a new or a returning user.
    pub(crate) fn login(&self, new_user: bool) {
        let user = if new_user { "new" } else { "returning" };
        self.logins.get_or_create(&[("user", user)]).inc();
    }

    /// Counts a refresh that ended with `outcome`.
    pub(crate) fn refresh(&self, outcome: RefreshOutcome) {
        self.refresh
            .get_or_create(&[("outcome", outcome.as_str())])
            .inc();
    }

    /// Starts timing a request labelled `route` (one of a bounded set: see
    /// [`crate::routes::Route::label`]); it counts as in flight until the
    /// returned guard is dropped (also when the client goes away).
    pub(crate) fn track(&self, route: &'static str) -> InFlight {
        self.in_flight.inc();
        InFlight {
            in_flight: self.in_flight.clone(),
            duration: self.duration.get_or_create_owned(&[("route", route)]),
            started: Instant::now(),
        }
    }

    /// Every metric in the Prometheus text format 0.0.4.
    pub(crate) fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// The funnel's labels: the provider's slug (one of three: UNSPECIFIED is
/// Kakao's) and the step.
fn funnel_labels(provider: Provider, step: FunnelStep) -> FunnelLabels {
    [("provider", provider.slug()), ("step", step.as_str())]
}

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// A request being answered: see [`Metrics::track`].
pub(crate) struct InFlight {
    in_flight: Gauge,
    duration: Histogram,
    started: Instant,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.in_flight.dec();
        self.duration.observe(self.started.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_ends_at_a_funnel_step() {
        use ErrorCode::*;
        let table = [
            (AccessDenied, FunnelStep::Cancelled),
            (InvalidState, FunnelStep::StateRejected),
            (LoginExpired, FunnelStep::StateRejected),
            (Unavailable, FunnelStep::UpstreamFailed),
            (KakaoError, FunnelStep::UpstreamFailed),
            (ProviderError, FunnelStep::UpstreamFailed),
            (ServerError, FunnelStep::UpstreamFailed),
            (InvalidRequest, FunnelStep::InvalidRequest),
            (InvalidReturnTo, FunnelStep::InvalidRequest),
            (RateLimited, FunnelStep::RateLimited),
            (LoginRequired, FunnelStep::LoginRequired),
            (IdentityInUse, FunnelStep::IdentityInUse),
        ];
        assert_eq!(table.len(), ErrorCode::ALL.len());
        for (code, step) in table {
            assert_eq!(FunnelStep::of_error(code), step, "{code:?}");
        }
    }

    #[test]
    fn counters_appear_in_the_text_format_with_all_labels_at_zero() {
        let metrics = Metrics::new();
        metrics.funnel(Provider::Kakao, FunnelStep::Started);
        metrics.funnel(Provider::Google, FunnelStep::Linked);
        metrics.login(false);
        metrics.refresh(RefreshOutcome::ReuseDetected);
        drop(metrics.track("/auth/me"));
        drop(metrics.track("other"));
        metrics.cache_lookup(CacheResult::Hit, CacheResult::Miss);
        metrics.revocation_feed_up(true);
        let text = metrics.encode().unwrap();
        for line in [
            "# TYPE edge_login_funnel_total counter",
            r#"edge_login_funnel_total{provider="kakao",step="started"} 1"#,
            r#"edge_login_funnel_total{provider="google",step="linked"} 1"#,
            r#"edge_login_funnel_total{provider="naver",step="started"} 0"#,
            r#"edge_login_funnel_total{provider="kakao",step="state_rejected"} 0"#,
            r#"edge_logins_total{user="returning"} 1"#,
            r#"edge_logins_total{user="new"} 0"#,
            r#"edge_refresh_total{outcome="reuse_detected"} 1"#,
            r#"edge_refresh_total{outcome="rotated"} 0"#,
            "# TYPE edge_http_requests_in_flight gauge",
            "edge_http_requests_in_flight 0",
            "# TYPE edge_http_request_duration_seconds histogram",
            r#"edge_http_request_duration_seconds_count{route="/auth/me"} 1"#,
            r#"edge_http_request_duration_seconds_count{route="other"} 1"#,
            r#"edge_token_cache_lookups_total{result="hit"} 1"#,
            r#"edge_token_cache_lookups_total{result="bypassed"} 0"#,
            r#"edge_profile_cache_lookups_total{result="miss"} 1"#,
            "edge_revocation_feed_up 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
    }

    #[test]
    fn the_funnel_has_one_series_per_named_provider_and_step_and_no_more() {
        let metrics = Metrics::new();
        metrics.funnel(Provider::Unspecified, FunnelStep::Started);
        let text = metrics.encode().unwrap();
        let series: Vec<_> = text
            .lines()
            .filter(|l| l.starts_with("edge_login_funnel_total{"))
            .collect();
        assert_eq!(series.len(), Provider::NAMED.len() * FunnelStep::ALL.len());
        assert!(
            series.contains(&r#"edge_login_funnel_total{provider="kakao",step="started"} 1"#),
            "UNSPECIFIED counts as Kakao: {series:?}"
        );
    }
}
