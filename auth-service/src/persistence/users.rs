//! Users: our id and the display profile of the latest login. Who a user
//! is at each provider lives in [`super::identities`].

use sea_orm::entity::prelude::*;

use super::identities;

/// A user row. `id` is ours (UUID, the access token's `sub`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    /// Our user id (UUID).
    pub id: String,
    /// Nickname from the latest login's provider; may be empty.
    pub nickname: String,
    /// Profile image URL.
    pub profile_image_url: Option<String>,
    /// Thumbnail URL.
    pub thumbnail_image_url: Option<String>,
    /// The latest verified address a provider reported.
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

/// A user with their identities, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserView {
    /// The user row.
    pub user: Model,
    /// Their provider identities.
    pub identities: Vec<identities::Model>,
}

impl UserView {
    /// The Kakao user id, when the user has a Kakao identity.
    pub fn kakao_id(&self) -> Option<&str> {
        self.identities
            .iter()
            .find(|i| i.provider == "kakao")
            .map(|i| i.subject.as_str())
    }
}

/// The user with this id, if any.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id.to_owned()).one(db).await
}

/// The user with this id and their identities, if any.
pub async fn find_view(db: &impl ConnectionTrait, id: &str) -> Result<Option<UserView>, DbErr> {
    let Some(user) = find(db, id).await? else {
        return Ok(None);
    };
    let identities = identities::of_user(db, id).await?;
    Ok(Some(UserView { user, identities }))
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
