//! Newtypes parsed at the boundary: below `grpc.rs` no function takes a raw
//! `String` for a return target, a login state or code, a browser binding,
//! a token or an id.

mod ids;
mod key_encryption;
mod return_to;
mod sealed_state;
mod secrets;
mod successor_seal;

pub use ids::{IdParseError, KakaoUserId, SessionId, UserId, new_row_id};
pub use key_encryption::{
    KeyEncryption, KeyEncryptionKey, OpenError, is_encrypted, provider_grant_row, signing_key_row,
    state_sealing_key_row,
};
pub use return_to::{AllowedOrigins, ReturnTo, ReturnToError};
pub use sealed_state::{LinkTarget, LoginAttempt, StateSealer};
pub use secrets::{
    AccessToken, AuthorizationCode, BrowserBinding, LoginState, RefreshToken, RefreshTokenError,
    SecretParseError, pkce_challenge, random_token, sha256_b64,
};
pub use successor_seal::SuccessorSealer;
