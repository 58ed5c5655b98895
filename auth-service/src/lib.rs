//! The auth-service: a tonic gRPC server that owns every Kakao call, all
//! persistence (SeaORM, SQLite or PostgreSQL), JWT signing and verification,
//! and refresh sessions. Browsers never reach it; the HTTP edge and internal
//! services call `auth.v1.AuthService`.

pub mod configuration;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod kakao;
pub mod live_sessions;
pub mod login;
pub mod metrics;
pub mod persistence;
pub mod rpc_observer;
pub mod sessions;
pub mod startup;
pub mod telemetry;
pub mod tokens;
pub mod unlink;

pub use configuration::Settings;
pub use startup::Application;

/// What every RPC needs: settings, the database, the Kakao client, the
/// signing keys and the metrics. One per process, shared behind an `Arc`.
pub struct AuthCore {
    pub settings: Settings,
    pub db: sea_orm::DatabaseConnection,
    pub kakao: kakao::KakaoClient,
    pub keys: tokens::TokenKeys,
    pub metrics: std::sync::Arc<metrics::Metrics>,
    /// Sessions recently confirmed live (saves a query per verification).
    pub live_sessions: live_sessions::LiveSessions,
}

/// Resolves on Ctrl-C or SIGTERM: the one shutdown signal of the binary.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
