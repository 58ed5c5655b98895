//! Test controls: injected faults, call counts, and what the last token
//! request looked like. Available in-process through [`Control`] and over
//! HTTP under `/_emulator/`.

use std::sync::Arc;

use crate::control_wire::{
    Endpoint, Fault, GoogleIdTokenSettings, IdTokenFault, NaverQuirks, Provider, Stats,
    TokenRequestSeen,
};
use crate::state::Shared;

/// A cheap, cloneable handle on a running emulator's test controls.
#[derive(Clone)]
pub struct Control {
    pub(crate) shared: Arc<Shared>,
}

impl Control {
    /// Make `endpoint` misbehave until [`Control::clear_faults`].
    pub fn set_fault(&self, endpoint: Endpoint, fault: Fault) {
        self.shared.lock().faults.insert(endpoint, fault);
    }

    /// Remove every fault of every provider, id_token faults, Google's
    /// id_token settings and Naver's quirks included.
    pub fn clear_faults(&self) {
        self.shared.lock().clear_faults();
    }

    /// Spoil every id_token issued from now on as `fault` says (`None`:
    /// issue good ones again).
    pub fn set_id_token_fault(&self, fault: Option<IdTokenFault>) {
        self.shared.lock().id_token_fault = fault;
    }

    /// Sign with the other development key from now on and publish only it
    /// in the JWKS, as a key rotation at Kakao would.
    pub fn rotate_signing_key(&self) {
        let mut state = self.shared.lock();
        state.signing_key = (state.signing_key + 1) % 2;
    }

    /// Requests received by `endpoint` so far, including faulted ones.
    pub fn calls(&self, endpoint: Endpoint) -> usize {
        self.shared
            .lock()
            .calls
            .get(&endpoint)
            .copied()
            .unwrap_or(0)
    }

    /// Requests received by every endpoint of `provider` so far.
    pub fn provider_calls(&self, provider: Provider) -> usize {
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|(endpoint, _)| endpoint.provider() == provider)
            .map(|(_, count)| count)
            .sum()
    }

    /// Answer Naver's undocumented cases as `quirks` says, until
    /// [`Control::clear_faults`].
    pub fn set_naver_quirks(&self, quirks: NaverQuirks) {
        self.shared.lock().naver.quirks = quirks;
    }

    /// What the most recent Naver `/naver/oauth2.0/token` call carried.
    pub fn last_naver_token_request(&self) -> Option<TokenRequestSeen> {
        self.shared.lock().naver.last_token_request.clone()
    }

    /// Spoil every Google id_token issued from now on as `fault` says
    /// (`None`: good ones again); Kakao's are not affected.
    pub fn set_google_id_token_fault(&self, fault: Option<IdTokenFault>) {
        self.shared.lock().google.id_token.fault = fault;
    }

    /// How Google's next id_tokens look (fault and `email_verified` form).
    pub fn set_google_id_token(&self, settings: GoogleIdTokenSettings) {
        self.shared.lock().google.id_token = settings;
    }

    /// Sign Google's id_tokens with its other development key from now on
    /// and publish only that one at `/google/oauth2/v3/certs`.
    pub fn rotate_google_signing_key(&self) {
        let mut state = self.shared.lock();
        state.google.signing_key = (state.google.signing_key + 1) % 2;
    }

    /// What the most recent Google `POST /google/token` carried.
    pub fn last_google_token_request(&self) -> Option<TokenRequestSeen> {
        self.shared.lock().google.last_token_request.clone()
    }

    /// What the most recent `POST /oauth/token` carried (recorded even when
    /// a fault answered it).
    pub fn last_token_request(&self) -> Option<TokenRequestSeen> {
        self.shared.lock().last_token_request.clone()
    }

    /// Call counts for every endpoint and the last token request.
    pub fn stats(&self) -> Stats {
        self.shared.lock().stats()
    }

    /// Issue an authorization code as if `user_id` had agreed on the consent
    /// page for the configured `client_id` and this `redirect_uri` (not
    /// checked against the registered list). `code_challenge` is an S256
    /// challenge. Returns `None` for an unknown user.
    pub fn issue_code_for(
        &self,
        user_id: i64,
        redirect_uri: &str,
        code_challenge: Option<&str>,
    ) -> Option<String> {
        let config = &self.shared.config;
        let user = config.users.iter().find(|u| u.id == user_id)?;
        let grant = crate::state::CodeGrant {
            client_id: config.client_id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            user_id,
            code_challenge: code_challenge.map(str::to_owned),
            scope: crate::state::granted_scope(user, &[]),
            nonce: None,
        };
        Some(self.shared.lock().issue_code(grant, config.code_ttl))
    }

    /// Make every access token issued so far (every provider's) expired, so
    /// the next `/v2/user/me` answers -401 "already expired", `/v1/nid/me`
    /// 401 `024` and `/v1/userinfo` 401, and clients must refresh.
    pub fn expire_access_tokens(&self) {
        self.shared.lock().expire_access_tokens();
    }
}
