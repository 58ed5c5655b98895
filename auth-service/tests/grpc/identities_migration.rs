//! The identities migration on a database that already has Kakao users
//! (SQLite, or PostgreSQL with `TEST_DATABASE_URL`): every user becomes a
//! user with one Kakao identity, keeping their id, their sessions and
//! their refresh tokens (SQLite rebuilds `users`; a cascade there would
//! have deleted every session), and the next Kakao login finds them.

use auth_service::persistence::{
    self, identities, migration::Migrator, refresh_tokens, session_rows, users as user_rows,
};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, EntityTrait, PaginatorTrait};
use sea_orm_migration::MigratorTrait;
use secrecy::SecretString;
use test_support::{AuthHandle, TestDb, login_on, settings, start_emulator, users};

/// The migrations before identities.
const BEFORE_IDENTITIES: u32 = 5;

#[tokio::test]
async fn existing_kakao_users_keep_their_ids_and_sessions_across_the_identities_migration() {
    let db = TestDb::new().await;
    let mut options = ConnectOptions::new(db.url.clone());
    options.max_connections(1).sqlx_logging(false);
    let old = Database::connect(options).await.unwrap();
    Migrator::up(&old, Some(BEFORE_IDENTITIES)).await.unwrap();
    let now = persistence::now_ms();
    for statement in [
        format!(
            "INSERT INTO users (id, kakao_id, nickname, email, created_at, last_login_at) \
             VALUES ('user-hong', {}, 'hong', 'hong@example.com', {now}, {now})",
            users::HONG
        ),
        format!(
            "INSERT INTO users (id, kakao_id, nickname, created_at, last_login_at) \
             VALUES ('user-kim', {}, 'kim', {now}, {now})",
            users::KIM
        ),
        format!(
            "INSERT INTO sessions (id, user_id, created_at, expires_at) \
             VALUES ('session-hong', 'user-hong', {now}, {})",
            now + 86_400_000
        ),
        format!(
            "INSERT INTO refresh_tokens (id, session_id, token_hash, created_at, expires_at) \
             VALUES ('token-hong', 'session-hong', 'hash-hong', {now}, {})",
            now + 86_400_000
        ),
    ] {
        old.execute_unprepared(&statement).await.unwrap();
    }
    old.close().await.unwrap();

    let migrated = persistence::connect_and_migrate(&SecretString::from(db.url.clone()))
        .await
        .unwrap();
    let read = &migrated.read;
    assert_eq!(user_rows::Entity::find().count(read).await.unwrap(), 2);
    let hong = identities::find(read, "kakao", &users::HONG.to_string())
        .await
        .unwrap()
        .expect("hong's Kakao identity");
    assert_eq!(hong.user_id, "user-hong");
    assert_eq!(hong.email.as_deref(), Some("hong@example.com"));
    let kim = identities::find(read, "kakao", &users::KIM.to_string())
        .await
        .unwrap()
        .expect("kim's Kakao identity");
    assert_eq!(kim.user_id, "user-kim");
    let session = session_rows::find(read, "session-hong").await.unwrap();
    assert!(session.is_some_and(|s| s.user_id == "user-hong" && s.revoked_at.is_none()));
    assert_eq!(
        refresh_tokens::of_session(read, "session-hong")
            .await
            .unwrap()
            .len(),
        1
    );
    migrated.close().await.unwrap();

    // The next Kakao login of hong is a returning login of the same user.
    let emulator = start_emulator(Default::default()).await;
    let auth = AuthHandle::start(settings(&db.url, &emulator.base_url(), &[])).await;
    let done = login_on(&auth, users::HONG).await;
    assert!(!done.new_user);
    let user = done.user.unwrap();
    assert_eq!(user.id, "user-hong");
    assert_eq!(user.kakao_id, users::HONG.to_string());
    assert_eq!(user.identities.len(), 1);
}
