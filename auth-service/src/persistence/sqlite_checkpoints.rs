//! SQLite checkpoints off the writer. SQLite copies the write-ahead log
//! back into the database file (and syncs both) inside the commit that
//! pushes the log past `wal_autocheckpoint` pages: on our one writer
//! connection, every login waiting behind that commit waits for the copy.
//! With a million users each login dirties pages of its own, so the copies
//! grow with the traffic. This task runs a `PASSIVE` checkpoint from a
//! reader connection every [`INTERVAL`]: it copies what no reader still
//! needs, never waits for a lock and never blocks the writer. Once the log
//! is all copied, the writer's next transaction starts it over from its
//! beginning (SQLite does that whenever no reader still reads from the
//! log), so the log stays small without the writer copying anything.
//!
//! The writer's own trigger is raised from SQLite's 1,000 pages to
//! [`super::SQLITE_WRITER_AUTOCHECKPOINT`] (about 12 MiB of log): a quarter
//! second of logins with a million users writes more than 1,000 pages, so
//! at the default the writer still copied (and synced) most of the log
//! itself, on the path every login queues behind (`perf`: the writer
//! thread in `fsync`). Higher is not better: when the writer does copy,
//! it copies (and syncs) more, which is a login's p99. Measured with
//! `./scripts/bench --target ours --users 1m`, same machine, same hour:
//!
//! | trigger (pages) | 1M-user phase, logins/s | p50 1M / 1k | 1k login p99 |
//! |---|---|---|---|
//! | 1,000 | 2,880-3,760 | 1.06-1.74 | 25-26 ms |
//! | 3,000 | 3,298-3,396 | 1.13-1.15 | 30-32 ms |
//! | 5,000 | 3,333-3,481 | 0.95-0.99 | 39-41 ms |
//! | 10,000 | 3,301-4,060 | 0.87-1.25 | 37-39 ms |
//!
//! The trigger remains the bound on the log while this task cannot keep
//! up (a reader holding an old snapshot, a stalled runtime).

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
