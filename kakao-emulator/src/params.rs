//! Query strings and form bodies, kept in their original order so the consent
//! page can carry them verbatim.

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
}
