//! The answers of Naver's token and revoke endpoints read into tokens, or
//! into the kind of failure they are (the profile's are [`super::profile`]'s).
//! Naver's shapes (`shared/reference/naver-login.md`):
//!
//! - the token endpoint answers its errors with **HTTP 200** and
//!   `{"error","error_description"}`, so an answer is a success only when
//!   it holds an `access_token`; `expires_in` comes as a string (`"3600"`)
//!   and is not read, as the access token is spent at once on the profile;
//! - revoke answers an empty 200, even for a token already dead.
//!
//! Labels are Naver's short error words or `HTTP <status>`; never a token,
//! a code or a description.

use reqwest::StatusCode;
use secrecy::SecretString;
use serde::Deserialize;

use crate::providers::api::ProviderError;

/// The longest access token we put in a header (Naver's are ≤ 256).
const MAX_TOKEN_LEN: usize = 4096;

/// The tokens of a code exchange.
pub(crate) struct NaverTokens {
    /// Spent once, on the profile.
    pub(crate) access_token: SecretString,
    /// Kept as the grant to revoke on unlink, when Naver sent one.
    pub(crate) refresh_token: Option<SecretString>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    refresh_token: Option<String>,
    error: Option<String>,
}

/// An error answer of the token or revoke endpoint (`error` only).
#[derive(Deserialize, Default)]
struct ErrorAnswer {
    error: Option<String>,
}

/// The answer of `/oauth2.0/token` for a code: tokens when it holds an
/// `access_token` (whatever else it holds), else the error it says.
pub(crate) fn read_tokens(status: StatusCode, body: &[u8]) -> Result<NaverTokens, ProviderError> {
    let answer: Option<TokenAnswer> = serde_json::from_slice(body).ok();
    if status.is_success()
        && let Some(TokenAnswer {
            access_token: Some(access),
            refresh_token,
            ..
        }) = answer
    {
        return tokens(access, refresh_token);
    }
    let word = answer.and_then(|a| a.error);
    Err(client_call_error(status, word.as_deref()))
}

fn tokens(access: String, refresh: Option<String>) -> Result<NaverTokens, ProviderError> {
    let usable = !access.is_empty()
        && access.len() <= MAX_TOKEN_LEN
        && access.bytes().all(|b| b.is_ascii_graphic());
    if !usable {
        return Err(ProviderError::Unavailable("unreadable access_token".into()));
    }
    Ok(NaverTokens {
        access_token: SecretString::from(access),
        refresh_token: refresh.filter(|r| !r.is_empty()).map(SecretString::from),
    })
}

/// The answer of `/oauth2.0/revoke`: any 2xx is done (the body is empty).
pub(super) fn read_revoke(status: StatusCode, body: &[u8]) -> Result<(), ProviderError> {
    if status.is_success() {
        return Ok(());
    }
    let answer: ErrorAnswer = serde_json::from_slice(body).unwrap_or_default();
    Err(client_call_error(status, answer.error.as_deref()))
}

/// A failed call authenticated by our client id and secret (token or
/// revoke): by the status when it says Naver is down or refused our
/// client, else by Naver's error word, else by the status.
fn client_call_error(status: StatusCode, word: Option<&str>) -> ProviderError {
    let label = label(word, status);
    if is_outage(status) {
        return ProviderError::Unavailable(label);
    }
    if status == StatusCode::UNAUTHORIZED {
        return ProviderError::Misconfigured(label);
    }
    match word {
        Some(word) => by_error_word(word, label),
        // A 200 with neither tokens nor an error is no answer we know.
        None if status.is_success() => ProviderError::Unavailable("unreadable answer".into()),
        None => by_status(status, label),
    }
}

/// Naver's (RFC 6749's) error words. `invalid_client`: our id or secret;
/// `server_error`, `temporarily_unavailable`: Naver is down; every other
/// word (`invalid_request` for a spent or unknown code,
/// `unauthorized_client`, `invalid_grant`, ...) refuses this request.
fn by_error_word(word: &str, label: String) -> ProviderError {
    // Raw strings: Naver's words, which merely share their spelling with
    // some of our contract's (scripts/structure-check).
    match word {
        r#"invalid_client"# => ProviderError::Misconfigured(label),
        r#"server_error"# | r#"temporarily_unavailable"# => ProviderError::Unavailable(label),
        _ => ProviderError::Rejected(label),
    }
}

/// A refusal without a word we know: a redirect or a 404 means the base
/// URL is wrong (an operator's fix); any other 4xx refuses this request.
pub(super) fn by_status(status: StatusCode, label: String) -> ProviderError {
    if status.is_redirection() || status == StatusCode::NOT_FOUND {
        ProviderError::Misconfigured(label)
    } else {
        ProviderError::Rejected(label)
    }
}

/// Naver is down, or asks us to slow down: worth retrying later.
pub(super) fn is_outage(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

/// Naver's word made safe (`invalid_request`, `024`), else `HTTP <status>`.
pub(super) fn label(word: Option<&str>, status: StatusCode) -> String {
    let word: String = word
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(32)
        .collect();
    if word.is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        word
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn status(code: u16) -> StatusCode {
        StatusCode::from_u16(code).unwrap()
    }

    fn rejected(label: &str) -> ProviderError {
        ProviderError::Rejected(label.into())
    }

    fn misconfigured(label: &str) -> ProviderError {
        ProviderError::Misconfigured(label.into())
    }

    fn unavailable(label: &str) -> ProviderError {
        ProviderError::Unavailable(label.into())
    }

    #[test]
    fn a_token_answer_with_an_access_token_succeeds_and_its_expires_in_may_be_a_string() {
        for body in [
            r#"{"access_token":"AAAAQ+a/b=","refresh_token":"c8ce","token_type":"bearer","expires_in":"3600"}"#,
            r#"{"access_token":"AAAAQ+a/b=","refresh_token":"c8ce","token_type":"bearer","expires_in":3600}"#,
        ] {
            let tokens = read_tokens(status(200), body.as_bytes()).unwrap();
            assert_eq!(tokens.access_token.expose_secret(), "AAAAQ+a/b=");
            assert_eq!(
                tokens.refresh_token.as_ref().map(|r| r.expose_secret()),
                Some("c8ce")
            );
        }
        let without_refresh =
            read_tokens(status(200), br#"{"access_token":"a","refresh_token":""}"#).unwrap();
        assert!(without_refresh.refresh_token.is_none());
    }

    #[test]
    fn token_errors_are_read_from_the_body_even_under_http_200() {
        let cases = [
            (
                200,
                r#"{"error":"invalid_request","error_description":"no valid data in session"}"#,
                rejected("invalid_request"),
            ),
            (
                200,
                r#"{"error":"unauthorized_client","error_description":"x"}"#,
                rejected("unauthorized_client"),
            ),
            (
                200,
                r#"{"error":"invalid_grant"}"#,
                rejected("invalid_grant"),
            ),
            (
                200,
                r#"{"error":"invalid_client","error_description":"Client authentication failed."}"#,
                misconfigured("invalid_client"),
            ),
            (
                401,
                r#"{"error":"invalid_client"}"#,
                misconfigured("invalid_client"),
            ),
            (401, "", misconfigured("HTTP 401")),
            (
                200,
                r#"{"error":"server_error","error_description":"Internal Server Error"}"#,
                unavailable("server_error"),
            ),
            (
                200,
                r#"{"error":"temporarily_unavailable"}"#,
                unavailable("temporarily_unavailable"),
            ),
            (
                500,
                r#"{"error":"invalid_request"}"#,
                unavailable("invalid_request"),
            ),
            (503, "<html>busy</html>", unavailable("HTTP 503")),
            (429, "", unavailable("HTTP 429")),
            (200, "<html>oops</html>", unavailable("unreadable answer")),
            (200, "{}", unavailable("unreadable answer")),
            (
                200,
                r#"{"access_token":null}"#,
                unavailable("unreadable answer"),
            ),
            (
                200,
                r#"{"access_token":""}"#,
                unavailable("unreadable access_token"),
            ),
            (
                200,
                r#"{"access_token":"has space"}"#,
                unavailable("unreadable access_token"),
            ),
            (400, "bad", rejected("HTTP 400")),
            (404, "", misconfigured("HTTP 404")),
            (302, "", misconfigured("HTTP 302")),
            (400, r#"{"access_token":"a"}"#, rejected("HTTP 400")),
        ];
        for (code, body, expected) in cases {
            let got = read_tokens(status(code), body.as_bytes())
                .map(|_| ())
                .unwrap_err();
            assert_eq!(got, expected, "{code} {body}");
        }
    }

    #[test]
    fn error_labels_are_short_safe_words_never_descriptions() {
        let body = r#"{"error":"invalid_request secret=abc\n<script>","error_description":"code XYZ was used"}"#;
        let got = read_tokens(status(200), body.as_bytes())
            .map(|_| ())
            .unwrap_err();
        assert_eq!(got, rejected("invalid_requestsecretabcscript"));
        let long = format!(r#"{{"error":"{}"}}"#, "e".repeat(100));
        let got = read_tokens(status(200), long.as_bytes())
            .map(|_| ())
            .unwrap_err();
        assert_eq!(got, rejected(&"e".repeat(32)));
    }

    #[test]
    fn revoke_is_done_on_any_2xx_and_otherwise_says_whose_fault() {
        assert_eq!(read_revoke(status(200), b""), Ok(()));
        assert_eq!(read_revoke(status(204), b""), Ok(()));
        let cases = [
            (
                401,
                r#"{"error":"unauthorized_client","error_description":"Client authentication failed."}"#,
                misconfigured("unauthorized_client"),
            ),
            (
                503,
                r#"{"error":"temporarily_unavailable"}"#,
                unavailable("temporarily_unavailable"),
            ),
            (500, "", unavailable("HTTP 500")),
            (
                400,
                r#"{"error":"invalid_request"}"#,
                rejected("invalid_request"),
            ),
            (400, "", rejected("HTTP 400")),
            (404, "", misconfigured("HTTP 404")),
        ];
        for (code, body, expected) in cases {
            assert_eq!(
                read_revoke(status(code), body.as_bytes()),
                Err(expected),
                "{code} {body}"
            );
        }
    }
}
