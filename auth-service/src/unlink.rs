//! Kakao's unlink callback: the user disconnected our app at Kakao (or left
//! Kakao), so their sessions end here too.

use sea_orm::TransactionTrait;
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::{
    AuthCore,
    error::{AuthError, db},
    persistence::{now_ms, sessions, users},
};

/// What the callback changed.
pub struct Unlinked {
    /// Whether the Kakao user was one of ours.
    pub known_user: bool,
    /// Live sessions revoked.
    pub sessions_revoked: u64,
}

/// Authenticates the callback (admin key, in constant time; app id when
/// configured), then marks the user unlinked and revokes every live session
/// in one transaction. Unknown users succeed: Kakao expects a 200.
pub async fn handle_unlink(
    core: &AuthCore,
    admin_key: &str,
    app_id: &str,
    kakao_id: i64,
    referrer_type: &str,
) -> Result<Unlinked, AuthError> {
    let Some(expected) = &core.settings.kakao.admin_key else {
        return Err(AuthError::failed_precondition(
            "unlink_disabled",
            "the unlink callback is disabled (KAKAO_ADMIN_KEY is not set)",
        ));
    };
    let key_ok: bool = admin_key
        .as_bytes()
        .ct_eq(expected.expose_secret().as_bytes())
        .into();
    if !key_ok {
        return Err(AuthError::unauthenticated(
            "invalid_admin_key",
            "admin key is not valid",
        ));
    }
    if let Some(ours) = &core.settings.kakao.app_id
        && ours != app_id
    {
        return Err(AuthError::unauthenticated(
            "wrong_app",
            "app_id is not this app's",
        ));
    }
    let Some(user) = users::find_by_kakao_id(&core.db, kakao_id)
        .await
        .map_err(db("find user by kakao id"))?
    else {
        tracing::info!(referrer_type, "unlink callback for an unknown user");
        return Ok(Unlinked {
            known_user: false,
            sessions_revoked: 0,
        });
    };
    let now = now_ms();
    let txn = core.db.begin().await.map_err(db("begin unlink"))?;
    users::mark_unlinked(&txn, &user.id, now)
        .await
        .map_err(db("mark user unlinked"))?;
    let revoked = sessions::revoke_all_of_user(&txn, &user.id, "unlinked", now)
        .await
        .map_err(db("revoke sessions of unlinked user"))?;
    txn.commit().await.map_err(db("commit unlink"))?;
    core.live_sessions.forget_user(&user.id);
    tracing::info!(user_id = %user.id, referrer_type, sessions_revoked = revoked, "user unlinked at kakao");
    Ok(Unlinked {
        known_user: true,
        sessions_revoked: revoked,
    })
}
