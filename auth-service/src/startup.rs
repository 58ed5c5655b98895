//! `Application`: binds the gRPC and metrics ports first, connects and
//! migrates the database, loads the signing keys, then serves until shut
//! down. The same path starts production and the tests (which bind port 0).

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;

use auth_proto::v1::auth_service_server::AuthServiceServer;
use tokio::{net::TcpListener, sync::oneshot};
use tonic::transport::server::TcpIncoming;
use tonic_health::{ServingStatus, server::HealthReporter};
use tower::limit::GlobalConcurrencyLimitLayer;

use crate::{
    access_tokens::AccessTokens,
    auth_core::AuthCore,
    configuration::Settings,
    domain::{StateSealer, SuccessorSealer},
    grpc::AuthGrpc,
    key_ring::KeyRing,
    keys_at_rest,
    metrics::{self, Metrics},
    persistence::{self, Database, state_sealing_keys},
    providers::Providers,
    revocations::{self, RevocationFeed},
    rpc_observer::RpcObserverLayer,
    sessions, sweeper,
};

/// How long the start waits for the first read of the revocation log.
const FIRST_LOG_READ_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// Largest AuthService request message accepted; every real request is a
/// few hundred bytes.
const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Server-side limit on one call (waiting for a database or Kakao included).
const RPC_TIMEOUT: Duration = Duration::from_secs(30);

/// The health service name of AuthService ("" stands for the whole server).
const SERVICE_NAME: &str = "auth.v1.AuthService";

/// How often each replica re-reads signing keys.
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(60);

/// A bound, ready-to-serve auth-service.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    metrics_listener: Option<TcpListener>,
    metrics_addr: Option<SocketAddr>,
    core: Arc<AuthCore>,
}

impl Application {
    /// Binds `settings.grpc_addr` and `settings.metrics_addr`, connects to
    /// the database, applies migrations and loads (or creates) the signing
    /// keys.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let started = Instant::now();
        // ring for rustls (the Kakao client, which has no provider of its
        // own, and TLS) and for jsonwebtoken, before either is used.
        service_kit::crypto::install();
        let listener = TcpListener::bind(settings.grpc_addr)
            .await
            .map_err(|e| anyhow::anyhow!("bind AUTH_GRPC_ADDR {}: {e}", settings.grpc_addr))?;
        let addr = listener.local_addr()?;
        let metrics_listener = metrics::bind(settings.metrics_addr).await?;
        let metrics_addr = metrics_listener
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()?;
        let metrics = Arc::new(Metrics::new());
        // Building the providers' HTTP client loads the TLS root
        // certificates (files read and parsed: tens of milliseconds),
        // independent of the database: on a blocking thread while the
        // database connects.
        let providers = tokio::task::spawn_blocking({
            let settings = settings.clone();
            let metrics = metrics.clone();
            move || Providers::new(&settings, metrics)
        });
        let db = persistence::connect_and_migrate(&settings.database_url).await?;
        let database_ms = started.elapsed().as_millis();
        // Refuses a missing or wrong KEY_ENCRYPTION_KEY before any write.
        keys_at_rest::check_at_start(&db.read, &settings.key_encryption).await?;
        // One after the other: at start the pool may hold one connection.
        let keys = KeyRing::load_or_create(&db.write, settings.key_encryption.clone()).await?;
        let sealing =
            state_sealing_keys::load_or_create(&db.write, &settings.key_encryption).await?;
        let state_sealer = StateSealer::new(&sealing)?;
        let successor_sealer = SuccessorSealer::new(&sealing)?;
        let access_tokens = AccessTokens::new(
            settings.jwt_issuer.clone(),
            settings.jwt_audience.clone(),
            settings.access_token_ttl,
        );
        let providers = providers
            .await
            .context("build the identity provider clients")??;
        tracing::info!(
            database_ms,
            ready_ms = started.elapsed().as_millis(),
            "auth-service started"
        );
        let revocations = RevocationFeed::new(settings.access_token_ttl);
        let core = Arc::new(AuthCore {
            settings,
            db,
            providers,
            keys,
            state_sealer,
            successor_sealer,
            access_tokens,
            metrics,
            revocations,
        });
        Ok(Application {
            listener,
            addr,
            metrics_listener,
            metrics_addr,
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

    /// The bound metrics address, unless `METRICS_ADDR=off`.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The bound metrics port, unless `METRICS_ADDR=off`.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_addr.map(|a| a.port())
    }

    /// The shared core (tests inspect the database through it).
    pub fn core(&self) -> Arc<AuthCore> {
        self.core.clone()
    }

    /// Serves gRPC (AuthService, health, reflection unless
    /// `GRPC_REFLECTION=false`; over TLS when configured) and `GET /metrics`
    /// until `shutdown` resolves, then lets in-flight calls finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        health_reporter
            .set_service_status(SERVICE_NAME, ServingStatus::Serving)
            .await;
        let maintenance = tokio::spawn(maintain(self.core.clone()));
        let sealed_sweep = tokio::spawn(sessions::clear_sealed_successors(self.core.clone()));
        let sweeping = tokio::spawn(sweeper::run(self.core.clone()));
        let (first_read, log_read) = oneshot::channel();
        let revocation_feed = tokio::spawn(revocations::follow(self.core.clone(), first_read));
        // Serve once the revocation log has been read (a millisecond or two),
        // so the first subscriber finds a healthy feed; a database that does
        // not answer does not hold the start for long.
        let _ = tokio::time::timeout(FIRST_LOG_READ_WAIT, log_read).await;
        let readiness = tokio::spawn(watch_database(
            self.core.db.clone(),
            health_reporter,
            self.core.settings.db_ping_interval,
        ));
        let (stop_metrics, metrics_stopped) = oneshot::channel::<()>();
        let metrics_server = self.metrics_listener.map(|listener| {
            if let Some(addr) = self.metrics_addr {
                tracing::info!(%addr, "metrics listening (GET /metrics)");
            }
            tokio::spawn(metrics::serve(self.core.metrics.clone(), listener, async {
                let _ = metrics_stopped.await;
            }))
        });
        let auth_service = AuthServiceServer::new(AuthGrpc::new(self.core.clone()))
            .max_decoding_message_size(MAX_REQUEST_BYTES);
        let settings = &self.core.settings;
        let (reflection_v1, reflection_v1alpha) = if settings.grpc_reflection {
            let reflection = || {
                tonic_reflection::server::Builder::configure()
                    .register_encoded_file_descriptor_set(auth_proto::FILE_DESCRIPTOR_SET)
                    .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            };
            (
                Some(reflection().build_v1()?),
                Some(reflection().build_v1alpha()?),
            )
        } else {
            (None, None)
        };
        let mut server = tonic::transport::Server::builder();
        if let Some(tls) = &settings.grpc_tls {
            server = server
                .tls_config(tls.server_config())
                .context("AUTH_GRPC_TLS_CERT / AUTH_GRPC_TLS_KEY: TLS setup")?;
        }
        tracing::info!(
            addr = %self.addr,
            tls = settings.grpc_tls.is_some(),
            client_certificates = settings
                .grpc_tls
                .as_ref()
                .is_some_and(|t| t.requires_client_certificates()),
            reflection = settings.grpc_reflection,
            "auth-service listening (gRPC)"
        );
        // A call waiting for a concurrency slot waits in `poll_ready`, before
        // the timeout starts; the caller's own deadline bounds that wait.
        let result = server
            .timeout(RPC_TIMEOUT)
            .concurrency_limit_per_connection(256)
            .layer(RpcObserverLayer::new(self.core.metrics.clone()))
            .layer(GlobalConcurrencyLimitLayer::new(
                self.core.settings.grpc_max_concurrent,
            ))
            .add_service(health_service)
            .add_optional_service(reflection_v1)
            .add_optional_service(reflection_v1alpha)
            .add_service(auth_service)
            .serve_with_incoming_shutdown(
                TcpIncoming::from(self.listener).with_nodelay(Some(true)),
                shutdown,
            )
            .await;
        maintenance.abort();
        sealed_sweep.abort();
        sweeping.abort();
        revocation_feed.abort();
        readiness.abort();
        let _ = stop_metrics.send(());
        if let Some(server) = metrics_server {
            let _ = server.await;
        }
        result?;
        tracing::info!("auth-service stopped");
        Ok(())
    }
}

/// Readiness follows the database: pings it every `interval` and reports
/// AuthService (and the server as a whole, `""`) NOT_SERVING while the ping
/// fails or takes longer than `min(interval, 2s)`, SERVING again once it
/// answers.
async fn watch_database(db: Database, health: HealthReporter, interval: Duration) {
    let ping_timeout = interval.min(Duration::from_secs(2));
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut serving = true;
    loop {
        tick.tick().await;
        let ok = matches!(
            tokio::time::timeout(ping_timeout, async {
                db.write.ping().await?;
                db.read.ping().await
            })
            .await,
            Ok(Ok(()))
        );
        if ok == serving {
            continue;
        }
        serving = ok;
        let status = if ok {
            tracing::info!("database reachable again; reporting SERVING");
            ServingStatus::Serving
        } else {
            tracing::warn!("database ping failed; reporting NOT_SERVING");
            ServingStatus::NotServing
        };
        health.set_service_status(SERVICE_NAME, status).await;
        health.set_service_status("", status).await;
    }
}

/// Periodic upkeep: pick up keys rotated elsewhere. (Deleting what can no
/// longer be used is [`sweeper`]'s.)
async fn maintain(core: Arc<AuthCore>) {
    let mut tick = tokio::time::interval(MAINTENANCE_INTERVAL);
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = core.keys.reload(&core.db.read).await {
            tracing::warn!(error = %e, "reloading signing keys failed");
        }
    }
}
