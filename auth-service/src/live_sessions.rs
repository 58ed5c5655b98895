//! A short-lived, per-replica memory of sessions known to be live, so that
//! verifying an access token costs no database round trip on the hot path.
//!
//! A revocation made by this replica takes effect at once (its entries are
//! dropped); one made by another replica is seen here within
//! [`LIVE_SESSION_TTL`], which is far below the access token's lifetime.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// How long a "this session is live" answer is reused.
pub const LIVE_SESSION_TTL: Duration = Duration::from_secs(2);
/// Entries kept at most; the cache starts over when full.
const MAX_ENTRIES: usize = 100_000;

struct Entry {
    user_id: String,
    expires_at_ms: i64,
    checked: Instant,
}

/// Sessions recently confirmed live, by session id.
#[derive(Default)]
pub struct LiveSessions {
    entries: Mutex<HashMap<String, Entry>>,
}

impl LiveSessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `sid` was confirmed live for `user_id` less than
    /// [`LIVE_SESSION_TTL`] ago and has not passed its absolute end.
    pub fn is_known_live(&self, sid: &str, user_id: &str, now_ms: i64) -> bool {
        self.lock().get(sid).is_some_and(|e| {
            e.user_id == user_id
                && e.expires_at_ms > now_ms
                && e.checked.elapsed() < LIVE_SESSION_TTL
        })
    }

    /// Records that the database just said `sid` is live.
    pub fn remember(&self, sid: &str, user_id: &str, expires_at_ms: i64) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            sid.to_owned(),
            Entry {
                user_id: user_id.to_owned(),
                expires_at_ms,
                checked: Instant::now(),
            },
        );
    }

    /// Forgets a session this replica revoked.
    pub fn forget(&self, sid: &str) {
        self.lock().remove(sid);
    }

    /// Forgets every session of a user this replica revoked.
    pub fn forget_user(&self, user_id: &str) {
        self.lock().retain(|_, e| e.user_id != user_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_session_is_live_until_forgotten_or_expired() {
        let live = LiveSessions::default();
        live.remember("s1", "u1", 10_000);
        assert!(live.is_known_live("s1", "u1", 5_000));
        assert!(
            !live.is_known_live("s1", "u2", 5_000),
            "another user's session"
        );
        assert!(
            !live.is_known_live("s1", "u1", 10_000),
            "past its absolute end"
        );
        live.forget("s1");
        assert!(!live.is_known_live("s1", "u1", 5_000));
        live.remember("s2", "u1", 10_000);
        live.remember("s3", "u2", 10_000);
        live.forget_user("u1");
        assert!(!live.is_known_live("s2", "u1", 5_000));
        assert!(live.is_known_live("s3", "u2", 5_000));
    }
}
