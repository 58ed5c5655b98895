//! The sweeper: keeps the session tables the size of the live data. Every
//! `SWEEP_INTERVAL` (60 s by default) each replica deletes, in batches of
//! [`BATCH`] rows (one short write each, so it never holds SQLite's single
//! writer for long; on PostgreSQL several replicas sweeping at once only
//! find less to do):
//!
//! - **ended session families** (revoked, or past their absolute end) with
//!   all their refresh tokens: none of them can be used any more (refreshing
//!   with one is then refused as an unknown token, `invalid_token`);
//! - **expired refresh tokens** of live families, once past their expiry by
//!   `REFRESH_REUSE_GRACE` (an expired token is refused like an unknown one;
//!   rotated tokens that have not expired stay, since reuse detection needs
//!   them), and a family left with no token at all (idle past its last
//!   token's end, so every access token it issued has expired too);
//! - **spent login-state claims**: a claim is needed only until its state
//!   expires (an expired state is refused before its claim is looked at).
//!
//! So a row goes at most one interval (plus the grace) after it can no
//! longer be used.

use std::sync::Arc;

use sea_orm::{DbErr, TransactionTrait};

use crate::{
    auth_core::AuthCore,
    persistence::{login_state_claims, ms, now_ms, refresh_tokens, session_rows},
};

/// Rows deleted per statement (per transaction).
pub const BATCH: u64 = 500;

/// What one sweep deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Session families.
    pub sessions: u64,
    /// Refresh tokens.
    pub refresh_tokens: u64,
    /// Login-state claims.
    pub claims: u64,
}

/// Sweeps every `SWEEP_INTERVAL`, starting one interval after start; a
/// failed sweep is logged and tried again at the next tick.
pub async fn run(core: Arc<AuthCore>) {
    let mut tick = tokio::time::interval(core.settings.sweep_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        match sweep(&core, now_ms()).await {
            Ok(swept) if swept != Swept::default() => tracing::debug!(
                sessions = swept.sessions,
                refresh_tokens = swept.refresh_tokens,
                claims = swept.claims,
                "swept ended sessions, expired tokens and spent claims"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweeping sessions and claims failed"),
        }
    }
}

/// Deletes, as of `now` (Unix ms), everything that can no longer be used
/// (see the module docs), batch by batch.
pub async fn sweep(core: &AuthCore, now: i64) -> Result<Swept, DbErr> {
    let mut swept = Swept::default();
    loop {
        let ids = session_rows::ended_ids(&core.db.read, now, BATCH).await?;
        if ids.is_empty() {
            break;
        }
        let txn = core.db.write.begin().await?;
        let (families, tokens) = session_rows::delete_with_tokens(&txn, &ids).await?;
        txn.commit().await?;
        swept.sessions += families;
        swept.refresh_tokens += tokens;
        if (ids.len() as u64) < BATCH {
            break;
        }
        tokio::task::yield_now().await;
    }
    let expired_before = now.saturating_sub(ms(core.settings.refresh_reuse_grace));
    loop {
        let rows = refresh_tokens::expired_batch(&core.db.read, expired_before, BATCH).await?;
        if rows.is_empty() {
            break;
        }
        let full = rows.len() as u64 == BATCH;
        let (ids, mut families): (Vec<String>, Vec<String>) = rows.into_iter().unzip();
        families.sort_unstable();
        families.dedup();
        let txn = core.db.write.begin().await?;
        swept.refresh_tokens += refresh_tokens::delete_ids(&txn, &ids).await?;
        swept.sessions += session_rows::delete_tokenless(&txn, &families).await?;
        txn.commit().await?;
        if !full {
            break;
        }
        tokio::task::yield_now().await;
    }
    loop {
        let claims = login_state_claims::purge_expired(&core.db.write, now, BATCH).await?;
        swept.claims += claims;
        if claims < BATCH {
            break;
        }
        tokio::task::yield_now().await;
    }
    Ok(swept)
}
