//! `Application`: binds the listener first (so tests can ask for port 0),
//! prepares the one shared gRPC channel to the auth-service (used by the
//! auth client, the health client and the key cache), and serves the routes
//! ([`crate::server`]) until the shutdown future completes.

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::Context;
use auth_proto::v1::auth_service_client::AuthServiceClient;
use tokio::net::TcpListener;
use tonic::transport::Endpoint;
use tonic_health::pb::health_client::HealthClient;

use crate::{
    configuration::Settings, cookies::Cookies, jwks::Jwks, metrics::Metrics, routes, server,
    single_flight::SingleFlight, state::AppState,
};

/// The HTTP edge, bound and ready to serve.
pub struct Application {
    port: u16,
    listener: TcpListener,
    state: Arc<AppState>,
}

impl Application {
    /// Binds `settings.addr` and prepares the auth-service channel. The
    /// channel connects lazily, so the edge starts even when the service is
    /// down (its routes then answer `unavailable`).
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(settings.addr)
            .await
            .with_context(|| format!("bind EDGE_ADDR {}", settings.addr))?;
        let port = listener
            .local_addr()
            .context("read the bound address")?
            .port();
        let channel = Endpoint::from_shared(settings.auth_service_url.clone())
            .context("AUTH_SERVICE_URL: not a valid gRPC endpoint")?
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .connect_lazy();
        let cookies = Cookies::new(settings.cookie_domain.clone())
            .context("COOKIE_DOMAIN: not usable in a cookie")?;
        let auth = AuthServiceClient::new(channel.clone());
        let jwks = Jwks::new(auth.clone(), &settings.jwt_issuer, &settings.jwt_audience);
        let state = AppState {
            settings,
            cookies,
            auth,
            health: HealthClient::new(channel),
            jwks: Arc::new(jwks),
            metrics: Metrics::new(),
            refreshes: SingleFlight::new(),
        };
        Ok(Application {
            port,
            listener,
            state: Arc::new(state),
        })
    }

    /// The port actually bound (useful when `EDGE_ADDR` asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    /// Meanwhile the key cache is refreshed in the background.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(
            addr = %self.state.settings.addr,
            port = self.port,
            auth_service = %self.state.settings.auth_service_url,
            "http-edge listening"
        );
        let refresher = tokio::spawn(self.state.jwks.clone().refresh_periodically());
        server::serve(self.listener, routes::routes(self.state), shutdown).await;
        refresher.abort();
        tracing::info!("http-edge stopped");
        Ok(())
    }
}
