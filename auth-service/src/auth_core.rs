//! [`AuthCore`]: what every RPC needs, built once per process at startup
//! and shared behind an `Arc`.

use std::sync::Arc;

use crate::{
    access_tokens::AccessTokens, configuration::Settings, kakao::KakaoClient, key_ring::KeyRing,
    metrics::Metrics, revocations::RevocationFeed,
};

/// Settings, the database, the Kakao client, the signing keys, the access
/// token issuer, the metrics and the revocation feed.
pub struct AuthCore {
    /// The settings read at start.
    pub settings: Settings,
    /// The database pool.
    pub db: sea_orm::DatabaseConnection,
    /// The one Kakao client.
    pub kakao: KakaoClient,
    /// The signing keys shared through the database.
    pub keys: KeyRing,
    /// Issues and verifies access tokens with [`AuthCore::keys`].
    pub access_tokens: AccessTokens,
    /// This process's metrics.
    pub metrics: Arc<Metrics>,
    /// Revocations from every replica, and the caches they evict.
    pub revocations: RevocationFeed,
}
