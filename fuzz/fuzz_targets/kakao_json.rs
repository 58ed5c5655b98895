//! Kakao's token and user answers, success or error, any status and body:
//! a token answer yields a non-empty access token, a profile keeps an email
//! only when Kakao marks it valid and verified, and an error's label is a
//! short word that carries nothing else from Kakao's body.
#![no_main]

use auth_service::fuzzing;
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((status, body)) = fuzzing::status_and_body(data) else {
        return;
    };
    let success = (200..300).contains(&status);
    match fuzzing::kakao_token_answer(status, body).expect("a status") {
        Ok(tokens) => {
            assert!(success);
            assert!(!tokens.access_token.expose_secret().is_empty());
        }
        Err(e) => fuzzing::assert_short_label(&e),
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
        Err(e) => fuzzing::assert_short_label(&e),
    }
});
