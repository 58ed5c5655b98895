//! The warp filters built from the route table ([`Route`], in [`table`]:
//! path, methods, metrics label), one per route. Every request goes through the same
//! steps: it is counted in flight and timed under its route's label
//! ([`crate::metrics`]); the routes are tried, each matching its path before
//! its method; any rejection goes through the one [`recover`] (so a wrong
//! method on a known path is 405 and an unknown path 404); and the headers
//! every response carries are added (`nosniff`, CORS for allowed origins,
//! `no-store` unless the route chose a cache policy, and
//! `Strict-Transport-Security` when `FRONTEND_URL` is https).
//!
//! Every POST route starts with [`post`], so all of them read the body the
//! same way and refuse one over [`crate::filters::MAX_BODY`] bytes with the same 413.
//! A route with a `{provider}` segment hands its handler the
//! [`Provider`] its path names ([`at_provider`]).

mod table;

pub(crate) use table::Route;

use std::{convert::Infallible, future::Future, pin::Pin, sync::Arc};

use auth_proto::v1::Provider;
use http::{
    HeaderMap, HeaderValue, Method,
    header::{CACHE_CONTROL, X_CONTENT_TYPE_OPTIONS},
};
use hyper::body::Bytes;
use warp::{Filter, Rejection, path::FullPath, reply::Response};

use crate::{
    filters::{limited_body, method_is, path_where, peer_addr, raw_query, same_site, with_ctx},
    handlers::{callback, demo, identities, login, operations, session, unlink},
    metrics::InFlight,
    origins,
    rate_limits::PeerAddr,
    rejection::{WrongMethod, recover},
    reply,
    state::{AppState, Ctx},
};

/// Every route of the edge, with rejections recovered and common headers set.
pub(crate) fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
    let api = login_route(state.clone())
        .or(callback_route(state.clone()))
        .unify()
        .or(link_route(state.clone()))
        .unify()
        .or(me(state.clone()))
        .unify()
        .or(refresh(state.clone()))
        .unify()
        .or(logout(state.clone()))
        .unify()
        .or(logout_all(state.clone()))
        .unify()
        .or(identity_unlink(state.clone()))
        .unify()
        .or(unlink_get(state.clone()))
        .unify()
        .or(unlink_post(state.clone()))
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
        .or(demo_routes(state.settings.demo_page))
        .unify()
        .or(wrong_method(state.settings.demo_page))
        .unify()
        .recover(recover)
        .unify();
    let tracked = state.clone();
    warp::path::full()
        .map(move |path: FullPath| tracked.metrics.track(Route::label_of(path.as_str())))
        .and(warp::header::headers_cloned())
        .and(api)
        .map(move |in_flight: InFlight, request: HeaderMap, response| {
            let response = finish(response, &request, &state);
            drop(in_flight);
            response
        })
}

/// A handler's answer on the heap. The handlers that call the service hold
/// a tonic call in their future (2-4 KiB); unboxed, every filter around
/// them (`or`, `and`, `then`, `recover`, the server's span) would move that
/// much per step, which was the largest single cost per request (memcpy,
/// 16% of the instructions).
type Answer = Pin<Box<dyn Future<Output = Response> + Send>>;

fn boxed(answer: impl Future<Output = Response> + Send + 'static) -> Answer {
    Box::pin(answer)
}

/// Matches `route`'s path (see [`Route::matches`]).
fn at(route: Route) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    path_where(move |path| route.matches(path))
}

/// `route`'s path for one of the named providers, extracted; any other
/// segment is "not found" (never a handler's concern).
fn at_provider(route: Route) -> impl Filter<Extract = (Provider,), Error = Rejection> + Clone {
    warp::path::full().and_then(move |path: FullPath| {
        let provider = route.parse(path.as_str()).flatten();
        async move { provider.ok_or_else(warp::reject::not_found) }
    })
}

/// `route`'s path, then GET.
fn get(route: Route) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    at(route).and(method_is(Method::GET))
}

/// `route`'s path, then POST, then the body under the one limit: the head of
/// every POST route.
fn post(route: Route) -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    at(route).and(method_is(Method::POST)).and(limited_body())
}

/// The head of the three browser navigations under `/auth/{provider}/`:
/// the provider from the path, GET, then what their handlers take.
fn provider_navigation(
    route: Route,
    state: Arc<AppState>,
) -> impl Filter<Extract = (Provider, Ctx, String, HeaderMap, Option<PeerAddr>), Error = Rejection> + Clone
{
    at_provider(route)
        .and(method_is(Method::GET))
        .and(with_ctx(state))
        .and(raw_query())
        .and(warp::header::headers_cloned())
        .and(peer_addr())
}

/// GET /auth/{provider}/login[?return_to=...] (limited per client address)
fn login_route(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    provider_navigation(Route::Login, state).then(|provider, ctx, query, headers, peer| {
        boxed(login::login(ctx, provider, query, headers, peer))
    })
}

/// GET /auth/{provider}/link[?return_to=...] (attach the provider's
/// identity to the access cookie's user; limited as a login start)
fn link_route(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    provider_navigation(Route::Link, state).then(|provider, ctx, query, headers, peer| {
        boxed(login::link(ctx, provider, query, headers, peer))
    })
}

/// GET /auth/{provider}/callback?code=...&state=... (or ?error=...; those
/// with a code and a state limited per client address)
fn callback_route(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    provider_navigation(Route::Callback, state).then(|provider, ctx, query, headers, peer| {
        boxed(callback::callback(ctx, provider, query, headers, peer))
    })
}

/// GET /auth/me (from memory while the revocation feed is up and the token
/// and its session's profile are cached; else the token verified locally
/// against the cached JWKS, then one GetUser call that also checks the
/// session is live)
fn me(state: Arc<AppState>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    get(Route::Me)
        .and(with_ctx(state))
        .and(warp::header::headers_cloned())
        .then(|ctx, headers| boxed(session::me(ctx, headers)))
}

/// POST /auth/refresh (the body is read and ignored)
fn refresh(state: Arc<AppState>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    post(Route::Refresh)
        .map(drop)
        .untuple_one()
        .and(same_site(state.clone()))
        .and(with_ctx(state))
        .and(warp::header::headers_cloned())
        .then(|ctx, headers| boxed(session::refresh(ctx, headers)))
}

/// POST /auth/logout (the body is read and ignored)
fn logout(state: Arc<AppState>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    post(Route::Logout)
        .map(drop)
        .untuple_one()
        .and(same_site(state.clone()))
        .and(with_ctx(state))
        .and(warp::header::headers_cloned())
        .then(|ctx, headers| boxed(session::logout(ctx, headers)))
}

/// POST /auth/logout/all (every session of the access cookie's user; the
/// body is read and ignored)
fn logout_all(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    post(Route::LogoutAll)
        .map(drop)
        .untuple_one()
        .and(same_site(state.clone()))
        .and(with_ctx(state))
        .and(warp::header::headers_cloned())
        .then(|ctx, headers| boxed(session::logout_all(ctx, headers)))
}

/// POST /auth/identities/{provider}/unlink (remove the access cookie's
/// user's identity at the provider; the body is read and ignored)
fn identity_unlink(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    post(Route::IdentityUnlink)
        .map(drop)
        .untuple_one()
        .and(at_provider(Route::IdentityUnlink))
        .and(same_site(state.clone()))
        .and(with_ctx(state))
        .and(warp::header::headers_cloned())
        .then(|provider, ctx, headers| boxed(identities::unlink(ctx, provider, headers)))
}

/// GET /auth/kakao/unlink?app_id=..&user_id=..&referrer_type=.. (Kakao's
/// unlink callback, `Authorization: KakaoAK <admin key>`; server to server,
/// so no Origin check)
fn unlink_get(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    get(Route::Unlink)
        .and(with_ctx(state))
        .and(raw_query())
        .and(warp::header::headers_cloned())
        .then(|ctx, query, headers| boxed(unlink::unlink(ctx, query, headers)))
}

/// POST /auth/kakao/unlink (the same callback, the parameters as a form body)
fn unlink_post(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    post(Route::Unlink)
        .map(|body: Bytes| String::from_utf8_lossy(&body).into_owned())
        .and(with_ctx(state))
        .and(warp::header::headers_cloned())
        .then(|form, ctx, headers| boxed(unlink::unlink(ctx, form, headers)))
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
    get(Route::Jwks)
        .and(with_ctx(state))
        .then(|ctx| boxed(operations::jwks(ctx)))
}

/// GET /healthz (liveness: the process answers)
fn healthz() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    get(Route::Healthz).then(operations::healthz)
}

/// GET /readyz (readiness: the auth-service's health check says SERVING)
fn readyz(state: Arc<AppState>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    get(Route::Readyz)
        .and(with_ctx(state))
        .then(|ctx| boxed(operations::readyz(ctx)))
}

/// GET /metrics (Prometheus text format 0.0.4)
fn metrics(state: Arc<AppState>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    get(Route::Metrics)
        .and(with_ctx(state))
        .then(operations::metrics)
}

/// GET /, GET /demo.js, GET /demo.css (only when `DEMO_PAGE` is on)
fn demo_routes(enabled: bool) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let page = get(Route::DemoPage).then(demo::page);
    let script = get(Route::DemoScript).then(demo::script);
    let style = get(Route::DemoStyle).then(demo::style);
    path_where(move |_| enabled).and(page.or(script).unify().or(style).unify())
}

/// Any method on a known path that its route does not answer: rejected as
/// [`WrongMethod`] (405). Never answers; tried last.
fn wrong_method(demo: bool) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::method()
        .and(warp::path::full())
        .and_then(move |method: Method, path: FullPath| {
            let route = Route::of_path(path.as_str()).filter(|r| demo || !r.is_demo());
            let wrong = route.is_some_and(|r| !r.allows(&method));
            async move {
                Err::<Response, _>(if wrong {
                    warp::reject::custom(WrongMethod)
                } else {
                    warp::reject::not_found()
                })
            }
        })
}

fn finish(mut response: Response, request: &HeaderMap, state: &AppState) -> Response {
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    origins::add_cors_headers(headers, request, &state.settings.allowed_origins);
    reply::add_hsts(headers, state.settings.frontend_url.scheme() == "https");
    response
}

#[cfg(test)]
mod tests {
    use super::{table::OTHER_LABEL, *};

    fn state() -> Arc<AppState> {
        let settings = crate::configuration::for_tests(true);
        Arc::new(AppState::new(settings).unwrap())
    }

    #[tokio::test]
    async fn every_route_of_the_table_is_served_and_timed_under_its_label() {
        let state = state();
        let filter = routes(state.clone());
        let mut expected_counts = Vec::new();
        for route in Route::ALL {
            let methods = [Method::GET, Method::POST];
            let methods: Vec<_> = methods.iter().filter(|m| route.allows(m)).collect();
            let mut count = 0;
            for provider in Provider::NAMED {
                let path = route.path_for(provider);
                for method in &methods {
                    let response = warp::test::request()
                        .method(method.as_str())
                        .path(&path)
                        .reply(&filter)
                        .await;
                    let status = response.status();
                    assert!(
                        status != 404 && status != 405,
                        "{method} {path} answered {status}"
                    );
                    count += 1;
                }
                if !route.path().contains("{provider}") {
                    break;
                }
            }
            expected_counts.push((route.label(), count));
        }
        let text = state.metrics.encode().unwrap();
        for (label, count) in expected_counts {
            let line =
                format!(r#"edge_http_request_duration_seconds_count{{route="{label}"}} {count}"#);
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
        assert!(
            !text.contains(&format!(r#"route="{OTHER_LABEL}""#)),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_wrong_method_on_a_known_path_is_405_and_an_unknown_path_404() {
        let filter = routes(state());
        for (method, path, status) in [
            ("GET", "/auth/refresh", 405),
            ("PUT", "/auth/kakao/unlink", 405),
            ("POST", "/healthz", 405),
            ("POST", "/nope", 404),
            ("DELETE", "/auth/nope", 404),
            ("POST", "/auth/naver/login", 405),
            ("POST", "/auth/google/callback", 405),
            ("POST", "/auth/kakao/link", 405),
            ("GET", "/auth/identities/naver/unlink", 405),
            ("GET", "/auth/github/login", 404),
            ("GET", "/auth/github/callback?code=c&state=s", 404),
            ("GET", "/auth/github/link", 404),
            ("POST", "/auth/identities/github/unlink", 404),
            ("GET", "/auth/Naver/login", 404),
            ("GET", "/auth/naver/unlink", 404),
        ] {
            let response = warp::test::request()
                .method(method)
                .path(path)
                .reply(&filter)
                .await;
            assert_eq!(response.status(), status, "{method} {path}");
        }
    }

    #[tokio::test]
    async fn an_unknown_provider_is_the_404_of_an_unknown_path_and_timed_as_other() {
        let state = state();
        let filter = routes(state.clone());
        let unknown = warp::test::request()
            .path("/auth/nope")
            .reply(&filter)
            .await;
        for path in ["/auth/github/login", "/auth/line/callback?code=c&state=s"] {
            let response = warp::test::request().path(path).reply(&filter).await;
            assert_eq!(response.status(), 404, "{path}");
            assert_eq!(response.body(), unknown.body(), "{path}");
            assert_eq!(response.headers(), unknown.headers(), "{path}");
        }
        let text = state.metrics.encode().unwrap();
        let line =
            format!(r#"edge_http_request_duration_seconds_count{{route="{OTHER_LABEL}"}} 3"#);
        assert!(text.lines().any(|l| l == line), "{line}\n{text}");
    }
}
