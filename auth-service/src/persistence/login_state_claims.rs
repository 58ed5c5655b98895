//! Claimed login states: a started login is claimed once, by inserting its
//! state id here; the row stays until the state's expiry, which is what
//! makes a second presentation fail. Once the state has expired, a second
//! presentation fails on the expiry check (made before the claim), so the
//! sweeper ([`crate::sweeper`]) deletes the row.

use sea_orm::{Set, TryInsertResult, entity::prelude::*, sea_query::Query};

/// A claimed state id.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_state_claims")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    /// The random id sealed in the state (128 bits, base64url). Not a
    /// secret: the state it came from cannot be rebuilt from it.
    pub state_id: String,
    /// The state's expiry; after it the row is useless and purged.
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// No declared relations.
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Claims a state id: one `INSERT .. ON CONFLICT DO NOTHING`. `true` for
/// the one caller whose insert won, `false` when it was claimed before.
pub async fn claim(
    db: &impl ConnectionTrait,
    state_id: &str,
    expires_at: i64,
) -> Result<bool, DbErr> {
    let row = ActiveModel {
        state_id: Set(state_id.to_owned()),
        expires_at: Set(expires_at),
    };
    let inserted = Entity::insert(row)
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await?;
    Ok(matches!(inserted, TryInsertResult::Inserted(1)))
}

/// Deletes up to `limit` claims of states that expired before `before`
/// (one statement; uses the `expires_at` index). Returns how many.
pub async fn purge_expired(
    db: &impl ConnectionTrait,
    before: i64,
    limit: u64,
) -> Result<u64, DbErr> {
    let batch = Query::select()
        .column(Column::StateId)
        .from(Entity)
        .and_where(Column::ExpiresAt.lt(before))
        .limit(limit)
        .to_owned();
    let deleted = Entity::delete_many()
        .filter(Column::StateId.in_subquery(batch))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}
