//! What `/auth/me` may answer without asking the auth-service: access
//! tokens already verified, and the profile of each live session, both kept
//! only while the revocation feed ([`crate::revocation_feed`]) is up.
//!
//! - **Tokens**, by the SHA-256 of the token (a 64-bit hash could be made to
//!   collide: a forged token must never find a verified one's entry), hold
//!   the claims `/auth/me` needs, until the token's `exp`.
//! - **Profiles**, by session id, hold the `GetUser` answer as the JSON
//!   body, for [`PROFILE_TTL`].
//! - **Revoked** session ids, users (with the time of the revocation) and
//!   retired key ids, learnt from the feed, are kept until every access
//!   token they could cover has expired: a token they cover is refused
//!   without a call, and is never cached again.
//!
//! A link or an unlink of an identity through this edge evicts the user's
//! profiles here at once; other edges, which no revocation tells, show it
//! once their copy is [`PROFILE_TTL`] old.
//!
//! Each revocation evicts what it covers; a `RESET`, or the feed going
//! down, drops both caches and starts a new *generation*: an answer fetched
//! before that (a `GetUser` in flight while the feed was down) is never
//! cached. While the feed is down nothing is read from or written to the
//! caches: `/auth/me` asks the service per request, as it did before caching.
//!
//! Every map is bounded; past its bound, expired entries go first, then
//! arbitrary ones (a cache miss costs one `GetUser`; a revocation entry
//! dropped this way also starts a new generation, so that no answer in
//! flight can be cached against it).

mod bounded;
mod revoked;

use std::{
    sync::{
        RwLock, RwLockReadGuard, RwLockWriteGuard,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use auth_proto::{
    AccessClaims,
    claims::ACCESS_TOKEN_LEEWAY_SECS,
    v1::{RevocationEvent, revocation_event::Kind},
};
use hyper::body::Bytes;
use sha2::{Digest, Sha256};

use bounded::{Bounded, Expiring};
use revoked::Revoked;

/// Verified tokens kept (each ~200 bytes: ~3 MiB when full). A browser
/// holds one access token at a time and refreshes it every 15 minutes, so
/// this covers ~16k active sessions per edge; past it a miss costs one
/// signature check and one `GetUser`.
pub(crate) const MAX_TOKENS: usize = 16_384;
/// Profiles kept (each ~400 bytes of JSON and key: ~6 MiB when full).
pub(crate) const MAX_PROFILES: usize = 16_384;
/// How long a profile is answered from memory. Revocations are pushed by
/// the feed, so this bounds only how stale the *profile fields* may be
/// (nickname, image, `last_login_at`: they change at a login, which starts
/// a new session and so a new entry anyway), and how long an idle session
/// holds memory. A minute keeps a page that polls `/auth/me` on one call a
/// minute.
pub(crate) const PROFILE_TTL: Duration = Duration::from_secs(60);
/// The access-token lifetime assumed until a longer one is seen (the
/// service's default `ACCESS_TOKEN_TTL`).
const DEFAULT_ACCESS_TTL: i64 = 15 * 60;

/// The key of a token: its SHA-256.
pub(crate) type TokenKey = [u8; 32];

/// The SHA-256 of `token`.
pub(crate) fn token_key(token: &str) -> TokenKey {
    Sha256::digest(token.as_bytes()).into()
}

/// Seconds since the epoch.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The claims of a verified token that `/auth/me` and the revocations need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verified {
    pub(crate) sub: String,
    pub(crate) sid: String,
    pub(crate) kid: String,
    pub(crate) iat: i64,
    pub(crate) exp: i64,
}

impl Verified {
    pub(crate) fn new(claims: AccessClaims, kid: String) -> Self {
        Verified {
            sub: claims.sub,
            sid: claims.sid,
            kid,
            iat: claims.iat,
            exp: claims.exp,
        }
    }
}

/// What the revocations known here say of a verified token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Nothing known revokes it.
    Clear,
    /// Its session, or its user before it was issued, is revoked.
    SessionRevoked,
    /// Its signing key is retired.
    KeyRetired,
    /// Its user was revoked in the second it was issued: only the service
    /// can tell which came first, so ask it and cache nothing.
    AskService,
}

/// What the caches hold for one token.
pub(crate) enum Lookup {
    /// The stream is down: the caches cannot be vouched for.
    Untrusted,
    /// Neither the token nor its profile.
    Miss { generation: u64 },
    /// The token is verified, its profile is not cached.
    Token { generation: u64, verified: Verified },
    /// The profile's JSON body.
    Hit(Bytes),
}

struct Profile {
    user_id: String,
    body: Bytes,
    expires_at: i64,
}

impl Expiring for Verified {
    fn expires_at(&self) -> i64 {
        self.exp
    }
}
impl Expiring for Profile {
    fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

struct Inner {
    generation: u64,
    tokens: Bounded<TokenKey, Verified>,
    profiles: Bounded<String, Profile>,
    revoked: Revoked,
}

impl Inner {
    fn standing(&self, v: &Verified) -> Standing {
        self.revoked.standing(v)
    }

    /// Drops both caches and starts a new generation.
    fn drop_caches(&mut self) {
        self.tokens.clear();
        self.profiles.clear();
        self.generation += 1;
    }

    fn evict_session(&mut self, sid: &str) {
        self.profiles.map.remove(sid);
        self.tokens.map.retain(|_, v| v.sid != sid);
    }
}

/// The caches and revocation sets, shared by every request and the feed.
pub(crate) struct VerifiedCache {
    /// Whether the revocation feed is up (the caches are trusted).
    up: AtomicBool,
    /// The longest access-token lifetime (`exp - iat`) seen.
    max_access_ttl: AtomicI64,
    inner: RwLock<Inner>,
}

impl Default for VerifiedCache {
    fn default() -> Self {
        VerifiedCache {
            up: AtomicBool::new(false),
            max_access_ttl: AtomicI64::new(DEFAULT_ACCESS_TTL),
            inner: RwLock::new(Inner {
                generation: 0,
                tokens: Bounded::new(MAX_TOKENS),
                profiles: Bounded::new(MAX_PROFILES),
                revoked: Revoked::default(),
            }),
        }
    }
}

impl VerifiedCache {
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the caches are trusted (the feed is up).
    pub(crate) fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// The feed is up (trust from now on) or down (drop both caches and
    /// stop trusting them).
    pub(crate) fn set_up(&self, up: bool) {
        let mut inner = self.write();
        if !up {
            inner.drop_caches();
        }
        self.up.store(up, Ordering::Release);
    }

    /// What the caches hold for the token with `key`, at `now`.
    pub(crate) fn lookup(&self, key: &TokenKey, now: i64) -> Lookup {
        if !self.is_up() {
            return Lookup::Untrusted;
        }
        let inner = self.read();
        let generation = inner.generation;
        let Some(verified) = inner.tokens.map.get(key).filter(|v| v.exp > now) else {
            return Lookup::Miss { generation };
        };
        match inner.profiles.map.get(&verified.sid) {
            Some(p) if p.expires_at > now && p.user_id == verified.sub => {
                Lookup::Hit(p.body.clone())
            }
            _ => Lookup::Token {
                generation,
                verified: verified.clone(),
            },
        }
    }

    /// What the known revocations say of `verified`.
    pub(crate) fn standing(&self, verified: &Verified) -> Standing {
        self.max_access_ttl
            .fetch_max(verified.exp.saturating_sub(verified.iat), Ordering::Relaxed);
        self.read().standing(verified)
    }

    /// Caches a token verified and its session's profile, answered by the
    /// service during `generation`; nothing if the feed is down, the
    /// generation changed meanwhile, or a revocation known now covers it.
    pub(crate) fn insert(
        &self,
        generation: u64,
        key: TokenKey,
        verified: Verified,
        profile: Bytes,
        now: i64,
    ) {
        if !self.is_up() || verified.exp <= now {
            return;
        }
        let mut inner = self.write();
        if inner.generation != generation || inner.standing(&verified) != Standing::Clear {
            return;
        }
        let expires_at = now.saturating_add(PROFILE_TTL.as_secs() as i64);
        let user_id = verified.sub.clone();
        let sid = verified.sid.clone();
        inner.tokens.insert(key, verified, now);
        let entry = Profile {
            user_id,
            body: profile,
            expires_at,
        };
        inner.profiles.insert(sid, entry, now);
    }

    /// Evicts the session of the token with `key`, if it is cached (this
    /// browser just logged out or reused a refresh token: its next
    /// `/auth/me` must ask the service even before the feed says so).
    pub(crate) fn evict_session_of(&self, key: &TokenKey) {
        let mut inner = self.write();
        if let Some(sid) = inner.tokens.map.get(key).map(|v| v.sid.clone()) {
            inner.evict_session(&sid);
        }
    }

    /// Evicts every cached profile of `user_id` (one of its identities was
    /// linked or unlinked through this edge: each of its sessions' next
    /// `/auth/me` must show it). Its verified tokens stay: they are still
    /// good. A new generation starts, so that a `GetUser` answered before
    /// the change and still in flight is not cached.
    pub(crate) fn forget_profiles_of(&self, user_id: &str) {
        let mut inner = self.write();
        inner.profiles.map.retain(|_, p| p.user_id != user_id);
        inner.generation += 1;
    }

    /// Drops both caches (a user was unlinked through this edge: which one
    /// is not said, and unlinks are rare).
    pub(crate) fn drop_caches(&self) {
        self.write().drop_caches();
    }

    /// Applies one event of the feed at `now`.
    pub(crate) fn apply(&self, event: &RevocationEvent, now: i64) {
        let covers =
            self.max_access_ttl.load(Ordering::Relaxed) + ACCESS_TOKEN_LEEWAY_SECS as i64 + 60;
        let revoked_at = if event.revoked_at > 0 {
            event.revoked_at
        } else {
            now
        };
        let forget_at = revoked_at.saturating_add(covers);
        let mut inner = self.write();
        let dropped_live = match event.kind() {
            Kind::SessionRevoked => {
                inner.evict_session(&event.session_id);
                let sid = event.session_id.clone();
                inner.revoked.session(sid, forget_at, now)
            }
            Kind::UserRevoked => {
                let user = event.user_id.as_str();
                inner.profiles.map.retain(|_, p| p.user_id != user);
                inner.tokens.map.retain(|_, v| v.sub != user);
                inner.revoked.user(user, revoked_at, forget_at, now)
            }
            Kind::KeyRetired => {
                let kid = event.kid.as_str();
                inner.tokens.map.retain(|_, v| v.kid != kid);
                inner.revoked.key(kid, forget_at, now)
            }
            Kind::Reset => {
                inner.drop_caches();
                false
            }
            Kind::Heartbeat | Kind::Unspecified => false,
        };
        if dropped_live {
            inner.generation += 1;
        }
    }

    /// How many tokens and profiles are cached.
    #[cfg(test)]
    fn sizes(&self) -> (usize, usize) {
        let inner = self.read();
        (inner.tokens.map.len(), inner.profiles.map.len())
    }
}

#[cfg(test)]
mod tests;
