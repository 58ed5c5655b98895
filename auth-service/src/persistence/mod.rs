//! Everything stored: SeaORM entities, the portable migrations, and small
//! repository functions that take `&impl ConnectionTrait` so a caller can
//! pass a transaction. Times are Unix milliseconds (`BIGINT`), which compare
//! the same way on SQLite and PostgreSQL.

pub mod login_attempts;
pub mod migration;
pub mod refresh_tokens;
pub mod revocations;
mod revocations_migration;
pub mod session_rows;
pub mod signing_keys;
pub mod users;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr, RuntimeErr, sqlx};
use secrecy::{ExposeSecret, SecretString};

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

/// Connects (SQLite or PostgreSQL, by URL scheme) and applies pending
/// migrations. Connection errors never include the URL, which may hold a
/// password.
pub async fn connect_and_migrate(url: &SecretString) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.expose_secret().to_owned());
    options
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    // SQLite: write-ahead logging (readers never wait for the writer) with
    // synchronous=NORMAL, which stays consistent on a crash and costs one
    // fsync per checkpoint instead of one per transaction.
    options.map_sqlx_sqlite_opts(|o| {
        o.journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
    });
    if url.expose_secret().starts_with("postgres") {
        options.max_connections(16).min_connections(1);
    }
    let db = Database::connect(options)
        .await
        .context("connect to the database")?;
    migration::migrate(&db)
        .await
        .context("apply database migrations")?;
    Ok(db)
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
