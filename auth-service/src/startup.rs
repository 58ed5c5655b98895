//! `Application`: binds the gRPC port first, connects and migrates the
//! database, loads the signing keys, then serves until shut down. The same
//! path starts production and the tests (which bind port 0).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use auth_proto::v1::auth_service_server::AuthServiceServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use crate::{
    AuthCore,
    configuration::Settings,
    grpc::AuthGrpc,
    kakao::KakaoClient,
    persistence::{self, login_attempts, now_ms},
    tokens::TokenKeys,
};

/// How often each replica re-reads signing keys and purges expired attempts.
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(60);

/// A bound, ready-to-serve auth-service.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    core: Arc<AuthCore>,
}

impl Application {
    /// Binds `settings.grpc_addr`, connects to the database, applies
    /// migrations and loads (or creates) the signing keys.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.grpc_addr)
            .await
            .map_err(|e| anyhow::anyhow!("bind AUTH_GRPC_ADDR {}: {e}", settings.grpc_addr))?;
        let addr = listener.local_addr()?;
        let db = persistence::connect_and_migrate(&settings.database_url).await?;
        let keys = TokenKeys::load_or_create(
            &db,
            settings.jwt_issuer.clone(),
            settings.jwt_audience.clone(),
            settings.access_token_ttl,
        )
        .await?;
        let kakao = KakaoClient::new(&settings.kakao)?;
        let core = Arc::new(AuthCore {
            settings,
            db,
            kakao,
            keys,
        });
        Ok(Application {
            listener,
            addr,
            core,
        })
    }

    /// The bound port (useful when the address asked for port 0).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared core (tests inspect the database through it).
    pub fn core(&self) -> Arc<AuthCore> {
        self.core.clone()
    }

    /// Serves gRPC (AuthService, health, reflection) until `shutdown`
    /// resolves, then lets in-flight calls finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let maintenance = tokio::spawn(maintain(self.core.clone()));
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        health_reporter
            .set_serving::<AuthServiceServer<AuthGrpc>>()
            .await;
        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(auth_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(auth_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()?;
        tracing::info!(addr = %self.addr, "auth-service listening (gRPC)");
        let result = tonic::transport::Server::builder()
            .timeout(Duration::from_secs(30))
            .concurrency_limit_per_connection(256)
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(AuthServiceServer::new(AuthGrpc::new(self.core.clone())))
            .serve_with_incoming_shutdown(TcpListenerStream::new(self.listener), shutdown)
            .await;
        maintenance.abort();
        result?;
        tracing::info!("auth-service stopped");
        Ok(())
    }
}

/// Periodic upkeep: pick up keys rotated elsewhere, purge expired attempts.
async fn maintain(core: Arc<AuthCore>) {
    let mut tick = tokio::time::interval(MAINTENANCE_INTERVAL);
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = core.keys.reload(&core.db).await {
            tracing::warn!(error = %e, "reloading signing keys failed");
        }
        match login_attempts::purge_expired(&core.db, now_ms()).await {
            Ok(n) if n > 0 => tracing::debug!(purged = n, "expired login attempts purged"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purging login attempts failed"),
        }
    }
}
