//! Everything stored: SeaORM entities, the portable migrations, and small
//! repository functions that take `&impl ConnectionTrait` so a caller can
//! pass a transaction. Times are Unix milliseconds (`BIGINT`), which compare
//! the same way on SQLite and PostgreSQL.

pub mod group_commit;
pub mod identities;
pub mod login_state_claims;
pub mod login_write;
pub mod migration;
pub mod pg_group_commit;
pub mod refresh_tokens;
pub mod revocations;
mod revocations_migration;
pub mod session_rows;
pub mod signing_keys;
pub mod sqlite_checkpoints;
pub mod state_sealing_keys;
pub mod users;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use sea_orm::{ConnectOptions, DatabaseConnection, DbErr, RuntimeErr, sqlx};
use secrecy::{ExposeSecret, SecretString};

use group_commit::GroupCommit;

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// A duration in milliseconds, saturating.
pub fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The database, split by what a caller does with it. Every write and
/// every transaction goes through [`Database::write`]; plain reads that need
/// no transaction use [`Database::read`].
///
/// - SQLite allows one writer at a time. `write` is a pool of exactly one
///   connection, so writers queue in-process (in the pool) instead of
///   contending for SQLite's lock and sleeping in `busy_timeout`; `read` is a
///   small pool of connections that, thanks to write-ahead logging, read
///   while the writer writes (they see every committed write).
/// - PostgreSQL: both are the same pool (clones of one handle), sized to the
///   cores; the login's writes go through the group commit's own
///   connections instead (see [`pg_group_commit`]).
///
/// A read that decides a write (read-modify-write) belongs in a transaction
/// on `write`, or in a single conditional statement on it.
#[derive(Clone, Debug)]
pub struct Database {
    /// Every write and every transaction.
    pub write: DatabaseConnection,
    /// Reads outside a transaction.
    pub read: DatabaseConnection,
    /// The group commit of the login's writes: [`group_commit`] on SQLite,
    /// [`pg_group_commit`] on PostgreSQL. (`None`: each write alone on
    /// `write`.)
    pub group: Option<GroupCommit>,
}

impl Database {
    /// Claims a login state id (see [`login_state_claims::claim`]).
    pub async fn claim_login_state(&self, state_id: &str, expires_at: i64) -> Result<bool, DbErr> {
        match &self.group {
            Some(group) => group.claim(state_id, expires_at).await,
            None => login_state_claims::claim(&self.write, state_id, expires_at).await,
        }
    }

    /// Stores a login (see [`login_write::record`]).
    pub async fn record_login(
        &self,
        login: login_write::LoginRecord,
    ) -> Result<(users::UserView, bool), DbErr> {
        match &self.group {
            Some(group) => group.record(login).await,
            None => login_write::record(&self.write, login).await,
        }
    }

    /// Closes both pools.
    pub async fn close(self) -> Result<(), DbErr> {
        let same = self.read.get_database_backend() == sea_orm::DbBackend::Postgres;
        if !same {
            self.read.close().await?;
        }
        self.write.close().await
    }
}

/// The connection count of the PostgreSQL pool and of the SQLite readers:
/// the cores (a login holds a connection only while its statements run).
fn pool_size() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 16) as u32
}

/// `PRAGMA cache_size` of every SQLite connection: negative is KiB.
const SQLITE_CACHE_SIZE: &str = "-1024";

/// `PRAGMA wal_autocheckpoint` of the SQLite writer, in pages: how long the
/// log may grow before a commit copies it back itself. SQLite's default is
/// 1,000 pages (4 MiB); see [`sqlite_checkpoints`] for why ours is higher.
pub const SQLITE_WRITER_AUTOCHECKPOINT: i64 = 3_000;

/// Which connection a pool's options are for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The one SQLite writer (or any PostgreSQL connection).
    Writer,
    /// An SQLite reader.
    Reader,
}

fn options(url: &SecretString, role: Role) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.expose_secret().to_owned());
    options
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    // SQLite: write-ahead logging (readers never wait for the writer) with
    // synchronous=NORMAL, which stays consistent on a crash and costs one
    // fsync per checkpoint instead of one per transaction. The busy timeout
    // only matters when another process (a second replica, the `keys`
    // command) holds the write lock.
    // sqlx pings a connection on every acquire by default: one more round
    // trip per statement outside a transaction (on SQLite a hop to the
    // connection's worker thread and back). SQLite files are never dropped
    // by a server; PostgreSQL connections are checked only when they have
    // been idle long enough for a server or proxy to have closed them.
    if url.expose_secret().starts_with("postgres") {
        options.test_before_acquire_if_idle_for(Duration::from_secs(30));
    } else {
        options.test_before_acquire(false);
    }
    // Each connection's page cache is capped at 1 MiB (SQLite's default is
    // 2 MiB): with the writer and two readers that bounds our share to
    // 3 MiB, while the kernel's page cache keeps the rest of the file a
    // read() away. Measured: a login still costs the same CPU with
    // 1,000,000 users in the table.
    // The writer copies the log back only past SQLITE_WRITER_AUTOCHECKPOINT
    // pages: below that, the checkpoint task does it from a reader.
    options.map_sqlx_sqlite_opts(move |o| {
        let o = o
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .pragma("cache_size", SQLITE_CACHE_SIZE);
        match role {
            Role::Writer => o.pragma(
                "wal_autocheckpoint",
                SQLITE_WRITER_AUTOCHECKPOINT.to_string(),
            ),
            Role::Reader => o,
        }
    });
    options
}

/// Connects (SQLite or PostgreSQL, by URL scheme) and applies pending
/// migrations. Connection errors never include the URL, which may hold a
/// password.
pub async fn connect_and_migrate(url: &SecretString) -> anyhow::Result<Database> {
    let postgres = url.expose_secret().starts_with("postgres");
    let size = pool_size();
    let mut write_options = options(url, Role::Writer);
    if postgres {
        write_options.max_connections(size).min_connections(1);
    } else {
        write_options.max_connections(1).min_connections(1);
    }
    let write = connect(write_options)
        .await
        .context("connect to the database")?;
    if postgres {
        // A new PostgreSQL connection costs a TLS handshake and an
        // authentication exchange (tens of milliseconds each): open the
        // rest of the pool in the background while the one connection we
        // have migrates and loads the keys, instead of one by one in the
        // first requests (or in the start-up path).
        tokio::spawn(warm(write.clone(), size));
        migration::migrate(&write)
            .await
            .context("apply database migrations")?;
        let group =
            pg_group_commit::start(write.get_postgres_connection_pool().clone(), size as usize);
        return Ok(Database {
            read: write.clone(),
            write,
            group: Some(group),
        });
    }
    migration::migrate(&write)
        .await
        .context("apply database migrations")?;
    let mut read_options = options(url, Role::Reader);
    read_options.max_connections(size).min_connections(1);
    let read = connect(read_options)
        .await
        .context("connect to the database")?;
    let group = GroupCommit::start(write.get_sqlite_connection_pool().clone());
    sqlite_checkpoints::start(read.get_sqlite_connection_pool().clone());
    Ok(Database {
        write,
        read,
        group: Some(group),
    })
}

/// How often, and how far apart, opening a pool is retried while the
/// database answers "locked" or "not now" ([`is_busy`]).
const BUSY_RETRIES: u32 = 50;
const BUSY_BACKOFF: Duration = Duration::from_millis(20);

/// Connects a pool, retrying for about a second while the database is
/// busy: two replicas starting together on one fresh SQLite file once
/// failed the start with "database is locked" (code 5) from opening the
/// writer pool, the busy timeout notwithstanding; a PostgreSQL server still
/// starting answers 57P03 the same way.
async fn connect(options: ConnectOptions) -> Result<DatabaseConnection, DbErr> {
    let mut tries = 0;
    loop {
        match sea_orm::Database::connect(options.clone()).await {
            Err(DbErr::Conn(RuntimeErr::SqlxError(e))) if tries < BUSY_RETRIES && is_busy(&e) => {
                tries += 1;
                tokio::time::sleep(BUSY_BACKOFF).await;
            }
            result => return result,
        }
    }
}

/// Opens the other `size - 1` PostgreSQL connections at once (the pool
/// otherwise opens them one by one, on demand, in the first requests'
/// latency).
async fn warm(db: DatabaseConnection, size: u32) {
    let mut opening = tokio::task::JoinSet::new();
    for _ in 1..size {
        let pool = db.get_postgres_connection_pool().clone();
        opening.spawn(async move { pool.acquire().await });
    }
    // Hold every connection until all are open, so each task opens its own.
    let mut held = Vec::with_capacity(size as usize);
    while let Some(joined) = opening.join_next().await {
        match joined {
            Ok(Ok(conn)) => held.push(conn),
            // The first requests open what is missing; readiness reports
            // a database that is really down.
            Ok(Err(e)) => tracing::debug!(error = %e, "warming the database pool"),
            Err(_) => {}
        }
    }
}

/// Whether a database error means "cannot reach or use the database right
/// now" (the caller should answer UNAVAILABLE) rather than a bug.
pub fn is_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            matches!(
                &**e,
                sqlx::Error::Io(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed
                    | sqlx::Error::Tls(_)
            ) || is_busy(e)
        }
        _ => false,
    }
}

fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        // SQLITE_BUSY / SQLITE_LOCKED; PostgreSQL admin shutdown, cannot connect now.
        sqlx::Error::Database(db) => matches!(
            db.code().as_deref(),
            Some("5") | Some("6") | Some("57P01") | Some("57P03") | Some("53300")
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

    /// The vendored sqlx-core returns a SQLite connection to its pool
    /// without pinging it (vendor/README.md). This is what made the ping
    /// worth having: a transaction dropped half-way, its connection back in
    /// the one-connection writer pool. The next caller must find it outside
    /// that transaction, with nothing of it written, and able to write.
    #[tokio::test]
    async fn a_dropped_transaction_leaves_the_sqlite_writer_clean_for_the_next_caller() {
        let path = std::env::temp_dir().join(format!("release-{}.db", crate::domain::new_row_id()));
        let url = SecretString::from(format!("sqlite://{}?mode=rwc", path.display()));
        let db = connect_and_migrate(&url).await.unwrap();
        let insert = |id: &str| {
            Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                format!("INSERT INTO login_state_claims (state_id, expires_at) VALUES ('{id}', 1)"),
            )
        };
        let txn = db.write.begin().await.unwrap();
        txn.execute_raw(insert("dropped")).await.unwrap();
        drop(txn);
        let txn = db.write.begin().await.unwrap();
        txn.execute_raw(insert("kept")).await.unwrap();
        txn.commit().await.unwrap();
        let ids: Vec<String> = db
            .read
            .query_all_raw(Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "SELECT state_id FROM login_state_claims ORDER BY state_id",
            ))
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get_by_index(0).unwrap())
            .collect();
        assert_eq!(ids, ["kept"]);
        db.close().await.unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
