//! The browser's side of the contract: the closed set of codes a frontend
//! finds in its error route's `?error=<code>` after a failed login, and how
//! an auth-service error (its [`Reason`], else its gRPC code) maps to one.
//! The edge redirects with these; frontends branch on them.

use tonic::{Code, Status};

use crate::Reason;

/// The closed set of error codes a browser can find in the frontend error
/// route's `?error=<code>` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// `access_denied`: the user cancelled at the provider.
    AccessDenied,
    /// `kakao_error`: Kakao reported an error or refused the code or token.
    KakaoError,
    /// `invalid_request`: the callback came without `code` or `state`, or a
    /// field was malformed.
    InvalidRequest,
    /// `invalid_return_to`: the login asked for a `return_to` that is refused.
    InvalidReturnTo,
    /// `invalid_state`: an unknown, reused or mis-bound login state.
    InvalidState,
    /// `login_expired`: the login attempt timed out.
    LoginExpired,
    /// `unavailable`: Kakao, the database or the auth-service cannot be
    /// reached; trying again later may work.
    Unavailable,
    /// `server_error`: anything else.
    ServerError,
    /// `rate_limited`: this client started too many logins (or sent too
    /// many callbacks) in the last minute; trying again later will work.
    /// Set by the edge itself, never mapped from a service error.
    RateLimited,
    /// `provider_error`: Naver or Google reported an error or refused the
    /// code, the token or its id_token (Kakao's keep `kakao_error`).
    ProviderError,
    /// `identity_in_use`: the account being linked already belongs to
    /// another user (log in with it instead, or unlink it there first).
    IdentityInUse,
    /// `login_required`: a link was asked for without a live login (no or
    /// an expired, revoked or invalid access cookie): log in, then link.
    LoginRequired,
}

impl ErrorCode {
    /// Every code, for documentation and tests.
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::AccessDenied,
        ErrorCode::KakaoError,
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidReturnTo,
        ErrorCode::InvalidState,
        ErrorCode::LoginExpired,
        ErrorCode::Unavailable,
        ErrorCode::ServerError,
        ErrorCode::RateLimited,
        ErrorCode::ProviderError,
        ErrorCode::IdentityInUse,
        ErrorCode::LoginRequired,
    ];

    /// The code as it appears in `?error=<code>`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::KakaoError => "kakao_error",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidReturnTo => "invalid_return_to",
            ErrorCode::InvalidState => "invalid_state",
            ErrorCode::LoginExpired => "login_expired",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::ServerError => "server_error",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ProviderError => "provider_error",
            ErrorCode::IdentityInUse => "identity_in_use",
            ErrorCode::LoginRequired => "login_required",
        }
    }

    /// Maps an auth-service error: by its [`Reason`] when it has one this
    /// route knows, else by its gRPC code (transport failures arrive as
    /// `UNAVAILABLE`).
    pub fn from_status(status: &Status) -> ErrorCode {
        match Reason::of(status) {
            Some(Reason::InvalidReturnTo) => ErrorCode::InvalidReturnTo,
            Some(Reason::InvalidState) => ErrorCode::InvalidState,
            Some(Reason::LoginExpired) => ErrorCode::LoginExpired,
            Some(Reason::KakaoRejected) => ErrorCode::KakaoError,
            Some(Reason::ProviderRejected) => ErrorCode::ProviderError,
            Some(Reason::IdentityInUse) => ErrorCode::IdentityInUse,
            Some(
                Reason::InvalidToken
                | Reason::TokenExpired
                | Reason::SessionRevoked
                | Reason::SessionExpired,
            ) => ErrorCode::LoginRequired,
            Some(Reason::KakaoUnavailable | Reason::ProviderUnavailable | Reason::Unavailable) => {
                ErrorCode::Unavailable
            }
            Some(Reason::InvalidRequest) => ErrorCode::InvalidRequest,
            _ => match status.code() {
                Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => {
                    ErrorCode::Unavailable
                }
                Code::InvalidArgument => ErrorCode::InvalidRequest,
                _ => ErrorCode::ServerError,
            },
        }
    }
}
