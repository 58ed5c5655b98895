//! Kakao's unlink callback: the user disconnected our app at Kakao (or left
//! Kakao), so their sessions end here too (all of them, as before other
//! providers existed: a person who cut us off at Kakao is logged out
//! everywhere). The Kakao identity stays, so a later Kakao login finds the
//! same user again. Owns the callback's checks
//! (admin key, app id) and the cleaning of Kakao's `referrer_type` before
//! it reaches a log line.

use auth_proto::Reason;
use sea_orm::TransactionTrait;
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::{
    auth_core::AuthCore,
    domain::KakaoUserId,
    error::{AuthError, db},
    persistence::{identities, now_ms, users},
    providers::api::Provider,
    sessions,
};

/// Longest `referrer_type` kept for the log.
const MAX_REFERRER_LEN: usize = 32;

/// The callback as Kakao sent it (through the edge).
pub struct UnlinkCallback<'a> {
    /// The key from Kakao's `Authorization: KakaoAK <key>` header.
    pub admin_key: &'a str,
    /// Kakao's `app_id`.
    pub app_id: &'a str,
    /// The Kakao user who unlinked.
    pub kakao_id: KakaoUserId,
    /// Kakao's `referrer_type`, raw; only its cleaned form is logged.
    pub referrer_type: &'a str,
}

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
    callback: UnlinkCallback<'_>,
) -> Result<Unlinked, AuthError> {
    let Some(expected) = core
        .settings
        .kakao
        .as_ref()
        .and_then(|k| k.admin_key.as_ref())
    else {
        return Err(AuthError::refused(
            Reason::UnlinkDisabled,
            "the unlink callback is disabled (KAKAO_ADMIN_KEY is not set)",
        ));
    };
    let key_ok: bool = callback
        .admin_key
        .as_bytes()
        .ct_eq(expected.expose_secret().as_bytes())
        .into();
    if !key_ok {
        return Err(AuthError::refused(
            Reason::InvalidAdminKey,
            "admin key is not valid",
        ));
    }
    if let Some(ours) = core.settings.kakao.as_ref().and_then(|k| k.app_id.as_ref())
        && ours != callback.app_id
    {
        return Err(AuthError::refused(
            Reason::WrongApp,
            "app_id is not this app's",
        ));
    }
    let referrer_type = clean_referrer(callback.referrer_type);
    let referrer_type = referrer_type.as_str();
    let subject = callback.kakao_id.get().to_string();
    let Some(user) = identities::find(&core.db.read, Provider::Kakao.slug(), &subject)
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
    let txn = core.db.write.begin().await.map_err(db("begin unlink"))?;
    users::mark_unlinked(&txn, &user.user_id, now)
        .await
        .map_err(db("mark user unlinked"))?;
    let logged = sessions::revoke_user_in(&txn, &user.user_id, "unlinked", now)
        .await
        .map_err(db("revoke sessions of unlinked user"))?;
    txn.commit().await.map_err(db("commit unlink"))?;
    let revoked = sessions::publish_all(core, logged);
    tracing::info!(user_id = %user.user_id, referrer_type, sessions_revoked = revoked, "user unlinked at kakao");
    Ok(Unlinked {
        known_user: true,
        sessions_revoked: revoked,
    })
}

/// Kakao's `referrer_type` (`ACCOUNT_DELETE`, `UNLINK_FROM_APPS`, ...) as it
/// may be logged: upper-case letters and `_` only, at most 32 of them.
fn clean_referrer(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_uppercase() || *c == '_')
        .take(MAX_REFERRER_LEN)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_referrer_keeps_only_upper_case_letters_and_underscores() {
        assert_eq!(clean_referrer("UNLINK_FROM_APPS"), "UNLINK_FROM_APPS");
        assert_eq!(clean_referrer("ACCOUNT_DELETE\n\"x=1"), "ACCOUNT_DELETE");
        assert_eq!(clean_referrer(&"A".repeat(40)).len(), MAX_REFERRER_LEN);
        assert_eq!(clean_referrer("한글 lower"), "");
    }
}
