//! Entry points for the fuzz targets in `fuzz/` (the `fuzzing` feature,
//! off in every build of the workspace): the parsers of untrusted input
//! that are not public, answering in plain types. The public parsers
//! (`ReturnTo`, `StateSealer::open`, the secrets) are fuzzed through their
//! own API.

use std::time::Duration;

use reqwest::StatusCode;

use crate::{
    google,
    kakao::{self, KakaoTokens, KakaoUser},
    kakao_oidc::{self, IdTokenError},
    naver,
    providers::api::ProviderError,
};

/// What the client makes of Kakao's token endpoint answering `status` with
/// `body`; `None` when `status` is not an HTTP status.
pub fn kakao_token_answer(status: u16, body: &[u8]) -> Option<Result<KakaoTokens, ProviderError>> {
    let status = StatusCode::from_u16(status).ok()?;
    Some(if status.is_success() {
        kakao::read_tokens(body)
    } else {
        Err(kakao::token_error(status, body))
    })
}

/// What the client makes of `/v2/user/me` answering `status` with `body`;
/// `None` when `status` is not an HTTP status.
pub fn kakao_user_answer(status: u16, body: &[u8]) -> Option<Result<KakaoUser, ProviderError>> {
    let status = StatusCode::from_u16(status).ok()?;
    Some(if status.is_success() {
        kakao::read_user(body)
    } else {
        Err(kakao::api_error(status, body))
    })
}

/// The `(alg, kid)` of an id_token's header, read before any verification.
pub fn id_token_header(token: &str) -> Result<(String, Option<String>), IdTokenError> {
    kakao_oidc::header(token).map(|h| (h.alg, h.kid))
}

/// The `kid`s of the RS256 signing keys a JWKS document publishes, sorted;
/// `None` when the document is unreadable.
pub fn jwks_kids(body: &[u8]) -> Option<Vec<String>> {
    let mut kids: Vec<String> = kakao_oidc::parse_jwks(body)?.into_keys().collect();
    kids.sort();
    Some(kids)
}

/// How long a JWKS answer with this `Cache-Control` is used.
pub fn jwks_lifetime(cache_control: Option<&str>) -> Duration {
    kakao_oidc::cache_lifetime(cache_control)
}

/// What the Naver client makes of `/oauth2.0/token` answering `status`
/// with `body`: `Ok(has a refresh token)` for tokens (whose access token is
/// never empty), else the error; `None` when `status` is not a status.
pub fn naver_token_answer(status: u16, body: &[u8]) -> Option<Result<bool, ProviderError>> {
    use secrecy::ExposeSecret;
    let status = StatusCode::from_u16(status).ok()?;
    Some(naver::answers::read_tokens(status, body).map(|t| {
        assert!(!t.access_token.expose_secret().is_empty());
        t.refresh_token.is_some()
    }))
}

/// What the Naver client makes of `/v1/nid/me` answering `status` with
/// `body`; `None` when `status` is not a status.
pub fn naver_profile_answer(
    status: u16,
    body: &[u8],
) -> Option<Result<crate::providers::api::ProviderUser, ProviderError>> {
    let status = StatusCode::from_u16(status).ok()?;
    Some(naver::profile::read_profile(status, body))
}

/// What the Google client makes of its token endpoint answering `status`
/// with `body`: `Ok(has a refresh token)`, else the error.
pub fn google_token_answer(status: u16, body: &[u8]) -> Option<Result<bool, ProviderError>> {
    let status = StatusCode::from_u16(status).ok()?;
    Some(if status.is_success() {
        google::answers::read_tokens(body).map(|t| t.refresh_token.is_some())
    } else {
        Err(google::answers::token_error(status, body))
    })
}

/// The endpoints a discovery document of `https://accounts.google.com`
/// yields, as strings (authorize, token, jwks), or the refusal.
pub fn google_discovery(body: &[u8]) -> Result<[String; 3], ProviderError> {
    let issuer = url::Url::parse("https://accounts.google.com").expect("a constant URL");
    google::discovery::parse(body, &issuer).map(|e| {
        [
            e.authorize.to_string(),
            e.token.to_string(),
            e.jwks.to_string(),
        ]
    })
}

/// The statuses the provider fuzz targets answer with: the first input
/// byte picks one (`0` is 200, `2` is 400, `7` is 500, ...), the rest of
/// the input is the body, so a seed file is a digit and a JSON document.
pub const STATUSES: [u16; 10] = [200, 201, 400, 401, 403, 404, 429, 500, 502, 503];

/// Splits a fuzz input into a status from [`STATUSES`] and a body; `None`
/// for an empty input.
pub fn status_and_body(data: &[u8]) -> Option<(u16, &[u8])> {
    let (&pick, body) = data.split_first()?;
    Some((
        STATUSES[usize::from(pick.wrapping_sub(b'0')) % STATUSES.len()],
        body,
    ))
}

/// Panics unless `e`'s label is what every provider error must be: a
/// short word (at most 40 characters of letters, digits, `_`, `-`, space)
/// that carries nothing else from the provider's body.
pub fn assert_short_label(e: &ProviderError) {
    let (ProviderError::Rejected(label)
    | ProviderError::Misconfigured(label)
    | ProviderError::Unavailable(label)) = e;
    assert!(label.len() <= 40, "label too long: {label:?}");
    assert!(
        label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ' ')),
        "unsafe label {label:?}"
    );
}
