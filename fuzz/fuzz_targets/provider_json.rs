//! Naver's and Google's answers, any status and body: tokens only with a
//! non-empty access token, a Naver profile only with a bounded printable
//! id and never an email (Naver has no verified flag), Google endpoints
//! only over https, and every error label a short word carrying nothing
//! else from the body.
#![no_main]

use auth_service::{fuzzing, providers::api::ProviderError};
use libfuzzer_sys::fuzz_target;

/// The first input byte picks a status (`0` is 200, `2` is 400, ...), the
/// rest is the body.
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
    if let Err(e) = fuzzing::naver_token_answer(status, body).expect("a status") {
        assert_short_label(&e);
    }
    match fuzzing::naver_profile_answer(status, body).expect("a status") {
        Ok(user) => {
            assert!((200..300).contains(&status));
            assert!(!user.subject.is_empty() && user.subject.len() <= 255);
            assert!(user.subject.bytes().all(|b| b.is_ascii_graphic()));
            assert_eq!(user.email, None);
        }
        Err(e) => assert_short_label(&e),
    }
    match fuzzing::google_token_answer(status, body).expect("a status") {
        Ok(_) => assert!((200..300).contains(&status)),
        Err(e) => assert_short_label(&e),
    }
    match fuzzing::google_discovery(body) {
        Ok(endpoints) => {
            for url in endpoints {
                assert!(url.starts_with("https://"), "{url}");
            }
        }
        Err(e) => assert_short_label(&e),
    }
});
