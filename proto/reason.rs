//! Why a call failed: the reason word the auth-service puts in the
//! [`AUTH_ERROR_KEY`] metadata of every error status, and the gRPC code that
//! goes with it. Callers branch on the word, never on the message.

use tonic::{Code, Status, metadata::MetadataValue};

/// The metadata key carrying the reason word of an error status.
pub const AUTH_ERROR_KEY: &str = "x-auth-error";

macro_rules! reasons {
    ($( $(#[$doc:meta])* $variant:ident = $word:literal => $code:ident, )*) => {
        /// The closed set of reasons an `auth.v1.AuthService` call can fail for.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Reason {
            $( $(#[$doc])* $variant, )*
        }

        impl Reason {
            /// Every reason, for documentation and tests.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)*];

            /// The word as sent in `x-auth-error`.
            pub const fn as_str(self) -> &'static str {
                match self { $(Reason::$variant => $word,)* }
            }

            /// The gRPC code a status with this reason carries.
            pub const fn code(self) -> Code {
                match self { $(Reason::$variant => Code::$code,)* }
            }

            /// The reason named by `word`, if it is one of ours.
            pub fn from_word(word: &str) -> Option<Reason> {
                match word { $($word => Some(Reason::$variant),)* _ => None }
            }
        }
    };
}

reasons! {
    /// A field is empty, oversized or malformed.
    InvalidRequest = "invalid_request" => InvalidArgument,
    /// `return_to` is not an allowed destination.
    InvalidReturnTo = "invalid_return_to" => InvalidArgument,
    /// The binding given to `BuildLoginUrl` is malformed.
    InvalidBinding = "invalid_binding" => InvalidArgument,
    /// The login state is unknown, malformed, reused, or bound to another
    /// browser (a malformed state or binding is answered the same way as a
    /// forged one).
    InvalidState = "invalid_state" => FailedPrecondition,
    /// The login attempt outlived its lifetime.
    LoginExpired = "login_expired" => FailedPrecondition,
    /// Kakao refused the authorization code or answered something unusable.
    KakaoRejected = "kakao_rejected" => FailedPrecondition,
    /// Kakao cannot be reached now; trying again later may work.
    KakaoUnavailable = "kakao_unavailable" => Unavailable,
    /// The database cannot be reached now; trying again later may work.
    Unavailable = "unavailable" => Unavailable,
    /// A bug or a misconfiguration; details only in the service log.
    ServerError = "server_error" => Internal,
    /// The token is malformed, forged, unknown or signed by an unknown key.
    InvalidToken = "invalid_token" => Unauthenticated,
    /// The access token is past its `exp`.
    TokenExpired = "token_expired" => Unauthenticated,
    /// The token's session has been revoked.
    SessionRevoked = "session_revoked" => Unauthenticated,
    /// The session outlived its absolute lifetime.
    SessionExpired = "session_expired" => Unauthenticated,
    /// A rotated refresh token was presented again: the family is revoked.
    TokenReused = "token_reused" => Unauthenticated,
    /// No user has this id.
    UserNotFound = "user_not_found" => NotFound,
    /// The unlink callback is disabled (no admin key configured).
    UnlinkDisabled = "unlink_disabled" => FailedPrecondition,
    /// The unlink callback carried a wrong admin key.
    InvalidAdminKey = "invalid_admin_key" => Unauthenticated,
    /// The unlink callback named another Kakao app.
    WrongApp = "wrong_app" => Unauthenticated,
    /// `GetUser` without a `session_id` from a caller whose client
    /// certificate is not listed in `AUTH_GRPC_ADMIN_CLIENTS`.
    CallerNotAllowed = "caller_not_allowed" => PermissionDenied,
    /// Naver or Google refused the code or the token, or its answer (a
    /// Google id_token) failed verification.
    ProviderRejected = "provider_rejected" => FailedPrecondition,
    /// Naver or Google cannot be reached now; trying again later may work.
    ProviderUnavailable = "provider_unavailable" => Unavailable,
    /// The provider asked for is not configured on this service.
    ProviderDisabled = "provider_disabled" => NotFound,
    /// The provider identity being linked already belongs to another user.
    IdentityInUse = "identity_in_use" => FailedPrecondition,
    /// The user has no identity at that provider.
    IdentityNotFound = "identity_not_found" => NotFound,
    /// The identity is the user's last one: removing it is refused.
    LastIdentity = "last_identity" => FailedPrecondition,
}

impl Reason {
    /// A status with this reason's code, `message`, and the word in
    /// `x-auth-error`.
    pub fn status(self, message: impl Into<String>) -> Status {
        let mut status = Status::new(self.code(), message);
        status
            .metadata_mut()
            .insert(AUTH_ERROR_KEY, MetadataValue::from_static(self.as_str()));
        status
    }

    /// The reason a status carries in `x-auth-error`, if it is one of ours.
    pub fn of(status: &Status) -> Option<Reason> {
        let word = status.metadata().get(AUTH_ERROR_KEY)?.to_str().ok()?;
        Reason::from_word(word)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_round_trips_through_a_status() {
        for &reason in Reason::ALL {
            let status = reason.status("x");
            assert_eq!(status.code(), reason.code());
            assert_eq!(Reason::of(&status), Some(reason));
            assert_eq!(Reason::from_word(reason.as_str()), Some(reason));
        }
    }

    #[test]
    fn words_are_distinct_and_plain() {
        let mut words: Vec<_> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert!(
            words
                .iter()
                .all(|w| w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), Reason::ALL.len());
    }

    #[test]
    fn a_status_without_a_known_word_has_no_reason() {
        assert_eq!(Reason::of(&Status::unavailable("down")), None);
        let mut status = Status::internal("x");
        status
            .metadata_mut()
            .insert(AUTH_ERROR_KEY, MetadataValue::from_static("no_such_word"));
        assert_eq!(Reason::of(&status), None);
    }
}
