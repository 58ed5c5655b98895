//! The warp filters: one per route, each matching its path before its method
//! (so a wrong method is 405 and an unknown path 404), then a `recover` that
//! turns every rejection into a small JSON answer, and a last step that adds
//! the headers every response carries (`nosniff`, CORS for allowed origins,
//! `no-store` unless the route chose a cache policy). Every request, matched
//! or not, is counted in flight and timed by route ([`crate::metrics`]).
//! The POST routes read no body, and refuse one over [`MAX_BODY`] bytes.

use std::{convert::Infallible, future::poll_fn, pin::pin, sync::Arc};

use auth_proto::RequestId;
use http::{
    HeaderMap, HeaderValue, Method,
    header::{CACHE_CONTROL, CONTENT_LENGTH, X_CONTENT_TYPE_OPTIONS},
};
use warp::{
    Buf, Filter, Rejection, Stream, path::FullPath, reject::MethodNotAllowed, reply::Response,
};

use crate::{
    error::ApiError,
    handlers::{demo, login, operations, session, unlink},
    metrics::InFlight,
    origins,
    state::{AppState, Ctx},
};

/// The largest request body a POST route accepts, in bytes.
const MAX_BODY: usize = 4096;

/// Every route of the edge, with rejections recovered and common headers set.
pub(crate) fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
    let api = login(state.clone())
        .or(callback(state.clone()))
        .unify()
        .or(me(state.clone()))
        .unify()
        .or(refresh(state.clone()))
        .unify()
        .or(logout(state.clone()))
        .unify()
        .or(unlink(state.clone()))
        .unify()
        .or(preflight(state.clone()))
        .unify()
        .or(jwks(state.clone()))
        .unify()
        .or(healthz())
        .unify()
        .or(readyz(state.clone()))
        .unify()
        .or(metrics(state.clone()))
        .unify()
        .or(demo(state.settings.demo_page))
        .unify()
        .recover(recover)
        .unify();
    let tracked = state.clone();
    warp::path::full()
        .map(move |path: FullPath| tracked.metrics.track(path.as_str()))
        .and(warp::header::headers_cloned())
        .and(api)
        .map(move |in_flight: InFlight, request: HeaderMap, response| {
            let response = finish(response, &request, &state);
            drop(in_flight);
            response
        })
}

/// GET /auth/kakao/login[?return_to=...]
fn login(state: Arc<AppState>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("auth" / "kakao" / "login")
        .and(warp::get())
        .and(with_ctx(state))
        .and(raw_query())
        .and(warp::header::headers_cloned())
        .then(login::login)
}

/// GET /auth/kakao/callback?code=...&state=... (or ?error=...)
fn callback(state: Arc<AppState>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("auth" / "kakao" / "callback")
        .and(warp::get())
        .and(with_ctx(state))
        .and(raw_query())
        .and(warp::header::headers_cloned())
        .then(login::callback)
}

/// GET /auth/me (token verified locally against the cached JWKS, then one
/// GetUser call that also checks the session is live)
fn me(state: Arc<AppState>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("auth" / "me")
        .and(warp::get())
        .and(with_ctx(state))
        .and(warp::header::headers_cloned())
        .then(session::me)
}

/// POST /auth/refresh
fn refresh(state: Arc<AppState>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("auth" / "refresh")
        .and(warp::post())
        .and(small_body())
        .and(same_site(state.clone()))
        .and(with_ctx(state))
        .and(warp::header::headers_cloned())
        .then(session::refresh)
}

/// POST /auth/logout
fn logout(state: Arc<AppState>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("auth" / "logout")
        .and(warp::post())
        .and(small_body())
        .and(same_site(state.clone()))
        .and(with_ctx(state))
        .and(warp::header::headers_cloned())
        .then(session::logout)
}

/// GET|POST /auth/kakao/unlink (Kakao's unlink callback, `Authorization:
/// KakaoAK <admin key>`; server to server, so no Origin check)
fn unlink(state: Arc<AppState>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let get = warp::get().and(raw_query());
    let post = warp::post()
        .and(warp::body::content_length_limit(MAX_BODY as u64))
        .and(warp::body::bytes())
        .map(|body: hyper::body::Bytes| String::from_utf8_lossy(&body).into_owned());
    warp::path!("auth" / "kakao" / "unlink")
        .and(with_ctx(state))
        .and(get.or(post).unify())
        .and(warp::header::headers_cloned())
        .then(unlink::unlink)
}

/// OPTIONS /auth/... (CORS preflight)
fn preflight(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path("auth")
        .and(method_is(Method::OPTIONS))
        .and(with_ctx(state))
        .and(warp::header::headers_cloned())
        .then(operations::preflight)
}

/// GET /.well-known/jwks.json (the cached key set, `max-age=300`)
fn jwks(state: Arc<AppState>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!(".well-known" / "jwks.json")
        .and(warp::get())
        .and(with_ctx(state))
        .then(operations::jwks)
}

/// GET /healthz (liveness: the process answers)
fn healthz() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("healthz")
        .and(warp::get())
        .then(operations::healthz)
}

/// GET /readyz (readiness: the auth-service's health check says SERVING)
fn readyz(state: Arc<AppState>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("readyz")
        .and(warp::get())
        .and(with_ctx(state))
        .then(operations::readyz)
}

/// GET /metrics (Prometheus text format 0.0.4)
fn metrics(state: Arc<AppState>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("metrics")
        .and(warp::get())
        .and(with_ctx(state))
        .then(operations::metrics)
}

/// GET /, GET /demo.js, GET /demo.css (only when `DEMO_PAGE` is on)
fn demo(enabled: bool) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let page = warp::path::end().and(warp::get()).then(demo::page);
    let script = warp::path!("demo.js").and(warp::get()).then(demo::script);
    let style = warp::path!("demo.css").and(warp::get()).then(demo::style);
    warp::any()
        .and_then(move || async move {
            if enabled {
                Ok(())
            } else {
                Err(warp::reject::not_found())
            }
        })
        .untuple_one()
        .and(page.or(script).unify().or(style).unify())
}

/// Refuses a cross-site request (see [`origins::is_cross_site`]).
fn same_site(state: Arc<AppState>) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::headers_cloned()
        .and_then(move |headers: HeaderMap| {
            let refused = origins::is_cross_site(&headers, &state.settings.allowed_origins);
            async move {
                if refused {
                    Err(warp::reject::custom(CrossSite))
                } else {
                    Ok(())
                }
            }
        })
        .untuple_one()
}

/// Matches one method, rejecting others as "not found" rather than 405, so
/// that a catch-all like the preflight route does not turn 404s into 405s.
fn method_is(expected: Method) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::method()
        .and_then(move |method: Method| {
            let matches = method == expected;
            async move {
                if matches {
                    Ok(())
                } else {
                    Err(warp::reject::not_found())
                }
            }
        })
        .untuple_one()
}

/// The request's context, with the id [`crate::server`] gave the request
/// (a fresh one if none was given, e.g. when the routes are served alone).
fn with_ctx(state: Arc<AppState>) -> impl Filter<Extract = (Ctx,), Error = Infallible> + Clone {
    warp::ext::optional::<RequestId>().map(move |id: Option<RequestId>| {
        Ctx::new(state.clone(), id.unwrap_or_else(RequestId::generate))
    })
}

/// Refuses a body over [`MAX_BODY`] bytes: by its `Content-Length` before
/// reading it, or while reading one of undeclared length (chunked).
fn small_body() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    let declared = warp::header::optional::<u64>(CONTENT_LENGTH.as_str()).and_then(
        |length: Option<u64>| async move {
            match length {
                Some(length) if length > MAX_BODY as u64 => Err(warp::reject::custom(TooLarge)),
                _ => Ok(()),
            }
        },
    );
    declared
        .untuple_one()
        .and(warp::body::stream())
        .and_then(|body| async move { read_at_most(body, MAX_BODY).await })
        .untuple_one()
}

/// Reads and drops `body`, refusing it once it passes `limit` bytes.
async fn read_at_most<B: Buf>(
    body: impl Stream<Item = Result<B, warp::Error>>,
    limit: usize,
) -> Result<(), Rejection> {
    let mut body = pin!(body);
    let mut read = 0usize;
    while let Some(chunk) = poll_fn(|cx| body.as_mut().poll_next(cx)).await {
        let chunk = chunk.map_err(|_| warp::reject::custom(UnreadableBody))?;
        read = read.saturating_add(chunk.remaining());
        if read > limit {
            return Err(warp::reject::custom(TooLarge));
        }
    }
    Ok(())
}

/// The raw query string, empty when there is none. Parsed by the handlers
/// themselves, so a malformed query never becomes a warp rejection (and is
/// never logged: it may hold an authorization code).
fn raw_query() -> impl Filter<Extract = (String,), Error = Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

/// A POST refused by [`same_site`].
#[derive(Debug)]
struct CrossSite;

impl warp::reject::Reject for CrossSite {}

/// A body refused by [`small_body`].
#[derive(Debug)]
struct TooLarge;

impl warp::reject::Reject for TooLarge {}

/// A body that broke off while [`small_body`] read it.
#[derive(Debug)]
struct UnreadableBody;

impl warp::reject::Reject for UnreadableBody {}

async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    let error = if rejection.find::<CrossSite>().is_some() {
        ApiError::CrossSite
    } else if rejection.find::<TooLarge>().is_some() {
        ApiError::PayloadTooLarge
    } else if rejection.find::<MethodNotAllowed>().is_some() {
        ApiError::MethodNotAllowed
    } else if rejection.find::<warp::reject::InvalidHeader>().is_some()
        || rejection.find::<warp::reject::MissingHeader>().is_some()
        || rejection.find::<warp::reject::InvalidQuery>().is_some()
        || rejection.find::<UnreadableBody>().is_some()
    {
        ApiError::BadRequest
    } else {
        ApiError::NotFound
    };
    let outcome = error.as_str();
    let response = error.into_response();
    tracing::info!(
        route = "-",
        outcome,
        status = response.status().as_u16(),
        "request"
    );
    Ok(response)
}

fn finish(mut response: Response, request: &HeaderMap, state: &AppState) -> Response {
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    origins::add_cors_headers(headers, request, &state.settings.allowed_origins);
    response
}
