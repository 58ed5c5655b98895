//! PostgreSQL group commit for the two writes of every login: the state
//! claim and the completing write, the same handle as SQLite's
//! ([`super::group_commit::GroupCommit`]).
//!
//! Through the pool, each write was a statement, its own commit (a WAL
//! flush) and a second round trip: SQLx pings a connection (`Sync`, wait
//! for `ReadyForQuery`) every time one goes back to the pool. Here a few
//! worker tasks (one per core) each own a connection of their own, opened
//! at start beside the pool and never returned to it, and share one queue:
//! a worker takes every write waiting (up to [`MAX_JOBS`]) and stores all
//! the claims in one `INSERT .. SELECT unnest(..) ON CONFLICT DO NOTHING
//! RETURNING` and all the logins in one statement
//! ([`super::login_write::POSTGRES`], array parameters), so N concurrent
//! logins cost two statements and two commits per batch, not 4N round trips
//! and 2N commits. While one worker's batch is in flight the next waiting
//! writes go to another; an idle service pays nothing extra (a lone write
//! is a batch of one).
//!
//! Only two statement texts are ever sent, whatever the batch size, so
//! each connection prepares them once. Each batch is sorted by key, so
//! concurrent batches lock rows in the same order; the logins of one
//! identity in one batch go in successive statements (a statement may not
//! upsert a row twice). A statement that fails is atomic (nothing went in)
//! and each of its writes is retried on its own, so every caller gets its
//! own answer and one bad write does not sink the others; a lost
//! connection fails the writes in hand (UNAVAILABLE) and the worker opens
//! another for the next batch. Claims commit without waiting for their WAL
//! flush (`ASYNC_CLAIMS`); logins always wait for theirs.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use sea_orm::{
    DbErr, QueryResult, RuntimeErr,
    sqlx::{self, Connection, PgConnection, PgPool},
};
use tokio::sync::{Mutex, mpsc};

use super::{
    group_commit::{Answer, GroupCommit, Job, MAX_JOBS, QUEUE},
    login_write::{self, LoginIds, LoginRecord, PgLogins, sqlx_err},
    users::UserView,
};

/// Claims every id given, once each; returns the ids that went in.
const CLAIMS: &str = "INSERT INTO login_state_claims (state_id, expires_at) \
SELECT * FROM unnest($1::text[], $2::int8[]) ON CONFLICT DO NOTHING RETURNING state_id";

/// [`CLAIMS`], committed without waiting for the WAL flush: the statement
/// sets `synchronous_commit = off` for its own (implicit) transaction only,
/// so nothing stays set on the connection (and a pooler in transaction mode
/// hands nothing on). The claim is visible to every other connection, so
/// every replica, as soon as the statement returns; only a crash of the
/// database server itself (or a fail-over) in the next few hundred
/// milliseconds could lose it, and then the provider's single-use, PKCE-bound
/// code still refuses a second exchange. It takes one WAL flush (from a
/// tenth of a millisecond to several, by the disk) out of every login's
/// path. The completing
/// write (user, session, refresh token) keeps the durable commit.
const ASYNC_CLAIMS: &str = "WITH async_commit AS \
(SELECT set_config('synchronous_commit', 'off', true)) \
INSERT INTO login_state_claims (state_id, expires_at) \
SELECT c.state_id, c.expires_at FROM unnest($1::text[], $2::int8[]) AS c(state_id, expires_at), \
async_commit ON CONFLICT DO NOTHING RETURNING state_id";

/// The claim statement a connection takes: [`ASYNC_CLAIMS`] where the
/// server lets a transaction turn off `synchronous_commit` (PostgreSQL
/// does; a compatible engine may not), [`CLAIMS`] elsewhere. Asked once per
/// connection, when the worker opens it.
async fn claim_statement(conn: &mut PgConnection) -> &'static str {
    let probe = sqlx::query("SELECT set_config('synchronous_commit', 'off', true)");
    match probe.execute(&mut *conn).await {
        Ok(_) => ASYNC_CLAIMS,
        Err(e) => {
            tracing::debug!(error = %e, "claims keep the durable commit");
            CLAIMS
        }
    }
}

type Claim = (String, i64, Answer<bool>);

/// How a batch went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// In one statement.
    Whole,
    /// The statement failed; its writes were retried one by one.
    Split,
    /// The connection was lost; every write in hand failed.
    Lost,
}
type Login = (LoginRecord, Answer<(UserView, bool)>);

/// Starts `workers` worker tasks writing through connections opened with
/// `pool`'s options (the pool itself is left to every other query).
pub fn start(pool: PgPool, workers: usize) -> GroupCommit {
    let (queue, jobs) = mpsc::channel(QUEUE);
    let jobs = Arc::new(Mutex::new(jobs));
    for _ in 0..workers.max(1) {
        tokio::spawn(work(pool.clone(), jobs.clone()));
    }
    GroupCommit { queue }
}

async fn work(pool: PgPool, jobs: Arc<Mutex<mpsc::Receiver<Job>>>) {
    // Opened now, in the background, rather than in the first logins.
    let mut conn = open_writer(&pool).await.ok();
    let mut batch = Vec::with_capacity(MAX_JOBS);
    // Closing the pool (`Database::close`) closes this connection too.
    let closed = pool.close_event();
    tokio::pin!(closed);
    let mut open = true;
    loop {
        // The lock is held while waiting: the other workers queue behind
        // this one and take what arrives while its batch is in flight.
        // (Both futures are cancel-safe.)
        let receive = async { jobs.lock().await.recv_many(&mut batch, MAX_JOBS).await };
        let received = if open {
            tokio::select! {
                received = receive => received,
                () = &mut closed => {
                    open = false;
                    if let Some((conn, _)) = conn.take() {
                        let _ = conn.close().await;
                    }
                    continue;
                }
            }
        } else {
            receive.await
        };
        if received == 0 {
            return;
        }
        let (mut claims, mut logins) = (Vec::new(), Vec::new());
        for job in batch.drain(..) {
            match job {
                Job::Claim {
                    state_id,
                    expires_at,
                    answer,
                } => claims.push((state_id, expires_at, answer)),
                Job::Login { record, answer } => logins.push((*record, answer)),
            }
        }
        if pool.is_closed() {
            conn = None;
            fail(
                claims.into_iter().map(|c| c.2),
                unavailable("the pool is closed"),
            );
            fail(
                logins.into_iter().map(|l| l.1),
                unavailable("the pool is closed"),
            );
            continue;
        }
        let (c, claim_sql) = match conn.as_mut() {
            Some((c, sql)) => (c, *sql),
            None => match open_writer(&pool).await {
                Ok(opened) => {
                    let (c, sql) = conn.insert(opened);
                    (c, *sql)
                }
                Err(e) => {
                    let message = e.to_string();
                    fail(claims.into_iter().map(|c| c.2), unavailable(&message));
                    fail(logins.into_iter().map(|l| l.1), unavailable(&message));
                    continue;
                }
            },
        };
        let mut healthy =
            claims.is_empty() || write_claims(c, claim_sql, claims).await != Outcome::Lost;
        if !healthy {
            fail(logins.into_iter().map(|l| l.1), lost());
        } else if !logins.is_empty() {
            healthy = write_logins(c, logins).await != Outcome::Lost;
        }
        if !healthy {
            conn = None;
        }
    }
}

/// A worker's connection and the claim statement it takes.
async fn open_writer(pool: &PgPool) -> Result<(PgConnection, &'static str), sqlx::Error> {
    let mut conn = connect(pool).await?;
    let claims = claim_statement(&mut conn).await;
    Ok((conn, claims))
}

/// A connection of the worker's own, with the pool's options.
async fn connect(pool: &PgPool) -> Result<PgConnection, sqlx::Error> {
    let options = pool.connect_options();
    tokio::time::timeout(
        pool.options().get_acquire_timeout(),
        PgConnection::connect_with(&options),
    )
    .await
    .unwrap_or(Err(sqlx::Error::PoolTimedOut))
}

/// Whether the connection can no longer be trusted (rather than one
/// statement having failed on a healthy connection).
fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        // admin_shutdown, crash_shutdown, cannot_connect_now
        sqlx::Error::Database(db) => db.code().is_some_and(|c| c.starts_with("57P")),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
}

/// The outcome of a statement that failed alone.
fn failed(e: &sqlx::Error) -> Outcome {
    if connection_lost(e) {
        Outcome::Lost
    } else {
        Outcome::Split
    }
}

fn unavailable(message: &str) -> impl Fn() -> DbErr + '_ {
    move || DbErr::Conn(RuntimeErr::Internal(format!("database writer: {message}")))
}

fn lost() -> impl Fn() -> DbErr {
    || {
        DbErr::Conn(RuntimeErr::Internal(
            "the database connection was lost".into(),
        ))
    }
}

fn fail<T>(answers: impl Iterator<Item = Answer<T>>, err: impl Fn() -> DbErr) {
    for answer in answers {
        let _ = answer.send(Err(err()));
    }
}

/// Every claim in one statement (`sql`: [`CLAIMS`] or [`ASYNC_CLAIMS`]).
/// An id claimed twice in one batch is won by one of its claims.
async fn write_claims(
    conn: &mut PgConnection,
    sql: &'static str,
    mut claims: Vec<Claim>,
) -> Outcome {
    claims.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let ids: Vec<String> = claims.iter().map(|c| c.0.clone()).collect();
    let expiries: Vec<i64> = claims.iter().map(|c| c.1).collect();
    let query = sqlx::query(sql).bind(ids).bind(expiries);
    match query.fetch_all(&mut *conn).await {
        Ok(rows) => {
            let mut won = HashSet::with_capacity(rows.len());
            for row in rows {
                if let Ok(id) = sqlx::Row::try_get::<String, _>(&row, 0) {
                    won.insert(id);
                }
            }
            for (state_id, _, answer) in claims {
                let _ = answer.send(Ok(won.remove(&state_id)));
            }
            Outcome::Whole
        }
        Err(e) if claims.len() > 1 && !connection_lost(&e) => {
            let mut claims = claims.into_iter();
            while let Some(claim) = claims.next() {
                if Box::pin(write_claims(conn, sql, vec![claim])).await == Outcome::Lost {
                    fail(claims.map(|c| c.2), lost());
                    return Outcome::Lost;
                }
            }
            Outcome::Split
        }
        Err(e) => {
            let outcome = failed(&e);
            let mut answers = claims.into_iter().map(|c| c.2);
            if let Some(first) = answers.next() {
                let _ = first.send(Err(sqlx_err(e)));
            }
            fail(answers, lost());
            outcome
        }
    }
}

/// Every login in as few statements as the batch allows: the k-th login
/// of an identity goes in the k-th statement. `Whole` when every statement
/// went in whole.
async fn write_logins(conn: &mut PgConnection, logins: Vec<Login>) -> Outcome {
    let mut rounds: Vec<Vec<Login>> = Vec::new();
    let mut seen: HashMap<(&'static str, String), usize> = HashMap::new();
    for login in logins {
        let key = (login.0.provider, login.0.profile.subject.clone());
        let round = seen.entry(key).and_modify(|k| *k += 1).or_insert(0);
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push(login);
    }
    let mut outcome = Outcome::Whole;
    let mut rounds = rounds.into_iter();
    while let Some(round) = rounds.next() {
        match write_round(conn, round).await {
            Outcome::Whole => {}
            Outcome::Split => outcome = Outcome::Split,
            Outcome::Lost => {
                fail(rounds.flatten().map(|l| l.1), lost());
                return Outcome::Lost;
            }
        }
    }
    outcome
}

/// One statement for logins of distinct identities.
async fn write_round(conn: &mut PgConnection, mut logins: Vec<Login>) -> Outcome {
    logins.sort_unstable_by(|a, b| {
        (a.0.provider, &a.0.profile.subject).cmp(&(b.0.provider, &b.0.profile.subject))
    });
    let ids: Vec<LoginIds> = logins.iter().map(|_| LoginIds::new()).collect();
    let mut values = PgLogins::default();
    for ((record, _), ids) in logins.iter().zip(&ids) {
        values.push(record, ids);
    }
    match values.query().fetch_all(&mut *conn).await {
        // One row per login, in the order given.
        Ok(rows) if rows.len() == logins.len() => {
            for (((record, answer), ids), row) in logins.into_iter().zip(ids).zip(rows) {
                let stored =
                    login_write::stored_user(Some(QueryResult::from(row)), &ids.user, &record);
                let _ = answer.send(stored);
            }
            Outcome::Whole
        }
        // Committed, yet not one row per login: cannot happen with this
        // statement; never retried, since the rows are in.
        Ok(_) => {
            fail(logins.into_iter().map(|l| l.1), || DbErr::RecordNotInserted);
            Outcome::Whole
        }
        Err(e) if logins.len() > 1 && !connection_lost(&e) => {
            let mut logins = logins.into_iter();
            while let Some(login) = logins.next() {
                if Box::pin(write_round(conn, vec![login])).await == Outcome::Lost {
                    fail(logins.map(|l| l.1), lost());
                    return Outcome::Lost;
                }
            }
            Outcome::Split
        }
        Err(e) => {
            let outcome = failed(&e);
            let mut answers = logins.into_iter().map(|l| l.1);
            if let Some(first) = answers.next() {
                let _ = first.send(Err(sqlx_err(e)));
            }
            fail(answers, lost());
            outcome
        }
    }
}

#[cfg(test)]
mod tests;
