//! The service's error type and its one mapping to `tonic::Status`.
//!
//! Inside, errors are typed; outside, the caller gets a precise gRPC code, a
//! short secret-free message, and a reason word in the `x-auth-error`
//! metadata. Unexpected errors are logged here with their cause chain and
//! reach the caller only as `internal error`.

use sea_orm::DbErr;
use tonic::{Code, Status, metadata::MetadataValue};

use crate::{kakao::KakaoError, persistence::is_unavailable, tokens::VerifyError};

/// Metadata key carrying the machine-readable reason of an error status.
pub const REASON_KEY: &str = "x-auth-error";

/// An RPC failure.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A refusal with a precise code, a reason word and a short message.
    #[error("{message}")]
    Refused {
        code: Code,
        reason: &'static str,
        message: &'static str,
    },
    /// Kakao could not be used right now.
    #[error("kakao is unavailable")]
    KakaoUnavailable(#[source] KakaoError),
    /// The database could not be reached.
    #[error("database unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A bug or a misconfiguration.
    #[error("internal error")]
    Unexpected(#[source] anyhow::Error),
}

impl AuthError {
    /// INVALID_ARGUMENT.
    pub fn invalid_argument(reason: &'static str, message: &'static str) -> Self {
        AuthError::Refused {
            code: Code::InvalidArgument,
            reason,
            message,
        }
    }
    /// FAILED_PRECONDITION.
    pub fn failed_precondition(reason: &'static str, message: &'static str) -> Self {
        AuthError::Refused {
            code: Code::FailedPrecondition,
            reason,
            message,
        }
    }
    /// UNAUTHENTICATED.
    pub fn unauthenticated(reason: &'static str, message: &'static str) -> Self {
        AuthError::Refused {
            code: Code::Unauthenticated,
            reason,
            message,
        }
    }
    /// NOT_FOUND.
    pub fn not_found(reason: &'static str, message: &'static str) -> Self {
        AuthError::Refused {
            code: Code::NotFound,
            reason,
            message,
        }
    }
    /// The login state is unknown, reused or bound to another browser.
    pub fn invalid_state() -> Self {
        Self::failed_precondition(
            "invalid_state",
            "login state is unknown, already used or not bound to this browser",
        )
    }

    /// The reason word sent in `x-auth-error`.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::Refused { reason, .. } => reason,
            AuthError::KakaoUnavailable(_) => "kakao_unavailable",
            AuthError::Unavailable(_) => "unavailable",
            AuthError::Unexpected(_) => "server_error",
        }
    }
}

/// Wraps a database error with context, classifying it as "unavailable"
/// (connection lost, pool exhausted, busy) or unexpected.
pub fn db(context: &'static str) -> impl FnOnce(DbErr) -> AuthError {
    move |e| {
        if is_unavailable(&e) {
            AuthError::Unavailable(anyhow::Error::new(e).context(context))
        } else {
            AuthError::Unexpected(anyhow::Error::new(e).context(context))
        }
    }
}

impl From<KakaoError> for AuthError {
    fn from(e: KakaoError) -> Self {
        match e {
            KakaoError::Rejected(_) => {
                AuthError::failed_precondition("kakao_rejected", "kakao refused the authorization")
            }
            KakaoError::Unavailable(_) => AuthError::KakaoUnavailable(e),
            KakaoError::Misconfigured(_) => AuthError::Unexpected(
                anyhow::Error::new(e).context("kakao refused our client credentials"),
            ),
        }
    }
}

impl From<VerifyError> for AuthError {
    fn from(e: VerifyError) -> Self {
        let message = match e {
            VerifyError::Expired => "access token has expired",
            VerifyError::Revoked => "session has been revoked",
            VerifyError::UnknownKey => "access token is signed by an unknown key",
            VerifyError::WrongAlgorithm => "access token algorithm is not allowed",
            VerifyError::BadSignature => "access token signature is invalid",
            VerifyError::WrongIssuer => "access token has the wrong issuer",
            VerifyError::WrongAudience => "access token has the wrong audience",
            VerifyError::Malformed => "access token is malformed",
        };
        AuthError::unauthenticated(e.reason(), message)
    }
}

impl From<AuthError> for Status {
    fn from(e: AuthError) -> Self {
        let reason = e.reason();
        let mut status = match &e {
            AuthError::Refused { code, message, .. } => Status::new(*code, *message),
            AuthError::KakaoUnavailable(cause) => {
                tracing::warn!(error = %cause, "kakao unavailable");
                Status::unavailable("kakao is unavailable, try again later")
            }
            AuthError::Unavailable(cause) => {
                tracing::error!(error = format!("{cause:#}"), "database unavailable");
                Status::unavailable("service temporarily unavailable, try again later")
            }
            AuthError::Unexpected(cause) => {
                tracing::error!(error = format!("{cause:#}"), "unexpected error");
                Status::internal("internal error")
            }
        };
        status
            .metadata_mut()
            .insert(REASON_KEY, MetadataValue::from_static(reason));
        status
    }
}
