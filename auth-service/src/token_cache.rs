//! Access tokens this replica verified recently, so that verifying the same
//! token again costs a SHA-256, a map lookup and the revocation check: no
//! signature, no database. Keyed by the SHA-256 of the whole token (a
//! forged token would need a SHA-256 collision to hit another's entry; a
//! cheap 64-bit hash would not do). Entries end with the token's `exp`
//! (plus the verification leeway) and are evicted by revocations; the cache
//! is only used while the revocation feed is healthy (see
//! [`crate::revocations`]).

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock, RwLockReadGuard, RwLockWriteGuard,
        atomic::{AtomicU64, Ordering},
    },
};

use auth_proto::{AccessClaims, claims::ACCESS_TOKEN_LEEWAY_SECS};
use sha2::{Digest, Sha256};

/// Entries kept at most (about 250 bytes each).
pub const MAX_TOKENS: usize = 16_384;

/// What a verified access token says, as answered by VerifyAccessToken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// `sub`: our user id.
    pub user_id: Box<str>,
    /// `sid`: the session family.
    pub session_id: Box<str>,
    /// `jti`.
    pub token_id: Box<str>,
    /// The header's `kid`.
    pub kid: Box<str>,
    /// `iat`, Unix seconds.
    pub issued_at: i64,
    /// `exp`, Unix seconds.
    pub expires_at: i64,
}

impl VerifiedToken {
    /// From verified claims and the key that signed them.
    pub fn new(claims: AccessClaims, kid: &str) -> Self {
        VerifiedToken {
            user_id: claims.sub.into(),
            session_id: claims.sid.into(),
            token_id: claims.jti.into(),
            kid: kid.into(),
            issued_at: claims.iat,
            expires_at: claims.exp,
        }
    }
}

/// The cache key of a token: its SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenKey([u8; 32]);

impl TokenKey {
    /// Hashes `token`.
    pub fn of(token: &str) -> Self {
        TokenKey(Sha256::digest(token.as_bytes()).into())
    }
}

/// See the module docs.
#[derive(Default)]
pub struct TokenCache {
    entries: RwLock<HashMap<TokenKey, Arc<VerifiedToken>>>,
    /// Bumped by every eviction, so that an answer computed before a
    /// revocation is not cached after it.
    generation: AtomicU64,
}

impl TokenCache {
    fn read(&self) -> RwLockReadGuard<'_, HashMap<TokenKey, Arc<VerifiedToken>>> {
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<TokenKey, Arc<VerifiedToken>>> {
        self.entries.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The current generation: read it before verifying, pass it to
    /// [`Self::insert`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The cached token, unless past `exp` plus the leeway at `now_s`.
    pub fn get(&self, key: &TokenKey, now_s: i64) -> Option<Arc<VerifiedToken>> {
        self.read().get(key).filter(|t| !expired(t, now_s)).cloned()
    }

    /// Caches a token verified since `generation` was read, unless an
    /// eviction happened meanwhile.
    pub fn insert(&self, key: TokenKey, token: Arc<VerifiedToken>, generation: u64, now_s: i64) {
        let mut entries = self.write();
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= MAX_TOKENS {
            make_room(&mut entries, now_s);
        }
        entries.insert(key, token);
    }

    /// Drops every token `revoked` says is revoked.
    pub fn evict(&self, revoked: impl Fn(&VerifiedToken) -> bool) {
        let mut entries = self.write();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|_, t| !revoked(t));
    }

    /// Drops everything.
    pub fn clear(&self) {
        self.evict(|_| true);
    }

    /// How many tokens are cached.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn expired(t: &VerifiedToken, now_s: i64) -> bool {
    t.expires_at.saturating_add(ACCESS_TOKEN_LEEWAY_SECS as i64) < now_s
}

/// Drops expired tokens; when that is not enough, about a quarter of the
/// rest (whichever the map yields first: they are all cheap to re-verify).
fn make_room(entries: &mut HashMap<TokenKey, Arc<VerifiedToken>>, now_s: i64) {
    entries.retain(|_, t| !expired(t, now_s));
    if entries.len() >= MAX_TOKENS * 3 / 4 {
        let mut n = 0usize;
        entries.retain(|_, _| {
            n += 1;
            !n.is_multiple_of(4)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(sid: &str, exp: i64) -> Arc<VerifiedToken> {
        Arc::new(VerifiedToken {
            user_id: "u".into(),
            session_id: sid.into(),
            token_id: "j".into(),
            kid: "k".into(),
            issued_at: 0,
            expires_at: exp,
        })
    }

    #[test]
    fn a_token_is_cached_until_its_expiry_or_an_eviction() {
        let cache = TokenCache::default();
        let (a, b) = (TokenKey::of("a"), TokenKey::of("b"));
        cache.insert(a, token("s1", 100), cache.generation(), 0);
        cache.insert(b, token("s2", 100), cache.generation(), 0);
        assert!(
            cache
                .get(&a, 100 + ACCESS_TOKEN_LEEWAY_SECS as i64)
                .is_some()
        );
        assert!(
            cache
                .get(&a, 101 + ACCESS_TOKEN_LEEWAY_SECS as i64)
                .is_none()
        );
        cache.evict(|t| &*t.session_id == "s1");
        assert!(cache.get(&a, 0).is_none());
        assert!(cache.get(&b, 0).is_some());
    }

    #[test]
    fn an_answer_computed_before_an_eviction_is_not_cached() {
        let cache = TokenCache::default();
        let before = cache.generation();
        cache.evict(|_| false);
        cache.insert(TokenKey::of("a"), token("s1", 100), before, 0);
        assert!(cache.is_empty());
    }

    #[test]
    fn the_cache_never_grows_past_its_bound() {
        let cache = TokenCache::default();
        for i in 0..MAX_TOKENS + 10 {
            cache.insert(
                TokenKey::of(&i.to_string()),
                token("s", 100),
                cache.generation(),
                0,
            );
        }
        assert!(cache.len() <= MAX_TOKENS);
    }
}
