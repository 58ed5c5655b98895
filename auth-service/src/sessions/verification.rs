//! Verification: access tokens and the liveness of their sessions, from
//! the caches while the revocation feed is healthy.

use std::sync::Arc;

use auth_proto::Reason;

use crate::{
    access_tokens::VerifyError,
    auth_core::AuthCore,
    domain::{AccessToken, SessionId, UserId},
    error::{AuthError, db},
    persistence::{now_ms, session_rows, users},
    token_cache::{TokenKey, VerifiedToken},
};

/// Where a token stands with the verified-token cache.
pub enum CachedVerification {
    /// Answered from memory: the feed is healthy and the token was verified
    /// before (a map lookup and the revocation check).
    Answered(Result<Arc<VerifiedToken>, VerifyError>),
    /// Not answerable from memory; pass it to [`verify_uncached`].
    Missed(CacheMiss),
}

/// What a cache lookup saw, so that the full verification after it judges
/// by the same reading of the feed's health.
pub struct CacheMiss {
    healthy: bool,
    now_s: i64,
    key: TokenKey,
}

/// Answers from the verified-token cache when the revocation feed vouches
/// for it. Synchronous, touches no database and logs nothing.
pub fn verify_from_cache(core: &AuthCore, token: &AccessToken) -> CachedVerification {
    let feed = &core.revocations;
    let healthy = feed.healthy();
    let now_s = now_ms() / 1000;
    let key = TokenKey::of(token.expose());
    if healthy && let Some(cached) = feed.tokens.get(&key, now_s) {
        if !core.keys.knows(&cached.kid) {
            return CachedVerification::Answered(Err(VerifyError::UnknownKey));
        }
        return CachedVerification::Answered(match feed.refuses_token(&cached) {
            Some(refused) => Err(refused),
            None => Ok(cached),
        });
    }
    CachedVerification::Missed(CacheMiss {
        healthy,
        now_s,
        key,
    })
}

/// Verifies an access token the cache did not answer (see
/// [`verify_from_cache`]): the signature (no database unless the key is
/// new to this replica), then the revocation check and the liveness of its
/// session (usually known live while the feed is healthy). Caches the
/// answer when the feed is healthy.
pub async fn verify_uncached(
    core: &AuthCore,
    token: &AccessToken,
    miss: CacheMiss,
) -> Result<Arc<VerifiedToken>, AuthError> {
    let CacheMiss {
        healthy,
        now_s,
        key,
    } = miss;
    let feed = &core.revocations;
    let generation = feed.tokens.generation();
    let verified = core
        .access_tokens
        .verify(&core.keys, &core.db.read, token.expose())
        .await?;
    if let Some(refused) = feed.refuses_token(&verified) {
        return Err(refused.into());
    }
    ensure_live_session(core, &verified.session_id, &verified.user_id, healthy).await?;
    let verified = Arc::new(verified);
    if healthy {
        feed.tokens.insert(key, verified.clone(), generation, now_s);
    }
    Ok(verified)
}

/// The user `user_id`; when `session_id` is given, only if that session
/// is this user's and still live (revocation checked in the same call;
/// from memory while the revocation feed is healthy).
pub async fn user_of_live_session(
    core: &AuthCore,
    user_id: &UserId,
    session_id: Option<&SessionId>,
) -> Result<users::UserView, AuthError> {
    if let Some(sid) = session_id {
        let healthy = core.revocations.healthy();
        ensure_live_session(core, sid.as_str(), user_id.as_str(), healthy).await?;
    }
    users::find_view(&core.db.read, user_id.as_str())
        .await
        .map_err(db("find user"))?
        .ok_or_else(|| AuthError::refused(Reason::UserNotFound, "no such user"))
}

/// Verifies an access token fully (from the cache when it may): what a
/// link's start uses to learn who is logged in.
pub async fn verify(core: &AuthCore, token: &AccessToken) -> Result<Arc<VerifiedToken>, AuthError> {
    match verify_from_cache(core, token) {
        CachedVerification::Answered(answer) => answer.map_err(AuthError::from),
        CachedVerification::Missed(miss) => verify_uncached(core, token, miss).await,
    }
}

/// Refuses (as a revoked token) a session that is not a live session of
/// `user_id` (a link's callback checks the session that started it).
pub async fn require_live_session(
    core: &AuthCore,
    sid: &str,
    user_id: &str,
) -> Result<(), AuthError> {
    ensure_live_session(core, sid, user_id, core.revocations.healthy()).await
}

/// Refuses (as a revoked token) a session that is unknown, another user's,
/// revoked or past its absolute lifetime. With a healthy feed (`healthy`,
/// read once per request), a session known live answers from memory.
async fn ensure_live_session(
    core: &AuthCore,
    sid: &str,
    user_id: &str,
    healthy: bool,
) -> Result<(), AuthError> {
    let feed = &core.revocations;
    let now = now_ms();
    if healthy && let Some(known) = feed.sessions.known_live(sid, user_id, now) {
        if feed.refuses_session(sid, user_id, known.created_at_ms) {
            return Err(VerifyError::Revoked.into());
        }
        return Ok(());
    }
    let generation = feed.sessions.generation();
    let family = session_rows::find(&core.db.read, sid)
        .await
        .map_err(db("find session of access token"))?;
    match family {
        Some(f)
            if f.user_id == user_id
                && f.revoked_at.is_none()
                && f.expires_at > now
                && !feed.refuses_session(sid, user_id, f.created_at) =>
        {
            if healthy {
                feed.sessions
                    .remember(sid, user_id, f.created_at, f.expires_at, generation);
            }
            Ok(())
        }
        _ => Err(VerifyError::Revoked.into()),
    }
}
