//! Kakao's token and user answers, success or error, any status and body:
//! a token answer yields a non-empty access token, a profile keeps an email
//! only when Kakao marks it valid and verified, and an error's label is a
//! short word that carries nothing else from Kakao's body.
#![no_main]

use auth_service::{fuzzing, providers::ProviderError};
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;
use serde_json::Value;

/// The statuses Kakao answers with; the first input byte picks one, the
/// rest is the body (so a seed file is a digit and a JSON document:
/// `0` is 200, `2` is 400, `7` is 500, ...).
const STATUSES: [u16; 10] = [200, 201, 400, 401, 403, 404, 429, 500, 502, 503];

fn assert_short_label(e: &ProviderError) {
    let (ProviderError::Rejected(label)
    | ProviderError::Misconfigured(label)
    | ProviderError::Unavailable(label)) = e;
    assert!(label.len() <= 40, "label too long: {label:?}");
    assert!(
        label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ' ')),
        "unsafe label {label:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let status = STATUSES[usize::from(pick.wrapping_sub(b'0')) % STATUSES.len()];
    let success = (200..300).contains(&status);
    match fuzzing::kakao_token_answer(status, body).expect("a status") {
        Ok(tokens) => {
            assert!(success);
            assert!(!tokens.access_token.expose_secret().is_empty());
        }
        Err(e) => assert_short_label(&e),
    }
    match fuzzing::kakao_user_answer(status, body).expect("a status") {
        Ok(user) => {
            assert!(success);
            assert!(
                user.profile_image_url
                    .as_ref()
                    .is_none_or(|u| !u.is_empty())
            );
            assert!(
                user.thumbnail_image_url
                    .as_ref()
                    .is_none_or(|u| !u.is_empty())
            );
            if let Some(email) = &user.email {
                assert!(!email.is_empty());
                // serde_json skips an ignored field's string without checking
                // its UTF-8, so the whole body need not be valid UTF-8.
                let text = String::from_utf8_lossy(body);
                let json: Value = serde_json::from_str(&text).expect("it parsed once");
                let account = &json["kakao_account"];
                assert_eq!(account["is_email_valid"], Value::Bool(true));
                assert_eq!(account["is_email_verified"], Value::Bool(true));
            }
        }
        Err(e) => assert_short_label(&e),
    }
});
