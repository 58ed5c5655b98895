//! The identity providers' names as they appear in paths
//! (`/auth/{provider}/login`), metrics labels and logs: one spelling,
//! shared by both servers.

use crate::v1::Provider;

impl Provider {
    /// Every provider a request can name, in the order pages list them.
    pub const NAMED: [Provider; 3] = [Provider::Kakao, Provider::Naver, Provider::Google];

    /// The provider a request means: UNSPECIFIED (a client built before
    /// providers existed) is Kakao.
    pub fn or_kakao(self) -> Provider {
        match self {
            Provider::Unspecified => Provider::Kakao,
            other => other,
        }
    }

    /// The path segment, metrics label and log field: `kakao`, `naver`,
    /// `google` (`kakao` for UNSPECIFIED).
    pub fn slug(self) -> &'static str {
        match self.or_kakao() {
            Provider::Naver => "naver",
            Provider::Google => "google",
            _ => "kakao",
        }
    }

    /// The provider named by a path segment (exactly, lower case).
    pub fn from_slug(slug: &str) -> Option<Provider> {
        Provider::NAMED.into_iter().find(|p| p.slug() == slug)
    }

    /// The name people know it by, for pages: `Kakao`, `Naver`, `Google`.
    pub fn display_name(self) -> &'static str {
        match self.or_kakao() {
            Provider::Naver => "Naver",
            Provider::Google => "Google",
            _ => "Kakao",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_round_trip_and_unspecified_is_kakao() {
        for p in Provider::NAMED {
            assert_eq!(Provider::from_slug(p.slug()), Some(p));
        }
        assert_eq!(Provider::Unspecified.slug(), "kakao");
        assert_eq!(Provider::from_slug("Kakao"), None);
        assert_eq!(Provider::from_slug("github"), None);
        assert_eq!(Provider::from_slug(""), None);
    }
}
