//! [`AuthCore`]: what every RPC needs, built once per process at startup
//! and shared behind an `Arc`.

use std::sync::Arc;

use crate::{
    access_tokens::AccessTokens,
    configuration::Settings,
    domain::{StateSealer, SuccessorSealer},
    key_ring::KeyRing,
    metrics::Metrics,
    persistence::Database,
    providers::Providers,
    revocations::RevocationFeed,
};

/// Settings, the database, the identity providers, the signing and state-sealing
/// keys, the access token issuer, the metrics and the revocation feed.
pub struct AuthCore {
    /// The settings read at start.
    pub settings: Settings,
    /// The database: `db.write` for every write and transaction (on SQLite
    /// a single connection, so writes queue here instead of fighting over
    /// SQLite's lock), `db.read` for reads outside a transaction. See
    /// [`Database`].
    pub db: Database,
    /// The enabled identity providers (Kakao, Naver, Google), on one
    /// connection pool.
    pub providers: Providers,
    /// The signing keys shared through the database.
    pub keys: KeyRing,
    /// Seals login attempts into their `state` (keys shared through the database).
    pub state_sealer: StateSealer,
    /// Seals refresh-grace successors (a key derived from the same keys).
    pub successor_sealer: SuccessorSealer,
    /// Issues and verifies access tokens with [`AuthCore::keys`].
    pub access_tokens: AccessTokens,
    /// This process's metrics.
    pub metrics: Arc<Metrics>,
    /// Revocations from every replica, and the caches they evict.
    pub revocations: RevocationFeed,
}
