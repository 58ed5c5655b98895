//! The revocation log: one row per revocation (a session family, every
//! session of a user, a signing key), written in the transaction that makes
//! the revocation, so that every replica can follow it (see
//! [`crate::revocations`]). `seq` only grows: SQLite's AUTOINCREMENT never
//! reuses a value, PostgreSQL's sequence neither; the purge always keeps
//! the newest row, so the highest position stays known.

use sea_orm::{
    Condition, NotSet, QueryOrder, QuerySelect, Set,
    entity::prelude::*,
    sea_query::{Expr, Func},
};

use super::session_rows;

/// One revocation.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "revocations")]
pub struct Model {
    /// Position in the log.
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// [`Kind::as_str`].
    pub kind: String,
    /// The session family, for [`Kind::Session`].
    pub session_id: Option<String>,
    /// The user, for [`Kind::User`] (and [`Kind::Session`] when known).
    pub user_id: Option<String>,
    /// The signing key, for [`Kind::Key`].
    pub kid: Option<String>,
    /// When the revocation took effect (Unix ms).
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// No declared relations.
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// What a row revokes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One session family.
    Session,
    /// Every session of a user.
    User,
    /// A signing key.
    Key,
}

impl Kind {
    /// The word stored in `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Session => "session",
            Kind::User => "user",
            Kind::Key => "key",
        }
    }

    /// The kind a stored word names.
    pub fn parse(word: &str) -> Option<Kind> {
        match word {
            "session" => Some(Kind::Session),
            "user" => Some(Kind::User),
            "key" => Some(Kind::Key),
            _ => None,
        }
    }
}

/// Appends a revocation to the log; returns its position. Call it last in
/// the transaction that revokes, so the position is taken just before the
/// commit (a position taken early widens the window in which a higher one
/// is visible first).
pub async fn record(
    db: &impl ConnectionTrait,
    kind: Kind,
    session_id: Option<&str>,
    user_id: Option<&str>,
    kid: Option<&str>,
    now: i64,
) -> Result<i64, DbErr> {
    let row = ActiveModel {
        seq: NotSet,
        kind: Set(kind.as_str().to_owned()),
        session_id: Set(session_id.map(str::to_owned)),
        user_id: Set(user_id.map(str::to_owned)),
        kid: Set(kid.map(str::to_owned)),
        created_at: Set(now),
    };
    Ok(Entity::insert(row).exec(db).await?.last_insert_id)
}

/// Rows after position `after`, and the rows at the `missing` positions
/// below it (holes still expected to fill), in order, at most `limit`.
pub async fn after(
    db: &impl ConnectionTrait,
    after: i64,
    missing: &[i64],
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let mut wanted = Condition::any().add(Column::Seq.gt(after));
    if !missing.is_empty() {
        wanted = wanted.add(Column::Seq.is_in(missing.iter().copied()));
    }
    Entity::find()
        .filter(wanted)
        .order_by_asc(Column::Seq)
        .limit(limit)
        .all(db)
        .await
}

/// Rows made at or after `since_ms`, in order (what a starting replica
/// loads).
pub async fn since(db: &impl ConnectionTrait, since_ms: i64) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::CreatedAt.gte(since_ms))
        .order_by_asc(Column::Seq)
        .all(db)
        .await
}

/// The lowest and highest positions held (both `None` when empty).
pub async fn bounds(db: &impl ConnectionTrait) -> Result<(Option<i64>, Option<i64>), DbErr> {
    let row: Option<(Option<i64>, Option<i64>)> = Entity::find()
        .select_only()
        .column_as(Expr::expr(Func::min(Expr::col(Column::Seq))), "lowest")
        .column_as(Expr::expr(Func::max(Expr::col(Column::Seq))), "highest")
        .into_tuple()
        .one(db)
        .await?;
    Ok(row.unwrap_or((None, None)))
}

/// Deletes rows made before `before_ms`, except the newest row. Returns how
/// many.
pub async fn purge(db: &impl ConnectionTrait, before_ms: i64) -> Result<u64, DbErr> {
    let Some(highest) = bounds(db).await?.1 else {
        return Ok(0);
    };
    let deleted = Entity::delete_many()
        .filter(Column::CreatedAt.lt(before_ms))
        .filter(Column::Seq.lt(highest))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}

/// Revokes every live session family of `user_id` and returns their ids,
/// so that the caller can log each one. Only the sessions listed are
/// revoked: one that a concurrent login commits meanwhile is not, and is
/// not listed (it started after this revocation).
pub async fn revoke_sessions_of_user(
    db: &impl ConnectionTrait,
    user_id: &str,
    reason: &str,
    now: i64,
) -> Result<Vec<String>, DbErr> {
    let ids: Vec<String> = session_rows::Entity::find()
        .select_only()
        .column(session_rows::Column::Id)
        .filter(session_rows::Column::UserId.eq(user_id))
        .filter(session_rows::Column::RevokedAt.is_null())
        .into_tuple()
        .all(db)
        .await?;
    if ids.is_empty() {
        return Ok(ids);
    }
    session_rows::Entity::update_many()
        .col_expr(session_rows::Column::RevokedAt, Expr::value(now))
        .col_expr(session_rows::Column::RevokedReason, Expr::value(reason))
        .filter(session_rows::Column::Id.is_in(ids.iter().cloned()))
        .filter(session_rows::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(ids)
}
