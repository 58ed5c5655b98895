//! The end of the login funnel: `/auth/{provider}/callback` completes a
//! login and lands on the frontend with the token cookies, or completes a
//! link (the service answers `linked`) and lands there with the browser's
//! cookies untouched but the binding's. A navigation, so every failure is a
//! redirect to the frontend's error route with `?error=<code>`
//! ([`ErrorCode`]), except for a provider the service has disabled (404, as
//! in [`super::login`]). Callbacks with a code and a state are counted per
//! client address; the query, which holds an authorization code, is never
//! logged.

use auth_proto::v1::{CompleteLoginRequest, CompleteLoginResponse, Provider};
use http::{HeaderMap, HeaderValue};
use url::Url;
use warp::reply::Response;

use super::login::{MAX_QUERY_LEN, error_outcome, is_disabled, not_found, rate_limited};
use crate::{
    configuration::Settings,
    cookies::{self, ACCESS_COOKIE, BINDING_COOKIE, Cookies},
    error::ErrorCode,
    metrics::FunnelStep,
    rate_limits::{Limited, PeerAddr},
    reply::redirect,
    state::{Ctx, Outcome},
    verified_cache::token_key,
};

/// GET /auth/{provider}/callback?code=..&state=.. (or ?error=..)
pub(crate) async fn callback(
    ctx: Ctx,
    provider: Provider,
    query: String,
    headers: HeaderMap,
    peer: Option<PeerAddr>,
) -> Response {
    let callback = parse_callback(&query, provider);
    if matches!(callback, Callback::Complete { .. })
        && let Err(wait) = ctx.state().limits.check(Limited::Callback, peer, &headers)
    {
        // The binding is kept: the same callback may be retried once allowed.
        let (outcome, response) = rate_limited(&ctx, provider, wait, &headers);
        return ctx.finish("callback", outcome, response);
    }
    let result = match callback {
        Callback::Refused(code) => Err(Failure::Code(code)),
        Callback::Complete { code, state } => {
            let binding = cookies::read(&headers, BINDING_COOKIE).unwrap_or_default();
            let request = CompleteLoginRequest {
                code,
                state,
                binding,
                provider: provider.into(),
            };
            complete_login(&ctx, provider, request, &headers).await
        }
    };
    let (outcome, response) = match result {
        Ok(landed) => landed,
        Err(Failure::Disabled) => not_found(),
        Err(Failure::Code(code)) => {
            error_outcome(&ctx, provider, code, vec![ctx.cookies().clear_binding()])
        }
    };
    ctx.finish("callback", outcome, response)
}

/// Why a callback ends without landing.
enum Failure {
    /// The service has the provider disabled: 404, no cookie touched.
    Disabled,
    /// The error route with this code, the binding cleared.
    Code(ErrorCode),
}

impl From<ErrorCode> for Failure {
    fn from(code: ErrorCode) -> Self {
        Failure::Code(code)
    }
}

async fn complete_login(
    ctx: &Ctx,
    provider: Provider,
    request: CompleteLoginRequest,
    headers: &HeaderMap,
) -> Result<(Outcome, Response), Failure> {
    let answer = ctx
        .client()
        .complete_login(ctx.request(request))
        .await
        .map_err(|s| match ctx.failed(s) {
            s if is_disabled(&s) => Failure::Disabled,
            s => Failure::Code(ErrorCode::from_status(&s)),
        })?
        .into_inner();
    if answer.linked {
        let response = linked(ctx, &answer, headers)?;
        ctx.metrics().funnel(provider, FunnelStep::Linked);
        return Ok((Outcome::Done("linked"), response));
    }
    let tokens = answer.tokens.ok_or(ErrorCode::ServerError)?;
    let location =
        landing_url(&ctx.state().settings, &answer.return_to).ok_or(ErrorCode::ServerError)?;
    let [access, refresh] = ctx
        .cookies()
        .tokens(&tokens)
        .map_err(|_| ErrorCode::ServerError)?;
    ctx.metrics().funnel(provider, FunnelStep::Completed);
    ctx.metrics().login(answer.new_user);
    Ok((
        Outcome::Done("logged_in"),
        redirect(location, [access, refresh, ctx.cookies().clear_binding()]),
    ))
}

/// The landing of a completed link: to `return_to`, the binding cleared and
/// no session cookie set (the browser keeps the session it linked with).
/// The user's cached profiles are dropped first, so that the next
/// `/auth/me` lists the new identity.
fn linked(
    ctx: &Ctx,
    answer: &CompleteLoginResponse,
    headers: &HeaderMap,
) -> Result<Response, ErrorCode> {
    let location =
        landing_url(&ctx.state().settings, &answer.return_to).ok_or(ErrorCode::ServerError)?;
    let cache = &ctx.state().verified;
    match (&answer.user, cookies::read(headers, ACCESS_COOKIE)) {
        (Some(user), _) => cache.forget_profiles_of(&user.id),
        (None, Some(access_token)) => cache.evict_session_of(&token_key(&access_token)),
        (None, None) => cache.drop_caches(),
    }
    Ok(linked_reply(ctx.cookies(), location))
}

/// 302 to `location` clearing only the binding cookie.
fn linked_reply(cookies: &Cookies, location: HeaderValue) -> Response {
    redirect(location, [cookies.clear_binding()])
}

/// The code of a callback in which `provider` reported an error.
fn provider_error(provider: Provider) -> ErrorCode {
    match provider.or_kakao() {
        Provider::Kakao => ErrorCode::KakaoError,
        _ => ErrorCode::ProviderError,
    }
}

/// The `code`/`state` of a callback, or why none will be exchanged.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Callback {
    Complete { code: String, state: String },
    Refused(ErrorCode),
}

/// Parses a callback query leniently: bad percent-encoding is decoded
/// lossily, unknown parameters are ignored, and any shape ends in a
/// decision (never a rejection). A query over [`MAX_QUERY_LEN`] is refused
/// unread. An `error` from the provider is `kakao_error` for Kakao (as it
/// always was), `provider_error` for the others.
pub(crate) fn parse_callback(query: &str, provider: Provider) -> Callback {
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
        // The providers say `access_denied` when the user cancels; our code
        // is the same word.
        (Some(e), _, _) if e == ErrorCode::AccessDenied.as_str() => {
            Callback::Refused(ErrorCode::AccessDenied)
        }
        (Some(_), _, _) => Callback::Refused(provider_error(provider)),
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
            assert_eq!(parse_callback(query, Provider::Kakao), expected, "{query}");
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
    fn a_provider_error_is_kakaos_own_code_only_for_kakao() {
        let refused = |provider| parse_callback("error=server_error&state=s1", provider);
        use ErrorCode::*;
        assert_eq!(refused(Provider::Kakao), Callback::Refused(KakaoError));
        assert_eq!(
            refused(Provider::Unspecified),
            Callback::Refused(KakaoError)
        );
        assert_eq!(refused(Provider::Naver), Callback::Refused(ProviderError));
        assert_eq!(refused(Provider::Google), Callback::Refused(ProviderError));
        for provider in Provider::NAMED {
            assert_eq!(
                parse_callback("error=access_denied", provider),
                Callback::Refused(AccessDenied)
            );
        }
    }

    #[test]
    fn a_linked_callback_lands_clearing_only_the_binding_cookie() {
        let cookies = Cookies::new(Some("example.com".into())).unwrap();
        let location = HeaderValue::from_static("https://app.example.com/settings");
        let response = linked_reply(&cookies, location.clone());
        assert_eq!(response.status(), http::StatusCode::FOUND);
        let headers = response.headers();
        assert_eq!(headers.get(http::header::LOCATION), Some(&location));
        let set: Vec<_> = headers.get_all(http::header::SET_COOKIE).iter().collect();
        assert_eq!(
            set,
            vec![&cookies.clear_binding()],
            "no session cookie set or cleared"
        );
        assert_eq!(
            headers.get(http::header::CACHE_CONTROL).unwrap(),
            "no-store"
        );
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn a_completed_callback_has_one_non_empty_code_and_state(
            query in "((code|state|error|x)=[a-z%&=+0-9]{0,4}&?){0,4}"
        ) {
            if let Callback::Complete { code, state } = parse_callback(&query, Provider::Naver) {
                prop_assert!(!code.is_empty() && !state.is_empty());
                let again = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("code", &code)
                    .append_pair("state", &state)
                    .finish();
                prop_assert_eq!(parse_callback(&again, Provider::Naver), complete(&code, &state));
            }
        }
    }
}
