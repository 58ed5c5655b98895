//! One handler per route: decode the request, make one auth-service call,
//! encode the answer as a redirect with cookies or as JSON. Tokens, codes and
//! bindings are passed through, never logged or put in a URL or body.
//! Access tokens are verified locally against the cached key set
//! ([`crate::jwks`]); the login funnel and refresh outcomes are counted in
//! [`crate::metrics`]. Every log line here runs in the request's span, which
//! carries its `request_id` ([`crate::server`]).

use std::{sync::Arc, time::Duration};

use auth_proto::{
    REQUEST_ID_KEY, Reason, RequestId,
    v1::{
        BuildLoginUrlRequest, BuildLoginUrlResponse, CompleteLoginRequest, GetUserRequest,
        HandleUnlinkRequest, RefreshSessionRequest, RevokeSessionRequest, TokenPair, User,
        auth_service_client::AuthServiceClient, auth_service_server::SERVICE_NAME,
    },
};
use http::{
    HeaderMap, HeaderValue, StatusCode,
    header::{
        CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, REFERRER_POLICY, SET_COOKIE,
    },
};
use serde::Serialize;
use tonic::{Status, metadata::MetadataValue, transport::Channel};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
use url::Url;
use warp::reply::Response;

use crate::{
    configuration::Settings,
    cookies::{self, ACCESS_COOKIE, BINDING_COOKIE, Cookies, REFRESH_COOKIE, UnsafeCookieValue},
    error::{ApiError, ErrorCode, error_route_url, json_response},
    metrics::{self, FunnelStep, Metrics, RefreshOutcome},
    origins, single_flight,
    startup::{AppState, Rotation},
};

/// How long `/readyz` waits for the auth-service's health answer.
const READY_TIMEOUT: Duration = Duration::from_secs(1);

/// The longest query string `/auth/kakao/login` and `/auth/kakao/callback`
/// accept; a longer one ends on the error route as `invalid_request`.
const MAX_QUERY_LEN: usize = 4096;

/// Per-request context: the shared state and this request's id, which is
/// sent to the auth-service under [`REQUEST_ID_KEY`].
#[derive(Clone)]
pub(crate) struct Ctx {
    state: Arc<AppState>,
    request_id: RequestId,
}

impl Ctx {
    pub(crate) fn new(state: Arc<AppState>, request_id: RequestId) -> Self {
        Self { state, request_id }
    }

    fn client(&self) -> AuthServiceClient<Channel> {
        self.state.auth.clone()
    }

    fn cookies(&self) -> &Cookies {
        &self.state.cookies
    }

    fn metrics(&self) -> &Metrics {
        &self.state.metrics
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Ok(id) = MetadataValue::try_from(self.request_id.as_str()) {
            request.metadata_mut().insert(REQUEST_ID_KEY, id);
        }
        request
    }

    /// Logs the gRPC code and reason word of a failed call (never its
    /// message) and hands the status on.
    fn failed(&self, status: Status) -> Status {
        tracing::info!(
            grpc_code = ?status.code(),
            reason = Reason::of(&status).map_or("-", Reason::as_str),
            "auth-service call failed"
        );
        status
    }

    fn finish(&self, route: &'static str, outcome: &str, response: Response) -> Response {
        tracing::info!(
            route,
            outcome,
            status = response.status().as_u16(),
            "request"
        );
        response
    }

    fn error_redirect(
        &self,
        code: ErrorCode,
        cookies: impl IntoIterator<Item = HeaderValue>,
    ) -> Response {
        let url = error_route_url(&self.state.settings.frontend_error_url, code);
        match HeaderValue::from_str(url.as_str()) {
            Ok(location) => redirect(location, cookies),
            Err(_) => ApiError::ServerError.into_response(),
        }
    }
}

/// GET /auth/kakao/login[?return_to=...]
pub(crate) async fn login(ctx: Ctx, query: String, headers: HeaderMap) -> Response {
    let (outcome, response) = match parse_login(&query) {
        Ok(return_to) => start_login(&ctx, return_to, &headers).await,
        Err(code) => error_outcome(&ctx, code, vec![]),
    };
    ctx.finish("login", outcome, response)
}

async fn start_login(
    ctx: &Ctx,
    return_to: String,
    headers: &HeaderMap,
) -> (&'static str, Response) {
    let request = BuildLoginUrlRequest {
        return_to,
        binding: cookies::read(headers, BINDING_COOKIE).unwrap_or_default(),
    };
    let answer = ctx.client().build_login_url(ctx.request(request)).await;
    match answer.map_err(|s| ctx.failed(s)) {
        Ok(answer) => match to_kakao(ctx.cookies(), answer.into_inner()) {
            Some(response) => {
                ctx.metrics().funnel(FunnelStep::Started);
                ("redirect_to_kakao", response)
            }
            None => error_outcome(ctx, ErrorCode::ServerError, vec![]),
        },
        // A binding the service refuses would fail every retry: drop it.
        Err(s) if Reason::of(&s) == Some(Reason::InvalidBinding) => error_outcome(
            ctx,
            ErrorCode::from_status(&s),
            vec![ctx.cookies().clear_binding()],
        ),
        Err(s) => error_outcome(ctx, ErrorCode::from_status(&s), vec![]),
    }
}

fn to_kakao(cookies: &Cookies, answer: BuildLoginUrlResponse) -> Option<Response> {
    let url = Url::parse(&answer.authorize_url).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let location = HeaderValue::from_str(url.as_str()).ok()?;
    let binding = cookies
        .binding(&answer.binding, answer.expires_in_seconds)
        .ok()?;
    Some(redirect(location, [binding]))
}

/// GET /auth/kakao/callback?code=..&state=.. (or ?error=..)
pub(crate) async fn callback(ctx: Ctx, query: String, headers: HeaderMap) -> Response {
    let result = match parse_callback(&query) {
        Callback::Refused(code) => Err(code),
        Callback::Complete { code, state } => {
            let binding = cookies::read(&headers, BINDING_COOKIE).unwrap_or_default();
            complete_login(
                &ctx,
                CompleteLoginRequest {
                    code,
                    state,
                    binding,
                },
            )
            .await
        }
    };
    let (outcome, response) = match result {
        Ok(response) => ("logged_in", response),
        Err(code) => error_outcome(&ctx, code, vec![ctx.cookies().clear_binding()]),
    };
    ctx.finish("callback", outcome, response)
}

async fn complete_login(ctx: &Ctx, request: CompleteLoginRequest) -> Result<Response, ErrorCode> {
    let answer = ctx
        .client()
        .complete_login(ctx.request(request))
        .await
        .map_err(|s| ErrorCode::from_status(&ctx.failed(s)))?
        .into_inner();
    let tokens = answer.tokens.ok_or(ErrorCode::ServerError)?;
    let location =
        landing_url(&ctx.state.settings, &answer.return_to).ok_or(ErrorCode::ServerError)?;
    let [access, refresh] =
        token_cookies(ctx.cookies(), &tokens).map_err(|_| ErrorCode::ServerError)?;
    ctx.metrics().funnel(FunnelStep::Completed);
    ctx.metrics().login(answer.new_user);
    Ok(redirect(
        location,
        [access, refresh, ctx.cookies().clear_binding()],
    ))
}

/// GET /auth/me
pub(crate) async fn me(ctx: Ctx, headers: HeaderMap) -> Response {
    let result = match cookies::read(&headers, ACCESS_COOKIE) {
        None => Err(ApiError::missing_token()),
        Some(access_token) => profile(&ctx, &access_token).await,
    };
    let (outcome, response) = match result {
        Ok(profile) => ("ok", json_response(StatusCode::OK, &profile)),
        Err(error) => (error.as_str(), error.into_response()),
    };
    ctx.finish("me", outcome, response)
}

/// Verifies the token locally, then asks for the user in one call that also
/// checks that the token's session is still live.
async fn profile(ctx: &Ctx, access_token: &str) -> Result<Profile, ApiError> {
    let claims = ctx.state.jwks.verify(access_token).await?;
    let request = GetUserRequest {
        user_id: claims.sub,
        session_id: claims.sid,
    };
    let answer = ctx
        .client()
        .get_user(ctx.request(request))
        .await
        .map_err(|s| ApiError::from_status(&ctx.failed(s)))?;
    answer
        .into_inner()
        .user
        .map(Profile::from)
        .ok_or(ApiError::ServerError)
}

/// POST /auth/refresh
pub(crate) async fn refresh(ctx: Ctx, headers: HeaderMap) -> Response {
    let result = match cookies::read(&headers, REFRESH_COOKIE) {
        None => Err(ApiError::missing_token()),
        Some(refresh_token) => rotate(&ctx, refresh_token).await,
    };
    let counted = result
        .as_ref()
        .map_or_else(RefreshOutcome::of_error, |_| RefreshOutcome::Rotated);
    ctx.metrics().refresh(counted);
    let (outcome, response) = match result {
        Ok(cookies) => ("refreshed", no_content(cookies)),
        Err(error @ ApiError::Unauthenticated(_)) => {
            let cleared = [ctx.cookies().clear_access(), ctx.cookies().clear_refresh()];
            (error.as_str(), with_cookies(error.into_response(), cleared))
        }
        Err(error) => (error.as_str(), error.into_response()),
    };
    ctx.finish("refresh", outcome, response)
}

/// Rotates the token, or joins the rotation of the same token already in
/// flight (see [`crate::single_flight`]) and answers with its cookies.
async fn rotate(ctx: &Ctx, refresh_token: String) -> Rotation {
    let key = single_flight::key_of(&refresh_token);
    let leader = ctx.clone();
    let call = async move { rotate_once(&leader, refresh_token).await };
    let rotation = ctx.state.refreshes.run(key, call).await;
    rotation.unwrap_or(Err(ApiError::ServerError))
}

async fn rotate_once(ctx: &Ctx, refresh_token: String) -> Rotation {
    let answer = ctx
        .client()
        .refresh_session(ctx.request(RefreshSessionRequest { refresh_token }))
        .await
        .map_err(|s| ApiError::from_status(&ctx.failed(s)))?
        .into_inner();
    let tokens = answer.tokens.ok_or(ApiError::ServerError)?;
    token_cookies(ctx.cookies(), &tokens).map_err(|_| ApiError::ServerError)
}

/// POST /auth/logout
pub(crate) async fn logout(ctx: Ctx, headers: HeaderMap) -> Response {
    let result = match cookies::read(&headers, REFRESH_COOKIE) {
        None => Ok(()),
        Some(refresh_token) => revoke(&ctx, refresh_token).await,
    };
    let cleared = [ctx.cookies().clear_access(), ctx.cookies().clear_refresh()];
    let (outcome, response) = match result {
        Ok(()) => ("logged_out", no_content(cleared)),
        Err(error) => (error.as_str(), with_cookies(error.into_response(), cleared)),
    };
    ctx.finish("logout", outcome, response)
}

async fn revoke(ctx: &Ctx, refresh_token: String) -> Result<(), ApiError> {
    let request = ctx.request(RevokeSessionRequest { refresh_token });
    match ctx.client().revoke_session(request).await {
        Ok(_) => Ok(()),
        // A malformed or unknown token names no session: logging out is done.
        Err(s) => match ApiError::from_status(&ctx.failed(s)) {
            ApiError::Unauthenticated(_) => Ok(()),
            error => Err(error),
        },
    }
}

/// GET|POST /auth/kakao/unlink: `params` is the query (GET) or the
/// form body (POST): `app_id`, `user_id`, `referrer_type`.
pub(crate) async fn unlink(ctx: Ctx, params: String, headers: HeaderMap) -> Response {
    let admin_key = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("KakaoAK "))
        .map(|k| k.trim().to_owned())
        .unwrap_or_default();
    let request = HandleUnlinkRequest {
        admin_key,
        app_id: first_param(&params, "app_id").unwrap_or_default(),
        user_id: first_param(&params, "user_id").unwrap_or_default(),
        referrer_type: first_param(&params, "referrer_type").unwrap_or_default(),
    };
    let answer = ctx.client().handle_unlink(ctx.request(request)).await;
    let (outcome, response) = match answer.map_err(|s| ctx.failed(s)) {
        Ok(_) => ("unlinked", plain_ok()),
        Err(s) => {
            let error = match s.code() {
                tonic::Code::InvalidArgument => ApiError::BadRequest,
                tonic::Code::FailedPrecondition => {
                    ApiError::refused(Reason::of(&s).unwrap_or(Reason::UnlinkDisabled))
                }
                _ => ApiError::from_status(&s),
            };
            (error.as_str(), error.into_response())
        }
    };
    ctx.finish("unlink", outcome, response)
}

/// 200 `OK`: what Kakao's callback expects.
fn plain_ok() -> Response {
    let mut response = Response::new("OK".into());
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// GET /.well-known/jwks.json (from the key cache, as received)
pub(crate) async fn jwks(ctx: Ctx) -> Response {
    let (outcome, response) = match ctx.state.jwks.json().await {
        Ok(json) => {
            let mut response = Response::new(json.to_string().into());
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert(
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            ("ok", response)
        }
        Err(error) => {
            let error = ApiError::from(error);
            (error.as_str(), error.into_response())
        }
    };
    ctx.finish("jwks", outcome, response)
}

/// OPTIONS /auth/... (CORS preflight)
pub(crate) async fn preflight(ctx: Ctx, headers: HeaderMap) -> Response {
    let mut response = Response::new(Default::default());
    let allowed = &ctx.state.settings.allowed_origins;
    let (outcome, response) =
        if origins::answer_preflight(response.headers_mut(), &headers, allowed) {
            *response.status_mut() = StatusCode::NO_CONTENT;
            ("ok", response)
        } else {
            ("forbidden", ApiError::CrossSite.into_response())
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
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    let response = json_response(status, &serde_json::json!({ "status": word }));
    match status {
        StatusCode::OK => response,
        _ => ctx.finish("readyz", word, response),
    }
}

/// Whether the auth-service's health service says `auth.v1.AuthService` is
/// SERVING within [`READY_TIMEOUT`].
async fn auth_service_serving(ctx: &Ctx) -> bool {
    let mut request = ctx.request(HealthCheckRequest {
        service: SERVICE_NAME.into(),
    });
    request.set_timeout(READY_TIMEOUT);
    let mut health = ctx.state.health.clone();
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

const DEMO_HTML: &str = include_str!("../assets/demo.html");
const DEMO_JS: &str = include_str!("../assets/demo.js");
const DEMO_CSS: &str = include_str!("../assets/demo.css");
const DEMO_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// GET / (demo page)
pub(crate) async fn demo_page() -> Response {
    let mut response = static_response("text/html; charset=utf-8", DEMO_HTML);
    response
        .headers_mut()
        .insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(DEMO_CSP));
    response
}

/// GET /demo.js
pub(crate) async fn demo_script() -> Response {
    static_response("text/javascript; charset=utf-8", DEMO_JS)
}

/// GET /demo.css
pub(crate) async fn demo_style() -> Response {
    static_response("text/css; charset=utf-8", DEMO_CSS)
}

/// The `code`/`state` of a callback, or why none will be exchanged.
#[derive(Debug, PartialEq, Eq)]
enum Callback {
    Complete { code: String, state: String },
    Refused(ErrorCode),
}

/// The `return_to` of a login query (empty when none), or `invalid_request`
/// for a query over [`MAX_QUERY_LEN`].
fn parse_login(query: &str) -> Result<String, ErrorCode> {
    if query.len() > MAX_QUERY_LEN {
        return Err(ErrorCode::InvalidRequest);
    }
    Ok(first_param(query, "return_to").unwrap_or_default())
}

/// Parses a callback query leniently: bad percent-encoding is decoded
/// lossily, unknown parameters are ignored, and any shape ends in a
/// decision (never a rejection). A query over [`MAX_QUERY_LEN`] is refused
/// unread.
fn parse_callback(query: &str) -> Callback {
    if query.len() > MAX_QUERY_LEN {
        return Callback::Refused(ErrorCode::InvalidRequest);
    }
    let (mut code, mut state, mut error, mut repeated) = (None, None, None, false);
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match name.as_ref() {
            "code" => &mut code,
            "state" => &mut state,
            "error" => &mut error,
            _ => continue,
        };
        repeated |= slot.is_some();
        slot.get_or_insert(value.into_owned());
    }
    match (error, code, state) {
        (Some(e), _, _) if e == "access_denied" => Callback::Refused(ErrorCode::AccessDenied),
        (Some(_), _, _) => Callback::Refused(ErrorCode::KakaoError),
        (None, Some(code), Some(state)) if !repeated && !code.is_empty() && !state.is_empty() => {
            Callback::Complete { code, state }
        }
        _ => Callback::Refused(ErrorCode::InvalidRequest),
    }
}

/// The post-login landing URL from the service, accepted only on the
/// frontend's origin or an allowed origin (defence in depth: the service
/// validated it already). A bare path is resolved against `FRONTEND_URL`.
fn landing_url(settings: &Settings, return_to: &str) -> Option<HeaderValue> {
    let frontend = &settings.frontend_url;
    let url = match return_to {
        "" => frontend.clone(),
        p if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => {
            frontend.join(p).ok()?
        }
        absolute => Url::parse(absolute).ok()?,
    };
    let origin = url.origin().ascii_serialization();
    let known = origin == frontend.origin().ascii_serialization()
        || settings.allowed_origins.contains(&origin);
    let plain = matches!(url.scheme(), "http" | "https")
        && url.username().is_empty()
        && url.password().is_none();
    (known && plain).then(|| HeaderValue::from_str(url.as_str()).ok())?
}

fn first_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

/// The `(outcome, response)` of a login or callback that failed, counted
/// at its step of the login funnel.
fn error_outcome(
    ctx: &Ctx,
    code: ErrorCode,
    cookies: Vec<HeaderValue>,
) -> (&'static str, Response) {
    ctx.metrics().funnel(FunnelStep::of_error(code));
    (code.as_str(), ctx.error_redirect(code, cookies))
}

/// The access and refresh cookies of a new token pair.
fn token_cookies(
    cookies: &Cookies,
    tokens: &TokenPair,
) -> Result<[HeaderValue; 2], UnsafeCookieValue> {
    Ok([
        cookies.access(&tokens.access_token, tokens.access_expires_in)?,
        cookies.refresh(&tokens.refresh_token, tokens.refresh_expires_in)?,
    ])
}

/// 302 to `location` with the cookies; never cached, never leaks a referrer.
fn redirect(location: HeaderValue, cookies: impl IntoIterator<Item = HeaderValue>) -> Response {
    let mut response = with_cookies(Response::new(Default::default()), cookies);
    *response.status_mut() = StatusCode::FOUND;
    let headers = response.headers_mut();
    headers.insert(LOCATION, location);
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

fn no_content(cookies: impl IntoIterator<Item = HeaderValue>) -> Response {
    let mut response = with_cookies(Response::new(Default::default()), cookies);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// Appends one `Set-Cookie` header per cookie (inserting would replace).
fn with_cookies(
    mut response: Response,
    cookies: impl IntoIterator<Item = HeaderValue>,
) -> Response {
    for cookie in cookies {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

fn static_response(content_type: &'static str, body: &'static str) -> Response {
    let mut response = Response::new(body.into());
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The `/auth/me` body: the profile, with the Kakao id as a string and
/// empty optional fields as `null`.
#[derive(Debug, Serialize)]
struct Profile {
    id: String,
    kakao_id: String,
    nickname: Option<String>,
    profile_image_url: Option<String>,
    thumbnail_image_url: Option<String>,
    email: Option<String>,
    created_at: i64,
    last_login_at: i64,
}

impl From<User> for Profile {
    fn from(user: User) -> Self {
        let non_empty = |s: String| (!s.is_empty()).then_some(s);
        Profile {
            id: user.id,
            kakao_id: user.kakao_id,
            nickname: non_empty(user.nickname),
            profile_image_url: non_empty(user.profile_image_url),
            thumbnail_image_url: non_empty(user.thumbnail_image_url),
            email: non_empty(user.email),
            created_at: user.created_at,
            last_login_at: user.last_login_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(code: &str, state: &str) -> Callback {
        Callback::Complete {
            code: code.into(),
            state: state.into(),
        }
    }

    #[test]
    fn callback_queries_are_parsed_leniently() {
        use ErrorCode::*;
        let table = [
            ("code=c1&state=s1", complete("c1", "s1")),
            ("state=s1&code=c%2B1&extra=x", complete("c+1", "s1")),
            ("code=%E0%A4%A&state=s1", complete("\u{FFFD}%A", "s1")),
            (
                "error=access_denied&error_description=User%20denied",
                Callback::Refused(AccessDenied),
            ),
            (
                "error=access_denied&code=c1&state=s1",
                Callback::Refused(AccessDenied),
            ),
            ("error=server_error&state=s1", Callback::Refused(KakaoError)),
            ("error=", Callback::Refused(KakaoError)),
            ("", Callback::Refused(InvalidRequest)),
            ("code=c1", Callback::Refused(InvalidRequest)),
            ("state=s1", Callback::Refused(InvalidRequest)),
            ("code=&state=s1", Callback::Refused(InvalidRequest)),
            ("code=c1&state=", Callback::Refused(InvalidRequest)),
            (
                "code=c1&state=s1&state=s2",
                Callback::Refused(InvalidRequest),
            ),
            (
                "code=c1&code=c2&state=s1",
                Callback::Refused(InvalidRequest),
            ),
            ("%%%&&&===", Callback::Refused(InvalidRequest)),
            (
                &format!("code=c1&state=s1&pad={}", "x".repeat(MAX_QUERY_LEN)),
                Callback::Refused(InvalidRequest),
            ),
        ];
        for (query, expected) in table {
            assert_eq!(parse_callback(query), expected, "{query}");
        }
    }

    #[test]
    fn only_landing_urls_on_known_origins_are_followed() {
        let settings = Settings {
            addr: "127.0.0.1:0".parse().unwrap(),
            auth_service_url: "http://127.0.0.1:1".into(),
            frontend_url: Url::parse("https://app.example.com/home").unwrap(),
            frontend_error_url: Url::parse("https://app.example.com/error").unwrap(),
            allowed_origins: vec!["https://admin.example.com".into()],
            cookie_domain: None,
            jwt_issuer: "i".into(),
            jwt_audience: "a".into(),
            demo_page: false,
        };
        let table = [
            ("", Some("https://app.example.com/home")),
            (
                "/dashboard?tab=1",
                Some("https://app.example.com/dashboard?tab=1"),
            ),
            (
                "https://app.example.com/x",
                Some("https://app.example.com/x"),
            ),
            (
                "https://admin.example.com/",
                Some("https://admin.example.com/"),
            ),
            ("https://evil.example/", None),
            ("//evil.example/", None),
            ("/\\evil.example/", None),
            ("https://user@app.example.com/", None),
            ("javascript:alert(1)", None),
            ("dashboard", None),
        ];
        for (return_to, expected) in table {
            let got = landing_url(&settings, return_to);
            assert_eq!(
                got.as_ref().map(|v| v.to_str().unwrap()),
                expected,
                "{return_to}"
            );
        }
    }

    #[test]
    fn the_first_return_to_is_passed_on() {
        assert_eq!(
            first_param("return_to=%2Fdashboard%3Ftab%3D1&return_to=x", "return_to").as_deref(),
            Some("/dashboard?tab=1")
        );
        assert_eq!(first_param("", "return_to"), None);
    }

    #[test]
    fn a_login_query_is_read_up_to_its_limit() {
        let pad = |n: usize| format!("return_to=%2Fa&pad={}", "x".repeat(n));
        let longest = pad(MAX_QUERY_LEN - pad(0).len());
        assert_eq!(parse_login(&longest).as_deref(), Ok("/a"));
        assert_eq!(
            parse_login(&pad(MAX_QUERY_LEN)),
            Err(ErrorCode::InvalidRequest)
        );
        assert_eq!(parse_login("").as_deref(), Ok(""));
    }

    #[test]
    fn empty_profile_fields_become_null() {
        let user = User {
            id: "u1".into(),
            kakao_id: "4000000000".into(),
            nickname: "라이언".into(),
            created_at: 1,
            last_login_at: 2,
            ..Default::default()
        };
        let json = serde_json::to_value(Profile::from(user)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "id": "u1", "kakao_id": "4000000000", "nickname": "라이언",
                "profile_image_url": null, "thumbnail_image_url": null, "email": null,
                "created_at": 1, "last_login_at": 2
            })
        );
    }
}
