//! Session family rows: one per login (created by
//! [`super::login_write`]); every refresh token belongs to one.

use sea_orm::{
    Condition, QuerySelect,
    entity::prelude::*,
    sea_query::{Expr, ExprTrait, Query},
};

use super::refresh_tokens;

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

/// Ids of up to `limit` families that can no longer be used: revoked, or
/// past their absolute end at `now` (read by the `revoked_at` and
/// `expires_at` indexes).
pub async fn ended_ids(
    db: &impl ConnectionTrait,
    now: i64,
    limit: u64,
) -> Result<Vec<String>, DbErr> {
    Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(
            Condition::any()
                .add(Column::RevokedAt.is_not_null())
                .add(Column::ExpiresAt.lte(now)),
        )
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// Deletes the families `ids` and their refresh tokens. Returns how many
/// (families, tokens).
pub async fn delete_with_tokens(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<(u64, u64), DbErr> {
    let tokens = refresh_tokens::Entity::delete_many()
        .filter(refresh_tokens::Column::SessionId.is_in(ids.iter().cloned()))
        .exec(db)
        .await?
        .rows_affected;
    let families = Entity::delete_many()
        .filter(Column::Id.is_in(ids.iter().cloned()))
        .exec(db)
        .await?
        .rows_affected;
    Ok((families, tokens))
}

/// Deletes those of the families `ids` that have no refresh token left
/// (every token expired and was deleted: the family can no longer be
/// refreshed). Returns how many.
pub async fn delete_tokenless(db: &impl ConnectionTrait, ids: &[String]) -> Result<u64, DbErr> {
    let has_token = Query::select()
        .expr(Expr::val(1))
        .from(refresh_tokens::Entity)
        .and_where(
            Expr::col((refresh_tokens::Entity, refresh_tokens::Column::SessionId))
                .equals((Entity, Column::Id)),
        )
        .to_owned();
    let deleted = Entity::delete_many()
        .filter(Column::Id.is_in(ids.iter().cloned()))
        .filter(Expr::exists(has_token).not())
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}
