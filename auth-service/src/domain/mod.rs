//! Newtypes parsed at the boundary: below `grpc.rs` no function takes a raw
//! `String` for a return target, a login state, a browser binding or a token.

mod return_to;
mod secrets;

pub use return_to::{AllowedOrigins, ReturnTo, ReturnToError};
pub use secrets::{
    AuthorizationCode, BrowserBinding, LoginState, RefreshToken, SecretParseError, pkce_challenge,
    random_token, sha256_b64,
};
