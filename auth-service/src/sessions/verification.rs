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

/// Verifies an access token and that its session is still live. While the
/// revocation feed is healthy, a token verified before is answered from
/// the cache (a SHA-256, a lookup and the revocation check), and a new one
/// costs the signature check (its session is usually known live).
pub async fn verify_access_token(
    core: &AuthCore,
    token: &AccessToken,
) -> Result<Arc<VerifiedToken>, AuthError> {
    let feed = &core.revocations;
    let healthy = feed.healthy();
    let key = TokenKey::of(token.expose());
    let now_s = now_ms() / 1000;
    if healthy && let Some(cached) = feed.tokens.get(&key, now_s) {
        if !core.keys.knows(&cached.kid) {
            return Err(VerifyError::UnknownKey.into());
        }
        if let Some(refused) = feed.refuses_token(&cached) {
            return Err(refused.into());
        }
        return Ok(cached);
    }
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
) -> Result<users::Model, AuthError> {
    if let Some(sid) = session_id {
        let healthy = core.revocations.healthy();
        ensure_live_session(core, sid.as_str(), user_id.as_str(), healthy).await?;
    }
    users::find(&core.db.read, user_id.as_str())
        .await
        .map_err(db("find user"))?
        .ok_or_else(|| AuthError::refused(Reason::UserNotFound, "no such user"))
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
