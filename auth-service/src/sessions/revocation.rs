//! Revocation: logout (by refresh token and by access token), "log out
//! everywhere", and revoking a family (also what reuse detection does),
//! logged and published to this replica's feed.

use super::verification::user_of_live_session;
use crate::{
    auth_core::AuthCore,
    domain::{AccessToken, RefreshToken, RefreshTokenError, SessionId, UserId},
    error::{AuthError, db},
    persistence::{now_ms, refresh_tokens, revocations, session_rows},
    revocations::Revocation,
};
use sea_orm::{ConnectionTrait, DbErr, TransactionTrait};

/// Revokes the family of a refresh token and the session an access token
/// names (logout). Only two missing tokens are refused: a malformed,
/// unknown, unverifiable or already revoked one succeeds silently, so that
/// logout is idempotent and works with either cookie.
pub async fn revoke(
    core: &AuthCore,
    presented: Result<RefreshToken, RefreshTokenError>,
    access_token: &str,
) -> Result<(), AuthError> {
    if matches!(presented, Err(RefreshTokenError::Missing)) && access_token.is_empty() {
        return Err(AuthError::bad_field(
            "refresh_token or access_token is required",
        ));
    }
    if let Ok(token) = presented
        && let Some(row) = refresh_tokens::find_by_hash(&core.db.read, &token.hash())
            .await
            .map_err(db("find refresh token"))?
        && revoke_family(core, &row.session_id, None, "logout").await?
    {
        tracing::info!(session_id = %row.session_id, "session revoked by logout");
    }
    let Ok(access) = AccessToken::parse(access_token) else {
        return Ok(());
    };
    // The access token vouches for its `sid` only if it verifies.
    let Ok(verified) = core
        .access_tokens
        .verify(&core.keys, &core.db.read, access.expose())
        .await
    else {
        return Ok(());
    };
    if revoke_family(
        core,
        &verified.session_id,
        Some(&verified.user_id),
        "logout",
    )
    .await?
    {
        tracing::info!(session_id = %verified.session_id, "session revoked by logout (access token)");
    }
    Ok(())
}

/// Ends every session of `user_id` ("log out everywhere"); with
/// `session_id`, only if that session is the user's and live. Returns how
/// many live sessions ended.
pub async fn revoke_all_of_user(
    core: &AuthCore,
    user_id: &UserId,
    session_id: Option<&SessionId>,
) -> Result<u64, AuthError> {
    user_of_live_session(core, user_id, session_id).await?;
    let now = now_ms();
    let txn = core
        .db
        .write
        .begin()
        .await
        .map_err(db("begin revoking all sessions"))?;
    let logged = revoke_user_in(&txn, user_id.as_str(), "logout_all", now)
        .await
        .map_err(db("revoke all sessions of user"))?;
    txn.commit()
        .await
        .map_err(db("commit revoking all sessions"))?;
    let ended = publish_all(core, logged);
    tracing::info!(user_id = %user_id.as_str(), sessions_revoked = ended, "every session of the user revoked");
    Ok(ended)
}

/// In `txn`: revokes every live session of `user_id` and logs each one
/// (SESSION_REVOKED, so a token issued earlier in the same second is
/// refused by its `sid`), then the user (USER_REVOKED: profiles, and tokens
/// of sessions that commit late). Returns the log rows to publish once the
/// transaction commits ([`publish_all`]).
pub(crate) async fn revoke_user_in(
    txn: &impl ConnectionTrait,
    user_id: &str,
    reason: &str,
    now: i64,
) -> Result<Vec<Revocation>, DbErr> {
    use revocations::Kind;
    let ended = revocations::revoke_sessions_of_user(txn, user_id, reason, now).await?;
    let mut logged = Vec::with_capacity(ended.len() + 1);
    for sid in ended {
        let seq =
            revocations::record(txn, Kind::Session, Some(&sid), Some(user_id), None, now).await?;
        logged.push(revocation(seq, Kind::Session, Some(sid), user_id, now));
    }
    let seq = revocations::record(txn, Kind::User, None, Some(user_id), None, now).await?;
    logged.push(revocation(seq, Kind::User, None, user_id, now));
    Ok(logged)
}

/// Publishes committed revocations of [`revoke_user_in`] to this replica's
/// feed; returns how many sessions they ended.
pub(crate) fn publish_all(core: &AuthCore, logged: Vec<Revocation>) -> u64 {
    let mut sessions = 0;
    for revocation in logged {
        if revocation.kind == revocations::Kind::Session {
            sessions += 1;
        }
        core.revocations.publish(revocation);
    }
    sessions
}

fn revocation(
    seq: i64,
    kind: revocations::Kind,
    session_id: Option<String>,
    user_id: &str,
    at_ms: i64,
) -> Revocation {
    Revocation {
        seq,
        kind,
        session_id,
        user_id: Some(user_id.to_owned()),
        kid: None,
        at_ms,
    }
}

/// Revokes a session family and logs the revocation, in one transaction,
/// then publishes it to this replica's feed. `false` when it was already
/// revoked or is unknown (nothing is logged then).
pub(super) async fn revoke_family(
    core: &AuthCore,
    session_id: &str,
    user_id: Option<&str>,
    reason: &str,
) -> Result<bool, AuthError> {
    let now = now_ms();
    let txn = core
        .db
        .write
        .begin()
        .await
        .map_err(db("begin revocation"))?;
    if !session_rows::revoke(&txn, session_id, reason, now)
        .await
        .map_err(db("revoke session"))?
    {
        return Ok(false);
    }
    let seq = revocations::record(
        &txn,
        revocations::Kind::Session,
        Some(session_id),
        user_id,
        None,
        now,
    )
    .await
    .map_err(db("log session revocation"))?;
    txn.commit().await.map_err(db("commit revocation"))?;
    core.revocations.publish(Revocation {
        seq,
        kind: revocations::Kind::Session,
        session_id: Some(session_id.to_owned()),
        user_id: user_id.map(str::to_owned),
        kid: None,
        at_ms: now,
    });
    Ok(true)
}
