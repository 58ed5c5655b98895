//! An app registered at Naver or Google: its client credentials and
//! callback URLs. (Kakao's one app lives in [`crate::EmulatorConfig`]
//! itself, as it always has.)

use std::fmt;

use url::Url;

/// One registered app (OAuth client). A provider can have several, so a
/// test can show that a code or token of one app is refused to another.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthApp {
    /// The `client_id`.
    pub client_id: String,
    /// The `client_secret`, always required on token and revoke calls.
    pub client_secret: String,
    /// Registered redirect URIs, matched exactly (scheme, case, port,
    /// trailing slash). Empty accepts any absolute `http`/`https` URI.
    pub redirect_uris: Vec<String>,
}

impl OAuthApp {
    /// An app with these credentials and redirect URIs.
    pub fn new(client_id: &str, client_secret: &str, redirect_uris: &[&str]) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            redirect_uris: redirect_uris.iter().map(|uri| (*uri).to_owned()).collect(),
        }
    }

    /// Whether `uri` is one of this app's callbacks.
    pub(crate) fn allows_redirect(&self, uri: &str) -> bool {
        if self.redirect_uris.is_empty() {
            Url::parse(uri)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        } else {
            self.redirect_uris
                .iter()
                .any(|registered| registered == uri)
        }
    }

    /// Whether `client_id` and `client_secret` are this app's.
    pub(crate) fn authenticates(&self, client_id: Option<&str>, secret: Option<&str>) -> bool {
        client_id == Some(self.client_id.as_str()) && secret == Some(self.client_secret.as_str())
    }
}

impl fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_uris", &self.redirect_uris)
            .finish()
    }
}

/// The app with this `client_id`, if registered.
pub(crate) fn find<'a>(apps: &'a [OAuthApp], client_id: Option<&str>) -> Option<&'a OAuthApp> {
    let client_id = client_id?;
    apps.iter().find(|app| app.client_id == client_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_match_exactly_and_an_empty_list_takes_any_web_uri() {
        let app = OAuthApp::new("c", "s", &["http://localhost:8080/cb"]);
        assert!(app.allows_redirect("http://localhost:8080/cb"));
        for refused in [
            "http://localhost:8080/cb/",
            "http://LOCALHOST:8080/cb",
            "https://localhost:8080/cb",
            "http://localhost:8080/cb?x=1",
        ] {
            assert!(!app.allows_redirect(refused), "{refused}");
        }
        let any = OAuthApp::new("c", "s", &[]);
        assert!(any.allows_redirect("https://app.example/cb"));
        assert!(!any.allows_redirect("javascript:alert(1)"));
    }

    #[test]
    fn the_secret_never_shows_in_debug_output() {
        let app = OAuthApp::new("c", "hunter2", &[]);
        assert!(!format!("{app:?}").contains("hunter2"));
    }
}
