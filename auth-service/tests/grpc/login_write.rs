//! The login's one-round-trip write (`persistence::login_write`), on the
//! backend the suite runs on (SQLite, or PostgreSQL with
//! `TEST_DATABASE_URL`): what one login stores, and that a write failing
//! half-way is undone and leaves the single SQLite writer usable.

use auth_service::{
    persistence::{
        identities,
        login_write::{self, LoginRecord},
        now_ms, refresh_tokens, session_rows,
        users::{self as user_rows},
    },
    providers::ProviderUser,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use test_support::{Stack, login, users};

fn record(kakao_id: i64, session_id: &str, token_hash: &str) -> LoginRecord {
    let now = now_ms();
    LoginRecord {
        provider: "kakao",
        grant_sealed: None,
        profile: ProviderUser {
            subject: kakao_id.to_string(),
            nickname: format!("user {kakao_id}"),
            profile_image_url: None,
            thumbnail_image_url: Some("https://k.example/t.png".into()),
            email: None,
        },
        now,
        session_id: session_id.into(),
        session_expires_at: now + 60_000,
        token_hash: token_hash.into(),
        token_expires_at: now + 30_000,
    }
}

#[tokio::test]
async fn each_login_stores_one_session_with_one_refresh_token_and_a_returning_user_keeps_its_row() {
    let stack = Stack::start().await;
    let db = &stack.auth.core.db.read;
    let first = login(&stack, users::HONG).await;
    let second = login(&stack, users::HONG).await;
    assert!(first.new_user && !second.new_user);
    let user = first.user.unwrap();
    assert_eq!(second.user.unwrap().id, user.id);

    assert_eq!(user_rows::Entity::find().count(db).await.unwrap(), 1);
    assert_eq!(session_rows::Entity::find().count(db).await.unwrap(), 2);
    assert_eq!(refresh_tokens::Entity::find().count(db).await.unwrap(), 2);
    for done in [first.tokens.unwrap(), second.tokens.unwrap()] {
        let session = session_rows::find(db, &done.session_id)
            .await
            .unwrap()
            .expect("the session is stored");
        assert_eq!(session.user_id, user.id);
        assert!(session.revoked_at.is_none());
        let tokens = refresh_tokens::of_session(db, &session.id).await.unwrap();
        assert_eq!(tokens.len(), 1, "one refresh token per new session");
        assert!(tokens[0].expires_at <= session.expires_at);
        assert!(tokens[0].rotated_at.is_none());
    }
}

#[tokio::test]
async fn a_login_write_failing_half_way_stores_nothing_and_the_writer_stays_usable() {
    let stack = Stack::start().await;
    let (write, read) = (&stack.auth.core.db.write, &stack.auth.core.db.read);
    let (kim, created) = login_write::record(write, record(users::KIM, "s-1", "hash-1"))
        .await
        .unwrap();
    assert!(created);

    // The refresh token's hash is unique: the last insert of this write
    // fails after the user and the session went in.
    let failed = login_write::record(write, record(users::CAT, "s-2", "hash-1")).await;
    assert!(failed.is_err(), "a duplicate token hash is refused");
    assert!(
        identities::find(read, "kakao", &users::CAT.to_string())
            .await
            .unwrap()
            .is_none(),
        "the identity insert is undone"
    );
    assert_eq!(
        user_rows::Entity::find().count(read).await.unwrap(),
        1,
        "the user insert is undone"
    );
    assert!(session_rows::find(read, "s-2").await.unwrap().is_none());

    // The writer is not left inside the failed write's transaction: the
    // next write commits and readers see it.
    let (cat, created) = login_write::record(write, record(users::CAT, "s-3", "hash-3"))
        .await
        .unwrap();
    assert!(created);
    let stored = identities::find(read, "kakao", &users::CAT.to_string())
        .await
        .unwrap();
    assert_eq!(stored.map(|i| i.user_id), Some(cat.user.id));
    let (returning, created) = login_write::record(write, record(users::KIM, "s-4", "hash-4"))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(
        returning.user.id, kim.user.id,
        "a returning user keeps its id"
    );
    assert_eq!(
        refresh_tokens::Entity::find()
            .filter(refresh_tokens::Column::SessionId.is_in(["s-1", "s-3", "s-4"]))
            .count(read)
            .await
            .unwrap(),
        3
    );
    assert_eq!(session_rows::Entity::find().count(read).await.unwrap(), 3);
}

#[tokio::test]
async fn concurrent_claims_and_logins_each_get_their_own_answer() {
    // On SQLite these writes share batches (`persistence::group_commit`):
    // spawned together, they are all queued before the writer runs.
    let stack = Stack::start().await;
    let db = stack.auth.core.db.clone();
    let expires = now_ms() + 60_000;
    let mut claims = tokio::task::JoinSet::new();
    for i in 0..40 {
        let db = db.clone();
        claims.spawn(async move {
            let id = format!("state-{}", i % 20);
            (i % 20, db.claim_login_state(&id, expires).await.unwrap())
        });
    }
    let mut wins = [0; 20];
    while let Some(done) = claims.join_next().await {
        let (id, won) = done.unwrap();
        wins[id] += usize::from(won);
    }
    assert_eq!(wins, [1; 20], "each state id is claimed exactly once");

    // 24 logins of 8 users, and one whose token hash repeats another's: it
    // alone fails, and the batch it shared is stored for everyone else.
    let mut logins = tokio::task::JoinSet::new();
    for i in 0..25 {
        let db = db.clone();
        let hash = if i == 24 {
            "hash-0".to_owned()
        } else {
            format!("hash-{i}")
        };
        let kakao_id = 7_000 + (i % 8) as i64;
        logins.spawn(async move {
            let result = db
                .record_login(record(kakao_id, &format!("s-{i}"), &hash))
                .await;
            (
                i,
                kakao_id,
                result.map(|(user, created)| (user.user.id, created)),
            )
        });
    }
    let mut users_by_kakao = std::collections::HashMap::new();
    let mut created = 0;
    let mut failed = vec![];
    while let Some(done) = logins.join_next().await {
        match done.unwrap() {
            (i, _, Err(_)) => failed.push(i),
            (_, kakao_id, Ok((user_id, new))) => {
                created += usize::from(new);
                let first = users_by_kakao.entry(kakao_id).or_insert(user_id.clone());
                assert_eq!(*first, user_id, "one user per Kakao id");
            }
        }
    }
    // Which of the two logins with "hash-0" went first is up to the queue.
    assert_eq!(failed.len(), 1, "only a login with the repeated hash fails");
    assert!(failed[0] == 0 || failed[0] == 24);
    assert_eq!(created, 8, "each Kakao id is created once");
    let read = &db.read;
    assert_eq!(user_rows::Entity::find().count(read).await.unwrap(), 8);
    assert_eq!(session_rows::Entity::find().count(read).await.unwrap(), 24);
    assert_eq!(
        refresh_tokens::Entity::find().count(read).await.unwrap(),
        24
    );
    let failed_session = format!("s-{}", failed[0]);
    assert!(
        session_rows::find(read, &failed_session)
            .await
            .unwrap()
            .is_none()
    );
}

/// The value of `PRAGMA <name>` on one connection.
async fn pragma(conn: &sea_orm::DatabaseConnection, name: &str) -> i64 {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            format!("PRAGMA {name}"),
        ))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("PRAGMA {name} answers a row"));
    row.try_get_by_index(0).unwrap()
}

#[tokio::test]
async fn every_sqlite_connection_caps_its_page_cache_and_the_writer_leaves_checkpoints_to_the_task()
{
    use sea_orm::DbBackend;
    let stack = Stack::start().await;
    let db = &stack.auth.core.db;
    if db.write.get_database_backend() != DbBackend::Sqlite {
        return; // PostgreSQL has no per-connection page cache to cap.
    }
    for (name, conn) in [("writer", &db.write), ("reader", &db.read)] {
        let cache_size = pragma(conn, "cache_size").await;
        assert_eq!(cache_size, -1024, "{name}: cache_size in KiB (negative)");
    }
    // Only the writer commits, so only its trigger matters: raised, so
    // that the checkpoint task, not a login's commit, copies the log.
    assert_eq!(
        pragma(&db.write, "wal_autocheckpoint").await,
        auth_service::persistence::SQLITE_WRITER_AUTOCHECKPOINT,
        "writer: wal_autocheckpoint"
    );
}

/// The writer never has to copy the log back on its own: within a few
/// checkpoint intervals, what it wrote is in the database file although the
/// log stayed far below the writer's own trigger.
#[tokio::test]
async fn sqlite_checkpoints_copy_the_log_into_the_file_off_the_writer() {
    use auth_service::persistence::{self, sqlite_checkpoints};
    use sea_orm::ConnectionTrait;
    let test_db = test_support::TestDb::new().await;
    if test_db.is_postgres() {
        return; // PostgreSQL checkpoints on its own.
    }
    let path = test_db
        .url
        .strip_prefix("sqlite://")
        .and_then(|rest| rest.split('?').next())
        .expect("an SQLite URL")
        .to_owned();
    let db = persistence::connect_and_migrate(&secrecy::SecretString::from(test_db.url.clone()))
        .await
        .unwrap();
    sqlite_checkpoints::checkpoint(db.read.get_sqlite_connection_pool())
        .await
        .unwrap();
    let before = std::fs::metadata(&path).unwrap().len();
    db.write
        .execute_unprepared(
            "CREATE TABLE filler (b BLOB); \
             INSERT INTO filler SELECT randomblob(2000) FROM \
             (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) \
              SELECT i FROM n);",
        )
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut after = before;
    while after <= before && std::time::Instant::now() < deadline {
        tokio::time::sleep(sqlite_checkpoints::INTERVAL).await;
        after = std::fs::metadata(&path).unwrap().len();
    }
    assert!(
        after >= before + 100 * 1000,
        "the file grew from {before} to {after} bytes: the log was not copied back"
    );
}
