//! The loop that reads the revocation log every [`POLL_INTERVAL`], so that
//! this replica applies revocations made elsewhere; it also purges old rows.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use sea_orm::DbErr;

use crate::{
    auth_core::AuthCore,
    persistence::{now_ms, revocations},
};

use super::Revocation;

/// How often the log is read.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// A read slower than this counts as failed.
const POLL_TIMEOUT: Duration = Duration::from_secs(1);
/// Rows read at once.
const BATCH: u64 = 500;
/// How often old rows are purged and old revocations forgotten.
const PURGE_INTERVAL: Duration = Duration::from_secs(60);
/// After the log could not be read for this long, the caches are dropped
/// when it can again (what they hold was checked long ago).
const RESYNC_AFTER: Duration = Duration::from_secs(60);

/// Follows the revocation log until the task is aborted. `first_read` is
/// told when the log has been read once, so the caller can start serving
/// with a feed that is already healthy (a `WatchRevocations` subscriber
/// arriving in the first poll would otherwise be refused).
pub async fn follow(core: Arc<AuthCore>, first_read: tokio::sync::oneshot::Sender<()>) {
    let mut first_read = Some(first_read);
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut started = false;
    let mut failing = false;
    let mut last_purge = Instant::now();
    loop {
        tick.tick().await;
        if core.revocations.suspended() {
            continue;
        }
        let read = tokio::time::timeout(POLL_TIMEOUT, read_once(&core, &mut started)).await;
        match read {
            Ok(Ok(())) => {
                if let Some(tell) = first_read.take() {
                    let _ = tell.send(());
                }
                if failing {
                    tracing::info!("revocation log readable again");
                    failing = false;
                }
                if core
                    .revocations
                    .mark_read()
                    .is_some_and(|since| since >= RESYNC_AFTER)
                {
                    core.revocations.clear_caches();
                }
            }
            Ok(Err(e)) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "reading the revocation log failed; checking the database per request");
            }
            Err(_) if !failing => {
                failing = true;
                tracing::warn!(
                    "reading the revocation log timed out; checking the database per request"
                );
            }
            _ => {}
        }
        if last_purge.elapsed() >= PURGE_INTERVAL {
            last_purge = Instant::now();
            purge(&core).await;
        }
    }
}

async fn read_once(core: &AuthCore, started: &mut bool) -> Result<(), DbErr> {
    let feed = &core.revocations;
    if !*started {
        let recent = revocations::since(&core.db.read, now_ms() - feed.keep_ms()).await?;
        let position = match recent.first() {
            Some(first) => first.seq - 1,
            None => revocations::bounds(&core.db.read).await?.1.unwrap_or(0),
        };
        let recent = recent
            .into_iter()
            .filter_map(Revocation::from_row)
            .collect();
        feed.start_at(position, recent);
        *started = true;
        return Ok(());
    }
    let (mut after, mut holes) = feed.cursor();
    loop {
        let rows = revocations::after(&core.db.read, after, &holes, BATCH).await?;
        let full = rows.len() as u64 == BATCH;
        after = rows.last().map_or(after, |r| r.seq.max(after));
        holes.clear();
        let fresh = feed.accept(rows.into_iter().filter_map(Revocation::from_row).collect());
        let retired: Vec<&str> = fresh.iter().filter_map(|r| r.kid.as_deref()).collect();
        if !retired.is_empty() {
            for kid in &retired {
                core.keys.forget(kid);
            }
            if let Err(e) = core.keys.reload(&core.db.read).await {
                tracing::warn!(error = %e, "reloading signing keys after a retirement failed");
            }
        }
        if !full {
            return Ok(());
        }
    }
}

async fn purge(core: &AuthCore) {
    let now = now_ms();
    core.revocations.expire(now);
    match revocations::purge(&core.db.write, now - core.revocations.keep_ms()).await {
        Ok(n) if n > 0 => tracing::debug!(purged = n, "old revocations purged"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "purging old revocations failed"),
    }
}
