//! Users, unique by Kakao id.

use sea_orm::{Set, entity::prelude::*, sea_query::OnConflict};

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

/// The profile fields a login writes.
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

/// Creates the user or refreshes the profile of the existing one, in one
/// `INSERT .. ON CONFLICT (kakao_id) DO UPDATE .. RETURNING *` (one round
/// trip, no re-select), so two simultaneous first logins make one row.
/// Returns the row and whether it was created (the returned id is the one
/// generated here only when the insert, not the update, happened).
pub async fn upsert_by_kakao_id(
    db: &impl ConnectionTrait,
    profile: &ProfileUpdate,
    now: i64,
) -> Result<(Model, bool), DbErr> {
    let new_id = Uuid::new_v4().to_string();
    let row = ActiveModel {
        id: Set(new_id.clone()),
        kakao_id: Set(profile.kakao_id),
        nickname: Set(profile.nickname.clone()),
        profile_image_url: Set(profile.profile_image_url.clone()),
        thumbnail_image_url: Set(profile.thumbnail_image_url.clone()),
        email: Set(profile.email.clone()),
        created_at: Set(now),
        last_login_at: Set(now),
        unlinked_at: Set(None),
    };
    let user = Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::KakaoId)
                .update_columns([
                    Column::Nickname,
                    Column::ProfileImageUrl,
                    Column::ThumbnailImageUrl,
                    Column::Email,
                    Column::LastLoginAt,
                    Column::UnlinkedAt,
                ])
                .to_owned(),
        )
        .exec_with_returning(db)
        .await?;
    let created = user.id == new_id;
    Ok((user, created))
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
