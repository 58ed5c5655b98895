//! Access-token signing keys, shared by every replica through the database.

use sea_orm::{QueryOrder, Set, entity::prelude::*, sea_query::Expr};

/// One signing key. The newest unretired key whose activation time has
/// passed signs; every unretired key (pending ones included) is published
/// in the JWKS and verifies.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    /// Key id (the JWT header's `kid`).
    pub kid: String,
    /// `EdDSA` (Ed25519).
    pub algorithm: String,
    /// PKCS#8 DER: base64, or encrypted under `KEY_ENCRYPTION_KEY`
    /// (`kek1:...`, see `domain::KeyEncryption`).
    pub private_key: String,
    /// Raw public key, base64url (the JWK `x`).
    pub public_key: String,
    /// When the key was added.
    pub created_at: i64,
    /// When it was retired; retired keys neither sign nor verify.
    pub retired_at: Option<i64>,
    /// From when it signs (`None`: since `created_at`, keys made before
    /// activation times existed).
    pub activates_at: Option<i64>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .field("activates_at", &self.activates_at)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// No declared relations.
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Stores a new key.
pub async fn insert(db: &impl ConnectionTrait, key: Model) -> Result<(), DbErr> {
    let row = ActiveModel {
        kid: Set(key.kid),
        algorithm: Set(key.algorithm),
        private_key: Set(key.private_key),
        public_key: Set(key.public_key),
        created_at: Set(key.created_at),
        retired_at: Set(None),
        activates_at: Set(key.activates_at),
    };
    Entity::insert(row)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// Every unretired key, newest first.
pub async fn published(db: &impl ConnectionTrait) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::RetiredAt.is_null())
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Kid)
        .all(db)
        .await
}

/// Every key, retired or not, oldest first.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<Model>, DbErr> {
    Entity::find().order_by_asc(Column::CreatedAt).all(db).await
}

/// Stores `private_key` for `kid` if it still holds `expected` (what
/// `keys rewrap` read); `false` when the row changed meanwhile.
pub async fn replace_private_key(
    db: &impl ConnectionTrait,
    kid: &str,
    expected: &str,
    private_key: String,
) -> Result<bool, DbErr> {
    let updated = Entity::update_many()
        .col_expr(Column::PrivateKey, Expr::value(private_key))
        .filter(Column::Kid.eq(kid))
        .filter(Column::PrivateKey.eq(expected))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Retires a key; `false` when unknown or already retired.
pub async fn retire(db: &impl ConnectionTrait, kid: &str, now: i64) -> Result<bool, DbErr> {
    let updated = Entity::update_many()
        .col_expr(Column::RetiredAt, Expr::value(now))
        .filter(Column::Kid.eq(kid))
        .filter(Column::RetiredAt.is_null())
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}
