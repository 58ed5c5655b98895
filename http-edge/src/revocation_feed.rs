//! Follows the auth-service's `WatchRevocations` stream for as long as the
//! edge runs, so that a logout, a refresh-token reuse, an unlink or a key
//! retirement made on any replica evicts what this edge cached
//! ([`crate::verified_cache`], [`crate::jwks`]) within a second.
//!
//! It subscribes at start "from now" (`after_sequence` 0: the stream opens
//! with a RESET carrying the current position), applies each event and
//! remembers its `sequence` as the cursor. When the stream fails, ends, or
//! says nothing for [`STALE_AFTER`] (the service sends a heartbeat every
//! 5 s), the caches are marked down (dropped, and bypassed: `/auth/me` asks
//! the service per request) and it resubscribes after a backoff, resuming
//! from its cursor so that the revocations made meanwhile are replayed.
//! The caches are trusted again from the moment the service accepts the
//! subscription: they were emptied when the stream went down, and what is
//! cached from then on comes from answers the service gives after it.

use std::{sync::Arc, time::Duration};

use auth_proto::{
    Reason,
    v1::{RevocationEvent, WatchRevocationsRequest, revocation_event::Kind},
};
use tonic::Streaming;

use crate::{state::AppState, verified_cache::unix_now};

/// How long the stream may stay silent before it is taken as lost.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(12);
/// The first wait before resubscribing; doubled after each failure.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait before resubscribing.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Follows the stream forever (the caller aborts the task at shutdown).
pub(crate) async fn follow(state: Arc<AppState>) {
    let mut cursor = 0_i64;
    let mut backoff = MIN_BACKOFF;
    let mut failures = 0_u32;
    loop {
        let request = WatchRevocationsRequest {
            after_sequence: cursor,
        };
        match state.auth.clone().watch_revocations(request).await {
            Ok(stream) => {
                state.verified.set_up(true);
                state.metrics.revocation_feed_up(true);
                tracing::info!(after_sequence = cursor, "revocation feed: following");
                let received = follow_stream(&state, stream.into_inner(), &mut cursor).await;
                state.verified.set_up(false);
                state.metrics.revocation_feed_up(false);
                if received {
                    backoff = MIN_BACKOFF;
                    failures = 0;
                }
            }
            Err(status) => {
                failures += 1;
                // Once per outage at warn: the edge goes on without caching.
                let reason = Reason::of(&status).map_or("-", Reason::as_str);
                if failures == 1 {
                    tracing::warn!(grpc_code = ?status.code(), reason, "revocation feed: cannot subscribe; /auth/me asks the service per request");
                } else {
                    tracing::debug!(grpc_code = ?status.code(), reason, "revocation feed: cannot subscribe");
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Applies the stream's events until it fails, ends or goes silent;
/// `true` if at least one event came.
async fn follow_stream(
    state: &AppState,
    mut stream: Streaming<RevocationEvent>,
    cursor: &mut i64,
) -> bool {
    let mut received = false;
    loop {
        let why = match tokio::time::timeout(STALE_AFTER, stream.message()).await {
            Ok(Ok(Some(event))) => {
                apply(state, &event);
                *cursor = event.sequence;
                received = true;
                continue;
            }
            Ok(Ok(None)) => "the service ended the stream",
            Ok(Err(_)) => "the stream failed",
            Err(_) => "the stream went silent",
        };
        tracing::warn!(
            after_sequence = *cursor,
            "revocation feed down ({why}); /auth/me asks the service per request until it resumes"
        );
        return received;
    }
}

/// Applies one event to the caches (and a retired key to the key set).
fn apply(state: &AppState, event: &RevocationEvent) {
    state.verified.apply(event, unix_now());
    match event.kind() {
        Kind::KeyRetired => state.jwks.retire(&event.kid),
        // Cursor lost: a retirement may have been missed too.
        Kind::Reset => {
            let jwks = state.jwks.clone();
            tokio::spawn(async move { jwks.refresh_if_loaded().await });
        }
        _ => {}
    }
    if event.kind() != Kind::Heartbeat {
        tracing::debug!(
            kind = event.kind().as_str_name(),
            sequence = event.sequence,
            "revocation applied"
        );
    }
}
