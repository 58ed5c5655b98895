//! The login funnel: `/auth/kakao/login` sends the browser to Kakao with a
//! binding cookie; `/auth/kakao/callback` completes the login and lands on
//! the frontend with the token cookies. Both are navigations, so every
//! failure is a redirect to the frontend's error route with `?error=<code>`
//! ([`ErrorCode`]); each step is counted in the login funnel
//! ([`crate::metrics`]). Queries are parsed here, leniently, and never
//! logged (a callback's holds an authorization code). Login starts and
//! callbacks with a code and a state are counted per client address
//! ([`crate::rate_limits`]); one over its limit lands on the error route as
//! `rate_limited` (a `fetch` gets 429), with `Retry-After`.

use auth_proto::{
    Reason,
    v1::{BuildLoginUrlRequest, BuildLoginUrlResponse, CompleteLoginRequest},
};
use http::{HeaderMap, HeaderValue, header::RETRY_AFTER};
use hyper::body::Bytes;
use url::Url;
use warp::reply::Response;

use super::first_param;
use crate::{
    configuration::Settings,
    cookies::{self, BINDING_COOKIE, Cookies},
    error::{ApiError, ErrorCode},
    metrics::FunnelStep,
    rate_limits::{Limited, PeerAddr, RetryAfter},
    reply::redirect,
    state::{Ctx, Outcome},
};

/// The longest query string `/auth/kakao/login` and `/auth/kakao/callback`
/// accept; a longer one ends on the error route as `invalid_request`.
const MAX_QUERY_LEN: usize = 4096;

/// GET /auth/kakao/login[?return_to=...]
/// (A binding cookie in the request headers is ignored: see [`start_login`].)
pub(crate) async fn login(
    ctx: Ctx,
    query: String,
    headers: HeaderMap,
    peer: Option<PeerAddr>,
) -> Response {
    let limit = ctx
        .state()
        .limits
        .check(Limited::LoginStart, peer, &headers);
    let (outcome, response) = match (limit, parse_login(&query)) {
        (Err(wait), _) => rate_limited(&ctx, wait, &headers),
        (Ok(()), Ok(return_to)) => start_login(&ctx, return_to).await,
        (Ok(()), Err(code)) => error_outcome(&ctx, code, vec![]),
    };
    ctx.finish("login", outcome, response)
}

/// Every login start gets a new binding from the service: a binding cookie
/// the browser brings is never adopted (one planted by another host would
/// otherwise bind this login to a secret the planter knows).
async fn start_login(ctx: &Ctx, return_to: String) -> (Outcome, Response) {
    let request = BuildLoginUrlRequest {
        return_to,
        binding: String::new(),
        ..Default::default()
    };
    let answer = ctx.client().build_login_url(ctx.request(request)).await;
    match answer.map_err(|s| ctx.failed(s)) {
        Ok(answer) => match to_kakao(ctx.cookies(), answer.into_inner()) {
            Some(response) => {
                ctx.metrics().funnel(FunnelStep::Started);
                (Outcome::Done("redirect_to_kakao"), response)
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

/// The redirect to Kakao. The service built and validated the authorize
/// URL, so it is not parsed again (that was a tenth of a login's work here):
/// it need only be an `http(s)` URL that is a valid header value.
fn to_kakao(cookies: &Cookies, answer: BuildLoginUrlResponse) -> Option<Response> {
    let url = answer.authorize_url;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return None;
    }
    let location = HeaderValue::from_maybe_shared(Bytes::from(url)).ok()?;
    let binding = cookies
        .binding(&answer.binding, answer.expires_in_seconds)
        .ok()?;
    Some(redirect(location, [binding]))
}

/// GET /auth/kakao/callback?code=..&state=.. (or ?error=..)
pub(crate) async fn callback(
    ctx: Ctx,
    query: String,
    headers: HeaderMap,
    peer: Option<PeerAddr>,
) -> Response {
    let callback = parse_callback(&query);
    if matches!(callback, Callback::Complete { .. })
        && let Err(wait) = ctx.state().limits.check(Limited::Callback, peer, &headers)
    {
        // The binding is kept: the same callback may be retried once allowed.
        let (outcome, response) = rate_limited(&ctx, wait, &headers);
        return ctx.finish("callback", outcome, response);
    }
    let result = match callback {
        Callback::Refused(code) => Err(code),
        Callback::Complete { code, state } => {
            let binding = cookies::read(&headers, BINDING_COOKIE).unwrap_or_default();
            complete_login(
                &ctx,
                CompleteLoginRequest {
                    code,
                    state,
                    binding,
                    ..Default::default()
                },
            )
            .await
        }
    };
    let (outcome, response) = match result {
        Ok(response) => (Outcome::Done("logged_in"), response),
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
        landing_url(&ctx.state().settings, &answer.return_to).ok_or(ErrorCode::ServerError)?;
    let [access, refresh] = ctx
        .cookies()
        .tokens(&tokens)
        .map_err(|_| ErrorCode::ServerError)?;
    ctx.metrics().funnel(FunnelStep::Completed);
    ctx.metrics().login(answer.new_user);
    Ok(redirect(
        location,
        [access, refresh, ctx.cookies().clear_binding()],
    ))
}

/// The `code`/`state` of a callback, or why none will be exchanged.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Callback {
    Complete { code: String, state: String },
    Refused(ErrorCode),
}

/// The `return_to` of a login query (empty when none), or `invalid_request`
/// for a query over [`MAX_QUERY_LEN`].
pub(crate) fn parse_login(query: &str) -> Result<String, ErrorCode> {
    if query.len() > MAX_QUERY_LEN {
        return Err(ErrorCode::InvalidRequest);
    }
    Ok(first_param(query, "return_to").unwrap_or_default())
}

/// Parses a callback query leniently: bad percent-encoding is decoded
/// lossily, unknown parameters are ignored, and any shape ends in a
/// decision (never a rejection). A query over [`MAX_QUERY_LEN`] is refused
/// unread.
pub(crate) fn parse_callback(query: &str) -> Callback {
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
        // Kakao says `access_denied` when the user cancels; our code is the same word.
        (Some(e), _, _) if e == ErrorCode::AccessDenied.as_str() => {
            Callback::Refused(ErrorCode::AccessDenied)
        }
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
pub(crate) fn landing_url(settings: &Settings, return_to: &str) -> Option<HeaderValue> {
    let frontend = &settings.frontend_url;
    let url = match return_to {
        "" => frontend.clone(),
        p if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => {
            frontend.join(p).ok()?
        }
        absolute => Url::parse(absolute).ok()?,
    };
    let origin = url.origin();
    let known = origin == frontend.origin()
        || settings
            .allowed_origins
            .contains(&origin.ascii_serialization());
    let plain = matches!(url.scheme(), "http" | "https")
        && url.username().is_empty()
        && url.password().is_none();
    (known && plain).then(|| HeaderValue::from_str(url.as_str()).ok())?
}

/// The `(outcome, response)` of a request over its client's limit: a
/// navigation lands on the error route as `rate_limited`, a `fetch` (whose
/// `Sec-Fetch-Mode` is not `navigate`) gets a 429; both with `Retry-After`.
fn rate_limited(ctx: &Ctx, wait: RetryAfter, headers: &HeaderMap) -> (Outcome, Response) {
    let code = ErrorCode::RateLimited;
    ctx.metrics().funnel(FunnelStep::of_error(code));
    let seconds = wait.seconds();
    let fetched = headers
        .get("sec-fetch-mode")
        .is_some_and(|mode| mode.as_bytes() != b"navigate");
    let response = if fetched {
        ApiError::RateLimited {
            retry_after_seconds: seconds,
        }
        .into_response()
    } else {
        let mut response = ctx.error_redirect(code, []);
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
        response
    };
    (Outcome::Failed(code.as_str()), response)
}

/// The `(outcome, response)` of a login or callback that failed, counted
/// at its step of the login funnel.
fn error_outcome(ctx: &Ctx, code: ErrorCode, cookies: Vec<HeaderValue>) -> (Outcome, Response) {
    ctx.metrics().funnel(FunnelStep::of_error(code));
    (
        Outcome::Failed(code.as_str()),
        ctx.error_redirect(code, cookies),
    )
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
            auth_service_tls: None,
            frontend_url: Url::parse("https://app.example.com/home").unwrap(),
            frontend_error_url: Url::parse("https://app.example.com/error").unwrap(),
            allowed_origins: vec!["https://admin.example.com".into()],
            cookie_domain: None,
            jwt_issuer: "i".into(),
            jwt_audience: "a".into(),
            demo_page: false,
            rate_limits: Default::default(),
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

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn a_completed_callback_has_one_non_empty_code_and_state(
            query in "((code|state|error|x)=[a-z%&=+0-9]{0,4}&?){0,4}"
        ) {
            if let Callback::Complete { code, state } = parse_callback(&query) {
                prop_assert!(!code.is_empty() && !state.is_empty());
                let again = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("code", &code)
                    .append_pair("state", &state)
                    .finish();
                prop_assert_eq!(parse_callback(&again), complete(&code, &state));
            }
        }
    }
}
