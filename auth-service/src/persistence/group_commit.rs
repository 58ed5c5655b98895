//! SQLite group commit for the two writes of every login: the state claim
//! ([`super::login_state_claims`]) and the completing write
//! ([`super::login_write`]).
//!
//! Each write used to be one command to the single writer connection's
//! worker thread and one commit: a channel send and a park/unpark each way,
//! the WAL frames of every page it touched, and SQLite's shared-memory
//! locks (a handful of `fcntl` calls) per commit. Under load that writer
//! was the service's serialization point. Here one task owns the queue:
//! it takes every write waiting (up to [`MAX_JOBS`]) and stores all the
//! claims in one statement and all the logins in one transaction, so N
//! concurrent logins cost two commands and two commits, not 2N, and pages
//! the writes share (the right-most leaves of the time-ordered indexes) go
//! to the WAL once per batch. An idle service pays nothing extra: a lone
//! write is a batch of one.
//!
//! Only a fixed set of statement texts is ever sent ([`MAX_CLAIMS`] claim
//! texts, [`MAX_LOGINS`] login texts), so SQLite's prepared statements stay
//! cached. A batch that fails (a full disk, a lock held by another process
//! past the busy timeout, a constraint) is rolled back and each of its
//! writes retried on its own, so every caller gets its own answer; a write
//! is never lost nor applied twice.
//!
//! Callers wait on a oneshot answer; a caller that goes away (a cancelled
//! RPC) cannot stop a batch half-way, since the task, not the caller, runs
//! it.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use sea_orm::{DbErr, QueryResult, sqlx};
use tokio::sync::{mpsc, oneshot};

use super::{
    login_write::{self, LoginIds, LoginRecord, sqlx_err},
    users::UserView,
};

/// The most writes taken from the queue at once.
pub const MAX_JOBS: usize = 64;
/// The most claims in one statement.
pub const MAX_CLAIMS: usize = 16;
/// The most logins in one transaction.
pub const MAX_LOGINS: usize = 8;

/// Writes waiting for the task; beyond this, callers wait to enqueue.
pub(super) const QUEUE: usize = 1024;

pub(super) type Answer<T> = oneshot::Sender<Result<T, DbErr>>;

/// One write waiting for a batch.
pub(super) enum Job {
    Claim {
        state_id: String,
        expires_at: i64,
        answer: Answer<bool>,
    },
    Login {
        record: Box<LoginRecord>,
        answer: Answer<(UserView, bool)>,
    },
}

/// The handle of the group-commit task (cheap to clone).
#[derive(Clone)]
pub struct GroupCommit {
    pub(super) queue: mpsc::Sender<Job>,
}

impl fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// Starts the task that writes through `pool` (the SQLite writer).
    pub fn start(pool: sqlx::SqlitePool) -> GroupCommit {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, jobs));
        GroupCommit { queue }
    }

    /// Claims a login state id, as [`super::login_state_claims::claim`]:
    /// `true` for the one caller whose claim won.
    pub async fn claim(&self, state_id: &str, expires_at: i64) -> Result<bool, DbErr> {
        let (answer, answered) = oneshot::channel();
        self.send(Job::Claim {
            state_id: state_id.to_owned(),
            expires_at,
            answer,
        })
        .await?;
        answered.await.map_err(|_| stopped())?
    }

    /// Stores a login, as [`login_write::record`].
    pub async fn record(&self, record: LoginRecord) -> Result<(UserView, bool), DbErr> {
        let (answer, answered) = oneshot::channel();
        self.send(Job::Login {
            record: Box::new(record),
            answer,
        })
        .await?;
        answered.await.map_err(|_| stopped())?
    }

    async fn send(&self, job: Job) -> Result<(), DbErr> {
        self.queue.send(job).await.map_err(|_| stopped())
    }
}

fn stopped() -> DbErr {
    DbErr::Conn(sea_orm::RuntimeErr::Internal(
        "the database writer has stopped".into(),
    ))
}

/// The statement texts, built once per process (static, as SQLx takes only
/// `'static` text: these hold placeholders only, never data).
static TEXTS: LazyLock<Texts> = LazyLock::new(Texts::new);

/// The statement texts: `claims[n - 1]` claims `n` ids,
/// `logins[n - 1]` stores `n` logins.
struct Texts {
    claims: Vec<String>,
    logins: Vec<String>,
}

impl Texts {
    fn new() -> Texts {
        let claims = (1..=MAX_CLAIMS)
            .map(|n| {
                let rows: Vec<String> = (0..n)
                    .map(|i| format!("(?{}, ?{})", 2 * i + 1, 2 * i + 2))
                    .collect();
                format!(
                    "INSERT INTO login_state_claims (state_id, expires_at) VALUES {} \
                     ON CONFLICT DO NOTHING RETURNING state_id",
                    rows.join(", ")
                )
            })
            .collect();
        let logins = (1..=MAX_LOGINS)
            .map(|n| {
                let body = login_write::SQLITE_STATEMENTS.repeat(n);
                format!("BEGIN IMMEDIATE;\n{body}COMMIT;")
            })
            .collect();
        Texts { claims, logins }
    }
}

async fn run(pool: sqlx::SqlitePool, mut queue: mpsc::Receiver<Job>) {
    let texts: &'static Texts = &TEXTS;
    let mut jobs = Vec::with_capacity(MAX_JOBS);
    while queue.recv_many(&mut jobs, MAX_JOBS).await > 0 {
        let (mut claims, mut logins) = (Vec::new(), Vec::new());
        for job in jobs.drain(..) {
            match job {
                Job::Claim {
                    state_id,
                    expires_at,
                    answer,
                } => claims.push((state_id, expires_at, answer)),
                Job::Login { record, answer } => logins.push((*record, answer)),
            }
        }
        let mut conn = match pool.acquire().await {
            Ok(conn) => conn,
            Err(e) => {
                answer_all(claims, logins, e);
                continue;
            }
        };
        while !claims.is_empty() {
            let rest = claims.split_off(claims.len().min(MAX_CLAIMS));
            write_claims(&mut conn, texts, claims).await;
            claims = rest;
        }
        while !logins.is_empty() {
            let rest = logins.split_off(logins.len().min(MAX_LOGINS));
            write_logins(&mut conn, texts, logins).await;
            logins = rest;
        }
    }
}

type Conn = sqlx::pool::PoolConnection<sqlx::Sqlite>;
type Claim = (String, i64, Answer<bool>);
type Login = (LoginRecord, Answer<(UserView, bool)>);

fn answer_all(claims: Vec<Claim>, logins: Vec<Login>, e: sqlx::Error) {
    let message = e.to_string();
    for (_, _, answer) in claims {
        let _ = answer.send(Err(DbErr::Conn(sea_orm::RuntimeErr::Internal(
            message.clone(),
        ))));
    }
    for (_, answer) in logins {
        let _ = answer.send(Err(DbErr::Conn(sea_orm::RuntimeErr::Internal(
            message.clone(),
        ))));
    }
}

/// One statement for all the claims; the ids it returns are the ones that
/// went in. An id claimed twice in one batch is won by its first claim.
async fn write_claims(conn: &mut Conn, texts: &'static Texts, claims: Vec<Claim>) {
    let mut query = sqlx::query(texts.claims[claims.len() - 1].as_str());
    for (state_id, expires_at, _) in &claims {
        query = query.bind(state_id.clone()).bind(*expires_at);
    }
    let rows = match query.fetch_all(&mut **conn).await {
        Ok(rows) => rows,
        Err(e) => {
            if let [(_, _, _)] = claims.as_slice() {
                if let Some((_, _, answer)) = claims.into_iter().next() {
                    let _ = answer.send(Err(sqlx_err(e)));
                }
            } else {
                // One statement is atomic: nothing went in. Each on its own,
                // so that each caller gets its own answer.
                for claim in claims {
                    Box::pin(write_claims(conn, texts, vec![claim])).await;
                }
            }
            return;
        }
    };
    let mut won = HashSet::with_capacity(rows.len());
    for row in rows {
        if let Ok(id) = sqlx::Row::try_get::<String, _>(&row, 0) {
            won.insert(id);
        }
    }
    for (state_id, _, answer) in claims {
        let _ = answer.send(Ok(won.remove(&state_id)));
    }
}

/// One transaction for all the logins: each login's closing SELECT of its
/// user comes back in order, one row per login. Returns whether the batch
/// went in whole (not split into one transaction per login).
async fn write_logins(conn: &mut Conn, texts: &'static Texts, logins: Vec<Login>) -> bool {
    let ids: Vec<LoginIds> = logins.iter().map(|_| LoginIds::new()).collect();
    let mut query = sqlx::query(texts.logins[logins.len() - 1].as_str());
    for ((record, _), ids) in logins.iter().zip(&ids) {
        query = login_write::bind_sqlite(query, record.clone(), ids);
    }
    match query.fetch_all(&mut **conn).await {
        Ok(rows) if rows.len() == logins.len() => {
            for (((record, answer), ids), row) in logins.into_iter().zip(ids).zip(rows) {
                let stored =
                    login_write::stored_user(Some(QueryResult::from(row)), &ids.user, &record);
                let _ = answer.send(stored);
            }
            true
        }
        // Committed, yet not one row per upsert: cannot happen with these
        // statements; never retried, since the rows are in.
        Ok(_) => {
            for (_, answer) in logins {
                let _ = answer.send(Err(DbErr::RecordNotInserted));
            }
            true
        }
        Err(e) => {
            // The connection may still be inside the batch's transaction.
            if sqlx::query("ROLLBACK").execute(&mut **conn).await.is_err() {
                conn.close_on_drop();
            }
            if logins.len() == 1 {
                if let Some((_, answer)) = logins.into_iter().next() {
                    let _ = answer.send(Err(sqlx_err(e)));
                }
                return false;
            }
            for login in logins {
                Box::pin(write_logins(conn, texts, vec![login])).await;
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn record(kakao_id: i64) -> LoginRecord {
        LoginRecord {
            provider: "kakao",
            profile: crate::providers::api::ProviderUser {
                subject: kakao_id.to_string(),
                nickname: format!("user {kakao_id}"),
                profile_image_url: None,
                thumbnail_image_url: None,
                email: None,
            },
            grant_sealed: None,
            now: 1_000,
            session_id: crate::domain::new_row_id(),
            session_expires_at: 9_000,
            token_hash: crate::domain::new_row_id(),
            token_expires_at: 5_000,
        }
    }

    /// Guards the statements' parameter binding: a batch whose later logins
    /// got NULL parameters would fail and be split, still answering every
    /// caller correctly, so only this tells a batch from its fallback.
    #[tokio::test]
    async fn a_full_batch_of_new_and_returning_logins_goes_in_as_one_transaction() {
        let path =
            std::env::temp_dir().join(format!("group-commit-{}.db", crate::domain::new_row_id()));
        let url = SecretString::from(format!("sqlite://{}?mode=rwc", path.display()));
        let db = crate::persistence::connect_and_migrate(&url).await.unwrap();
        let pool = db.write.get_sqlite_connection_pool().clone();
        let mut conn = pool.acquire().await.unwrap();
        for round in 0..2 {
            let (logins, answers): (Vec<Login>, Vec<_>) = (0..MAX_LOGINS as i64)
                .map(|i| {
                    let (answer, answered) = oneshot::channel();
                    ((record(1_000 + i), answer), answered)
                })
                .unzip();
            assert!(
                write_logins(&mut conn, &TEXTS, logins).await,
                "round {round}"
            );
            for (i, answered) in answers.into_iter().enumerate() {
                let (user, created) = answered.await.unwrap().unwrap();
                let kakao_id = (1_000 + i as i64).to_string();
                assert_eq!(
                    (user.kakao_id(), created),
                    (Some(kakao_id.as_str()), round == 0)
                );
            }
        }
        let mut counts = Vec::new();
        for query in [
            "SELECT COUNT(*) FROM users",
            "SELECT COUNT(*) FROM identities",
            "SELECT COUNT(*) FROM sessions",
            "SELECT COUNT(*) FROM refresh_tokens",
        ] {
            counts.push(
                sqlx::query_scalar::<_, i64>(query)
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap(),
            );
        }
        let n = MAX_LOGINS as i64;
        assert_eq!(counts, [n, n, 2 * n, 2 * n]);
        drop(conn);
        pool.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
