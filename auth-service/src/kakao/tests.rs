//! Unit tests of the Kakao client's answer parsing.
use super::*;
use reqwest::StatusCode;

#[test]
fn token_errors_map_to_the_right_kind() {
    let cases = [
        (
            400,
            r#"{"error":"invalid_grant","error_code":"KOE320"}"#,
            ProviderError::Rejected("KOE320".into()),
        ),
        (
            400,
            r#"{"error":"invalid_grant","error_code":"KOE303"}"#,
            ProviderError::Rejected("KOE303".into()),
        ),
        (
            401,
            r#"{"error":"invalid_client","error_code":"KOE010"}"#,
            ProviderError::Misconfigured("KOE010".into()),
        ),
        (
            400,
            r#"{"error":"invalid_request","error_code":"KOE237"}"#,
            ProviderError::Unavailable("KOE237".into()),
        ),
        (
            503,
            "<html>",
            ProviderError::Unavailable("token endpoint answered 503".into()),
        ),
        (400, "not json", ProviderError::Rejected("HTTP 400".into())),
    ];
    for (status, body, expected) in cases {
        assert_eq!(
            token_error(StatusCode::from_u16(status).unwrap(), body.as_bytes()),
            expected,
            "{body}"
        );
    }
}

#[test]
fn api_errors_map_to_the_right_kind() {
    let cases = [
        (
            401,
            r#"{"msg":"this access token does not exist","code":-401}"#,
            ProviderError::Rejected("-401".into()),
        ),
        (
            403,
            r#"{"msg":"x","code":-402}"#,
            ProviderError::Rejected("-402".into()),
        ),
        (
            400,
            r#"{"msg":"x","code":-603}"#,
            ProviderError::Unavailable("-603".into()),
        ),
        (
            503,
            r#"{"msg":"x","code":-9798}"#,
            ProviderError::Unavailable("-9798".into()),
        ),
        (502, "", ProviderError::Unavailable("HTTP 502".into())),
    ];
    for (status, body, expected) in cases {
        assert_eq!(
            api_error(StatusCode::from_u16(status).unwrap(), body.as_bytes()),
            expected,
            "{body}"
        );
    }
}

use proptest::prelude::*;

fn label(e: &ProviderError) -> &str {
    let (ProviderError::Rejected(l)
    | ProviderError::Misconfigured(l)
    | ProviderError::Unavailable(l)) = e;
    l
}

fn is_short_word(l: &str) -> bool {
    l.len() <= 40
        && l.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ' '))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn error_labels_are_short_words_whatever_kakao_sends(
        status in 400u16..600,
        error in "\\PC{0,80}",
        error_code in "\\PC{0,80}",
        code in any::<i64>(),
    ) {
        let status = StatusCode::from_u16(status).unwrap();
        let body = serde_json::json!({ "error": error, "error_code": error_code });
        let e = token_error(status, body.to_string().as_bytes());
        prop_assert!(is_short_word(label(&e)), "{e:?}");
        let body = serde_json::json!({ "msg": error, "code": code });
        let e = api_error(status, body.to_string().as_bytes());
        prop_assert!(is_short_word(label(&e)), "{e:?}");
    }

    #[test]
    fn an_email_is_kept_only_when_valid_and_verified(
        valid in any::<Option<bool>>(),
        verified in any::<Option<bool>>(),
        email in "[a-z@.]{0,12}",
    ) {
        let body = serde_json::json!({
            "id": 1,
            "kakao_account": {
                "email": email, "is_email_valid": valid, "is_email_verified": verified
            }
        });
        let user = read_user(body.to_string().as_bytes()).unwrap();
        let expected = (valid == Some(true) && verified == Some(true) && !email.is_empty())
            .then_some(email);
        prop_assert_eq!(user.email, expected);
    }
}
