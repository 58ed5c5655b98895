//! Session logic: starting a session family, refresh-token rotation with
//! reuse detection (and its one count in `auth_refresh_total`), logout,
//! and the liveness check behind access-token verification and GetUser.
//!
//! Every revocation here is appended to the revocation log in its own
//! transaction and published to this replica's feed once committed (see
//! [`crate::revocations`]). While the feed is healthy, verification answers
//! from the verified-token and live-session caches; otherwise it checks
//! the database every time.
//!
//! Each login starts a family. Every refresh retires the presented token
//! and issues a successor. A retired token presented again within the
//! grace window gets the successor already issued (two tabs refreshing at
//! once both succeed); after it, the whole family is revoked, because only
//! a stolen copy explains a late replay.
//!
//! The concerns live apart: [`rotation`] (refresh and its grace window),
//! [`revocation`] (logout, "log out everywhere", and the family revocation
//! reuse detection triggers), [`verification`] (access tokens and GetUser). This module
//! holds what they share: the issued session and its tokens.

mod revocation;
mod rotation;
mod verification;

use crate::{
    access_tokens::IssuedAccessToken,
    auth_core::AuthCore,
    configuration::Settings,
    domain::{RefreshToken, RefreshTokenError},
    error::AuthError,
    persistence::ms,
};

pub(crate) use revocation::{publish_all, revoke_user_in};
pub use revocation::{revoke, revoke_all_of_user};
pub use rotation::{clear_sealed_successors, refresh};
pub use verification::{
    CacheMiss, CachedVerification, require_live_session, user_of_live_session, verify,
    verify_from_cache, verify_uncached,
};

/// A session's refresh token, just issued.
pub struct IssuedSession {
    /// The session family id.
    pub session_id: String,
    /// Our user id.
    pub user_id: String,
    /// The new refresh token (only its hash is stored).
    pub refresh_token: RefreshToken,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: i64,
}

/// Everything a client receives for a session.
pub struct SessionTokens {
    /// The access token.
    pub access: IssuedAccessToken,
    /// The session and its refresh token.
    pub session: IssuedSession,
}

/// A session family about to be stored with its first refresh token (the
/// login stores it with the user, in one write:
/// [`crate::persistence::login_write`]).
pub struct NewSession {
    /// The family id (UUID, the access token's `sid`).
    pub id: String,
    /// The family's absolute end, whatever the refreshes.
    pub expires_at: i64,
    /// The first refresh token (only its hash is stored).
    pub refresh_token: RefreshToken,
    /// When that token stops being usable (never after the family's end).
    pub refresh_expires_at: i64,
    now: i64,
}

impl NewSession {
    /// A family starting at `now`, lifetimes from the settings.
    pub fn new(settings: &Settings, now: i64) -> Self {
        let expires_at = now.saturating_add(ms(settings.session_max_lifetime));
        Self {
            id: crate::domain::new_row_id(),
            expires_at,
            refresh_token: RefreshToken::generate(),
            refresh_expires_at: now
                .saturating_add(ms(settings.refresh_token_ttl))
                .min(expires_at),
            now,
        }
    }

    /// The family, once stored for `user_id`.
    pub fn issued(self, user_id: String) -> IssuedSession {
        IssuedSession {
            session_id: self.id,
            user_id,
            refresh_token: self.refresh_token,
            refresh_expires_in: (self.refresh_expires_at - self.now) / 1000,
        }
    }
}

/// Signs the access token that goes with a session.
pub fn with_access_token(
    core: &AuthCore,
    session: IssuedSession,
) -> Result<SessionTokens, AuthError> {
    let access = core
        .access_tokens
        .issue(&core.keys, &session.user_id, &session.session_id)
        .map_err(|e| AuthError::Unexpected(e.context("sign access token")))?;
    Ok(SessionTokens { access, session })
}

pub(super) fn refresh_refused() -> AuthError {
    AuthError::bad_refresh_token()
}

/// How a presented refresh token that could not be parsed is refused.
pub(super) fn unusable(e: RefreshTokenError) -> AuthError {
    match e {
        RefreshTokenError::Missing => AuthError::bad_field("refresh_token is required"),
        RefreshTokenError::Malformed => refresh_refused(),
    }
}

#[cfg(test)]
mod tests {
    use auth_proto::Reason;

    use super::*;

    #[test]
    fn a_missing_refresh_token_is_a_bad_request_and_a_malformed_one_an_invalid_token() {
        assert_eq!(
            unusable(RefreshTokenError::Missing).reason(),
            Reason::InvalidRequest
        );
        assert_eq!(
            unusable(RefreshTokenError::Malformed).reason(),
            Reason::InvalidToken
        );
    }
}
