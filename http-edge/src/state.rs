//! What every request shares ([`AppState`]: settings, cookie builder, gRPC
//! clients, key cache, metrics, refreshes in flight, verified-token and
//! profile caches) and what one request
//! carries into its handler ([`Ctx`]: that state plus the request's id).
//! Startup builds the state, the routes hand it to the handlers; neither
//! needs the other, so this module sits below both.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use auth_proto::{REQUEST_ID_KEY, Reason, RequestId, v1::auth_service_client::AuthServiceClient};
use http::HeaderValue;
use tonic::{
    Status,
    metadata::MetadataValue,
    transport::{Channel, Endpoint},
};
use tonic_health::pb::health_client::HealthClient;
use warp::reply::Response;

use crate::{
    configuration::Settings,
    cookies::Cookies,
    error::{ApiError, ErrorCode, error_route_url},
    jwks::Jwks,
    metrics::Metrics,
    rate_limits::RateLimits,
    reply,
    single_flight::SingleFlight,
    verified_cache::VerifiedCache,
};

/// The answer of one refresh rotation: the new access and refresh cookies.
pub(crate) type Rotation = Result<[HeaderValue; 2], ApiError>;

/// What every request shares: settings, the cookie builder, the clients,
/// the key cache, the metrics and the refreshes in flight.
pub(crate) struct AppState {
    pub(crate) settings: Settings,
    pub(crate) cookies: Cookies,
    /// Cloned per request; all clones share one lazily connected channel.
    pub(crate) auth: AuthServiceClient<Channel>,
    /// `grpc.health.v1.Health` on the same channel, for `/readyz`.
    pub(crate) health: HealthClient<Channel>,
    /// The auth-service's public keys, to verify access tokens locally.
    pub(crate) jwks: Arc<Jwks>,
    pub(crate) metrics: Metrics,
    /// Refresh rotations in flight, by the SHA-256 of the refresh token, so
    /// that concurrent refreshes with one cookie share one rotation.
    pub(crate) refreshes: SingleFlight<Rotation>,
    /// Verified tokens and profiles, trusted while the revocation feed is up.
    pub(crate) verified: VerifiedCache,
    /// Per-client limits on login starts and callbacks.
    pub(crate) limits: RateLimits,
}

impl AppState {
    /// Prepares the one shared gRPC channel to the auth-service (used by the
    /// auth client, the health client, the key cache and the revocation
    /// feed). It connects lazily, so the edge starts even when the service
    /// is down (its routes then answer `unavailable`); the feed subscribes
    /// at start, which opens it. HTTP/2 keep-alive pings keep it warm
    /// through idle periods and find a dead peer in seconds, not at the
    /// next request.
    pub(crate) fn new(settings: Settings) -> anyhow::Result<AppState> {
        let channel = auth_service_channel(&settings)?;
        let cookies = Cookies::new(settings.cookie_domain.clone())
            .context("COOKIE_DOMAIN: not usable in a cookie")?;
        let auth = AuthServiceClient::new(channel.clone());
        let limits = RateLimits::new(&settings.rate_limits);
        let jwks = Jwks::new(auth.clone(), &settings.jwt_issuer, &settings.jwt_audience);
        Ok(AppState {
            settings,
            cookies,
            auth,
            health: HealthClient::new(channel),
            jwks: Arc::new(jwks),
            metrics: Metrics::new(),
            refreshes: SingleFlight::new(),
            verified: VerifiedCache::default(),
            limits,
        })
    }
}

/// The one lazily connected channel to the auth-service, over TLS (with
/// the edge's client certificate) when `AUTH_SERVICE_URL` is `https://`.
fn auth_service_channel(settings: &Settings) -> anyhow::Result<Channel> {
    let mut endpoint = Endpoint::from_shared(settings.auth_service_url.clone())
        .context("AUTH_SERVICE_URL: not a valid gRPC endpoint")?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(true);
    if let Some(tls) = &settings.auth_service_tls {
        endpoint = endpoint
            .tls_config(tls.client_config())
            .context("AUTH_SERVICE_CA / AUTH_SERVICE_CLIENT_CERT: TLS setup")?;
    }
    Ok(endpoint.connect_lazy())
}

/// How a request ended, as its log line says it (see [`Ctx::finish`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It did what it was asked (`logged_in`, `ok`...): logged at debug.
    Done(&'static str),
    /// Refused or failed, with the browser's error code: logged at info.
    Failed(&'static str),
}

/// Per-request context: the shared state and this request's id, which is
/// sent to the auth-service under [`REQUEST_ID_KEY`].
#[derive(Clone)]
pub(crate) struct Ctx {
    state: Arc<AppState>,
    request_id: RequestId,
}

impl Ctx {
    /// The context of the request with `request_id`.
    pub(crate) fn new(state: Arc<AppState>, request_id: RequestId) -> Self {
        Self { state, request_id }
    }

    /// The shared state.
    pub(crate) fn state(&self) -> &AppState {
        &self.state
    }

    /// A client on the shared channel.
    pub(crate) fn client(&self) -> AuthServiceClient<Channel> {
        self.state.auth.clone()
    }

    /// The cookie builder.
    pub(crate) fn cookies(&self) -> &Cookies {
        &self.state.cookies
    }

    /// The edge's metrics.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.state.metrics
    }

    /// A gRPC request for `message`, carrying this request's id. The id is
    /// sent as an HPACK never-indexed literal: it differs on every request,
    /// so indexing it only churned both ends' header tables (the encoder's
    /// table search was the largest cost of a call on the edge).
    pub(crate) fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Ok(mut id) = MetadataValue::try_from(self.request_id.as_str()) {
            id.set_sensitive(true);
            request.metadata_mut().insert(REQUEST_ID_KEY, id);
        }
        request
    }

    /// Logs the gRPC code and reason of a failed call (never its message)
    /// and hands the status on.
    pub(crate) fn failed(&self, status: Status) -> Status {
        tracing::info!(
            grpc_code = ?status.code(),
            reason = Reason::of(&status).map_or("-", Reason::as_str),
            "auth-service call failed"
        );
        status
    }

    /// Logs the request's route, outcome and status; hands the response on.
    /// A request that did what it was asked is logged at debug: at info,
    /// formatting and writing that line was a tenth of the edge's work per
    /// login, and the metrics count those requests anyway. Anything else
    /// (an error redirect, a refusal, a failure) stays at info.
    pub(crate) fn finish(
        &self,
        route: &'static str,
        outcome: Outcome,
        response: Response,
    ) -> Response {
        let status = response.status().as_u16();
        match outcome {
            Outcome::Done(outcome) => tracing::debug!(route, outcome, status, "request"),
            Outcome::Failed(outcome) => tracing::info!(route, outcome, status, "request"),
        }
        response
    }

    /// 302 to the frontend's error route with `?error=<code>`.
    pub(crate) fn error_redirect(
        &self,
        code: ErrorCode,
        cookies: impl IntoIterator<Item = HeaderValue>,
    ) -> Response {
        let url = error_route_url(&self.state.settings.frontend_error_url, code);
        match HeaderValue::from_str(url.as_str()) {
            Ok(location) => reply::redirect(location, cookies),
            Err(_) => ApiError::ServerError.into_response(),
        }
    }
}
