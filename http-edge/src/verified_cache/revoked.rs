//! [`Revoked`]: the revocations learnt from the feed (session ids, users
//! with the time of their revocation, retired key ids), each kept until
//! every access token it could cover has expired, and what they say of a
//! verified token ([`Standing`]).

use super::{
    Standing, Verified,
    bounded::{Bounded, Expiring},
};

/// Entries of each revocation set (~100 bytes each).
const MAX_REVOKED: usize = 32_768;

/// A revoked session or retired key: until when it is remembered.
#[derive(Debug, Clone, Copy)]
struct Forget {
    at: i64,
}

#[derive(Debug, Clone, Copy)]
struct RevokedUser {
    revoked_at: i64,
    forget_at: i64,
}

impl Expiring for Forget {
    fn expires_at(&self) -> i64 {
        self.at
    }
}
impl Expiring for RevokedUser {
    fn expires_at(&self) -> i64 {
        self.forget_at
    }
}

/// The three revocation sets.
pub(super) struct Revoked {
    sessions: Bounded<String, Forget>,
    users: Bounded<String, RevokedUser>,
    kids: Bounded<String, Forget>,
}

impl Default for Revoked {
    fn default() -> Self {
        Revoked {
            sessions: Bounded::new(MAX_REVOKED),
            users: Bounded::new(MAX_REVOKED),
            kids: Bounded::new(MAX_REVOKED),
        }
    }
}

impl Revoked {
    /// What the sets say of `v`.
    pub(super) fn standing(&self, v: &Verified) -> Standing {
        if self.kids.map.contains_key(&v.kid) {
            return Standing::KeyRetired;
        }
        if self.sessions.map.contains_key(&v.sid) {
            return Standing::SessionRevoked;
        }
        match self.users.map.get(&v.sub) {
            Some(r) if v.iat < r.revoked_at => Standing::SessionRevoked,
            Some(r) if v.iat == r.revoked_at => Standing::AskService,
            _ => Standing::Clear,
        }
    }

    /// Remembers session `sid` until `forget_at` (nothing if that is past);
    /// `true` if live entries had to be dropped to make room.
    pub(super) fn session(&mut self, sid: String, forget_at: i64, now: i64) -> bool {
        forget_at > now && self.sessions.insert(sid, Forget { at: forget_at }, now)
    }

    /// Remembers that `user` was revoked at `revoked_at` (the latest
    /// revocation wins) until `forget_at`; as [`Revoked::session`].
    pub(super) fn user(&mut self, user: &str, revoked_at: i64, forget_at: i64, now: i64) -> bool {
        let revoked_at = self
            .users
            .map
            .get(user)
            .map_or(revoked_at, |r| r.revoked_at.max(revoked_at));
        let entry = RevokedUser {
            revoked_at,
            forget_at,
        };
        forget_at > now && self.users.insert(user.to_owned(), entry, now)
    }

    /// Remembers that key `kid` is retired until `forget_at`; `true` if
    /// live entries had to be dropped to make room.
    pub(super) fn key(&mut self, kid: &str, forget_at: i64, now: i64) -> bool {
        self.kids
            .insert(kid.to_owned(), Forget { at: forget_at }, now)
    }
}
