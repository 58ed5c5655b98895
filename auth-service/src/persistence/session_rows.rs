//! Session family rows: one per login (created by
//! [`super::login_write`]); every refresh token belongs to one.

use sea_orm::{entity::prelude::*, sea_query::Expr};

/// A session family. Revoking it ends every token issued in it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    /// The session id (UUID, the access token's `sid`).
    pub id: String,
    /// Our user id.
    pub user_id: String,
    /// When the login happened.
    pub created_at: i64,
    /// Absolute end of the family, whatever the refreshes.
    pub expires_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// `logout`, `reuse_detected`, `unlinked`, ...
    pub revoked_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// No declared relations.
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The family with this id, if any.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id.to_owned()).one(db).await
}

/// Revokes a family (no-op when already revoked). Returns whether this call revoked it.
pub async fn revoke(
    db: &impl ConnectionTrait,
    id: &str,
    reason: &str,
    now: i64,
) -> Result<bool, DbErr> {
    let updated = Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .col_expr(Column::RevokedReason, Expr::value(reason))
        .filter(Column::Id.eq(id))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Revokes every live family of a user. Returns how many.
pub async fn revoke_all_of_user(
    db: &impl ConnectionTrait,
    user_id: &str,
    reason: &str,
    now: i64,
) -> Result<u64, DbErr> {
    let updated = Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .col_expr(Column::RevokedReason, Expr::value(reason))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(updated.rows_affected)
}
