//! What the emulated Naver remembers: codes and tokens, the last token
//! request, and the quirks a test chose.

use crate::control_wire::{NaverQuirks, TokenRequestSeen};
use crate::store::TokenStore;

/// What a Naver authorization code is bound to.
#[derive(Debug, Clone)]
pub(crate) struct NaverGrant {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    /// The authorize request's `state`, required again on the token call.
    pub(crate) state: String,
    /// The account's [`crate::NaverUser::key`].
    pub(crate) user: String,
}

/// Naver's part of the emulator's state.
#[derive(Default)]
pub(crate) struct NaverMemory {
    pub(crate) tokens: TokenStore<NaverGrant>,
    pub(crate) last_token_request: Option<TokenRequestSeen>,
    pub(crate) quirks: NaverQuirks,
}
