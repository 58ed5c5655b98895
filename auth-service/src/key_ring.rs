//! The signing keys: Ed25519 keys kept in the database (so replicas share
//! them, private keys encrypted under `KEY_ENCRYPTION_KEY` when set), cached
//! in memory, reloaded periodically and on an unknown `kid`; key rotation;
//! and the published JWK set. Signing and verifying tokens with these keys
//! is the job of `access_tokens`.
//!
//! A rotated key is published at once but signs only from its activation
//! time (`keys rotate` sets it `KEY_ACTIVATION_DELAY` ahead), so every JWKS
//! cache holds it before any token names it. The newest key whose
//! activation time has passed signs.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, RwLock, RwLockReadGuard},
    time::{Duration, Instant},
};

use auth_proto::claims::ACCESS_TOKEN_JWK_ALG;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{
    DecodingKey, Header,
    jwk::{
        AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm,
        OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
    },
};
use ring::{
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair},
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait};
use serde::Serialize;

use crate::{
    domain::{KeyEncryption, OpenError, sha256_b64, signing_key_row},
    persistence::{ms, now_ms, revocations, signing_keys},
};

/// Unknown `kid`s trigger at most one database reload per this interval.
const RELOAD_ON_MISS_INTERVAL: Duration = Duration::from_secs(1);

/// The key that signs new tokens.
pub struct SigningKey {
    /// Its id, sent as the JWT header's `kid`.
    pub kid: String,
    /// The private key, parsed once: reading an Ed25519 PKCS#8 document
    /// derives the public key, as costly as a signature, which
    /// `jsonwebtoken::encode` would pay on every token.
    key: Ed25519KeyPair,
    /// Unix milliseconds from which it signs.
    pub activates_at: i64,
}

impl SigningKey {
    /// The compact JWS (`header.claims.signature`, each base64url of its
    /// JSON) that `jsonwebtoken::encode` builds, signed with this key;
    /// `header` names EdDSA and this key's `kid`.
    pub fn sign<T: Serialize>(&self, header: &Header, claims: &T) -> anyhow::Result<String> {
        let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header)?);
        let claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?);
        let message = format!("{header}.{claims}");
        let signature = URL_SAFE_NO_PAD.encode(self.key.sign(message.as_bytes()));
        Ok(format!("{message}.{signature}"))
    }
}

#[derive(Default)]
struct KeyCache {
    /// Every published key we hold the private key of, newest first.
    signing: Vec<Arc<SigningKey>>,
    verifying: HashMap<String, Arc<DecodingKey>>,
    jwks_json: Arc<str>,
}

/// The published signing keys, cached in memory.
#[derive(Default)]
pub struct KeyRing {
    cache: RwLock<KeyCache>,
    last_reload: Mutex<Option<Instant>>,
    encryption: KeyEncryption,
}

impl KeyRing {
    /// Loads the published keys, creating the first one (active at once)
    /// when there is none. `encryption` reads and writes private keys.
    pub async fn load_or_create(
        db: &impl ConnectionTrait,
        encryption: KeyEncryption,
    ) -> anyhow::Result<Self> {
        let keys = KeyRing {
            encryption,
            ..KeyRing::default()
        };
        keys.reload(db).await?;
        // Only into an empty table: a key we cannot read is not replaced.
        if keys.read_cache().verifying.is_empty() {
            rotate(db, &keys.encryption, Duration::ZERO).await?;
            keys.reload(db).await?;
        }
        Ok(keys)
    }

    fn read_cache(&self) -> RwLockReadGuard<'_, KeyCache> {
        self.cache
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Re-reads the published keys from the database. A private key
    /// already held is kept as it is (not decrypted again), so a replica
    /// keeps signing while `keys rewrap` moves the rows to a new
    /// key-encryption key.
    pub async fn reload(&self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        let rows = signing_keys::published(db).await?;
        let held = self.read_cache().signing.clone();
        let mut cache = KeyCache::default();
        let mut jwks = Vec::with_capacity(rows.len());
        for row in &rows {
            if row.algorithm != ACCESS_TOKEN_JWK_ALG {
                continue;
            }
            let Ok(decoding) = DecodingKey::from_ed_components(&row.public_key) else {
                tracing::error!(kid = %row.kid, "stored public key is unreadable; skipped");
                continue;
            };
            let activates_at = row.activates_at.unwrap_or(row.created_at);
            if let Some(key) = held
                .iter()
                .find(|k| k.kid == row.kid && k.activates_at == activates_at)
            {
                cache.signing.push(key.clone());
            } else {
                let opened = self
                    .encryption
                    .open(&signing_key_row(&row.kid), &row.private_key)
                    .and_then(|der| {
                        // PKCS#8 v1 or v2: keys written by earlier builds load.
                        Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
                            .map_err(|_| OpenError::Malformed)
                    });
                match opened {
                    Ok(key) => cache.signing.push(Arc::new(SigningKey {
                        kid: row.kid.clone(),
                        key,
                        activates_at,
                    })),
                    Err(e) => {
                        tracing::error!(kid = %row.kid, error = %e, "stored private key is unreadable; it verifies but does not sign")
                    }
                }
            }
            cache.verifying.insert(row.kid.clone(), Arc::new(decoding));
            jwks.push(public_jwk(&row.kid, &row.public_key));
        }
        cache.jwks_json = serde_json::to_string(&JwkSet { keys: jwks })
            .unwrap_or_else(|_| r#"{"keys":[]}"#.to_owned())
            .into();
        *self
            .cache
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = cache;
        Ok(())
    }

    /// The key new tokens are signed with: the newest whose activation
    /// time has passed (or, if none has, the one that activates first).
    pub fn signing_key(&self) -> Option<Arc<SigningKey>> {
        let now = now_ms();
        let cache = self.read_cache();
        cache
            .signing
            .iter()
            .find(|k| k.activates_at <= now)
            .or_else(|| cache.signing.iter().min_by_key(|k| k.activates_at))
            .cloned()
    }

    /// The public key `kid`. On an unknown `kid` the keys are reloaded
    /// (rate-limited), so a key added by another replica or by
    /// `keys rotate` is picked up.
    pub async fn verifying_key(
        &self,
        db: &impl ConnectionTrait,
        kid: &str,
    ) -> Option<Arc<DecodingKey>> {
        let known = self.read_cache().verifying.contains_key(kid);
        if !known
            && self.may_reload_on_miss()
            && let Err(e) = self.reload(db).await
        {
            tracing::warn!(error = %e, "reloading signing keys failed");
        }
        self.read_cache().verifying.get(kid).cloned()
    }

    fn may_reload_on_miss(&self) -> bool {
        let mut last = self.last_reload.lock().unwrap_or_else(|p| p.into_inner());
        match *last {
            Some(at) if at.elapsed() < RELOAD_ON_MISS_INTERVAL => false,
            _ => {
                *last = Some(Instant::now());
                true
            }
        }
    }

    /// The JWK set as published in the database right now: what the edge
    /// asks for when it meets an unknown `kid`, which may have been added by
    /// another replica or by `keys rotate` since this replica's last
    /// periodic reload. One small query; edges ask rarely (on an unknown
    /// `kid`, at most every few seconds, and every few minutes).
    pub async fn fresh_jwks_json(&self, db: &impl ConnectionTrait) -> Arc<str> {
        if let Err(e) = self.reload(db).await {
            tracing::warn!(error = %e, "reloading signing keys failed; serving the cached set");
        }
        self.jwks_json()
    }

    /// Whether `kid` is a published key as far as this replica knows (no
    /// reload): what a cached verification checks.
    pub fn knows(&self, kid: &str) -> bool {
        self.read_cache().verifying.contains_key(kid)
    }

    /// Stops using `kid` at once (a retirement read from the revocation
    /// log), before the next reload confirms it.
    pub fn forget(&self, kid: &str) {
        let mut cache = self
            .cache
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.verifying.remove(kid);
        cache.signing.retain(|s| s.kid != kid);
    }

    /// The JWK set of every published key, as JSON (from memory).
    pub fn jwks_json(&self) -> Arc<str> {
        self.read_cache().jwks_json.clone()
    }
}

fn public_jwk(kid: &str, x: &str) -> Jwk {
    Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(KeyAlgorithm::EdDSA),
            key_id: Some(kid.to_owned()),
            ..Default::default()
        },
        algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
            key_type: OctetKeyPairType::OctetKeyPair,
            curve: EllipticCurve::Ed25519,
            x: x.to_owned(),
        }),
    }
}

/// Adds a new Ed25519 signing key, published at once and signing from
/// `activation_delay` on (after each replica's next reload); older keys
/// stay published until retired. The private key is stored as
/// `encryption` says.
pub async fn rotate(
    db: &impl ConnectionTrait,
    encryption: &KeyEncryption,
    activation_delay: Duration,
) -> anyhow::Result<String> {
    let rng = SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| anyhow::anyhow!("generate an Ed25519 key"))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| anyhow::anyhow!("read back the new key"))?;
    let public = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
    let kid = sha256_b64(public.as_bytes())[..16].to_owned();
    let now = now_ms();
    signing_keys::insert(
        db,
        signing_keys::Model {
            kid: kid.clone(),
            algorithm: ACCESS_TOKEN_JWK_ALG.to_owned(),
            private_key: encryption.seal(&signing_key_row(&kid), pkcs8.as_ref()),
            public_key: public,
            created_at: now,
            retired_at: None,
            activates_at: Some(now.saturating_add(ms(activation_delay))),
        },
    )
    .await?;
    Ok(kid)
}

/// Retires the published key `kid` (`auth-service keys retire`): it stops
/// signing and verifying. Recorded in the revocation log in the same
/// transaction, so every running replica refuses its tokens within a
/// second. `false` when no such key is published.
pub async fn retire(db: &DatabaseConnection, kid: &str) -> Result<bool, DbErr> {
    let now = now_ms();
    let txn = db.begin().await?;
    if !signing_keys::retire(&txn, kid, now).await? {
        return Ok(false);
    }
    revocations::record(&txn, revocations::Kind::Key, None, None, Some(kid), now).await?;
    txn.commit().await?;
    Ok(true)
}
