//! On PostgreSQL only: run with `TEST_DATABASE_URL=postgres://...` (each
//! test creates and drops a database there); without it they pass at once.

use super::*;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use secrecy::SecretString;
use tokio::sync::oneshot;

/// A fresh migrated database and a connection of the test's own.
struct TestDb {
    admin: DatabaseConnection,
    name: String,
    db: super::super::Database,
    conn: PgConnection,
}

impl TestDb {
    async fn new() -> Option<TestDb> {
        let admin_url = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| u.starts_with("postgres"))?;
        let admin = sea_orm::Database::connect(admin_url.as_str())
            .await
            .unwrap();
        let name = format!("group_commit_{:016x}", rand::random::<u64>());
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&format!("/{name}"));
        let db = super::super::connect_and_migrate(&SecretString::from(url.to_string()))
            .await
            .unwrap();
        let conn = connect(db.write.get_postgres_connection_pool())
            .await
            .unwrap();
        Some(TestDb {
            admin,
            name,
            db,
            conn,
        })
    }

    async fn counts(&mut self) -> Vec<i64> {
        let mut counts = Vec::new();
        for table in ["users", "identities", "sessions", "refresh_tokens"] {
            let query = format!("SELECT COUNT(*) FROM {table}");
            counts.push(
                sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(query))
                    .fetch_one(&mut self.conn)
                    .await
                    .unwrap(),
            );
        }
        counts
    }

    async fn drop(self) {
        drop(self.conn);
        let _ = self.db.close().await;
        let _ = self
            .admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
    }
}

fn record(subject: &str, token_hash: &str) -> LoginRecord {
    LoginRecord {
        provider: "kakao",
        profile: crate::providers::api::ProviderUser {
            subject: subject.to_owned(),
            nickname: format!("user {subject}"),
            profile_image_url: None,
            thumbnail_image_url: Some(format!("https://k.example/{subject}.png")),
            email: None,
        },
        grant_sealed: None,
        now: 1_000,
        session_id: crate::domain::new_row_id(),
        session_expires_at: 9_000,
        token_hash: token_hash.to_owned(),
        token_expires_at: 5_000,
    }
}

type Answered = oneshot::Receiver<Result<(UserView, bool), DbErr>>;

fn logins(records: Vec<LoginRecord>) -> (Vec<Login>, Vec<Answered>) {
    records
        .into_iter()
        .map(|record| {
            let (answer, answered) = oneshot::channel();
            ((record, answer), answered)
        })
        .unzip()
}

/// Guards the array parameters: a batch whose statement failed would
/// be split, still answering every caller correctly, so only the
/// outcome tells a batch from its fallback.
#[tokio::test]
async fn a_full_batch_of_new_and_returning_logins_goes_in_as_one_statement() {
    let Some(mut t) = TestDb::new().await else {
        return;
    };
    let n = MAX_JOBS;
    for round in 0..2 {
        let (batch, answers) = logins(
            (0..n)
                .map(|i| record(&format!("{}", 1_000 + i), &crate::domain::new_row_id()))
                .collect(),
        );
        assert_eq!(
            write_logins(&mut t.conn, batch).await,
            Outcome::Whole,
            "round {round}"
        );
        for (i, answered) in answers.into_iter().enumerate() {
            let (user, created) = answered.await.unwrap().unwrap();
            let subject = format!("{}", 1_000 + i);
            assert_eq!(
                (user.kakao_id(), created),
                (Some(subject.as_str()), round == 0)
            );
            let picture = format!("https://k.example/{subject}.png");
            assert_eq!(user.user.thumbnail_image_url, Some(picture));
        }
    }
    let n = n as i64;
    assert_eq!(t.counts().await, [n, n, 2 * n, 2 * n]);
    t.drop().await;
}

#[tokio::test]
async fn logins_of_one_identity_in_one_batch_make_one_user() {
    let Some(mut t) = TestDb::new().await else {
        return;
    };
    let records = ["7", "7", "8", "7"]
        .into_iter()
        .map(|s| record(s, &crate::domain::new_row_id()))
        .collect();
    let (batch, answers) = logins(records);
    assert_eq!(write_logins(&mut t.conn, batch).await, Outcome::Whole);
    let mut answered = Vec::new();
    for answer in answers {
        let (user, created) = answer.await.unwrap().unwrap();
        answered.push((user.user.id, created));
    }
    assert_eq!(answered[0].0, answered[1].0);
    assert_eq!(answered[0].0, answered[3].0);
    assert_ne!(answered[0].0, answered[2].0);
    let created: Vec<bool> = answered.iter().map(|a| a.1).collect();
    assert_eq!(created, [true, false, true, false]);
    assert_eq!(t.counts().await, [2, 2, 4, 4]);
    t.drop().await;
}

#[tokio::test]
async fn a_failing_login_does_not_sink_the_others_in_its_batch() {
    let Some(mut t) = TestDb::new().await else {
        return;
    };
    let (batch, answers) = logins(vec![record("1", "taken")]);
    assert_eq!(write_logins(&mut t.conn, batch).await, Outcome::Whole);
    answers.into_iter().next().unwrap().await.unwrap().unwrap();
    // The refresh token hash is unique: the fourth login's repeats one.
    let records = (0..8)
        .map(|i| {
            let hash = if i == 3 {
                "taken".to_owned()
            } else {
                format!("hash-{i}")
            };
            record(&format!("{}", 100 + i), &hash)
        })
        .collect();
    let (batch, answers) = logins(records);
    assert_eq!(write_logins(&mut t.conn, batch).await, Outcome::Split);
    for (i, answered) in answers.into_iter().enumerate() {
        let result = answered.await.unwrap();
        assert_eq!(result.is_err(), i == 3, "login {i}");
    }
    assert_eq!(t.counts().await, [8, 8, 8, 8]);
    // The connection is still usable.
    let (batch, answers) = logins(vec![record("1", "fresh")]);
    assert_eq!(write_logins(&mut t.conn, batch).await, Outcome::Whole);
    let (_, created) = answers.into_iter().next().unwrap().await.unwrap().unwrap();
    assert!(!created);
    t.drop().await;
}

/// Both claim statements: the asynchronous commit changes durability
/// only, never who wins.
#[tokio::test]
async fn a_batch_of_claims_goes_in_as_one_and_each_id_is_won_once() {
    let Some(mut t) = TestDb::new().await else {
        return;
    };
    for sql in [CLAIMS, ASYNC_CLAIMS] {
        let (answer, answered) = oneshot::channel();
        let before = vec![(format!("{sql:.8}-0"), 9_000, answer)];
        assert_eq!(write_claims(&mut t.conn, sql, before).await, Outcome::Whole);
        assert!(answered.await.unwrap().unwrap());
        // 16 claims of 8 ids, one of them claimed before.
        let (claims, answers): (Vec<Claim>, Vec<_>) = (0..16)
            .map(|i| {
                let (answer, answered) = oneshot::channel();
                (
                    (format!("{sql:.8}-{}", i % 8), 9_000, answer),
                    (i % 8, answered),
                )
            })
            .unzip();
        assert_eq!(write_claims(&mut t.conn, sql, claims).await, Outcome::Whole);
        let mut wins = [0; 8];
        for (id, answered) in answers {
            wins[id] += usize::from(answered.await.unwrap().unwrap());
        }
        assert_eq!(wins, [0, 1, 1, 1, 1, 1, 1, 1], "{sql}");
    }
    t.drop().await;
}

async fn show(conn: &mut PgConnection) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(conn)
        .await
}

/// PostgreSQL takes the asynchronous claim statement; it turns
/// `synchronous_commit` off for its own transaction and leaves the
/// connection as it found it (the probe too).
#[tokio::test]
async fn claims_commit_asynchronously_and_leave_the_connection_as_it_was() {
    let Some(mut t) = TestDb::new().await else {
        return;
    };
    assert_eq!(claim_statement(&mut t.conn).await, ASYNC_CLAIMS);
    assert_eq!(show(&mut t.conn).await.unwrap(), "on", "after the probe");
    // Inside an explicit transaction the statement's setting shows.
    let mut tx = t.conn.begin().await.unwrap();
    assert_eq!(show(&mut tx).await.unwrap(), "on");
    let (answer, answered) = oneshot::channel();
    let claim = vec![("async-1".to_owned(), 9_000, answer)];
    assert_eq!(
        write_claims(&mut tx, ASYNC_CLAIMS, claim).await,
        Outcome::Whole
    );
    assert!(answered.await.unwrap().unwrap());
    assert_eq!(
        show(&mut tx).await.unwrap(),
        "off",
        "for the claim's transaction"
    );
    tx.commit().await.unwrap();
    assert_eq!(show(&mut t.conn).await.unwrap(), "on", "after the claim");
    // Committed: the id is spent, for this connection and the pool's.
    let (answer, answered) = oneshot::channel();
    let again = vec![("async-1".to_owned(), 9_000, answer)];
    assert_eq!(
        write_claims(&mut t.conn, ASYNC_CLAIMS, again).await,
        Outcome::Whole
    );
    assert!(!answered.await.unwrap().unwrap());
    assert!(!t.db.claim_login_state("async-1", 9_000).await.unwrap());
    // A server that refuses the setting (here: a transaction that already
    // failed refuses everything) gets the durable statement.
    let mut tx = t.conn.begin().await.unwrap();
    assert!(sqlx::query("SELECT 1 / 0").execute(&mut *tx).await.is_err());
    assert_eq!(claim_statement(&mut tx).await, CLAIMS);
    tx.rollback().await.unwrap();
    t.drop().await;
}

/// Through the handle: concurrent callers share the workers' batches
/// and each gets its own answer.
#[tokio::test]
async fn concurrent_callers_each_get_their_own_answer() {
    let Some(t) = TestDb::new().await else {
        return;
    };
    let group = t.db.group.clone().unwrap();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..64 {
        let group = group.clone();
        calls.spawn(async move {
            let won = group.claim(&format!("c-{}", i % 32), 9_000).await.unwrap();
            let login = record(&format!("{}", i % 16), &format!("h-{i}"));
            let (user, _) = group.record(login).await.unwrap();
            (i % 16, user.user.id, won)
        });
    }
    let mut users = HashMap::new();
    let mut wins = 0;
    while let Some(done) = calls.join_next().await {
        let (subject, user_id, won) = done.unwrap();
        wins += usize::from(won);
        let first = users.entry(subject).or_insert(user_id.clone());
        assert_eq!(*first, user_id, "one user per identity");
    }
    assert_eq!((users.len(), wins), (16, 32));
    drop(group);
    t.drop().await;
}

/// `Database::close` closes the workers' own connections too, not only
/// the pool's.
#[tokio::test]
async fn closing_the_database_closes_the_workers_connections() {
    let Some(t) = TestDb::new().await else {
        return;
    };
    let sessions = |admin: DatabaseConnection, name: String| async move {
        let query = sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = $1",
            [name.into()],
        );
        let row = admin.query_one_raw(query).await.unwrap().unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };
    // The pool and the workers (as many each) connect in the background,
    // beside the test's own connection; then the pool is closed.
    let all = 2 * i64::from(super::super::pool_size()) + 1;
    let mut seen = 0;
    for _ in 0..100 {
        seen = sessions(t.admin.clone(), t.name.clone()).await;
        if seen == all {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        seen, all,
        "the pool, the workers and the test are connected"
    );
    t.db.clone().close().await.unwrap();
    let mut left = seen;
    for _ in 0..100 {
        left = sessions(t.admin.clone(), t.name.clone()).await;
        if left == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(left, 1, "only the test's own connection is left");
    t.drop().await;
}
