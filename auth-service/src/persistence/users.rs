//! Users, unique by Kakao id.

use sea_orm::entity::prelude::*;

/// A user row. `id` is ours (UUID, the access token's `sub`); `kakao_id`
/// is Kakao's (i64: real ids exceed int32).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    /// Our user id (UUID).
    pub id: String,
    #[sea_orm(unique)]
    /// Kakao's user id.
    pub kakao_id: i64,
    /// Kakao nickname; may be empty.
    pub nickname: String,
    /// Profile image URL.
    pub profile_image_url: Option<String>,
    /// Thumbnail URL.
    pub thumbnail_image_url: Option<String>,
    /// Only an address Kakao reports as valid and verified.
    pub email: Option<String>,
    /// First login.
    pub created_at: i64,
    /// Latest login.
    pub last_login_at: i64,
    /// Set when Kakao reports the user unlinked the app; cleared on the next login.
    pub unlinked_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// No declared relations.
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The profile fields a login writes (see
/// [`super::login_write`], which upserts them by Kakao id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileUpdate {
    /// Kakao's user id.
    pub kakao_id: i64,
    /// Kakao nickname.
    pub nickname: String,
    /// Profile image URL.
    pub profile_image_url: Option<String>,
    /// Thumbnail URL.
    pub thumbnail_image_url: Option<String>,
    /// E-mail, only when valid and verified.
    pub email: Option<String>,
}

/// The user with this Kakao id, if any.
pub async fn find_by_kakao_id(
    db: &impl ConnectionTrait,
    kakao_id: i64,
) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::KakaoId.eq(kakao_id))
        .one(db)
        .await
}

/// The user with this id, if any.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id.to_owned()).one(db).await
}

/// Marks the user unlinked (Kakao's unlink callback).
pub async fn mark_unlinked(db: &impl ConnectionTrait, id: &str, now: i64) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::UnlinkedAt, sea_orm::sea_query::Expr::value(now))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}
