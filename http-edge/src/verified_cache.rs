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

use std::{
    collections::HashMap,
    hash::Hash,
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
/// Entries of each revocation set (~100 bytes each).
const MAX_REVOKED: usize = 32_768;
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

/// A revocation in the three sets: until when it is remembered.
#[derive(Debug, Clone, Copy)]
struct Forget {
    at: i64,
}

#[derive(Debug, Clone, Copy)]
struct RevokedUser {
    revoked_at: i64,
    forget_at: i64,
}

struct Profile {
    user_id: String,
    body: Bytes,
    expires_at: i64,
}

trait Expiring {
    fn expires_at(&self) -> i64;
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

/// A map of at most `cap` entries that drops expired ones first.
struct Bounded<K, V> {
    map: HashMap<K, V>,
    cap: usize,
}

impl<K: Eq + Hash, V: Expiring> Bounded<K, V> {
    fn new(cap: usize) -> Self {
        Bounded {
            map: HashMap::new(),
            cap,
        }
    }

    /// Inserts; `true` if live entries had to be dropped to make room.
    fn insert(&mut self, key: K, value: V, now: i64) -> bool {
        let mut dropped_live = false;
        if self.map.len() >= self.cap && !self.map.contains_key(&key) {
            self.map.retain(|_, v| v.expires_at() > now);
            if self.map.len() >= self.cap {
                // Arbitrary victims: HashMap's order is randomly seeded.
                let excess = self.map.len() + 1 - self.cap + self.cap / 16;
                let mut n = 0;
                self.map.retain(|_, _| {
                    n += 1;
                    n > excess
                });
                dropped_live = true;
            }
        }
        self.map.insert(key, value);
        dropped_live
    }

    fn clear(&mut self) {
        self.map = HashMap::new();
    }
}

struct Inner {
    generation: u64,
    tokens: Bounded<TokenKey, Verified>,
    profiles: Bounded<String, Profile>,
    revoked_sessions: Bounded<String, Forget>,
    revoked_users: Bounded<String, RevokedUser>,
    retired_kids: Bounded<String, Forget>,
}

impl Inner {
    fn standing(&self, v: &Verified) -> Standing {
        if self.retired_kids.map.contains_key(&v.kid) {
            return Standing::KeyRetired;
        }
        if self.revoked_sessions.map.contains_key(&v.sid) {
            return Standing::SessionRevoked;
        }
        match self.revoked_users.map.get(&v.sub) {
            Some(r) if v.iat < r.revoked_at => Standing::SessionRevoked,
            Some(r) if v.iat == r.revoked_at => Standing::AskService,
            _ => Standing::Clear,
        }
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
                revoked_sessions: Bounded::new(MAX_REVOKED),
                revoked_users: Bounded::new(MAX_REVOKED),
                retired_kids: Bounded::new(MAX_REVOKED),
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
        let forget = Forget {
            at: revoked_at.saturating_add(covers),
        };
        let mut inner = self.write();
        let dropped_live = match event.kind() {
            Kind::SessionRevoked => {
                inner.evict_session(&event.session_id);
                let sid = event.session_id.clone();
                forget.at > now && inner.revoked_sessions.insert(sid, forget, now)
            }
            Kind::UserRevoked => {
                let user = event.user_id.as_str();
                inner.profiles.map.retain(|_, p| p.user_id != user);
                inner.tokens.map.retain(|_, v| v.sub != user);
                let revoked_at = inner
                    .revoked_users
                    .map
                    .get(user)
                    .map_or(revoked_at, |r| r.revoked_at.max(revoked_at));
                let entry = RevokedUser {
                    revoked_at,
                    forget_at: forget.at,
                };
                forget.at > now && inner.revoked_users.insert(user.to_owned(), entry, now)
            }
            Kind::KeyRetired => {
                let kid = event.kid.as_str();
                inner.tokens.map.retain(|_, v| v.kid != kid);
                inner.retired_kids.insert(kid.to_owned(), forget, now)
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
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn verified(sub: &str, sid: &str) -> Verified {
        Verified {
            sub: sub.into(),
            sid: sid.into(),
            kid: "k1".into(),
            iat: NOW - 10,
            exp: NOW + 890,
        }
    }

    fn event(kind: Kind) -> RevocationEvent {
        RevocationEvent {
            kind: kind.into(),
            sequence: 7,
            revoked_at: NOW,
            ..Default::default()
        }
    }

    fn cached(cache: &VerifiedCache, token: &str, sub: &str, sid: &str) {
        let Lookup::Miss { generation } = cache.lookup(&token_key(token), NOW) else {
            panic!("expected a miss");
        };
        let body = Bytes::from(format!("{{\"id\":\"{sub}\"}}"));
        cache.insert(generation, token_key(token), verified(sub, sid), body, NOW);
    }

    fn up() -> VerifiedCache {
        let cache = VerifiedCache::default();
        cache.set_up(true);
        cache
    }

    fn is_hit(cache: &VerifiedCache, token: &str) -> bool {
        matches!(cache.lookup(&token_key(token), NOW), Lookup::Hit(_))
    }

    #[test]
    fn nothing_is_read_or_cached_while_the_feed_is_down() {
        let cache = VerifiedCache::default();
        assert!(matches!(
            cache.lookup(&token_key("t"), NOW),
            Lookup::Untrusted
        ));
        cache.insert(0, token_key("t"), verified("u1", "s1"), Bytes::new(), NOW);
        cache.set_up(true);
        assert!(!is_hit(&cache, "t"));

        cached(&cache, "t", "u1", "s1");
        assert!(is_hit(&cache, "t"));
        cache.set_up(false);
        cache.set_up(true);
        assert!(!is_hit(&cache, "t"), "going down drops the caches");
    }

    #[test]
    fn an_answer_fetched_before_a_reset_is_not_cached() {
        let cache = up();
        let Lookup::Miss { generation } = cache.lookup(&token_key("t"), NOW) else {
            panic!()
        };
        cache.apply(&event(Kind::Reset), NOW);
        cache.insert(
            generation,
            token_key("t"),
            verified("u1", "s1"),
            Bytes::new(),
            NOW,
        );
        assert_eq!(cache.sizes(), (0, 0));
    }

    #[test]
    fn each_revocation_evicts_what_it_covers_and_refuses_it_later() {
        let cache = up();
        cached(&cache, "a", "u1", "s1");
        cached(&cache, "b", "u1", "s2");
        cached(&cache, "c", "u2", "s3");

        let mut session = event(Kind::SessionRevoked);
        session.session_id = "s1".into();
        cache.apply(&session, NOW);
        assert!(!is_hit(&cache, "a") && is_hit(&cache, "b") && is_hit(&cache, "c"));
        assert_eq!(
            cache.standing(&verified("u1", "s1")),
            Standing::SessionRevoked
        );
        cached(&cache, "a", "u1", "s1");
        assert!(
            !is_hit(&cache, "a"),
            "a revoked session is not cached again"
        );

        let mut user = event(Kind::UserRevoked);
        user.user_id = "u1".into();
        cache.apply(&user, NOW);
        assert!(!is_hit(&cache, "b") && is_hit(&cache, "c"));
        let mut later = verified("u1", "s9");
        later.iat = NOW + 1;
        assert_eq!(cache.standing(&later), Standing::Clear);
        later.iat = NOW;
        assert_eq!(cache.standing(&later), Standing::AskService);

        let mut key = event(Kind::KeyRetired);
        key.kid = "k1".into();
        cache.apply(&key, NOW);
        assert!(!is_hit(&cache, "c"));
        assert_eq!(cache.standing(&verified("u3", "s4")), Standing::KeyRetired);
    }

    #[test]
    fn the_caches_stay_within_their_bounds() {
        let mut map: Bounded<u32, Forget> = Bounded::new(64);
        for i in 0..1000 {
            map.insert(i, Forget { at: NOW + 1 }, NOW);
            assert!(map.map.len() <= 64);
        }
        let mut expired: Bounded<u32, Forget> = Bounded::new(4);
        for i in 0..4 {
            expired.insert(i, Forget { at: NOW - 1 }, NOW);
        }
        assert!(
            !expired.insert(9, Forget { at: NOW + 1 }, NOW),
            "expired go first"
        );
        assert_eq!(expired.map.len(), 1);
    }

    #[test]
    fn an_expired_token_is_not_answered_from_the_cache() {
        let cache = up();
        cached(&cache, "t", "u1", "s1");
        assert!(matches!(
            cache.lookup(&token_key("t"), NOW + 900),
            Lookup::Miss { .. }
        ));
    }
}
