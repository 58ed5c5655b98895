//! What this process knows is revoked, from the revocation log: session
//! families and users until every access token they could have signed has
//! expired, and retired signing keys. Consulted on every cached answer.

use std::collections::{HashMap, HashSet};

use crate::{access_tokens::VerifyError, persistence::revocations::Kind};

use super::Revocation;

/// Revoked sessions remembered at most; beyond it the feed reports itself
/// unhealthy (answers fall back to the database) until old ones expire.
const MAX_REVOKED_SESSIONS: usize = 50_000;
/// Retired keys remembered at most (they are few; oldest forgotten first
/// is not worth tracking: past this the set starts over, and the key ring
/// no longer holds them anyway).
const MAX_RETIRED_KEYS: usize = 1024;

/// See the module docs.
#[derive(Debug, Default)]
pub struct RevocationState {
    /// Session id -> when to forget it (ms).
    sessions: HashMap<String, i64>,
    /// User id -> (revoked at, when to forget it), in ms.
    users: HashMap<String, (i64, i64)>,
    kids: HashSet<String>,
    /// How long a revocation matters: the access-token lifetime, the
    /// verification leeway and a margin for clock skew.
    keep_ms: i64,
}

impl RevocationState {
    /// A state that remembers each revocation for `keep_ms`.
    pub fn new(keep_ms: i64) -> Self {
        RevocationState {
            keep_ms,
            ..Default::default()
        }
    }

    /// Adds one revocation.
    pub fn apply(&mut self, r: &Revocation) {
        let forget_at = r.at_ms.saturating_add(self.keep_ms);
        match r.kind {
            Kind::Session => {
                if let Some(sid) = &r.session_id {
                    self.sessions.insert(sid.clone(), forget_at);
                }
            }
            Kind::User => {
                if let Some(user) = &r.user_id {
                    let entry = self
                        .users
                        .entry(user.clone())
                        .or_insert((r.at_ms, forget_at));
                    *entry = (entry.0.max(r.at_ms), entry.1.max(forget_at));
                }
            }
            Kind::Key => {
                if let Some(kid) = &r.kid {
                    if self.kids.len() >= MAX_RETIRED_KEYS {
                        self.kids.clear();
                    }
                    self.kids.insert(kid.clone());
                }
            }
        }
    }

    /// Forgets what no longer matters at `now_ms`.
    pub fn expire(&mut self, now_ms: i64) {
        self.sessions.retain(|_, forget_at| *forget_at > now_ms);
        self.users.retain(|_, (_, forget_at)| *forget_at > now_ms);
    }

    /// Too much to hold: the state cannot vouch for anything.
    pub fn overflowed(&self) -> bool {
        self.sessions.len() > MAX_REVOKED_SESSIONS
    }

    /// Why an access token with these claims must be refused, if it must.
    /// A user revocation refuses tokens issued strictly before its second
    /// (see `RevocationEvent.USER_REVOKED` in the proto).
    pub fn refuses_token(
        &self,
        user_id: &str,
        sid: &str,
        iat: i64,
        kid: &str,
    ) -> Option<VerifyError> {
        if self.kids.contains(kid) {
            return Some(VerifyError::UnknownKey);
        }
        if self.sessions.contains_key(sid) {
            return Some(VerifyError::Revoked);
        }
        match self.users.get(user_id) {
            Some((revoked_at, _)) if iat < revoked_at.div_euclid(1000) => {
                Some(VerifyError::Revoked)
            }
            _ => None,
        }
    }

    /// Whether the session `sid` of `user_id`, started at `created_at_ms`,
    /// is revoked.
    pub fn refuses_session(&self, sid: &str, user_id: &str, created_at_ms: i64) -> bool {
        self.sessions.contains_key(sid)
            || self
                .users
                .get(user_id)
                .is_some_and(|(revoked_at, _)| created_at_ms < *revoked_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revocation(kind: Kind, sid: &str, user: &str, kid: &str, at_ms: i64) -> Revocation {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Revocation {
            seq: 1,
            kind,
            session_id: some(sid),
            user_id: some(user),
            kid: some(kid),
            at_ms,
        }
    }

    #[test]
    fn each_kind_refuses_what_it_names_and_nothing_else() {
        let mut s = RevocationState::new(60_000);
        s.apply(&revocation(Kind::Session, "s1", "u1", "", 1_000_500));
        s.apply(&revocation(Kind::User, "", "u2", "", 1_000_500));
        s.apply(&revocation(Kind::Key, "", "", "k1", 1_000_500));
        assert_eq!(
            s.refuses_token("u1", "s1", 1000, "k0"),
            Some(VerifyError::Revoked)
        );
        assert_eq!(s.refuses_token("u1", "s2", 1000, "k0"), None);
        assert_eq!(
            s.refuses_token("u3", "s3", 1000, "k1"),
            Some(VerifyError::UnknownKey)
        );
        assert_eq!(
            s.refuses_token("u2", "s4", 999, "k0"),
            Some(VerifyError::Revoked)
        );
        assert_eq!(
            s.refuses_token("u2", "s5", 1000, "k0"),
            None,
            "a login in the same second, after the unlink"
        );
        assert!(s.refuses_session("s6", "u2", 1_000_499));
        assert!(!s.refuses_session("s7", "u2", 1_000_500));
        assert!(s.refuses_session("s1", "u1", 0));
    }

    #[test]
    fn revocations_are_forgotten_once_their_tokens_have_expired() {
        let mut s = RevocationState::new(60_000);
        s.apply(&revocation(Kind::Session, "s1", "", "", 1_000));
        s.apply(&revocation(Kind::User, "", "u1", "", 1_000));
        s.expire(60_999);
        assert!(s.refuses_session("s1", "u1", 2_000));
        s.expire(61_000);
        assert!(!s.refuses_session("s1", "u1", 0));
    }
}
