//! SQLite checkpoints mostly off the writer. SQLite copies the
//! write-ahead log back into the database file (and syncs it) inside the
//! commit that pushes the log past 1,000 pages: on our one writer
//! connection, every login waiting behind that commit waits for the copy.
//! With a million users each login dirties pages of its own, so the copies
//! grow with the traffic (the bench's 1M-user logins ran at 1,164-1,714/s
//! against 1,805-2,322/s with this task). This task runs a `PASSIVE`
//! checkpoint from a reader connection every [`INTERVAL`]: it copies what
//! no reader still needs, never waits for a lock and never blocks the
//! writer. The writer keeps SQLite's own trigger, which then finds the log
//! already copied but for the last few pages, and restarts the log from
//! its beginning: without that restart (which only a checkpoint between
//! two writes can allow) the log would grow for as long as writes keep
//! coming.

use std::time::Duration;

use sea_orm::sqlx::{self, SqlitePool};

/// How often the log is copied back. At our peak (about 2,500 logins/s)
/// a quarter second is a few MiB of log.
pub const INTERVAL: Duration = Duration::from_millis(250);

/// Starts the task; it ends when the pool is closed.
pub fn start(pool: SqlitePool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !pool.is_closed() {
            tick.tick().await;
            if let Err(err) = checkpoint(&pool).await {
                if pool.is_closed() {
                    break;
                }
                tracing::warn!(error = %err, "SQLite checkpoint failed; retrying");
            }
        }
    });
}

/// One `PASSIVE` checkpoint: (frames in the log, frames copied).
pub async fn checkpoint(pool: &SqlitePool) -> Result<(i64, i64), sqlx::Error> {
    let (_busy, log, copied): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(pool)
        .await?;
    Ok((log, copied))
}
