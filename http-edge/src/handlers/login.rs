//! The start of the login funnel: `/auth/{provider}/login` sends the
//! browser to the provider with a binding cookie, and
//! `/auth/{provider}/link` does the same to attach that provider's identity
//! to the user of the browser's access cookie; both come back through
//! [`super::callback`]. They are navigations, so every failure is a
//! redirect to the frontend's error route with `?error=<code>`
//! ([`ErrorCode`]), except for a provider the service has disabled: 404, as
//! for a provider no one knows. Each step is counted in the login funnel by
//! provider ([`crate::metrics`]). Queries are parsed here, leniently, and
//! never logged. Starts are counted per client address
//! ([`crate::rate_limits`]); one over its limit lands on the error route as
//! `rate_limited` (a `fetch` gets 429), with `Retry-After`.

use auth_proto::{
    Reason,
    v1::{BuildLoginUrlRequest, BuildLoginUrlResponse, Provider},
};
use http::{HeaderMap, HeaderValue, header::RETRY_AFTER};
use hyper::body::Bytes;
use tonic::Status;
use warp::reply::Response;

use super::first_param;
use crate::{
    cookies::{self, ACCESS_COOKIE, Cookies},
    error::{ApiError, ErrorCode},
    metrics::FunnelStep,
    rate_limits::{Limited, PeerAddr, RetryAfter},
    reply::redirect,
    state::{Ctx, Outcome},
};

/// The longest query string the login, link and callback routes accept; a
/// longer one ends on the error route as `invalid_request`.
pub(crate) const MAX_QUERY_LEN: usize = 4096;

/// GET /auth/{provider}/login[?return_to=...]
/// (A binding cookie in the request headers is ignored: see [`start`].)
pub(crate) async fn login(
    ctx: Ctx,
    provider: Provider,
    query: String,
    headers: HeaderMap,
    peer: Option<PeerAddr>,
) -> Response {
    let (outcome, response) = navigate(&ctx, provider, &query, &headers, peer, false).await;
    ctx.finish("login", outcome, response)
}

/// GET /auth/{provider}/link[?return_to=...]: like a login, but the
/// browser's access cookie goes along, so that the callback attaches the
/// provider's identity to its user instead of starting a session. Without
/// an access cookie (or with one the service refuses) it lands on the
/// error route as `login_required`.
pub(crate) async fn link(
    ctx: Ctx,
    provider: Provider,
    query: String,
    headers: HeaderMap,
    peer: Option<PeerAddr>,
) -> Response {
    let (outcome, response) = navigate(&ctx, provider, &query, &headers, peer, true).await;
    ctx.finish("link", outcome, response)
}

/// A login (or, with `link`, a link) start: limited per client, then the
/// query read, then the service asked for the provider's authorize URL.
async fn navigate(
    ctx: &Ctx,
    provider: Provider,
    query: &str,
    headers: &HeaderMap,
    peer: Option<PeerAddr>,
    link: bool,
) -> (Outcome, Response) {
    let limit = ctx.state().limits.check(Limited::LoginStart, peer, headers);
    let return_to = match (limit, parse_login(query)) {
        (Err(wait), _) => return rate_limited(ctx, provider, wait, headers),
        (Ok(()), Err(code)) => return error_outcome(ctx, provider, code, vec![]),
        (Ok(()), Ok(return_to)) => return_to,
    };
    let link_access_token = match (link, cookies::read(headers, ACCESS_COOKIE)) {
        (false, _) => String::new(),
        (true, Some(access_token)) => access_token,
        (true, None) => return error_outcome(ctx, provider, ErrorCode::LoginRequired, vec![]),
    };
    let request = BuildLoginUrlRequest {
        return_to,
        binding: String::new(),
        provider: provider.into(),
        link_access_token,
    };
    start(ctx, provider, request).await
}

/// Every start gets a new binding from the service: a binding cookie the
/// browser brings is never adopted (one planted by another host would
/// otherwise bind this login to a secret the planter knows).
async fn start(
    ctx: &Ctx,
    provider: Provider,
    request: BuildLoginUrlRequest,
) -> (Outcome, Response) {
    let answer = ctx.client().build_login_url(ctx.request(request)).await;
    match answer.map_err(|s| ctx.failed(s)) {
        Ok(answer) => match to_provider(ctx.cookies(), answer.into_inner()) {
            Some(response) => {
                ctx.metrics().funnel(provider, FunnelStep::Started);
                (Outcome::Done("redirect_to_provider"), response)
            }
            None => error_outcome(ctx, provider, ErrorCode::ServerError, vec![]),
        },
        Err(s) if is_disabled(&s) => not_found(),
        // A binding the service refuses would fail every retry: drop it.
        Err(s) if Reason::of(&s) == Some(Reason::InvalidBinding) => error_outcome(
            ctx,
            provider,
            ErrorCode::from_status(&s),
            vec![ctx.cookies().clear_binding()],
        ),
        Err(s) => error_outcome(ctx, provider, ErrorCode::from_status(&s), vec![]),
    }
}

/// The redirect to the provider. The service built and validated the
/// authorize URL, so it is not parsed again (that was a tenth of a login's
/// work here): it need only be an `http(s)` URL that is a valid header value.
fn to_provider(cookies: &Cookies, answer: BuildLoginUrlResponse) -> Option<Response> {
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

/// Whether the service refused the call because the provider is not
/// configured there (`provider_disabled`).
pub(super) fn is_disabled(status: &Status) -> bool {
    Reason::of(status) == Some(Reason::ProviderDisabled)
}

/// The answer for a provider the service has disabled: the very 404 of a
/// path no route answers (same status, body and headers), so that a probe
/// cannot tell a disabled provider from an unknown one. Not counted in the
/// funnel: no login of it can exist.
pub(super) fn not_found() -> (Outcome, Response) {
    let error = ApiError::NotFound;
    (Outcome::Failed(error.as_str()), error.into_response())
}

/// The `return_to` of a login query (empty when none), or `invalid_request`
/// for a query over [`MAX_QUERY_LEN`].
pub(crate) fn parse_login(query: &str) -> Result<String, ErrorCode> {
    if query.len() > MAX_QUERY_LEN {
        return Err(ErrorCode::InvalidRequest);
    }
    Ok(first_param(query, "return_to").unwrap_or_default())
}

/// The `(outcome, response)` of a request over its client's limit: a
/// navigation lands on the error route as `rate_limited`, a `fetch` (whose
/// `Sec-Fetch-Mode` is not `navigate`) gets a 429; both with `Retry-After`.
pub(super) fn rate_limited(
    ctx: &Ctx,
    provider: Provider,
    wait: RetryAfter,
    headers: &HeaderMap,
) -> (Outcome, Response) {
    let code = ErrorCode::RateLimited;
    ctx.metrics().funnel(provider, FunnelStep::of_error(code));
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

/// The `(outcome, response)` of a start or callback that failed, counted
/// at its step of `provider`'s login funnel.
pub(super) fn error_outcome(
    ctx: &Ctx,
    provider: Provider,
    code: ErrorCode,
    cookies: Vec<HeaderValue>,
) -> (Outcome, Response) {
    ctx.metrics().funnel(provider, FunnelStep::of_error(code));
    (
        Outcome::Failed(code.as_str()),
        ctx.error_redirect(code, cookies),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn only_provider_disabled_is_a_disabled_provider() {
        assert!(is_disabled(&Reason::ProviderDisabled.status("x")));
        for status in [
            Reason::UserNotFound.status("x"),
            Status::not_found("x"),
            Reason::ProviderUnavailable.status("x"),
        ] {
            assert!(!is_disabled(&status), "{status:?}");
        }
    }

    #[tokio::test]
    async fn a_disabled_provider_is_answered_like_an_unknown_path() {
        use warp::Filter;
        let disabled = warp::any().map(|| not_found().1);
        let unknown = warp::any()
            .and_then(|| async { Err::<Response, _>(warp::reject::not_found()) })
            .recover(crate::rejection::recover);
        let disabled = warp::test::request().reply(&disabled).await;
        let unknown = warp::test::request().reply(&unknown).await;
        assert_eq!(disabled.status(), 404);
        assert_eq!(disabled.status(), unknown.status());
        assert_eq!(disabled.headers(), unknown.headers());
        assert_eq!(disabled.body(), unknown.body());
    }
}
