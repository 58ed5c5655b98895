//! Codes, sessions and tokens of one provider (Naver's, Google's): a code
//! becomes a session with an access token and usually a refresh token; a
//! refresh adds access tokens to the session; a revocation ends the whole
//! session, as both providers document ("revoking either token also revokes
//! its pair"). Kakao keeps its own, older bookkeeping in [`crate::state`].
//!
//! The store only keeps what it is given: token formats, lifetimes and
//! error shapes are the provider's.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Who a session belongs to and what it may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    /// The provider's stable key of the test user.
    pub(crate) user: String,
    /// The app the tokens were issued to.
    pub(crate) client_id: String,
    /// Granted scope items (empty where the provider has none).
    pub(crate) scope: Vec<String>,
}

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    Unknown,
    Expired,
}

struct Timed<T> {
    value: T,
    expires_at: Instant,
}

/// One provider's codes (bound to a grant `G`) and token sessions.
pub(crate) struct TokenStore<G> {
    codes: HashMap<String, Timed<G>>,
    sessions: HashMap<u64, Session>,
    access: HashMap<String, Timed<u64>>,
    refresh: HashMap<String, Timed<u64>>,
    next_session: u64,
}

impl<G> Default for TokenStore<G> {
    fn default() -> Self {
        Self {
            codes: HashMap::new(),
            sessions: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            next_session: 0,
        }
    }
}

impl<G> TokenStore<G> {
    /// Keep `grant` under `code` for `ttl`.
    pub(crate) fn issue_code(&mut self, code: String, grant: G, ttl: Duration) {
        let now = Instant::now();
        self.codes.retain(|_, c| c.expires_at > now);
        self.codes.insert(
            code,
            Timed {
                value: grant,
                expires_at: now + ttl,
            },
        );
    }

    /// Remove the code (it is single-use whatever happens next) and return
    /// its grant if it existed and had not expired.
    pub(crate) fn take_code(&mut self, code: &str) -> Option<G> {
        let issued = self.codes.remove(code)?;
        (issued.expires_at > Instant::now()).then_some(issued.value)
    }

    /// Start a session with its first access token and, if given, a refresh
    /// token.
    pub(crate) fn start_session(
        &mut self,
        session: Session,
        access: (String, Duration),
        refresh: Option<(String, Duration)>,
    ) {
        self.next_session += 1;
        let id = self.next_session;
        self.sessions.insert(id, session);
        self.add_access(id, access);
        if let Some((token, ttl)) = refresh {
            self.refresh.insert(
                token,
                Timed {
                    value: id,
                    expires_at: Instant::now() + ttl,
                },
            );
        }
    }

    fn add_access(&mut self, session: u64, (token, ttl): (String, Duration)) {
        self.access.insert(
            token,
            Timed {
                value: session,
                expires_at: Instant::now() + ttl,
            },
        );
    }

    /// The session of a live access token.
    pub(crate) fn access(&self, token: &str) -> Result<&Session, Refused> {
        let record = self.access.get(token).ok_or(Refused::Unknown)?;
        if record.expires_at <= Instant::now() {
            return Err(Refused::Expired);
        }
        self.sessions.get(&record.value).ok_or(Refused::Unknown)
    }

    /// Add `access` to the session of a live refresh token of `client_id`;
    /// `None` (and nothing added) for an unknown, expired or foreign one.
    pub(crate) fn refresh(
        &mut self,
        refresh_token: &str,
        client_id: &str,
        access: (String, Duration),
    ) -> Option<Session> {
        let record = self
            .refresh
            .get(refresh_token)
            .filter(|r| r.expires_at > Instant::now())?;
        let id = record.value;
        let session = self
            .sessions
            .get(&id)
            .filter(|s| s.client_id == client_id)?
            .clone();
        self.add_access(id, access);
        Some(session)
    }

    /// The session an access or refresh token belongs to, live or not.
    pub(crate) fn session_of(&self, token: &str) -> Option<&Session> {
        let id = self
            .access
            .get(token)
            .or_else(|| self.refresh.get(token))?
            .value;
        self.sessions.get(&id)
    }

    /// End the session `token` (access or refresh) belongs to, with all of
    /// its tokens. `false` when no session has that token.
    pub(crate) fn revoke(&mut self, token: &str) -> bool {
        let Some(id) = self
            .access
            .get(token)
            .or_else(|| self.refresh.get(token))
            .map(|t| t.value)
        else {
            return false;
        };
        self.end_sessions(|session_id, _| session_id == id);
        true
    }

    /// End every session of `user` with `client_id`.
    pub(crate) fn revoke_grant(&mut self, client_id: &str, user: &str) {
        self.end_sessions(|_, s| s.client_id == client_id && s.user == user);
    }

    fn end_sessions(&mut self, ends: impl Fn(u64, &Session) -> bool) {
        let ended: Vec<u64> = self
            .sessions
            .iter()
            .filter(|(id, s)| ends(**id, s))
            .map(|(id, _)| *id)
            .collect();
        for id in &ended {
            self.sessions.remove(id);
        }
        self.access.retain(|_, t| !ended.contains(&t.value));
        self.refresh.retain(|_, t| !ended.contains(&t.value));
    }

    /// Make every access token issued so far expired.
    pub(crate) fn expire_access_tokens(&mut self) {
        let now = Instant::now();
        for record in self.access.values_mut() {
            record.expires_at = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn session(user: &str) -> Session {
        Session {
            user: user.into(),
            client_id: "c".into(),
            scope: vec![],
        }
    }

    #[test]
    fn a_code_is_taken_once_and_not_after_it_expired() {
        let mut store = TokenStore::default();
        store.issue_code("a".into(), 1, HOUR);
        store.issue_code("b".into(), 2, Duration::ZERO);
        assert_eq!(store.take_code("a"), Some(1));
        assert_eq!(store.take_code("a"), None);
        assert_eq!(store.take_code("b"), None);
    }

    #[test]
    fn revoking_either_token_ends_the_pair_and_only_that_session() {
        let mut store = TokenStore::<()>::default();
        store.start_session(session("u"), ("a1".into(), HOUR), Some(("r1".into(), HOUR)));
        store.start_session(session("u"), ("a2".into(), HOUR), Some(("r2".into(), HOUR)));
        assert!(store.revoke("r1"));
        assert_eq!(store.access("a1"), Err(Refused::Unknown));
        assert!(store.refresh("r1", "c", ("x".into(), HOUR)).is_none());
        assert!(store.access("a2").is_ok());
        assert!(!store.revoke("r1"));
        store.revoke_grant("c", "u");
        assert_eq!(store.access("a2"), Err(Refused::Unknown));
    }

    #[test]
    fn a_refresh_token_serves_only_its_client_and_adds_to_its_session() {
        let mut store = TokenStore::<()>::default();
        store.start_session(session("u"), ("a1".into(), HOUR), Some(("r1".into(), HOUR)));
        assert!(store.refresh("r1", "other", ("x".into(), HOUR)).is_none());
        assert_eq!(store.access("x"), Err(Refused::Unknown));
        assert!(store.refresh("r1", "c", ("a2".into(), HOUR)).is_some());
        assert_eq!(store.access("a2").map(|s| s.user.as_str()), Ok("u"));
        store.expire_access_tokens();
        assert_eq!(store.access("a2"), Err(Refused::Expired));
    }
}
