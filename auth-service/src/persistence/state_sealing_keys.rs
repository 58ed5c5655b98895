//! The keys that seal login states, shared by every replica through the
//! database: the first start creates key 1, every later start (and every
//! replica) reads the same row.

use anyhow::Context;
use base64::{Engine, engine::general_purpose::STANDARD};
use rand::RngCore;
use sea_orm::{QueryOrder, Set, entity::prelude::*};

use crate::domain::StateSealer;

/// One sealing key. `id` is the key id byte written in front of every
/// sealed state, so a later rotation can keep opening older states.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "state_sealing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    /// Key id (1..=255).
    pub id: i16,
    /// The 256-bit AEAD key, base64.
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

/// Loads the sealing keys, creating the first one when there is none
/// (insert-if-absent, then read: replicas starting at once agree on the
/// row that won). The one place keys are read, so that encrypting them at
/// rest later changes only this function. The newest key seals.
pub async fn load_or_create(db: &impl ConnectionTrait) -> anyhow::Result<StateSealer> {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let first = ActiveModel {
        id: Set(FIRST_KEY_ID),
        secret: Set(STANDARD.encode(secret)),
        created_at: Set(super::now_ms()),
    };
    Entity::insert(first)
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await
        .context("create the first state sealing key")?;
    let rows = Entity::find()
        .order_by_asc(Column::Id)
        .all(db)
        .await
        .context("load state sealing keys")?;
    let mut keys = Vec::with_capacity(rows.len());
    for row in rows {
        let id = u8::try_from(row.id).context("state sealing key id out of range")?;
        let secret = STANDARD
            .decode(row.secret.as_bytes())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .with_context(|| format!("state sealing key {id} is unreadable"))?;
        keys.push((id, secret));
    }
    StateSealer::new(&keys)
}
