//! What the emulated Google remembers: codes and tokens, which grants
//! already got their refresh token, the signing key in use, the id_token
//! settings and the last token request.

use std::collections::HashSet;

use crate::control_wire::{GoogleIdTokenSettings, TokenRequestSeen};
use crate::store::TokenStore;

/// A PKCE challenge as the authorize request sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    S256(String),
    Plain(String),
}

/// What a Google authorization code is bound to.
#[derive(Debug, Clone)]
pub(crate) struct GoogleGrant {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    /// The account's `sub`.
    pub(crate) user: String,
    /// Granted scope items, short names (`openid`, `email`, `profile`).
    pub(crate) scope: Vec<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) challenge: Option<Challenge>,
    /// `access_type=offline`: a refresh token may be issued.
    pub(crate) offline: bool,
    /// `prompt` held `consent`: a refresh token is issued again.
    pub(crate) prompt_consent: bool,
}

/// Google's part of the emulator's state.
#[derive(Default)]
pub(crate) struct GoogleMemory {
    pub(crate) tokens: TokenStore<GoogleGrant>,
    /// `(client_id, sub)` pairs that already received a refresh token;
    /// Google issues one only on the first exchange (or with
    /// `prompt=consent`). Revocation forgets the pair.
    pub(crate) refresh_issued: HashSet<(String, String)>,
    /// Index of the signing key in use (see [`crate::jws`]).
    pub(crate) signing_key: usize,
    pub(crate) id_token: GoogleIdTokenSettings,
    pub(crate) last_token_request: Option<TokenRequestSeen>,
}
