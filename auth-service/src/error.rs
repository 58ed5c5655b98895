//! The service's one error type, [`AuthError`], and its one mapping to
//! `tonic::Status`.
//!
//! Inside, errors are typed; outside, the caller gets the gRPC code of an
//! [`auth_proto::Reason`], a short secret-free message, and the reason word
//! in the [`auth_proto::AUTH_ERROR_KEY`] metadata (both set by
//! [`Reason::status`]). Unavailable and unexpected errors are logged here
//! with their cause chain and reach the caller only as a generic message.

use auth_proto::Reason;
use sea_orm::DbErr;
use tonic::Status;

use crate::{
    access_tokens::VerifyError,
    persistence::is_unavailable,
    providers::api::{Provider, ProviderError},
};

/// An RPC failure.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A refusal: the reason (which fixes the gRPC code) and a short message.
    #[error("{message}")]
    Refused {
        /// Why, as the contract names it.
        reason: Reason,
        /// A short, secret-free explanation for humans.
        message: &'static str,
    },
    /// Kakao could not be used right now.
    #[error("kakao is unavailable")]
    KakaoUnavailable(#[source] ProviderError),
    /// Naver or Google could not be used right now.
    #[error("{} is unavailable", .0.slug())]
    ProviderUnavailable(Provider, #[source] ProviderError),
    /// The database could not be reached or used right now.
    #[error("database unavailable")]
    DatabaseUnavailable(#[source] anyhow::Error),
    /// A bug or a misconfiguration.
    #[error("internal error")]
    Unexpected(#[source] anyhow::Error),
}

impl AuthError {
    /// A refusal for `reason` with a short `message`.
    pub fn refused(reason: Reason, message: &'static str) -> Self {
        AuthError::Refused { reason, message }
    }

    /// A field is empty, oversized or malformed ([`Reason::InvalidRequest`]).
    pub fn bad_field(message: &'static str) -> Self {
        Self::refused(Reason::InvalidRequest, message)
    }

    /// The login state is unknown, malformed, reused or bound to another
    /// browser ([`Reason::InvalidState`]).
    pub fn bad_login_state() -> Self {
        Self::refused(
            Reason::InvalidState,
            "login state is unknown, already used or not bound to this browser",
        )
    }

    /// The refresh token is malformed, unknown or expired
    /// ([`Reason::InvalidToken`]).
    pub fn bad_refresh_token() -> Self {
        Self::refused(Reason::InvalidToken, "refresh token is invalid or expired")
    }

    /// The reason sent with this error.
    pub fn reason(&self) -> Reason {
        match self {
            AuthError::Refused { reason, .. } => *reason,
            AuthError::KakaoUnavailable(_) => Reason::KakaoUnavailable,
            AuthError::ProviderUnavailable(..) => Reason::ProviderUnavailable,
            AuthError::DatabaseUnavailable(_) => Reason::Unavailable,
            AuthError::Unexpected(_) => Reason::ServerError,
        }
    }
}

/// Wraps a database error with context, classifying it as "the database is
/// unavailable" (connection lost, pool exhausted, busy) or unexpected.
pub fn db(context: &'static str) -> impl FnOnce(DbErr) -> AuthError {
    move |e| {
        if is_unavailable(&e) {
            AuthError::DatabaseUnavailable(anyhow::Error::new(e).context(context))
        } else {
            AuthError::Unexpected(anyhow::Error::new(e).context(context))
        }
    }
}

impl AuthError {
    /// A failure of `provider` (Kakao's keep their `kakao_` reasons; Naver's
    /// and Google's are `provider_rejected` / `provider_unavailable`).
    pub fn from_provider(provider: Provider, e: ProviderError) -> Self {
        let name = provider.slug();
        match (provider.or_kakao(), e) {
            (Provider::Kakao, e) => e.into(),
            (_, ProviderError::Rejected(label)) => {
                tracing::warn!(provider = name, error = %label, "provider refused the authorization");
                AuthError::refused(Reason::ProviderRejected, provider_refused(provider))
            }
            (_, e @ ProviderError::Unavailable(_)) => AuthError::ProviderUnavailable(provider, e),
            (_, e @ ProviderError::Misconfigured(_)) => AuthError::Unexpected(
                anyhow::Error::new(e).context(format!("{name} refused our client credentials")),
            ),
        }
    }
}

/// "<provider> refused the authorization", as a static message.
pub fn provider_refused(provider: Provider) -> &'static str {
    match provider.or_kakao() {
        Provider::Naver => "naver refused the authorization",
        Provider::Google => "google refused the authorization",
        _ => "kakao refused the authorization",
    }
}

impl From<ProviderError> for AuthError {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::Rejected(_) => {
                AuthError::refused(Reason::KakaoRejected, "kakao refused the authorization")
            }
            ProviderError::Unavailable(_) => AuthError::KakaoUnavailable(e),
            ProviderError::Misconfigured(_) => AuthError::Unexpected(
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
        AuthError::refused(e.reason(), message)
    }
}

impl From<AuthError> for Status {
    fn from(e: AuthError) -> Self {
        let reason = e.reason();
        match &e {
            AuthError::Refused { message, .. } => reason.status(*message),
            AuthError::KakaoUnavailable(cause) => {
                tracing::warn!(error = %cause, "kakao unavailable");
                reason.status("kakao is unavailable, try again later")
            }
            AuthError::ProviderUnavailable(provider, cause) => {
                tracing::warn!(provider = provider.slug(), error = %cause, "provider unavailable");
                reason.status(match provider {
                    Provider::Naver => "naver is unavailable, try again later",
                    _ => "google is unavailable, try again later",
                })
            }
            AuthError::DatabaseUnavailable(cause) => {
                tracing::error!(error = format!("{cause:#}"), "database unavailable");
                reason.status("service temporarily unavailable, try again later")
            }
            AuthError::Unexpected(cause) => {
                tracing::error!(error = format!("{cause:#}"), "unexpected error");
                reason.status("internal error")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_becomes_a_status_with_its_reason_and_code() {
        let cases = [
            (AuthError::bad_login_state(), Reason::InvalidState),
            (
                AuthError::KakaoUnavailable(ProviderError::Unavailable("timeout".into())),
                Reason::KakaoUnavailable,
            ),
            (
                AuthError::DatabaseUnavailable(anyhow::anyhow!("pool timed out")),
                Reason::Unavailable,
            ),
            (
                AuthError::Unexpected(anyhow::anyhow!("secret detail")),
                Reason::ServerError,
            ),
        ];
        for (error, reason) in cases {
            let status = Status::from(error);
            assert_eq!(Reason::of(&status), Some(reason));
            assert_eq!(status.code(), reason.code());
            assert!(!status.message().contains("secret detail"));
        }
    }
}
