//! Access tokens: Ed25519 signing keys kept in the database (so replicas
//! share them), JWT issue and verification, and the published JWKS.
//!
//! Verification pins `EdDSA`: a token whose header names any other
//! algorithm (`none`, `HS256` keyed with the public key, `RS256`, ...) is
//! refused before any key is looked at.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use aws_lc_rs::{
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair},
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation,
    errors::ErrorKind,
    jwk::{
        AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm,
        OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
    },
};
use sea_orm::{ConnectionTrait, DbErr};
use serde::{Deserialize, Serialize};

use crate::{
    domain::{random_token, sha256_b64},
    persistence::{now_ms, signing_keys},
};

/// The claims of our access tokens. No personal data: `sub` is our user id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// Our user id.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The session family id, checked against revocation.
    pub sid: String,
}

/// A freshly signed access token.
pub struct IssuedAccessToken {
    /// The compact JWT. Never log it.
    pub token: String,
    /// Lifetime in seconds.
    pub expires_in: i64,
}

/// Why a token was refused. Each maps to UNAUTHENTICATED with the reason
/// word of [`VerifyError::reason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("access token is malformed")]
    Malformed,
    #[error("access token algorithm is not allowed")]
    WrongAlgorithm,
    #[error("access token is signed by an unknown key")]
    UnknownKey,
    #[error("access token signature is invalid")]
    BadSignature,
    #[error("access token has expired")]
    Expired,
    #[error("access token has the wrong issuer")]
    WrongIssuer,
    #[error("access token has the wrong audience")]
    WrongAudience,
    #[error("access token's session is revoked")]
    Revoked,
}

impl VerifyError {
    /// The `x-auth-error` word.
    pub fn reason(self) -> &'static str {
        match self {
            VerifyError::Expired => "token_expired",
            VerifyError::Revoked => "session_revoked",
            _ => "invalid_token",
        }
    }
}

const ALGORITHM: &str = "EdDSA";
/// Clock skew tolerated on `exp`, in seconds.
const LEEWAY_SECS: u64 = 30;
/// Unknown `kid`s trigger at most one database reload per this interval.
const RELOAD_ON_MISS_INTERVAL: Duration = Duration::from_secs(1);

struct SigningKey {
    kid: String,
    key: EncodingKey,
}

#[derive(Default)]
struct KeyCache {
    signing: Option<Arc<SigningKey>>,
    verifying: HashMap<String, DecodingKey>,
    jwks_json: Arc<str>,
}

/// Signs and verifies access tokens with the keys stored in the database,
/// cached in memory and reloaded periodically and on an unknown `kid`.
pub struct TokenKeys {
    issuer: String,
    audience: String,
    access_ttl_secs: i64,
    cache: RwLock<KeyCache>,
    last_reload: std::sync::Mutex<Option<Instant>>,
    validation: Validation,
}

impl TokenKeys {
    /// Loads the published keys, creating the first one when there is none.
    pub async fn load_or_create(
        db: &impl ConnectionTrait,
        issuer: String,
        audience: String,
        access_ttl: Duration,
    ) -> anyhow::Result<Self> {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[&audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        let keys = TokenKeys {
            issuer,
            audience,
            access_ttl_secs: i64::try_from(access_ttl.as_secs()).unwrap_or(i64::MAX),
            cache: RwLock::new(KeyCache::default()),
            last_reload: std::sync::Mutex::new(None),
            validation,
        };
        keys.reload(db).await?;
        if keys.read_cache().signing.is_none() {
            rotate(db).await?;
            keys.reload(db).await?;
        }
        Ok(keys)
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, KeyCache> {
        self.cache
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Re-reads the published keys from the database.
    pub async fn reload(&self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        let rows = signing_keys::published(db).await?;
        let mut cache = KeyCache::default();
        let mut jwks = Vec::with_capacity(rows.len());
        for row in &rows {
            if row.algorithm != ALGORITHM {
                continue;
            }
            let Ok(decoding) = DecodingKey::from_ed_components(&row.public_key) else {
                tracing::error!(kid = %row.kid, "stored public key is unreadable; skipped");
                continue;
            };
            if cache.signing.is_none() {
                match STANDARD.decode(&row.private_key) {
                    Ok(der) => {
                        cache.signing = Some(Arc::new(SigningKey {
                            kid: row.kid.clone(),
                            key: EncodingKey::from_ed_der(&der),
                        }))
                    }
                    Err(_) => {
                        tracing::error!(kid = %row.kid, "stored private key is unreadable; skipped")
                    }
                }
            }
            cache.verifying.insert(row.kid.clone(), decoding);
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

    /// Signs an access token for `user_id` in session `session_id`.
    pub fn issue(&self, user_id: &str, session_id: &str) -> anyhow::Result<IssuedAccessToken> {
        let signing = self
            .read_cache()
            .signing
            .clone()
            .ok_or_else(|| anyhow::anyhow!("no signing key is published"))?;
        let now = now_ms() / 1000;
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user_id.to_owned(),
            iat: now,
            exp: now.saturating_add(self.access_ttl_secs),
            jti: random_token(16),
            sid: session_id.to_owned(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(signing.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &signing.key)?;
        Ok(IssuedAccessToken {
            token,
            expires_in: self.access_ttl_secs,
        })
    }

    /// Checks algorithm, `kid`, signature, `exp`, `iss` and `aud`. Does not
    /// check revocation (see `sessions::verify_access_token`). On an unknown
    /// `kid` the keys are reloaded (rate-limited), so a key added by another
    /// replica or by `keys rotate` is picked up.
    pub async fn verify(
        &self,
        db: &impl ConnectionTrait,
        token: &str,
    ) -> Result<AccessClaims, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(VerifyError::WrongAlgorithm);
        }
        let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
        let known = self.read_cache().verifying.contains_key(&kid);
        if !known
            && self.may_reload_on_miss()
            && let Err(e) = self.reload(db).await
        {
            tracing::warn!(error = %e, "reloading signing keys failed");
        }
        let cache = self.read_cache();
        let key = cache.verifying.get(&kid).ok_or(VerifyError::UnknownKey)?;
        jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => VerifyError::Expired,
                ErrorKind::InvalidIssuer => VerifyError::WrongIssuer,
                ErrorKind::InvalidAudience => VerifyError::WrongAudience,
                ErrorKind::InvalidSignature => VerifyError::BadSignature,
                ErrorKind::InvalidAlgorithm => VerifyError::WrongAlgorithm,
                _ => VerifyError::Malformed,
            })
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

/// Adds a new Ed25519 signing key; new tokens are signed with it (after
/// each replica's next reload) while older keys stay published until retired.
pub async fn rotate(db: &impl ConnectionTrait) -> anyhow::Result<String> {
    let rng = SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| anyhow::anyhow!("generate an Ed25519 key"))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| anyhow::anyhow!("read back the new key"))?;
    let public = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
    let kid = sha256_b64(public.as_bytes())[..16].to_owned();
    signing_keys::insert(
        db,
        signing_keys::Model {
            kid: kid.clone(),
            algorithm: ALGORITHM.to_owned(),
            private_key: STANDARD.encode(pkcs8.as_ref()),
            public_key: public,
            created_at: now_ms(),
            retired_at: None,
        },
    )
    .await?;
    Ok(kid)
}
