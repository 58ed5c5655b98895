//! The real edge on port 0 in front of the fake (or of a closed port), and
//! the assertions every route test shares.

use std::{net::SocketAddr, time::Duration};

use auth_proto::v1::auth_service_server::AuthServiceServer;
use http_edge::RateLimitSettings;
use reqwest::StatusCode;
use test_support::{EdgeClient, EdgeHandle, edge, wait_until};
pub use test_support::{header, set_cookie_lines};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic_health::server::HealthReporter;

use crate::fake_auth::{FRONTEND, FakeAuth};

pub const ERROR_ROUTE: &str = "https://app.example.com/login/error?lang=ko";

/// The real edge on port 0, the fake behind it, and a client that never
/// follows redirects.
pub struct TestEdge {
    pub base: String,
    pub client: reqwest::Client,
    browser: EdgeClient,
    pub fake: FakeAuth,
    /// The fake's health service (absent when the service is down).
    pub health: Option<HealthReporter>,
    _running: EdgeHandle,
}

impl TestEdge {
    /// The edge in front of a running fake auth-service that reports
    /// `auth.v1.AuthService` as SERVING.
    pub async fn start() -> TestEdge {
        Self::start_with(|_| {}).await
    }

    /// [`TestEdge::start`] with the edge's settings changed by `configure`.
    pub async fn start_with(configure: impl FnOnce(&mut http_edge::Settings)) -> TestEdge {
        let fake = FakeAuth::default();
        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_serving::<AuthServiceServer<FakeAuth>>().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tonic::transport::Server::builder()
            .add_service(health_service)
            .add_service(AuthServiceServer::new(fake.clone()))
            .serve_with_incoming(TcpListenerStream::new(listener));
        tokio::spawn(server);
        let mut edge = Self::configured(format!("http://{addr}"), fake, configure).await;
        edge.health = Some(health);
        edge.wait_for_feed(true).await;
        edge
    }

    /// Waits until the edge reports the revocation feed up (or down).
    pub async fn wait_for_feed(&self, up: bool) {
        let line = format!("edge_revocation_feed_up {}", u8::from(up));
        wait_until(Duration::from_secs(10), &line, || async {
            self.metrics().await.lines().any(|l| l == line)
        })
        .await;
    }

    /// Polls `/auth/me` with `token` until it answers `status`.
    pub async fn wait_for_me(&self, token: &str, status: StatusCode) {
        wait_until(
            Duration::from_secs(5),
            format!("/auth/me is {status}"),
            || async { self.me(token).await.status() == status },
        )
        .await;
    }

    /// The edge pointed at a port where nothing listens.
    pub async fn with_service_down() -> TestEdge {
        let closed: SocketAddr = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        Self::with_service(format!("http://{closed}"), FakeAuth::default()).await
    }

    pub async fn with_service(auth_service_url: String, fake: FakeAuth) -> TestEdge {
        Self::configured(auth_service_url, fake, |_| {}).await
    }

    async fn configured(
        auth_service_url: String,
        fake: FakeAuth,
        configure: impl FnOnce(&mut http_edge::Settings),
    ) -> TestEdge {
        let mut settings = edge::settings(
            auth_service_url,
            &format!("{FRONTEND}/"),
            ERROR_ROUTE,
            &[FRONTEND],
        );
        settings.rate_limits = RateLimitSettings::off();
        configure(&mut settings);
        let running = EdgeHandle::start(settings).await;
        let browser = EdgeClient::new(running.base.clone());
        TestEdge {
            base: browser.base.clone(),
            client: browser.http.clone(),
            browser,
            fake,
            health: None,
            _running: running,
        }
    }

    /// `GET /auth/me` with `token` in the access cookie.
    pub async fn me(&self, token: &str) -> reqwest::Response {
        self.get("/auth/me", Some(&format!("access_token={token}")))
            .await
    }

    pub async fn metrics(&self) -> String {
        let response = self.get("/metrics", None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            header(response.headers(), "content-type")
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        response.text().await.unwrap()
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        self.browser.get(path, cookie.unwrap_or("")).await
    }

    pub async fn post(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.client.post(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }
}

pub fn error_route(code: &str) -> String {
    format!("{ERROR_ROUTE}&error={code}")
}

pub const CLEAR_BINDING: &str =
    "__Host-kakao_login_binding=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0";
pub const CLEAR_ACCESS: &str = "access_token=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0";
pub const CLEAR_REFRESH: &str =
    "refresh_token=; HttpOnly; SameSite=Lax; Secure; Path=/auth; Max-Age=0";

/// A navigation that failed: a 302 to the error route with the binding
/// cookie cleared, never cached, no referrer.
pub fn assert_error_redirect(response: &reqwest::Response, code: &str) {
    assert_eq!(response.status(), StatusCode::FOUND);
    let h = response.headers();
    assert_eq!(header(h, "location"), Some(error_route(code).as_str()));
    assert_eq!(set_cookie_lines(h), vec![CLEAR_BINDING.to_owned()]);
    assert_eq!(header(h, "cache-control"), Some("no-store"));
    assert_eq!(header(h, "referrer-policy"), Some("no-referrer"));
    assert_eq!(header(h, "x-content-type-options"), Some("nosniff"));
}

/// Asserts that the metrics text has exactly this line.
pub fn assert_has_line(text: &str, line: &str) {
    assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
}
