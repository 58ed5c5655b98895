//! Removing a provider identity from a user (the person asked, while
//! logged in). The identity goes in one transaction that refuses to remove
//! the user's last one (on PostgreSQL the user row is locked first, so two
//! concurrent unlinks of a two-identity user cannot both pass the count);
//! then the provider is asked to revoke what it granted us, best effort:
//! Naver's token revoke and Google's revoke with the grant kept on the
//! identity, Kakao's admin unlink by user id (with `KAKAO_ADMIN_KEY`). A
//! provider that cannot be reached does not keep the identity linked: the
//! answer says whether the provider confirmed.

use auth_proto::Reason;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use secrecy::SecretString;

use crate::{
    auth_core::AuthCore,
    domain::{SessionId, UserId, provider_grant_row},
    error::{AuthError, db},
    persistence::identities::{self, UnlinkOutcome},
    providers::api::Provider,
    sessions,
};

/// What an unlink left.
pub struct IdentityUnlinked {
    /// The user's remaining identities, oldest first.
    pub identities: Vec<identities::Model>,
    /// Whether the provider confirmed it revoked our grant.
    pub provider_revoked: bool,
}

/// Removes `user_id`'s identity at `provider` (see the module docs). The
/// caller proves it acts for the user with a live session of theirs.
pub async fn unlink_identity(
    core: &AuthCore,
    user_id: &UserId,
    session_id: &SessionId,
    provider: Provider,
) -> Result<IdentityUnlinked, AuthError> {
    sessions::require_live_session(core, session_id.as_str(), user_id.as_str()).await?;
    let provider = provider.or_kakao();
    let txn = core.db.write.begin().await.map_err(db("begin unlink"))?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM users WHERE id = $1 FOR UPDATE",
            [user_id.as_str().into()],
        ))
        .await
        .map_err(db("lock user"))?;
    }
    let outcome = identities::unlink(&txn, user_id.as_str(), provider.slug())
        .await
        .map_err(db("unlink identity"))?;
    let removed = match outcome {
        UnlinkOutcome::Removed(row) => row,
        UnlinkOutcome::NotFound => {
            return Err(AuthError::refused(
                Reason::IdentityNotFound,
                "the user has no identity at this provider",
            ));
        }
        UnlinkOutcome::LastIdentity => {
            return Err(AuthError::refused(
                Reason::LastIdentity,
                "the last identity of a user cannot be unlinked",
            ));
        }
    };
    let remaining = identities::of_user(&txn, user_id.as_str())
        .await
        .map_err(db("read identities"))?;
    txn.commit().await.map_err(db("commit unlink"))?;

    let grant = removed.grant_sealed.as_deref().and_then(|stored| {
        let row = provider_grant_row(&removed.provider, &removed.subject);
        let opened = core.settings.key_encryption.open(&row, stored).ok()?;
        String::from_utf8(opened).ok().map(SecretString::from)
    });
    let revoked = core
        .providers
        .revoke(provider, &removed.subject, grant.as_ref())
        .await;
    if let Err(e) = &revoked {
        tracing::warn!(provider = provider.slug(), error = %e, "provider did not confirm the revocation");
    }
    tracing::info!(user_id = %user_id.as_str(), provider = provider.slug(), "identity unlinked");
    Ok(IdentityUnlinked {
        identities: remaining,
        provider_revoked: revoked.is_ok(),
    })
}
