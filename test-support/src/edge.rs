//! An in-process http-edge on port 0 (feature `edge`).

use http_edge::{Application, RateLimitSettings, Settings};
use tokio::sync::oneshot;
use url::Url;

/// Settings for a test edge on `127.0.0.1:0` in front of `auth_service_url`,
/// with the service's default issuer and audience and the demo page on.
/// The rate limits are off: tests log in many times from one address (the
/// tests of the limits turn them on).
pub fn settings(
    auth_service_url: String,
    frontend_url: &str,
    frontend_error_url: &str,
    allowed_origins: &[&str],
) -> Settings {
    Settings {
        addr: "127.0.0.1:0".parse().expect("addr"),
        auth_service_url,
        auth_service_tls: None,
        frontend_url: Url::parse(frontend_url).expect("frontend URL"),
        frontend_error_url: Url::parse(frontend_error_url).expect("frontend error URL"),
        allowed_origins: allowed_origins.iter().map(|&o| o.to_owned()).collect(),
        cookie_domain: None,
        jwt_issuer: "kakao-login-auth-service".into(),
        jwt_audience: "kakao-login".into(),
        demo_page: true,
        rate_limits: RateLimitSettings::off(),
    }
}

/// A running edge; stops when dropped.
pub struct EdgeHandle {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    _stop: oneshot::Sender<()>,
}

impl EdgeHandle {
    /// Builds and starts the real edge with these settings.
    pub async fn start(settings: Settings) -> EdgeHandle {
        let app = Application::build(settings).await.expect("edge builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        EdgeHandle { base, _stop: stop }
    }
}
