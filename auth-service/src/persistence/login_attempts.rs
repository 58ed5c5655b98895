//! Login attempts: one row per started login, claimed once, then deleted.

use sea_orm::{Set, entity::prelude::*, sea_query::Expr};

/// A started login. The browser binding is stored only as a hash; the PKCE
/// verifier is not stored at all (it is derived from the binding).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    /// The login `state` (256 random bits).
    pub state: String,
    /// SHA-256 of the browser binding.
    pub binding_hash: String,
    /// The OIDC nonce sent to Kakao.
    pub nonce: String,
    /// The validated absolute post-login URL.
    pub return_to: String,
    /// When the login started.
    pub created_at: i64,
    /// When the attempt stops being usable.
    pub expires_at: i64,
    /// Set by the first CompleteLogin that presents this state.
    pub claimed_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// No declared relations.
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Stores a new attempt.
pub async fn insert(db: &impl ConnectionTrait, attempt: Model) -> Result<(), DbErr> {
    let row = ActiveModel {
        state: Set(attempt.state),
        binding_hash: Set(attempt.binding_hash),
        nonce: Set(attempt.nonce),
        return_to: Set(attempt.return_to),
        created_at: Set(attempt.created_at),
        expires_at: Set(attempt.expires_at),
        claimed_at: Set(None),
    };
    Entity::insert(row)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// Atomically marks the attempt claimed. Returns it only to the one caller
/// whose update won; an unknown or already claimed state gives `None`.
pub async fn claim(
    db: &impl ConnectionTrait,
    state: &str,
    now: i64,
) -> Result<Option<Model>, DbErr> {
    let updated = Entity::update_many()
        .col_expr(Column::ClaimedAt, Expr::value(now))
        .filter(Column::State.eq(state))
        .filter(Column::ClaimedAt.is_null())
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Ok(None);
    }
    Entity::find_by_id(state.to_owned()).one(db).await
}

/// Deletes a claimed attempt; `false` if it was already gone.
pub async fn consume(db: &impl ConnectionTrait, state: &str) -> Result<bool, DbErr> {
    let deleted = Entity::delete_many()
        .filter(Column::State.eq(state))
        .filter(Column::ClaimedAt.is_not_null())
        .exec(db)
        .await?;
    Ok(deleted.rows_affected == 1)
}

/// Deletes attempts that expired before `before`.
pub async fn purge_expired(db: &impl ConnectionTrait, before: i64) -> Result<u64, DbErr> {
    let deleted = Entity::delete_many()
        .filter(Column::ExpiresAt.lt(before))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}
