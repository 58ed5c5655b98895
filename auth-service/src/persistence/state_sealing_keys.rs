//! The keys that seal login states (and, through a derived key, the
//! refresh-grace successors), shared by every replica through the
//! database: the first start creates key 1, every later start (and every
//! replica) reads the same row. Encrypted under `KEY_ENCRYPTION_KEY` when
//! it is set.

use anyhow::Context;
use rand::RngCore;
use sea_orm::{QueryOrder, Set, entity::prelude::*, sea_query::Expr};

use crate::domain::{KeyEncryption, state_sealing_key_row};

/// One sealing key. `id` is the key id byte written in front of every
/// sealed state, so a later rotation can keep opening older states.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "state_sealing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    /// Key id (1..=255).
    pub id: i16,
    /// The 256-bit AEAD key: base64, or encrypted under
    /// `KEY_ENCRYPTION_KEY` (`kek1:...`, see `domain::KeyEncryption`).
    pub secret: String,
    /// When it was created.
    pub created_at: i64,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSealingKey")
            .field("id", &self.id)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// No declared relations.
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The id of the first key.
const FIRST_KEY_ID: i16 = 1;

/// The sealing keys as `(key id, 256-bit secret)` pairs, oldest first: the
/// input of `StateSealer::new` and `SuccessorSealer::new`.
pub type SealingSecrets = Vec<(u8, [u8; 32])>;

/// Loads the sealing keys, creating the first one when there is none
/// (insert-if-absent, then read: replicas starting at once agree on the
/// row that won). The one place keys are read; `encryption` opens them
/// (and seals the first).
pub async fn load_or_create(
    db: &impl ConnectionTrait,
    encryption: &KeyEncryption,
) -> anyhow::Result<SealingSecrets> {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let first = ActiveModel {
        id: Set(FIRST_KEY_ID),
        secret: Set(encryption.seal(&state_sealing_key_row(FIRST_KEY_ID), &secret)),
        created_at: Set(super::now_ms()),
    };
    Entity::insert(first)
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await
        .context("create the first state sealing key")?;
    let rows = all(db).await.context("load state sealing keys")?;
    let mut keys = Vec::with_capacity(rows.len());
    for row in rows {
        let id = u8::try_from(row.id).context("state sealing key id out of range")?;
        let secret = encryption
            .open(&state_sealing_key_row(row.id), &row.secret)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .with_context(|| format!("state sealing key {id} is unreadable"))?;
        keys.push((id, secret));
    }
    Ok(keys)
}

/// Every sealing key row, oldest first.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<Model>, DbErr> {
    Entity::find().order_by_asc(Column::Id).all(db).await
}

/// Stores `secret` for key `id` if it still holds `expected` (what
/// `keys rewrap` read); `false` when the row changed meanwhile.
pub async fn replace_secret(
    db: &impl ConnectionTrait,
    id: i16,
    expected: &str,
    secret: String,
) -> Result<bool, DbErr> {
    let updated = Entity::update_many()
        .col_expr(Column::Secret, Expr::value(secret))
        .filter(Column::Id.eq(id))
        .filter(Column::Secret.eq(expected))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}
