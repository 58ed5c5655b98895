//! Refresh tokens, stored only as SHA-256 hashes.

use sea_orm::{QuerySelect, Set, entity::prelude::*, sea_query::Expr};

/// One refresh token of a session family.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    /// Random row id (UUID).
    pub id: String,
    /// The session family.
    pub session_id: String,
    /// base64url(SHA-256(token)); the raw token is never stored.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// When it was issued.
    pub created_at: i64,
    /// When it stops being usable (never after its family's end).
    pub expires_at: i64,
    /// When this token was exchanged for its successor.
    pub rotated_at: Option<i64>,
    /// The successor token, sealed under a server-side key and this token
    /// (`domain::SuccessorSealer`), for grace-window replays; cleared once
    /// the grace window has passed.
    pub successor_sealed: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// No declared relations.
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Stores a new token's hash.
pub async fn insert(
    db: &impl ConnectionTrait,
    session_id: &str,
    token_hash: String,
    now: i64,
    expires_at: i64,
) -> Result<(), DbErr> {
    let row = ActiveModel {
        id: Set(crate::domain::new_row_id()),
        session_id: Set(session_id.to_owned()),
        token_hash: Set(token_hash),
        created_at: Set(now),
        expires_at: Set(expires_at),
        rotated_at: Set(None),
        successor_sealed: Set(None),
    };
    Entity::insert(row)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// The token with this hash, if any.
pub async fn find_by_hash(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::TokenHash.eq(token_hash))
        .one(db)
        .await
}

/// Marks a live token rotated, recording its sealed successor. Only one
/// caller can win: `false` means someone rotated it first.
pub async fn mark_rotated(
    db: &impl ConnectionTrait,
    id: &str,
    sealed: String,
    now: i64,
) -> Result<bool, DbErr> {
    let updated = Entity::update_many()
        .col_expr(Column::RotatedAt, Expr::value(now))
        .col_expr(Column::SuccessorSealed, Expr::value(sealed))
        .filter(Column::Id.eq(id))
        .filter(Column::RotatedAt.is_null())
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Clears the sealed successors of tokens rotated before `cutoff`; the
/// number cleared. Reads the partial index on still-sealed rows.
pub async fn clear_sealed_successors(db: &impl ConnectionTrait, cutoff: i64) -> Result<u64, DbErr> {
    let updated = Entity::update_many()
        .col_expr(Column::SuccessorSealed, Expr::value(Option::<String>::None))
        .filter(Column::SuccessorSealed.is_not_null())
        .filter(Column::RotatedAt.lt(cutoff))
        .exec(db)
        .await?;
    Ok(updated.rows_affected)
}

/// All token rows of a session family (used by tests and audits).
pub async fn of_session(db: &impl ConnectionTrait, session_id: &str) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::SessionId.eq(session_id))
        .all(db)
        .await
}

/// Up to `limit` tokens that stopped being usable before `before`, as
/// (row id, session id) (read by the `expires_at` index).
pub async fn expired_batch(
    db: &impl ConnectionTrait,
    before: i64,
    limit: u64,
) -> Result<Vec<(String, String)>, DbErr> {
    Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::SessionId)
        .filter(Column::ExpiresAt.lt(before))
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// Deletes the tokens with these row ids. Returns how many.
pub async fn delete_ids(db: &impl ConnectionTrait, ids: &[String]) -> Result<u64, DbErr> {
    let deleted = Entity::delete_many()
        .filter(Column::Id.is_in(ids.iter().cloned()))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}
