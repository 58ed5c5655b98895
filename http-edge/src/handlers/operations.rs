//! The operational routes: the cached key set, liveness and readiness
//! probes, Prometheus metrics, and CORS preflights. Probes and scrapes are
//! not logged when they succeed (they come every few seconds).

use std::time::Duration;

use auth_proto::v1::auth_service_server::SERVICE_NAME;
use http::{
    HeaderMap, HeaderValue, StatusCode,
    header::{CACHE_CONTROL, CONTENT_TYPE},
};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
use warp::reply::Response;

use crate::{
    error::ApiError,
    metrics, origins,
    reply::{json_response, static_response},
    state::{Ctx, Outcome},
};

/// How long `/readyz` waits for the auth-service's health answer.
const READY_TIMEOUT: Duration = Duration::from_secs(1);

/// GET /.well-known/jwks.json (from the key cache, as received)
pub(crate) async fn jwks(ctx: Ctx) -> Response {
    let (outcome, response) = match ctx.state().jwks.json().await {
        Ok(json) => {
            let mut response = Response::new(json.to_string().into());
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert(
                CACHE_CONTROL,
                HeaderValue::from_static(crate::jwks::PUBLISHED_CACHE_CONTROL),
            );
            (Outcome::Done("ok"), response)
        }
        Err(error) => {
            let error = ApiError::from(error);
            (Outcome::Failed(error.as_str()), error.into_response())
        }
    };
    ctx.finish("jwks", outcome, response)
}

/// OPTIONS /auth/... (CORS preflight)
pub(crate) async fn preflight(ctx: Ctx, headers: HeaderMap) -> Response {
    let mut response = Response::new(Default::default());
    let allowed = &ctx.state().settings.allowed_origins;
    let (outcome, response) =
        if origins::answer_preflight(response.headers_mut(), &headers, allowed) {
            *response.status_mut() = StatusCode::NO_CONTENT;
            (Outcome::Done("ok"), response)
        } else {
            (
                Outcome::Failed("forbidden"),
                ApiError::CrossSite.into_response(),
            )
        };
    ctx.finish("preflight", outcome, response)
}

/// GET /healthz
pub(crate) async fn healthz() -> Response {
    static_response("text/plain; charset=utf-8", "ok")
}

/// GET /readyz (only a failure is logged: probes come every few seconds)
pub(crate) async fn readyz(ctx: Ctx) -> Response {
    let (status, word) = if auth_service_serving(&ctx).await {
        (StatusCode::OK, "ready")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            auth_proto::Reason::Unavailable.as_str(),
        )
    };
    let response = json_response(status, &serde_json::json!({ "status": word }));
    match status {
        StatusCode::OK => response,
        _ => ctx.finish("readyz", Outcome::Failed(word), response),
    }
}

/// Whether the auth-service's health service says `auth.v1.AuthService` is
/// SERVING within [`READY_TIMEOUT`].
async fn auth_service_serving(ctx: &Ctx) -> bool {
    let mut request = ctx.request(HealthCheckRequest {
        service: SERVICE_NAME.into(),
    });
    request.set_timeout(READY_TIMEOUT);
    let mut health = ctx.state().health.clone();
    match tokio::time::timeout(READY_TIMEOUT, health.check(request)).await {
        Ok(Ok(answer)) => answer.into_inner().status() == ServingStatus::Serving,
        _ => false,
    }
}

/// GET /metrics (not logged: scraped every few seconds)
pub(crate) async fn metrics(ctx: Ctx) -> Response {
    match ctx.metrics().encode() {
        Ok(text) => {
            let mut response = Response::new(text.into());
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static(metrics::CONTENT_TYPE),
            );
            response
        }
        Err(_) => ApiError::ServerError.into_response(),
    }
}
