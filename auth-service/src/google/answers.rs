//! What Google's token and revocation endpoints answer, read into our
//! terms. Errors have the RFC 6749 shape (`{"error","error_description"}`
//! with a 4xx); only `error` is read, never the description, and only a
//! short error word ever reaches a label.

use reqwest::StatusCode;
use secrecy::SecretString;
use serde::Deserialize;

use crate::providers::api::ProviderError;

/// Google's RFC 7009 word for a token it does not know (already revoked or
/// expired). A raw string: it is Google's word, not our contract's reason
/// of the same spelling.
const UNKNOWN_TOKEN: &str = r#"invalid_token"#;

/// The tokens of a successful code exchange.
pub(crate) struct GoogleTokens {
    /// Only with `access_type=offline`, and only on the first consent.
    pub(crate) refresh_token: Option<SecretString>,
    /// Present because `openid` was asked for; verified before use.
    pub(crate) id_token: Option<String>,
}

impl std::fmt::Debug for GoogleTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleTokens")
            .field("refresh_token", &self.refresh_token.is_some())
            .field("id_token", &self.id_token.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
}

#[derive(Deserialize, Default)]
struct ErrorAnswer {
    #[serde(default)]
    error: String,
}

/// The tokens of a 2xx token answer (an access token is required, though
/// only the refresh token and the id_token are used).
pub(crate) fn read_tokens(body: &[u8]) -> Result<GoogleTokens, ProviderError> {
    let answer: TokenAnswer = serde_json::from_slice(body)
        .map_err(|_| ProviderError::Unavailable("unreadable token response".into()))?;
    if answer.access_token.is_empty() {
        return Err(ProviderError::Unavailable(
            "token response without access_token".into(),
        ));
    }
    Ok(GoogleTokens {
        refresh_token: answer
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(SecretString::from),
        id_token: answer.id_token.filter(|t| !t.is_empty()),
    })
}

/// A non-2xx token answer: 5xx and 429 are outages; a refusal of our
/// client or redirect URI is for an operator; anything else (a spent,
/// expired or unknown code, a PKCE mismatch: `invalid_grant`) refuses
/// this login.
pub(crate) fn token_error(status: StatusCode, body: &[u8]) -> ProviderError {
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        return ProviderError::Unavailable(format!("token endpoint answered {}", status.as_u16()));
    }
    let error = error_word(body);
    let label = error
        .clone()
        .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
    match error.as_deref() {
        Some(
            "invalid_client"
            | "unauthorized_client"
            | "redirect_uri_mismatch"
            | "deleted_client"
            | "disabled_client"
            | "unsupported_grant_type",
        ) => ProviderError::Misconfigured(label),
        _ => ProviderError::Rejected(label),
    }
}

/// The revocation endpoint's answer: 200 is done; 400 with Google's
/// unknown-token word is done too (the grant is already revoked or
/// expired, which is what unlinking wants); 5xx and 429 are outages;
/// anything else is a refusal.
pub(crate) fn revoke_answer(status: StatusCode, body: &[u8]) -> Result<(), ProviderError> {
    if status.is_success() {
        return Ok(());
    }
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        return Err(ProviderError::Unavailable(format!(
            "revocation endpoint answered {}",
            status.as_u16()
        )));
    }
    let error = error_word(body);
    if status == StatusCode::BAD_REQUEST && error.as_deref() == Some(UNKNOWN_TOKEN) {
        tracing::info!(provider = "google", "grant already revoked or expired");
        return Ok(());
    }
    Err(ProviderError::Rejected(
        error.unwrap_or_else(|| format!("HTTP {}", status.as_u16())),
    ))
}

/// The `error` of an error answer, when it is a short error word (it may
/// go into a log line; anything else is dropped).
fn error_word(body: &[u8]) -> Option<String> {
    let answer: ErrorAnswer = serde_json::from_slice(body).unwrap_or_default();
    let word = answer.error;
    let plain = !word.is_empty()
        && word.len() <= 40
        && word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    plain.then_some(word)
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn body(error: &str) -> Vec<u8> {
        serde_json::json!({ "error": error, "error_description": "Bad Request" })
            .to_string()
            .into_bytes()
    }

    #[test]
    fn token_errors_are_classified_by_their_error_word() {
        let cases = [
            (
                400,
                body("invalid_grant"),
                ProviderError::Rejected("invalid_grant".into()),
            ),
            (
                400,
                body("invalid_request"),
                ProviderError::Rejected("invalid_request".into()),
            ),
            (
                401,
                body("invalid_client"),
                ProviderError::Misconfigured("invalid_client".into()),
            ),
            (
                400,
                body("redirect_uri_mismatch"),
                ProviderError::Misconfigured("redirect_uri_mismatch".into()),
            ),
            (
                401,
                body("disabled_client"),
                ProviderError::Misconfigured("disabled_client".into()),
            ),
            (
                400,
                b"<html>".to_vec(),
                ProviderError::Rejected("HTTP 400".into()),
            ),
            (
                400,
                body("Secret: ya29.token"),
                ProviderError::Rejected("HTTP 400".into()),
            ),
            (
                503,
                body("invalid_grant"),
                ProviderError::Unavailable("token endpoint answered 503".into()),
            ),
            (
                429,
                body("rate_limit_exceeded"),
                ProviderError::Unavailable("token endpoint answered 429".into()),
            ),
        ];
        for (status, body, expected) in cases {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(token_error(status, &body), expected, "{status}");
        }
    }

    #[test]
    fn a_token_answer_needs_an_access_token() {
        let tokens = read_tokens(
            br#"{"access_token":"ya29.a","refresh_token":"1//0r","id_token":"h.c.s","expires_in":3599}"#,
        )
        .unwrap();
        assert_eq!(tokens.refresh_token.unwrap().expose_secret(), "1//0r");
        assert_eq!(tokens.id_token.as_deref(), Some("h.c.s"));
        let online = read_tokens(br#"{"access_token":"ya29.a","refresh_token":""}"#).unwrap();
        assert!(online.refresh_token.is_none() && online.id_token.is_none());
        assert!(matches!(
            read_tokens(br#"{"id_token":"h.c.s"}"#),
            Err(ProviderError::Unavailable(_))
        ));
        assert!(matches!(
            read_tokens(b"oops"),
            Err(ProviderError::Unavailable(_))
        ));
    }

    #[test]
    fn revocation_of_an_unknown_token_counts_as_done() {
        let ok =
            |status: u16, body: &[u8]| revoke_answer(StatusCode::from_u16(status).unwrap(), body);
        assert_eq!(ok(200, b""), Ok(()));
        assert_eq!(ok(400, &body("invalid_token")), Ok(()));
        assert_eq!(
            ok(400, &body("invalid_request")),
            Err(ProviderError::Rejected("invalid_request".into()))
        );
        assert!(matches!(ok(503, b""), Err(ProviderError::Unavailable(_))));
        assert!(matches!(ok(401, b""), Err(ProviderError::Rejected(_))));
    }
}
