//! The emulator's memory: codes, tokens, linked users, faults and counters
//! (Kakao's here; Naver's and Google's in their own modules' memories).
//!
//! Everything lives behind one std `Mutex`; handlers lock, change, and drop
//! the guard before any `.await`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::sync::watch;

use crate::config::{EmulatorConfig, TestUser};
use crate::control_wire::{Endpoint, Fault, IdTokenFault, Stats, TokenRequestSeen};
use crate::google::memory::GoogleMemory;
use crate::naver::memory::NaverMemory;

/// `expires_in` of an access token (about 6 hours, as observed at Kakao).
pub(crate) const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(21_599);
/// `refresh_token_expires_in` (about 2 months).
pub(crate) const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(5_183_999);
/// A refresh token with less than this left is replaced on refresh.
const REFRESH_ROTATION_WINDOW: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Configuration, mutable state and the shutdown signal, shared by every
/// handler and every [`crate::Control`].
pub(crate) struct Shared {
    pub(crate) config: EmulatorConfig,
    state: Mutex<State>,
    shutdown: watch::Receiver<bool>,
}

impl Shared {
    pub(crate) fn new(config: EmulatorConfig, shutdown: watch::Receiver<bool>) -> Self {
        Self {
            config,
            state: Mutex::new(State::default()),
            shutdown,
        }
    }

    /// Lock the state. A panic while locked leaves plain data behind, so a
    /// poisoned lock is still usable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn user(&self, id: i64) -> Option<&TestUser> {
        self.config.users.iter().find(|u| u.id == id)
    }

    /// Sleep for `duration`, or less if the emulator is shutting down.
    pub(crate) async fn sleep_unless_shutdown(&self, duration: Duration) {
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            () = tokio::time::sleep(duration) => {}
            _ = shutdown.wait_for(|stopping| *stopping) => {}
        }
    }
}

/// What an authorization code is bound to.
#[derive(Debug, Clone)]
pub(crate) struct CodeGrant {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) user_id: i64,
    /// S256 challenge, when the authorize request carried one.
    pub(crate) code_challenge: Option<String>,
    /// Granted consent items, in the order reported in `scope`.
    pub(crate) scope: Vec<String>,
    /// The authorize request's `nonce`, copied into the id_token.
    pub(crate) nonce: Option<String>,
}

struct IssuedCode {
    grant: CodeGrant,
    expires_at: Instant,
}

struct AccessRecord {
    user_id: i64,
    session: u64,
    expires_at: Instant,
}

struct RefreshRecord {
    user_id: i64,
    session: u64,
    client_id: String,
    expires_at: Instant,
}

/// An access token as seen by the user API.
pub(crate) struct AccessInfo {
    pub(crate) user_id: i64,
    pub(crate) session: u64,
    pub(crate) expires_in: Duration,
}

/// Why an access token was refused.
pub(crate) enum AccessProblem {
    Unknown,
    Expired,
}

/// Tokens from a code exchange.
pub(crate) struct IssuedTokens {
    pub(crate) access_token: String,
    pub(crate) refresh_token: String,
}

/// Tokens from a refresh; `refresh_token` only when the old one was replaced.
pub(crate) struct RefreshedTokens {
    pub(crate) access_token: String,
    pub(crate) refresh_token: Option<String>,
}

/// Mutable emulator state.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) faults: HashMap<Endpoint, Fault>,
    pub(crate) calls: HashMap<Endpoint, usize>,
    pub(crate) last_token_request: Option<TokenRequestSeen>,
    /// How the next id_tokens are spoiled, if at all.
    pub(crate) id_token_fault: Option<IdTokenFault>,
    /// Index of the signing key in use (see [`crate::oidc`]).
    pub(crate) signing_key: usize,
    codes: HashMap<String, IssuedCode>,
    access: HashMap<String, AccessRecord>,
    refresh: HashMap<String, RefreshRecord>,
    /// Linked users and when they were first linked (`connected_at`).
    links: HashMap<i64, SystemTime>,
    next_session: u64,
    /// Naver's codes, tokens and quirks.
    pub(crate) naver: NaverMemory,
    /// Google's codes, tokens, keys and id_token settings.
    pub(crate) google: GoogleMemory,
}

impl State {
    /// Count a call to `endpoint` and return the fault it should show, if any.
    pub(crate) fn record_call(&mut self, endpoint: Endpoint) -> Option<Fault> {
        *self.calls.entry(endpoint).or_default() += 1;
        self.faults.get(&endpoint).cloned()
    }

    pub(crate) fn stats(&self) -> Stats {
        Stats {
            calls: Endpoint::ALL
                .iter()
                .map(|e| (*e, self.calls.get(e).copied().unwrap_or(0)))
                .collect(),
            last_token_request: self.last_token_request.clone(),
            naver_last_token_request: self.naver.last_token_request.clone(),
            google_last_token_request: self.google.last_token_request.clone(),
        }
    }

    /// Link the user (consent given) and issue a single-use code.
    pub(crate) fn issue_code(&mut self, grant: CodeGrant, ttl: Duration) -> String {
        let now = Instant::now();
        self.codes.retain(|_, c| c.expires_at > now);
        self.links
            .entry(grant.user_id)
            .or_insert_with(SystemTime::now);
        let code = random_token();
        self.codes.insert(
            code.clone(),
            IssuedCode {
                grant,
                expires_at: now + ttl,
            },
        );
        code
    }

    /// Remove the code (it is single-use whatever happens next) and return
    /// its grant if it existed and had not expired.
    pub(crate) fn take_code(&mut self, code: &str) -> Option<CodeGrant> {
        let issued = self.codes.remove(code)?;
        (issued.expires_at > Instant::now()).then_some(issued.grant)
    }

    /// Start a new session for the user: an access and a refresh token.
    pub(crate) fn issue_tokens(&mut self, user_id: i64, client_id: &str) -> IssuedTokens {
        self.next_session += 1;
        let session = self.next_session;
        let now = Instant::now();
        let access_token = random_token();
        let refresh_token = random_token();
        self.access.insert(
            access_token.clone(),
            AccessRecord {
                user_id,
                session,
                expires_at: now + ACCESS_TOKEN_TTL,
            },
        );
        self.refresh.insert(
            refresh_token.clone(),
            RefreshRecord {
                user_id,
                session,
                client_id: client_id.to_owned(),
                expires_at: now + REFRESH_TOKEN_TTL,
            },
        );
        IssuedTokens {
            access_token,
            refresh_token,
        }
    }

    /// A new access token for a live refresh token of this client; the
    /// refresh token itself is replaced only when less than a month is left.
    pub(crate) fn refresh(
        &mut self,
        refresh_token: &str,
        client_id: &str,
    ) -> Option<RefreshedTokens> {
        let now = Instant::now();
        let record = self
            .refresh
            .get(refresh_token)
            .filter(|r| r.client_id == client_id && r.expires_at > now)?;
        let (user_id, session) = (record.user_id, record.session);
        let rotate = record.expires_at.saturating_duration_since(now) < REFRESH_ROTATION_WINDOW;
        let access_token = random_token();
        self.access.insert(
            access_token.clone(),
            AccessRecord {
                user_id,
                session,
                expires_at: now + ACCESS_TOKEN_TTL,
            },
        );
        let new_refresh = rotate.then(|| {
            self.refresh.remove(refresh_token);
            let token = random_token();
            self.refresh.insert(
                token.clone(),
                RefreshRecord {
                    user_id,
                    session,
                    client_id: client_id.to_owned(),
                    expires_at: now + REFRESH_TOKEN_TTL,
                },
            );
            token
        });
        Some(RefreshedTokens {
            access_token,
            refresh_token: new_refresh,
        })
    }

    pub(crate) fn access_token(&self, token: &str) -> Result<AccessInfo, AccessProblem> {
        let record = self.access.get(token).ok_or(AccessProblem::Unknown)?;
        let expires_in = record.expires_at.saturating_duration_since(Instant::now());
        if expires_in.is_zero() {
            return Err(AccessProblem::Expired);
        }
        Ok(AccessInfo {
            user_id: record.user_id,
            session: record.session,
            expires_in,
        })
    }

    /// Expire every access token issued so far, every provider's.
    pub(crate) fn expire_access_tokens(&mut self) {
        let now = Instant::now();
        for record in self.access.values_mut() {
            record.expires_at = now;
        }
        self.naver.tokens.expire_access_tokens();
        self.google.tokens.expire_access_tokens();
    }

    /// Clear every fault and spoiling setting, every provider's.
    pub(crate) fn clear_faults(&mut self) {
        self.faults.clear();
        self.id_token_fault = None;
        self.naver.quirks = Default::default();
        self.google.id_token = Default::default();
    }

    /// Revoke the access and refresh tokens of one session (Bearer logout).
    pub(crate) fn revoke_session(&mut self, session: u64) {
        self.access.retain(|_, r| r.session != session);
        self.refresh.retain(|_, r| r.session != session);
    }

    /// Revoke every token of the user (admin-key logout).
    pub(crate) fn revoke_user(&mut self, user_id: i64) {
        self.access.retain(|_, r| r.user_id != user_id);
        self.refresh.retain(|_, r| r.user_id != user_id);
    }

    /// Revoke every token and forget the link. `false` if the user was not linked.
    pub(crate) fn unlink(&mut self, user_id: i64) -> bool {
        self.revoke_user(user_id);
        self.links.remove(&user_id).is_some()
    }

    pub(crate) fn connected_at(&self, user_id: i64) -> Option<SystemTime> {
        self.links.get(&user_id).copied()
    }
}

/// The consent items granted to `user` for `requested` extra items: the
/// profile always, the email when the account shares one.
pub(crate) fn granted_scope(user: &TestUser, requested: &[String]) -> Vec<String> {
    let mut scope = vec!["profile_nickname".to_owned(), "profile_image".to_owned()];
    if user.email.is_some() {
        scope.push("account_email".to_owned());
    }
    for item in requested {
        if !scope.contains(item) {
            scope.push(item.clone());
        }
    }
    scope
}

/// 256 random bits, base64url without padding.
pub(crate) fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> CodeGrant {
        CodeGrant {
            client_id: "c".into(),
            redirect_uri: "http://localhost/cb".into(),
            user_id: 1,
            code_challenge: None,
            scope: vec![],
            nonce: None,
        }
    }

    #[test]
    fn a_code_can_be_taken_only_once() {
        let mut state = State::default();
        let code = state.issue_code(grant(), Duration::from_secs(60));
        assert!(state.take_code(&code).is_some());
        assert!(state.take_code(&code).is_none());
    }

    #[test]
    fn an_expired_code_is_refused() {
        let mut state = State::default();
        let code = state.issue_code(grant(), Duration::ZERO);
        assert!(state.take_code(&code).is_none());
    }

    #[test]
    fn refresh_keeps_a_young_refresh_token() {
        let mut state = State::default();
        let tokens = state.issue_tokens(1, "c");
        let refreshed = state.refresh(&tokens.refresh_token, "c").unwrap();
        assert!(refreshed.refresh_token.is_none());
        assert!(state.access_token(&refreshed.access_token).is_ok());
        assert!(state.refresh(&tokens.refresh_token, "other").is_none());
    }

    #[test]
    fn refresh_replaces_a_refresh_token_with_less_than_a_month_left() {
        let mut state = State::default();
        let tokens = state.issue_tokens(1, "c");
        if let Some(r) = state.refresh.get_mut(&tokens.refresh_token) {
            r.expires_at = Instant::now() + Duration::from_secs(60);
        }
        let refreshed = state.refresh(&tokens.refresh_token, "c").unwrap();
        let new = refreshed.refresh_token.unwrap();
        assert!(state.refresh(&tokens.refresh_token, "c").is_none());
        assert!(state.refresh(&new, "c").is_some());
    }

    #[test]
    fn the_email_consent_item_is_granted_only_to_users_with_an_email() {
        let users = TestUser::defaults();
        let hong = &users[0];
        let cat = &users[2];
        assert!(granted_scope(hong, &[]).contains(&"account_email".to_owned()));
        assert_eq!(
            granted_scope(cat, &["openid".to_owned()]),
            ["profile_nickname", "profile_image", "openid"]
        );
    }
}
