//! Per-replica memory of session families known to be live, so that
//! verifying an access token that missed the token cache, and GetUser with
//! a `session_id`, cost no database round trip. Used only while the
//! revocation feed is healthy: a revocation from any replica then evicts
//! the entry within a second (see [`crate::revocations`]); otherwise every
//! check goes to the database.

use std::{
    collections::HashMap,
    sync::{
        Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
};

/// Entries kept at most; the oldest-looking quarter goes when full.
const MAX_ENTRIES: usize = 16_384;

struct Entry {
    user_id: Box<str>,
    created_at_ms: i64,
    expires_at_ms: i64,
}

/// Sessions confirmed live by the database, by session id.
#[derive(Default)]
pub struct LiveSessions {
    entries: Mutex<HashMap<Box<str>, Entry>>,
    /// Bumped by every eviction (see [`crate::token_cache::TokenCache`]).
    generation: AtomicU64,
}

/// A session confirmed live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownLive {
    /// When the session started (Unix ms), for user-wide revocations.
    pub created_at_ms: i64,
}

impl LiveSessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<Box<str>, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current generation: read it before asking the database, pass it
    /// to [`Self::remember`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether `sid` is known live for `user_id` and has not passed its
    /// absolute end.
    pub fn known_live(&self, sid: &str, user_id: &str, now_ms: i64) -> Option<KnownLive> {
        self.lock()
            .get(sid)
            .filter(|e| &*e.user_id == user_id && e.expires_at_ms > now_ms)
            .map(|e| KnownLive {
                created_at_ms: e.created_at_ms,
            })
    }

    /// Records that the database said `sid` is live, unless an eviction
    /// happened since `generation` was read.
    pub fn remember(
        &self,
        sid: &str,
        user_id: &str,
        created_at_ms: i64,
        expires_at_ms: i64,
        generation: u64,
    ) {
        let mut entries = self.lock();
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            let mut n = 0usize;
            entries.retain(|_, _| {
                n += 1;
                !n.is_multiple_of(4)
            });
        }
        entries.insert(
            sid.into(),
            Entry {
                user_id: user_id.into(),
                created_at_ms,
                expires_at_ms,
            },
        );
    }

    /// Forgets every session `revoked(session_id, user_id)` names.
    pub fn evict(&self, revoked: impl Fn(&str, &str) -> bool) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|sid, e| !revoked(sid, &e.user_id));
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.evict(|_, _| true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_session_is_live_until_evicted_or_expired() {
        let live = LiveSessions::default();
        live.remember("s1", "u1", 1, 10_000, live.generation());
        assert!(live.known_live("s1", "u1", 5_000).is_some());
        assert!(
            live.known_live("s1", "u2", 5_000).is_none(),
            "another user's session"
        );
        assert!(
            live.known_live("s1", "u1", 10_000).is_none(),
            "past its absolute end"
        );
        live.remember("s2", "u1", 1, 10_000, live.generation());
        live.remember("s3", "u2", 1, 10_000, live.generation());
        live.evict(|_, user| user == "u1");
        assert!(live.known_live("s1", "u1", 5_000).is_none());
        assert!(live.known_live("s2", "u1", 5_000).is_none());
        assert!(live.known_live("s3", "u2", 5_000).is_some());
    }

    #[test]
    fn a_liveness_read_before_an_eviction_is_not_remembered() {
        let live = LiveSessions::default();
        let before = live.generation();
        live.evict(|sid, _| sid == "s1");
        live.remember("s1", "u1", 1, 10_000, before);
        assert!(live.known_live("s1", "u1", 0).is_none());
    }
}
