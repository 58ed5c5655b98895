//! Revocation: logout, and revoking a family (also what reuse detection
//! does), logged and published to this replica's feed.

use super::unusable;
use crate::{
    auth_core::AuthCore,
    domain::{RefreshToken, RefreshTokenError},
    error::{AuthError, db},
    persistence::{now_ms, refresh_tokens, revocations, session_rows},
    revocations::Revocation,
};
use sea_orm::TransactionTrait;

/// Revokes the family of a refresh token (logout). Only a missing token is
/// refused: a malformed, unknown or already revoked one succeeds silently,
/// so that logout is idempotent.
pub async fn revoke(
    core: &AuthCore,
    presented: Result<RefreshToken, RefreshTokenError>,
) -> Result<(), AuthError> {
    let presented = match presented {
        Ok(token) => token,
        Err(RefreshTokenError::Malformed) => return Ok(()),
        Err(e @ RefreshTokenError::Missing) => return Err(unusable(e)),
    };
    let Some(row) = refresh_tokens::find_by_hash(&core.db.read, &presented.hash())
        .await
        .map_err(db("find refresh token"))?
    else {
        return Ok(());
    };
    let revoked = revoke_family(core, &row.session_id, None, "logout").await?;
    if revoked {
        tracing::info!(session_id = %row.session_id, "session revoked by logout");
    }
    Ok(())
}

/// Revokes a session family and logs the revocation, in one transaction,
/// then publishes it to this replica's feed. `false` when it was already
/// revoked (nothing is logged then).
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
