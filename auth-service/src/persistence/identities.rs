//! Identities: who a user is at a provider. `(provider, subject)` is
//! unique (one person at a provider is one of our users), and so is
//! `(user_id, provider)` (a user links at most one account per provider,
//! so "unlink Naver" names one row). Rows are only ever attached to a
//! user by a login that created the user or by an explicit link of the
//! logged-in user: never by matching e-mails.

use sea_orm::{Statement, entity::prelude::*};

use crate::providers::api::ProviderUser;

/// An identity row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "identities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    /// Row id (UUIDv7).
    pub id: String,
    /// Our user.
    pub user_id: String,
    /// `kakao`, `naver` or `google` ([`crate::providers::Provider::slug`]).
    pub provider: String,
    /// The provider's id of the person.
    pub subject: String,
    /// The verified e-mail this provider reported at the latest login.
    pub email: Option<String>,
    /// The provider grant that revokes our access at unlink (Naver's or
    /// Google's token), sealed under `KEY_ENCRYPTION_KEY` when set. Never
    /// leaves the service.
    pub grant_sealed: Option<String>,
    /// When the identity was attached.
    pub created_at: i64,
    /// Latest login through it.
    pub last_login_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// No declared relations.
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A user's identities, oldest first.
pub async fn of_user(db: &impl ConnectionTrait, user_id: &str) -> Result<Vec<Model>, DbErr> {
    use sea_orm::QueryOrder;
    Entity::find()
        .filter(Column::UserId.eq(user_id))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await
}

/// The identity `(provider, subject)`, if any.
pub async fn find(
    db: &impl ConnectionTrait,
    provider: &str,
    subject: &str,
) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::Provider.eq(provider))
        .filter(Column::Subject.eq(subject))
        .one(db)
        .await
}

/// Every identity that keeps a provider grant (`keys rewrap`).
pub async fn with_grants(db: &impl ConnectionTrait) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::GrantSealed.is_not_null())
        .all(db)
        .await
}

/// Replaces the grant of identity `id` if it is still `old`; whether it was.
pub async fn replace_grant(
    db: &impl ConnectionTrait,
    id: &str,
    old: &str,
    new: String,
) -> Result<bool, DbErr> {
    let done = Entity::update_many()
        .col_expr(Column::GrantSealed, Expr::value(new))
        .filter(Column::Id.eq(id))
        .filter(Column::GrantSealed.eq(old))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// How a link ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome {
    /// The identity is now (or already was) the user's.
    Linked,
    /// The identity belongs to another user.
    OwnedByAnother,
    /// The user already has another account of this provider.
    ProviderTaken,
}

/// Attaches `(provider, profile.subject)` to `user_id`: one INSERT that
/// does nothing on either unique key, then a read of who holds it. Linking
/// an identity the user already has refreshes its e-mail and grant.
pub async fn link(
    db: &impl ConnectionTrait,
    user_id: &str,
    provider: &str,
    profile: &ProviderUser,
    grant_sealed: Option<String>,
    now: i64,
) -> Result<LinkOutcome, DbErr> {
    let backend = db.get_database_backend();
    let insert = match backend {
        sea_orm::DbBackend::Postgres => {
            "INSERT INTO identities (id, user_id, provider, subject, email, grant_sealed, \
             created_at, last_login_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT DO NOTHING"
        }
        _ => {
            "INSERT INTO identities (id, user_id, provider, subject, email, grant_sealed, \
             created_at, last_login_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT DO NOTHING"
        }
    };
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        insert,
        [
            crate::domain::new_row_id().into(),
            user_id.into(),
            provider.into(),
            profile.subject.clone().into(),
            profile.email.clone().into(),
            grant_sealed.clone().into(),
            now.into(),
        ],
    ))
    .await?;
    match find(db, provider, &profile.subject).await? {
        Some(holder) if holder.user_id == user_id => {
            Entity::update_many()
                .col_expr(Column::Email, Expr::value(profile.email.clone()))
                .col_expr(Column::GrantSealed, Expr::value(grant_sealed))
                .col_expr(Column::LastLoginAt, Expr::value(now))
                .filter(Column::Id.eq(holder.id))
                .exec(db)
                .await?;
            Ok(LinkOutcome::Linked)
        }
        Some(_) => Ok(LinkOutcome::OwnedByAnother),
        // Nothing inserted and nobody holds it: the user's slot for this
        // provider is taken by another account.
        None => Ok(LinkOutcome::ProviderTaken),
    }
}

/// Removes the user's identity at `provider`, unless it is their last
/// one; answers the removed row. Both checks and the delete are one
/// statement, so two concurrent unlinks cannot remove the last two.
pub async fn unlink(
    db: &impl ConnectionTrait,
    user_id: &str,
    provider: &str,
) -> Result<UnlinkOutcome, DbErr> {
    let Some(row) = Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Provider.eq(provider))
        .one(db)
        .await?
    else {
        return Ok(UnlinkOutcome::NotFound);
    };
    let backend = db.get_database_backend();
    let delete = match backend {
        sea_orm::DbBackend::Postgres => {
            "DELETE FROM identities WHERE id = $1 AND \
             (SELECT COUNT(*) FROM identities WHERE user_id = $2) > 1"
        }
        _ => {
            "DELETE FROM identities WHERE id = ?1 AND \
             (SELECT COUNT(*) FROM identities WHERE user_id = ?2) > 1"
        }
    };
    let done = db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            delete,
            [row.id.clone().into(), user_id.into()],
        ))
        .await?;
    if done.rows_affected() == 0 {
        return Ok(UnlinkOutcome::LastIdentity);
    }
    Ok(UnlinkOutcome::Removed(row))
}

/// How an unlink ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnlinkOutcome {
    /// Removed; the row as it was (its grant is what to revoke).
    Removed(Model),
    /// The user has no identity at that provider.
    NotFound,
    /// It is the user's last identity: kept.
    LastIdentity,
}
