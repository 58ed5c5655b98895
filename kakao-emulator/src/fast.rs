//! Fast mode, for load generators only: made-up codes and stateless tokens.
//!
//! With [`EmulatorConfig::fast_mode`](crate::EmulatorConfig::fast_mode) on
//! (the binary: `EMULATOR_FAST=1`), `POST /oauth/token` also accepts an
//! `authorization_code` of the shape `fast-<user id>` (a positive decimal
//! `i64`) without any consent page having issued it. For those codes only,
//! the single-use, redirect-URI and PKCE checks are skipped; the client id
//! and secret are still checked. The answer carries the access token
//! `fast-<user id>`, and `GET|POST /v2/user/me` with `Bearer fast-<user id>`
//! answers the synthetic user [`user`] builds from the number. Nothing is
//! stored per code or per token, so a long load run does not grow the
//! emulator's memory, and the emulator stays cheap next to the stack it
//! serves. Every other code and token goes through the normal checks.

use serde_json::{Value, json};

use crate::config::{EmulatorConfig, TestUser};
use crate::state::{ACCESS_TOKEN_TTL, REFRESH_TOKEN_TTL};

/// The prefix of fast codes and fast access tokens.
pub const PREFIX: &str = "fast-";

/// `connected_at` of every fast user.
pub(crate) const CONNECTED_AT: &str = "2024-01-01T00:00:00Z";

/// The user id of a fast code or access token, when fast mode is on and
/// `credential` is `fast-<positive i64>`.
pub(crate) fn user_id(config: &EmulatorConfig, credential: &str) -> Option<i64> {
    if !config.fast_mode {
        return None;
    }
    credential
        .strip_prefix(PREFIX)
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse::<i64>().ok())
        .filter(|id| *id > 0)
}

/// The `/oauth/token` answer for a fast code.
pub(crate) fn token_body(user_id: i64) -> Value {
    json!({
        "token_type": "bearer",
        "access_token": format!("{PREFIX}{user_id}"),
        "expires_in": ACCESS_TOKEN_TTL.as_secs(),
        "refresh_token": format!("{PREFIX}refresh-{user_id}"),
        "refresh_token_expires_in": REFRESH_TOKEN_TTL.as_secs(),
        "scope": "profile_nickname profile_image account_email",
    })
}

/// The synthetic account behind a fast token: nickname `user <id>`, a valid
/// and verified email `user<id>@example.com`, no images.
pub fn user(id: i64) -> TestUser {
    TestUser {
        id,
        nickname: format!("user {id}"),
        profile_image_url: None,
        thumbnail_image_url: None,
        email: Some(format!("user{id}@example.com")),
        is_email_valid: true,
        is_email_verified: true,
        is_default_nickname: false,
        is_default_image: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> EmulatorConfig {
        EmulatorConfig {
            fast_mode: true,
            ..EmulatorConfig::default()
        }
    }

    #[test]
    fn only_the_documented_shape_is_a_fast_credential() {
        let config = fast();
        assert_eq!(user_id(&config, "fast-42"), Some(42));
        assert_eq!(user_id(&config, "fast-3208537903"), Some(3_208_537_903));
        for not_fast in [
            "fast-",
            "fast-0",
            "fast--1",
            "fast-+1",
            "fast-1a",
            "fast- 1",
            "FAST-1",
            "slow-1",
            "fast-99999999999999999999",
        ] {
            assert_eq!(user_id(&config, not_fast), None, "{not_fast}");
        }
    }

    #[test]
    fn fast_credentials_mean_nothing_when_fast_mode_is_off() {
        assert_eq!(user_id(&EmulatorConfig::default(), "fast-42"), None);
    }
}
