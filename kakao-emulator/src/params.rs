//! Query strings, form bodies and bearer headers. Parameters keep their
//! original order so a consent page can carry them verbatim.

use crate::control_wire::TokenRequestSeen;

/// Decoded `application/x-www-form-urlencoded` pairs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(encoded: &[u8]) -> Self {
        Self(
            url::form_urlencoded::parse(encoded)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `key`, if present and not empty.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The query's parameters followed by those of a form body (a body of
    /// another content type is ignored), for endpoints that take either.
    pub(crate) fn of_request(query: &str, content_type: Option<&str>, body: &[u8]) -> Self {
        let params = Params::parse(query.as_bytes());
        if is_form(content_type) {
            params.merged(Params::parse(body))
        } else {
            params
        }
    }

    /// What a token request carried, without its secret values.
    pub(crate) fn seen(&self) -> TokenRequestSeen {
        TokenRequestSeen {
            grant_type: self.get("grant_type").unwrap_or_default().to_owned(),
            client_id: self.get("client_id").unwrap_or_default().to_owned(),
            redirect_uri: self.get("redirect_uri").map(str::to_owned),
            had_client_secret: self.get("client_secret").is_some(),
            had_code_verifier: self.get("code_verifier").is_some(),
            had_state: self.get("state").is_some(),
        }
    }

    /// These pairs followed by `other`'s.
    pub(crate) fn merged(mut self, other: Params) -> Self {
        self.0.extend(other.0);
        self
    }
}

/// Whether a `Content-Type` header names a form body.
pub(crate) fn is_form(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        ct.split(';').next().is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    })
}

/// The token of an `Authorization: Bearer {token}` header (scheme
/// case-insensitive); `None` for a missing header, another scheme or an
/// empty token.
pub(crate) fn bearer_token(authorization: Option<&str>) -> Option<&str> {
    let (scheme, token) = authorization?.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_count_as_absent_and_the_first_value_wins() {
        let p = Params::parse(b"state=&a=1&a=2&nick=%ED%99%8D+x");
        assert_eq!(p.get("state"), None);
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("nick"), Some("홍 x"));
    }

    #[test]
    fn form_content_types_are_recognised_with_or_without_a_charset() {
        assert!(is_form(Some("application/x-www-form-urlencoded")));
        assert!(is_form(Some(
            "application/x-www-form-urlencoded;charset=utf-8"
        )));
        assert!(!is_form(Some("application/json")));
        assert!(!is_form(None));
    }

    #[test]
    fn bearer_tokens_are_read_from_the_bearer_scheme_only() {
        assert_eq!(bearer_token(Some("Bearer abc+/=")), Some("abc+/="));
        assert_eq!(bearer_token(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(Some("Basic abc")), None);
        assert_eq!(bearer_token(Some("Bearer ")), None);
        assert_eq!(bearer_token(None), None);
    }
}
