//! Naver's and Google's answers, any status and body: tokens only with a
//! non-empty access token, a Naver profile only with a bounded printable
//! id and never an email (Naver has no verified flag), Google endpoints
//! only over https, and every error label a short word carrying nothing
//! else from the body.
#![no_main]

use auth_service::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((status, body)) = fuzzing::status_and_body(data) else {
        return;
    };
    if let Err(e) = fuzzing::naver_token_answer(status, body).expect("a status") {
        fuzzing::assert_short_label(&e);
    }
    match fuzzing::naver_profile_answer(status, body).expect("a status") {
        Ok(user) => {
            assert!((200..300).contains(&status));
            assert!(!user.subject.is_empty() && user.subject.len() <= 255);
            assert!(user.subject.bytes().all(|b| b.is_ascii_graphic()));
            assert_eq!(user.email, None);
        }
        Err(e) => fuzzing::assert_short_label(&e),
    }
    match fuzzing::google_token_answer(status, body).expect("a status") {
        Ok(_) => assert!((200..300).contains(&status)),
        Err(e) => fuzzing::assert_short_label(&e),
    }
    match fuzzing::google_discovery(body) {
        Ok(endpoints) => {
            for url in endpoints {
                assert!(url.starts_with("https://"), "{url}");
            }
        }
        Err(e) => fuzzing::assert_short_label(&e),
    }
});
