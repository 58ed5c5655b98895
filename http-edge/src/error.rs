//! The one mapping from auth-service errors (gRPC status + the contract's
//! [`Reason`]) to what a browser sees: a redirect to the frontend's error
//! route with `?error=<code>` for navigations, or a small JSON error for the
//! API routes. No service message or detail is ever passed through.

pub use auth_proto::ErrorCode;
use auth_proto::Reason;
use http::{HeaderValue, StatusCode, header::RETRY_AFTER};
use serde::Serialize;
use tonic::{Code, Status};
use url::Url;
use warp::reply::Response;

use crate::{
    jwks::{JwksError, VerifyError},
    reply::json_response,
};

/// The frontend's error route for `code`: `base` with its `error` query
/// parameter set to the code (an existing one replaced, others kept).
pub fn error_route_url(base: &Url, code: ErrorCode) -> Url {
    let kept: Vec<(String, String)> = base
        .query_pairs()
        .filter(|(name, _)| name != "error")
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    let mut url = base.clone();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("error", code.as_str());
    url
}

/// Why a request was answered 401: the edge found no token cookie, or the
/// token was refused (by the edge's own verification or by the service) for
/// one of the contract's [`Reason`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `missing_token`: the request carried no token cookie (the edge's own
    /// word, part of its contract with the frontend).
    MissingToken,
    /// The contract's reason, sent as [`Reason::as_str`].
    Reason(Reason),
}

impl Refusal {
    /// The `reason` of the 401 body.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::MissingToken => "missing_token",
            Refusal::Reason(reason) => reason.as_str(),
        }
    }
}

/// An answer of a JSON API route (`/auth/me`, `/auth/refresh`, ...) that is
/// not a success; its body is `{"error": .., "reason": ..}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 401 `{"error":"unauthenticated","reason":<word>}`.
    Unauthenticated(Refusal),
    /// 403 `{"error":"forbidden","reason":"cross_site"}`.
    CrossSite,
    /// 404 `{"error":"not_found"}`.
    NotFound,
    /// 404 `{"error":"not_found","reason":<word>}`: the thing asked for
    /// does not exist (e.g. `identity_not_found`).
    Missing(Reason),
    /// 409 `{"error":"conflict","reason":<word>}`: refused in the current
    /// state (e.g. `last_identity`).
    Conflict(Reason),
    /// 405 `{"error":"method_not_allowed"}`.
    MethodNotAllowed,
    /// 400 `{"error":"bad_request"}`.
    BadRequest,
    /// 413 `{"error":"payload_too_large"}`.
    PayloadTooLarge,
    /// 429 `{"error":"rate_limited"}` with `Retry-After` (in seconds): the
    /// client is over a per-minute limit ([`crate::rate_limits`]).
    RateLimited {
        /// The `Retry-After` value.
        retry_after_seconds: u64,
    },
    /// 503 `{"error":"unavailable"}`.
    Unavailable,
    /// 500 `{"error":"server_error"}`.
    ServerError,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

impl ApiError {
    /// 401 with reason `missing_token`: the request carried no token cookie.
    pub fn missing_token() -> ApiError {
        ApiError::Unauthenticated(Refusal::MissingToken)
    }

    /// 401 with the contract's `reason`.
    pub fn refused(reason: Reason) -> ApiError {
        ApiError::Unauthenticated(Refusal::Reason(reason))
    }

    /// Maps an auth-service error for an API route: a refused, unknown or
    /// malformed token (or a vanished user) is 401, an unreachable service
    /// 503, anything else 500.
    pub fn from_status(status: &Status) -> ApiError {
        match status.code() {
            Code::Unauthenticated | Code::InvalidArgument | Code::NotFound => {
                ApiError::refused(Reason::of(status).unwrap_or(Reason::InvalidToken))
            }
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => ApiError::Unavailable,
            _ => ApiError::ServerError,
        }
    }

    /// The HTTP status of this answer.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::CrossSite => StatusCode::FORBIDDEN,
            ApiError::NotFound | ApiError::Missing(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BadRequest => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The short outcome word used in the body and in log lines.
    pub fn as_str(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated(_) => "unauthenticated",
            ApiError::CrossSite => "forbidden",
            ApiError::NotFound | ApiError::Missing(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::BadRequest => "bad_request",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::RateLimited { .. } => ErrorCode::RateLimited.as_str(),
            ApiError::Unavailable => Reason::Unavailable.as_str(),
            ApiError::ServerError => Reason::ServerError.as_str(),
        }
    }

    /// The JSON response.
    pub fn into_response(self) -> Response {
        let reason = match &self {
            ApiError::Unauthenticated(refusal) => Some(refusal.as_str()),
            ApiError::CrossSite => Some("cross_site"),
            ApiError::Missing(reason) | ApiError::Conflict(reason) => Some(reason.as_str()),
            _ => None,
        };
        let body = ErrorBody {
            error: self.as_str(),
            reason,
        };
        let mut response = json_response(self.status(), &body);
        if let ApiError::RateLimited {
            retry_after_seconds,
        } = self
        {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after_seconds));
        }
        response
    }
}

/// A token the edge refused itself, or a key set it could not get.
impl From<VerifyError> for ApiError {
    fn from(error: VerifyError) -> Self {
        match error {
            VerifyError::Invalid => ApiError::refused(Reason::InvalidToken),
            VerifyError::Expired => ApiError::refused(Reason::TokenExpired),
            VerifyError::Keys(error) => error.into(),
        }
    }
}

impl From<JwksError> for ApiError {
    fn from(error: JwksError) -> Self {
        match error {
            JwksError::Unavailable => ApiError::Unavailable,
            JwksError::Malformed => ApiError::ServerError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_proto::AUTH_ERROR_KEY;
    use tonic::metadata::MetadataValue;

    /// A status with `code` and, in the contract's metadata key, `word`
    /// (a reason's, or one the contract does not know).
    fn status(code: Code, word: Option<&'static str>) -> Status {
        let mut status = Status::new(code, "refused");
        if let Some(word) = word {
            status
                .metadata_mut()
                .insert(AUTH_ERROR_KEY, MetadataValue::from_static(word));
        }
        status
    }

    fn word(reason: Reason) -> Option<&'static str> {
        Some(reason.as_str())
    }

    #[test]
    fn service_errors_map_to_browser_error_codes() {
        use ErrorCode::*;
        let table: &[(Code, Option<&'static str>, ErrorCode)] = &[
            (
                Code::InvalidArgument,
                word(Reason::InvalidReturnTo),
                InvalidReturnTo,
            ),
            (
                Code::FailedPrecondition,
                word(Reason::InvalidState),
                InvalidState,
            ),
            (
                Code::FailedPrecondition,
                word(Reason::LoginExpired),
                LoginExpired,
            ),
            (
                Code::FailedPrecondition,
                word(Reason::KakaoRejected),
                KakaoError,
            ),
            (
                Code::Unavailable,
                word(Reason::KakaoUnavailable),
                Unavailable,
            ),
            (Code::Unavailable, word(Reason::Unavailable), Unavailable),
            (
                Code::InvalidArgument,
                word(Reason::InvalidRequest),
                InvalidRequest,
            ),
            (Code::Internal, word(Reason::ServerError), ServerError),
            (
                Code::FailedPrecondition,
                word(Reason::ProviderRejected),
                ProviderError,
            ),
            (
                Code::Unavailable,
                word(Reason::ProviderUnavailable),
                Unavailable,
            ),
            (
                Code::FailedPrecondition,
                word(Reason::IdentityInUse),
                IdentityInUse,
            ),
            (
                Code::Unauthenticated,
                word(Reason::SessionRevoked),
                LoginRequired,
            ),
            (
                Code::Unauthenticated,
                word(Reason::TokenExpired),
                LoginRequired,
            ),
            (
                Code::Unauthenticated,
                word(Reason::InvalidToken),
                LoginRequired,
            ),
            // Unknown or missing words fall back to the gRPC code.
            (
                Code::InvalidArgument,
                word(Reason::InvalidBinding),
                InvalidRequest,
            ),
            (Code::InvalidArgument, None, InvalidRequest),
            (Code::Unavailable, None, Unavailable),
            (Code::DeadlineExceeded, None, Unavailable),
            (Code::Cancelled, None, Unavailable),
            (Code::FailedPrecondition, None, ServerError),
            (Code::FailedPrecondition, Some("something_new"), ServerError),
            (Code::Unauthenticated, None, ServerError),
            (Code::NotFound, None, ServerError),
            (Code::Internal, None, ServerError),
            (Code::Unknown, None, ServerError),
            (Code::Unknown, Some("Not A Word!"), ServerError),
        ];
        for (code, word, expected) in table {
            assert_eq!(
                ErrorCode::from_status(&status(*code, *word)),
                *expected,
                "{code:?} {word:?}"
            );
        }
    }

    #[test]
    fn a_transport_failure_maps_to_unavailable() {
        let err = Status::unavailable("tcp connect error");
        assert_eq!(ErrorCode::from_status(&err), ErrorCode::Unavailable);
        assert_eq!(ApiError::from_status(&err), ApiError::Unavailable);
    }

    #[test]
    fn error_codes_are_distinct_lower_snake_case_words() {
        let words: std::collections::HashSet<_> =
            ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(words.len(), ErrorCode::ALL.len());
        assert!(
            words
                .iter()
                .all(|w| w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
    }

    #[test]
    fn service_errors_map_to_api_errors() {
        let table: &[(Code, Option<&'static str>, ApiError)] = &[
            (
                Code::Unauthenticated,
                word(Reason::TokenExpired),
                ApiError::refused(Reason::TokenExpired),
            ),
            (
                Code::Unauthenticated,
                None,
                ApiError::refused(Reason::InvalidToken),
            ),
            (
                Code::InvalidArgument,
                word(Reason::InvalidRequest),
                ApiError::refused(Reason::InvalidRequest),
            ),
            (
                Code::NotFound,
                word(Reason::UserNotFound),
                ApiError::refused(Reason::UserNotFound),
            ),
            (
                Code::Unavailable,
                word(Reason::Unavailable),
                ApiError::Unavailable,
            ),
            (Code::DeadlineExceeded, None, ApiError::Unavailable),
            (
                Code::Internal,
                word(Reason::ServerError),
                ApiError::ServerError,
            ),
            (Code::FailedPrecondition, None, ApiError::ServerError),
            (
                Code::FailedPrecondition,
                word(Reason::LastIdentity),
                ApiError::ServerError,
            ),
        ];
        for (code, word, expected) in table {
            assert_eq!(
                ApiError::from_status(&status(*code, *word)),
                *expected,
                "{code:?}"
            );
        }
    }

    #[test]
    fn the_error_route_gets_the_code_as_its_only_error_parameter() {
        let cases = [
            (
                "http://localhost:8080/",
                "http://localhost:8080/?error=invalid_state",
            ),
            (
                "https://app.example.com/login/failed",
                "https://app.example.com/login/failed?error=invalid_state",
            ),
            (
                "https://app.example.com/login?lang=ko&from=kakao",
                "https://app.example.com/login?lang=ko&from=kakao&error=invalid_state",
            ),
            (
                "https://app.example.com/login?error=old&lang=ko&error=older",
                "https://app.example.com/login?lang=ko&error=invalid_state",
            ),
            (
                "https://app.example.com/#/login",
                "https://app.example.com/?error=invalid_state#/login",
            ),
        ];
        for (base, expected) in cases {
            let base = Url::parse(base).unwrap();
            assert_eq!(
                error_route_url(&base, ErrorCode::InvalidState).as_str(),
                expected
            );
        }
    }
}
