//! The route table ([`Route`]): every path the edge answers, with its
//! methods and metrics label, defined once. A route whose path has a
//! `{provider}` segment answers one path per provider of
//! [`Provider::NAMED`] (`/auth/kakao/login`, `/auth/naver/login`, ...); a
//! segment naming no provider matches no route, so it is a 404 that never
//! reaches a handler and is timed as [`OTHER_LABEL`].

use auth_proto::v1::Provider;
use http::Method;

/// Every path the edge answers. Its path, methods and metrics label are
/// defined here, once: the filters match [`Route::path`] (see
/// [`Route::parse`]), and a request is timed under [`Route::label`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Login,
    Callback,
    Link,
    Me,
    Refresh,
    Logout,
    LogoutAll,
    IdentityUnlink,
    Unlink,
    Jwks,
    Healthz,
    Readyz,
    Metrics,
    DemoPage,
    DemoScript,
    DemoStyle,
}

/// The label of a request no route answers, so a scanner cannot grow the
/// label set.
pub(crate) const OTHER_LABEL: &str = "other";

/// The path segment that names a provider by its slug.
const PROVIDER_SEGMENT: &str = "{provider}";

impl Route {
    /// The whole table.
    pub(crate) const ALL: [Route; 16] = [
        Route::Login,
        Route::Callback,
        Route::Link,
        Route::Me,
        Route::Refresh,
        Route::Logout,
        Route::LogoutAll,
        Route::IdentityUnlink,
        Route::Unlink,
        Route::Jwks,
        Route::Healthz,
        Route::Readyz,
        Route::Metrics,
        Route::DemoPage,
        Route::DemoScript,
        Route::DemoStyle,
    ];

    /// The path the route answers; `{provider}` stands for a provider's
    /// slug ([`Provider::slug`]).
    pub(crate) const fn path(self) -> &'static str {
        match self {
            Route::Login => "/auth/{provider}/login",
            Route::Callback => "/auth/{provider}/callback",
            Route::Link => "/auth/{provider}/link",
            Route::Me => "/auth/me",
            Route::Refresh => "/auth/refresh",
            Route::Logout => "/auth/logout",
            Route::LogoutAll => "/auth/logout/all",
            Route::IdentityUnlink => "/auth/identities/{provider}/unlink",
            // Kakao's own server-to-server unlink callback: Kakao only.
            Route::Unlink => "/auth/kakao/unlink",
            Route::Jwks => "/.well-known/jwks.json",
            Route::Healthz => "/healthz",
            Route::Readyz => "/readyz",
            Route::Metrics => "/metrics",
            Route::DemoPage => "/",
            Route::DemoScript => "/demo.js",
            Route::DemoStyle => "/demo.css",
        }
    }

    /// The route's path for `provider` (its path as is when it names none).
    #[cfg(test)]
    pub(crate) fn path_for(self, provider: Provider) -> String {
        self.path().replace(PROVIDER_SEGMENT, provider.slug())
    }

    /// The `route` label of `edge_http_request_duration_seconds`: the
    /// route's path, `{provider}` included (bounded by this table, readable
    /// on a dashboard; the login funnel counts by provider).
    pub(crate) const fn label(self) -> &'static str {
        self.path()
    }

    /// Whether the route answers `method` (OPTIONS preflights aside).
    pub(crate) fn allows(self, method: &Method) -> bool {
        match self {
            Route::Refresh | Route::Logout | Route::LogoutAll | Route::IdentityUnlink => {
                method == Method::POST
            }
            Route::Unlink => method == Method::GET || method == Method::POST,
            _ => method == Method::GET,
        }
    }

    /// Whether the route is one of the demo page's (served only with
    /// `DEMO_PAGE` on).
    pub(crate) const fn is_demo(self) -> bool {
        matches!(self, Route::DemoPage | Route::DemoScript | Route::DemoStyle)
    }

    /// Whether `path` is this route's: its path, or (as warp's `path!`
    /// would match) its path with one trailing slash; `{provider}` must be
    /// a named provider's slug, exactly.
    pub(crate) fn matches(self, path: &str) -> bool {
        self.parse(path).is_some()
    }

    /// `Some(provider)` when `path` is this route's (see [`Route::matches`]):
    /// the provider it names, or `None` for a route without a provider
    /// segment.
    pub(crate) fn parse(self, path: &str) -> Option<Option<Provider>> {
        let own = self.path();
        let path = match own {
            "/" => path,
            _ => path.strip_suffix('/').unwrap_or(path),
        };
        match own.split_once(PROVIDER_SEGMENT) {
            None => (path == own).then_some(None),
            Some((before, after)) => {
                let slug = path.strip_prefix(before)?.strip_suffix(after)?;
                Provider::from_slug(slug).map(Some)
            }
        }
    }

    /// The route whose path `path` is.
    pub(crate) fn of_path(path: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|route| route.matches(path))
    }

    /// The label a request for `path` is timed under.
    pub(crate) fn label_of(path: &str) -> &'static str {
        Route::of_path(path).map_or(OTHER_LABEL, Route::label)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_route_has_its_own_label_and_each_path_maps_to_it() {
        let expected = [
            ("/auth/kakao/login", Route::Login, "/auth/{provider}/login"),
            (
                "/auth/kakao/callback",
                Route::Callback,
                "/auth/{provider}/callback",
            ),
            ("/auth/naver/link", Route::Link, "/auth/{provider}/link"),
            ("/auth/me", Route::Me, "/auth/me"),
            ("/auth/refresh", Route::Refresh, "/auth/refresh"),
            ("/auth/logout", Route::Logout, "/auth/logout"),
            ("/auth/logout/all", Route::LogoutAll, "/auth/logout/all"),
            (
                "/auth/identities/google/unlink",
                Route::IdentityUnlink,
                "/auth/identities/{provider}/unlink",
            ),
            ("/auth/kakao/unlink", Route::Unlink, "/auth/kakao/unlink"),
            (
                "/.well-known/jwks.json",
                Route::Jwks,
                "/.well-known/jwks.json",
            ),
            ("/healthz", Route::Healthz, "/healthz"),
            ("/readyz", Route::Readyz, "/readyz"),
            ("/metrics", Route::Metrics, "/metrics"),
            ("/", Route::DemoPage, "/"),
            ("/demo.js", Route::DemoScript, "/demo.js"),
            ("/demo.css", Route::DemoStyle, "/demo.css"),
        ];
        assert_eq!(expected.len(), Route::ALL.len());
        for (path, route, label) in expected {
            assert_eq!(Route::of_path(path), Some(route), "{path}");
            assert_eq!(route.label(), label, "{route:?}");
            assert_eq!(Route::label_of(path), label, "{path}");
        }
        let mut labels = HashSet::new();
        for route in Route::ALL {
            assert_ne!(route.label(), OTHER_LABEL, "{route:?}");
            assert!(labels.insert(route.label()), "{route:?}: label used twice");
        }
        for path in [
            "/nope",
            "/auth",
            "/auth/me/x",
            "//",
            "/auth//me",
            "/wp-admin.php",
            "/auth/{provider}/login",
            "/auth/github/login",
        ] {
            assert_eq!(Route::label_of(path), OTHER_LABEL, "{path}");
        }
    }

    #[test]
    fn a_provider_segment_names_exactly_one_named_provider() {
        for provider in Provider::NAMED {
            for route in [
                Route::Login,
                Route::Callback,
                Route::Link,
                Route::IdentityUnlink,
            ] {
                let path = route.path_for(provider);
                assert_eq!(route.parse(&path), Some(Some(provider)), "{path}");
                let slash = format!("{path}/");
                assert_eq!(route.parse(&slash), Some(Some(provider)), "{slash}");
            }
        }
        assert_eq!(Route::Me.parse("/auth/me"), Some(None));
        assert_eq!(Route::Me.path_for(Provider::Naver), "/auth/me");
        for path in [
            "/auth/github/login",
            "/auth/Kakao/login",
            "/auth/KAKAO/login",
            "/auth//login",
            "/auth/kakao/naver/login",
            "/auth/kakao%2F/login",
            "/auth/kakao/login//",
            "/auth/kakao/loginx",
            "/auth/unspecified/login",
            "/auth/{provider}/login",
        ] {
            assert_eq!(Route::Login.parse(path), None, "{path}");
            assert_eq!(Route::of_path(path), None, "{path}");
        }
        assert_eq!(
            Route::IdentityUnlink.parse("/auth/identities/x/unlink"),
            None
        );
        // Kakao's unlink callback is its own route, not a provider's.
        assert_eq!(Route::of_path("/auth/kakao/unlink"), Some(Route::Unlink));
        assert_eq!(Route::of_path("/auth/naver/unlink"), None);
    }

    #[test]
    fn each_route_answers_its_methods() {
        use Route::*;
        for (route, get, post) in [
            (Login, true, false),
            (Callback, true, false),
            (Link, true, false),
            (IdentityUnlink, false, true),
            (Logout, false, true),
            (Unlink, true, true),
            (Me, true, false),
        ] {
            assert_eq!(route.allows(&Method::GET), get, "{route:?} GET");
            assert_eq!(route.allows(&Method::POST), post, "{route:?} POST");
            assert!(!route.allows(&Method::PUT), "{route:?} PUT");
        }
    }
}
