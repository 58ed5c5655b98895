//! Where a browser may be sent after login: the open-redirect guard.

use url::{Origin, Url};

/// The origins a `return_to` URL may point at (ALLOWED_ORIGINS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedOrigins(Vec<Origin>);

impl AllowedOrigins {
    /// Just the origin of `frontend_url` (the default).
    pub fn of(frontend_url: &Url) -> Self {
        AllowedOrigins(vec![frontend_url.origin()])
    }

    /// A comma-separated list of origins such as `https://app.example.com`.
    /// The frontend's own origin is always allowed. Paths, queries,
    /// credentials and non-http(s) schemes are refused.
    pub fn parse_list(list: &str, frontend_url: &Url) -> Result<Self, String> {
        let mut origins = vec![frontend_url.origin()];
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let url = Url::parse(item).map_err(|_| format!("{item:?} is not an origin"))?;
            let bare = url.path() == "/";
            if !matches!(url.scheme(), "http" | "https")
                || url.host_str().is_none()
                || !bare
                || url.query().is_some()
                || url.fragment().is_some()
                || !url.username().is_empty()
                || url.password().is_some()
            {
                return Err(format!(
                    "{item:?} is not an http(s) origin like https://app.example.com"
                ));
            }
            if !origins.contains(&url.origin()) {
                origins.push(url.origin());
            }
        }
        Ok(AllowedOrigins(origins))
    }

    /// Whether `url`'s origin is allowed.
    pub fn contains(&self, url: &Url) -> bool {
        self.0.contains(&url.origin())
    }
}

/// Why a `return_to` was refused. Deliberately coarse: the caller only
/// learns that it was refused, not how to get around the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReturnToError {
    /// Too long, control characters, backslashes, not a path or URL, ...
    #[error("return_to must be a path on the frontend or a URL on an allowed origin")]
    Malformed,
    /// A well-formed URL on an origin that is not allowed.
    #[error("return_to points at an origin that is not allowed")]
    ForeignOrigin,
}

/// A validated, absolute post-login destination on an allowed origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnTo(Url);

const MAX_LEN: usize = 2048;

impl ReturnTo {
    /// Accepts an empty value (the frontend URL), a path starting with a
    /// single `/` (resolved on the frontend origin), or an absolute
    /// http(s) URL on an allowed origin without credentials. Everything else
    /// is refused, including scheme-relative `//host`, backslashes (browsers
    /// read `/\host` as `//host`), control characters and whitespace
    /// (browsers strip tabs and newlines), and non-http schemes.
    pub fn parse(
        raw: &str,
        frontend_url: &Url,
        allowed: &AllowedOrigins,
    ) -> Result<Self, ReturnToError> {
        if raw.is_empty() {
            return Ok(ReturnTo(frontend_url.clone()));
        }
        if raw.len() > MAX_LEN
            || raw
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return Err(ReturnToError::Malformed);
        }
        let url = if raw.starts_with('/') {
            if raw.starts_with("//") {
                return Err(ReturnToError::Malformed);
            }
            let origin_root = frontend_url
                .join("/")
                .map_err(|_| ReturnToError::Malformed)?;
            origin_root
                .join(raw)
                .map_err(|_| ReturnToError::Malformed)?
        } else {
            // Only a full "scheme://" form counts as absolute: "https:evil.com"
            // is parsed leniently by URL parsers and by browsers.
            let Some((scheme, _)) = raw.split_once("://") else {
                return Err(ReturnToError::Malformed);
            };
            if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
                return Err(ReturnToError::Malformed);
            }
            Url::parse(raw).map_err(|_| ReturnToError::Malformed)?
        };
        if !matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(ReturnToError::Malformed);
        }
        if !allowed.contains(&url) {
            return Err(ReturnToError::ForeignOrigin);
        }
        Ok(ReturnTo(url))
    }

    /// Re-reads a value stored by [`ReturnTo::parse`].
    pub fn from_stored(stored: &str) -> Option<Self> {
        Url::parse(stored).ok().map(ReturnTo)
    }

    /// The absolute URL.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (Url, AllowedOrigins) {
        let frontend = Url::parse("https://app.example.com/home").unwrap();
        let allowed = AllowedOrigins::parse_list("https://admin.example.com", &frontend).unwrap();
        (frontend, allowed)
    }

    #[test]
    fn paths_and_allowed_urls_are_accepted() {
        let (frontend, allowed) = setup();
        let cases = [
            ("", "https://app.example.com/home"),
            ("/", "https://app.example.com/"),
            ("/dashboard", "https://app.example.com/dashboard"),
            (
                "/dashboard?tab=1#top",
                "https://app.example.com/dashboard?tab=1#top",
            ),
            ("/a/../b", "https://app.example.com/b"),
            ("/%2F%2Fevil.com", "https://app.example.com/%2F%2Fevil.com"),
            ("/한글", "https://app.example.com/%ED%95%9C%EA%B8%80"),
            ("https://app.example.com/x", "https://app.example.com/x"),
            ("HTTPS://APP.EXAMPLE.COM/x", "https://app.example.com/x"),
            ("https://app.example.com:443/x", "https://app.example.com/x"),
            (
                "https://admin.example.com/users",
                "https://admin.example.com/users",
            ),
        ];
        for (raw, expected) in cases {
            let got = ReturnTo::parse(raw, &frontend, &allowed)
                .unwrap_or_else(|e| panic!("{raw:?}: {e}"));
            assert_eq!(got.as_str(), expected, "{raw:?}");
        }
    }

    /// Every open-redirect trick we know, in one table.
    #[test]
    fn open_redirect_tricks_are_refused() {
        let (frontend, allowed) = setup();
        let cases = [
            "https://evil.com",
            "https://evil.com/https://app.example.com",
            "//evil.com",
            "///evil.com",
            "////evil.com/",
            "/\\evil.com",
            "\\\\evil.com",
            "/\\/evil.com",
            "/\t/evil.com",
            "/\n/evil.com",
            "/\r\n/evil.com",
            " /dashboard",
            "/dash board",
            "https:evil.com",
            "https:/evil.com",
            "http:\\\\evil.com",
            "javascript:alert(1)",
            "JavaScript://app.example.com/%0aalert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox(1)",
            "file:///etc/passwd",
            "ftp://app.example.com/",
            "https://app.example.com@evil.com/",
            "https://user:pass@app.example.com/",
            "https://evil.com#@app.example.com",
            "https://evil.com?@app.example.com",
            "https://app.example.com.evil.com/",
            "https://evil.com\\@app.example.com",
            "http://app.example.com/",
            "https://app.example.com:8443/",
            "https://аpp.example.com/",
            "https://app.example.com%2eevil.com/",
            "dashboard",
            "evil.com",
            ".evil.com",
            "%2F%2Fevil.com",
            "/\u{0000}/evil.com",
            "/\u{3000}evil.com",
        ];
        for raw in cases {
            if let Ok(url) = ReturnTo::parse(raw, &frontend, &allowed) {
                panic!("{raw:?} was accepted as {}", url.as_str());
            }
        }
        assert!(cases.len() >= 15);
        let long = format!("/{}", "a".repeat(MAX_LEN));
        assert!(ReturnTo::parse(&long, &frontend, &allowed).is_err());
    }

    #[test]
    fn allowed_origins_refuse_paths_and_other_schemes() {
        let frontend = Url::parse("https://app.example.com/").unwrap();
        for bad in [
            "https://a.example/path",
            "ftp://a.example",
            "a.example",
            "https://u@a.example",
            "https://a.example?x",
        ] {
            assert!(AllowedOrigins::parse_list(bad, &frontend).is_err(), "{bad}");
        }
        let ok = AllowedOrigins::parse_list("https://a.example, http://localhost:3000/", &frontend)
            .unwrap();
        assert!(ok.contains(&Url::parse("http://localhost:3000/x").unwrap()));
        assert!(ok.contains(&Url::parse("https://app.example.com/x").unwrap()));
    }

    use proptest::prelude::*;

    /// Strings made of the pieces open-redirect tricks are made of.
    fn tricky() -> impl Strategy<Value = String> {
        let prefix = prop_oneof![
            Just(""),
            Just("/"),
            Just("//"),
            Just("/\\"),
            Just("https://"),
            Just("http://"),
            Just("https:"),
            Just("https://app.example.com"),
            Just("https://admin.example.com"),
            Just("javascript:"),
        ];
        (prefix, "[a-z./:@\\\\%#?\t 0-9]{0,24}").prop_map(|(p, rest)| format!("{p}{rest}"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn an_accepted_return_to_is_on_an_allowed_origin_and_no_trick(raw in tricky()) {
            let (frontend, allowed) = setup();
            if let Ok(accepted) = ReturnTo::parse(&raw, &frontend, &allowed) {
                let url = Url::parse(accepted.as_str()).unwrap();
                prop_assert!(allowed.contains(&url));
                prop_assert!(url.username().is_empty() && url.password().is_none());
                prop_assert!(!raw.starts_with("//") && !raw.contains('\\'));
                prop_assert!(!raw.chars().any(char::is_whitespace));
                if raw.starts_with('/') {
                    prop_assert_eq!(url.origin(), frontend.origin());
                }
                let again = ReturnTo::parse(accepted.as_str(), &frontend, &allowed);
                prop_assert_eq!(again.as_ref().map(ReturnTo::as_str), Ok(accepted.as_str()));
            }
        }

        #[test]
        fn any_plain_path_lands_on_the_frontend(
            path in "(/[A-Za-z0-9._~-]{1,10}){1,4}/?(\\?[a-z]{1,5}=[0-9]{1,3})?"
        ) {
            let (frontend, allowed) = setup();
            let accepted = ReturnTo::parse(&path, &frontend, &allowed).unwrap();
            prop_assert!(accepted.as_str().starts_with("https://app.example.com/"));
        }
    }
}
