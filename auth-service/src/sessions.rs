//! Session logic: starting a session family, refresh-token rotation with
//! reuse detection (and its one count in `auth_refresh_total`), logout,
//! and the liveness check behind access-token verification and GetUser.
//!
//! Every revocation here is appended to the revocation log in its own
//! transaction and published to this replica's feed once committed (see
//! [`crate::revocations`]). While the feed is healthy, verification answers
//! from the verified-token and live-session caches; otherwise it checks
//! the database every time.
//!
//! Each login starts a family. Every refresh retires the presented token
//! and issues a successor. A retired token presented again within the
//! grace window gets the successor already issued (two tabs refreshing at
//! once both succeed); after it, the whole family is revoked, because only
//! a stolen copy explains a late replay.

use std::sync::Arc;

use auth_proto::Reason;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sea_orm::{ConnectionTrait, TransactionTrait};
use sha2::{Digest, Sha256};

use crate::{
    access_tokens::{IssuedAccessToken, VerifyError},
    auth_core::AuthCore,
    configuration::Settings,
    domain::{AccessToken, RefreshToken, RefreshTokenError, SessionId, UserId},
    error::{AuthError, db},
    metrics::RefreshOutcome,
    persistence::{ms, now_ms, refresh_tokens, revocations, session_rows, users},
    revocations::Revocation,
    token_cache::{TokenKey, VerifiedToken},
};

/// A session's refresh token, just issued.
pub struct IssuedSession {
    /// The session family id.
    pub session_id: String,
    /// Our user id.
    pub user_id: String,
    /// The new refresh token (only its hash is stored).
    pub refresh_token: RefreshToken,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: i64,
}

/// Everything a client receives for a session.
pub struct SessionTokens {
    /// The access token.
    pub access: IssuedAccessToken,
    /// The session and its refresh token.
    pub session: IssuedSession,
}

/// A successful rotation and how it came about.
struct Rotation {
    tokens: SessionTokens,
    outcome: RefreshOutcome,
}

/// Starts a family for `user_id` with its first refresh token (hash only).
pub async fn start(
    db: &impl ConnectionTrait,
    settings: &Settings,
    user_id: &str,
    now: i64,
) -> Result<IssuedSession, sea_orm::DbErr> {
    let family = session_rows::create(db, user_id, now, ms(settings.session_max_lifetime)).await?;
    let token = RefreshToken::generate();
    let expires_at = now
        .saturating_add(ms(settings.refresh_token_ttl))
        .min(family.expires_at);
    refresh_tokens::insert(db, &family.id, token.hash(), now, expires_at).await?;
    Ok(IssuedSession {
        session_id: family.id,
        user_id: user_id.to_owned(),
        refresh_token: token,
        refresh_expires_in: (expires_at - now) / 1000,
    })
}

/// Signs the access token that goes with a session.
pub fn with_access_token(
    core: &AuthCore,
    session: IssuedSession,
) -> Result<SessionTokens, AuthError> {
    let access = core
        .access_tokens
        .issue(&core.keys, &session.user_id, &session.session_id)
        .map_err(|e| AuthError::Unexpected(e.context("sign access token")))?;
    Ok(SessionTokens { access, session })
}

fn refresh_refused() -> AuthError {
    AuthError::bad_refresh_token()
}

/// How a presented refresh token that could not be parsed is refused.
fn unusable(e: RefreshTokenError) -> AuthError {
    match e {
        RefreshTokenError::Missing => AuthError::bad_field("refresh_token is required"),
        RefreshTokenError::Malformed => refresh_refused(),
    }
}

/// Rotates a refresh token, as presented (a malformed one is a refused
/// refresh too). See the module docs for the grace window. Every outcome
/// is counted here, once, in `auth_refresh_total`.
pub async fn refresh(
    core: &AuthCore,
    presented: Result<RefreshToken, RefreshTokenError>,
) -> Result<SessionTokens, AuthError> {
    let result = match presented {
        Ok(token) => rotate(core, token).await,
        Err(e) => Err(unusable(e)),
    };
    if let Some(outcome) = refresh_outcome(&result) {
        core.metrics.refresh(outcome);
    }
    result.map(|rotation| rotation.tokens)
}

/// The counted outcome of a refresh; database and internal failures are not
/// counted here (they show in the RPC histogram).
fn refresh_outcome(result: &Result<Rotation, AuthError>) -> Option<RefreshOutcome> {
    match result {
        Ok(rotation) => Some(rotation.outcome),
        Err(AuthError::Refused {
            reason: Reason::TokenReused,
            ..
        }) => Some(RefreshOutcome::ReuseDetected),
        Err(AuthError::Refused { .. }) => Some(RefreshOutcome::Refused),
        Err(_) => None,
    }
}

async fn rotate(core: &AuthCore, presented: RefreshToken) -> Result<Rotation, AuthError> {
    let now = now_ms();
    let row = refresh_tokens::find_by_hash(&core.db.read, &presented.hash())
        .await
        .map_err(db("find refresh token"))?
        .ok_or_else(refresh_refused)?;
    let family = live_family(core, &row.session_id, now).await?;
    if row.expires_at <= now {
        return Err(refresh_refused());
    }

    if row.rotated_at.is_none() {
        let successor = RefreshToken::generate();
        let expires_at = now
            .saturating_add(ms(core.settings.refresh_token_ttl))
            .min(family.expires_at);
        let txn = core.db.write.begin().await.map_err(db("begin rotation"))?;
        let won = refresh_tokens::mark_rotated(&txn, &row.id, seal(&presented, &successor), now)
            .await
            .map_err(db("retire refresh token"))?;
        if won {
            refresh_tokens::insert(&txn, &family.id, successor.hash(), now, expires_at)
                .await
                .map_err(db("store successor refresh token"))?;
            txn.commit().await.map_err(db("commit rotation"))?;
            let session = IssuedSession {
                session_id: family.id,
                user_id: family.user_id,
                refresh_token: successor,
                refresh_expires_in: (expires_at - now) / 1000,
            };
            return Ok(Rotation {
                tokens: with_access_token(core, session)?,
                outcome: RefreshOutcome::Rotated,
            });
        }
        // Another request rotated it first: fall through to the replay path.
        txn.rollback()
            .await
            .map_err(db("roll back lost rotation"))?;
    }

    let row = refresh_tokens::find_by_hash(&core.db.read, &presented.hash())
        .await
        .map_err(db("re-read refresh token"))?
        .ok_or_else(refresh_refused)?;
    let rotated_at = row.rotated_at.unwrap_or(now);
    if now.saturating_sub(rotated_at) > ms(core.settings.refresh_reuse_grace) {
        revoke_family(core, &family.id, Some(&family.user_id), "reuse_detected").await?;
        tracing::warn!(session_id = %family.id, user_id = %family.user_id, "refresh token reuse detected; session family revoked");
        return Err(AuthError::refused(
            Reason::TokenReused,
            "refresh token was already used; session revoked",
        ));
    }
    // Inside the grace window: hand out the successor already issued.
    let successor = row
        .successor_sealed
        .as_deref()
        .and_then(|sealed| unseal(&presented, sealed))
        .ok_or_else(refresh_refused)?;
    let successor_row = refresh_tokens::find_by_hash(&core.db.read, &successor.hash())
        .await
        .map_err(db("find successor refresh token"))?
        .filter(|r| r.session_id == family.id && r.expires_at > now)
        .ok_or_else(refresh_refused)?;
    let session = IssuedSession {
        session_id: family.id,
        user_id: family.user_id,
        refresh_token: successor,
        refresh_expires_in: (successor_row.expires_at - now) / 1000,
    };
    Ok(Rotation {
        tokens: with_access_token(core, session)?,
        outcome: RefreshOutcome::GraceReplay,
    })
}

async fn live_family(
    core: &AuthCore,
    session_id: &str,
    now: i64,
) -> Result<session_rows::Model, AuthError> {
    let family = session_rows::find(&core.db.read, session_id)
        .await
        .map_err(db("find session"))?
        .ok_or_else(refresh_refused)?;
    if family.revoked_at.is_some() {
        return Err(AuthError::refused(
            Reason::SessionRevoked,
            "session has been revoked",
        ));
    }
    if family.expires_at <= now {
        return Err(AuthError::refused(
            Reason::SessionExpired,
            "session has expired, log in again",
        ));
    }
    Ok(family)
}

/// Revokes the family of a refresh token (logout). Only a missing token is
/// refused: a malformed, unknown or already revoked one succeeds silently,
/// so that logout is idempotent.
pub async fn revoke(
    core: &AuthCore,
    presented: Result<RefreshToken, RefreshTokenError>,
) -> Result<(), AuthError> {
    let presented = match presented {
        Ok(token) => token,
        Err(RefreshTokenError::Malformed) => return Ok(()),
        Err(e @ RefreshTokenError::Missing) => return Err(unusable(e)),
    };
    let Some(row) = refresh_tokens::find_by_hash(&core.db.read, &presented.hash())
        .await
        .map_err(db("find refresh token"))?
    else {
        return Ok(());
    };
    let revoked = revoke_family(core, &row.session_id, None, "logout").await?;
    if revoked {
        tracing::info!(session_id = %row.session_id, "session revoked by logout");
    }
    Ok(())
}

/// Revokes a session family and logs the revocation, in one transaction,
/// then publishes it to this replica's feed. `false` when it was already
/// revoked (nothing is logged then).
async fn revoke_family(
    core: &AuthCore,
    session_id: &str,
    user_id: Option<&str>,
    reason: &str,
) -> Result<bool, AuthError> {
    let now = now_ms();
    let txn = core
        .db
        .write
        .begin()
        .await
        .map_err(db("begin revocation"))?;
    if !session_rows::revoke(&txn, session_id, reason, now)
        .await
        .map_err(db("revoke session"))?
    {
        return Ok(false);
    }
    let seq = revocations::record(
        &txn,
        revocations::Kind::Session,
        Some(session_id),
        user_id,
        None,
        now,
    )
    .await
    .map_err(db("log session revocation"))?;
    txn.commit().await.map_err(db("commit revocation"))?;
    core.revocations.publish(Revocation {
        seq,
        kind: revocations::Kind::Session,
        session_id: Some(session_id.to_owned()),
        user_id: user_id.map(str::to_owned),
        kid: None,
        at_ms: now,
    });
    Ok(true)
}

/// Verifies an access token and that its session is still live. While the
/// revocation feed is healthy, a token verified before is answered from
/// the cache (a SHA-256, a lookup and the revocation check), and a new one
/// costs the signature check (its session is usually known live).
pub async fn verify_access_token(
    core: &AuthCore,
    token: &AccessToken,
) -> Result<Arc<VerifiedToken>, AuthError> {
    let feed = &core.revocations;
    let healthy = feed.healthy();
    let key = TokenKey::of(token.expose());
    let now_s = now_ms() / 1000;
    if healthy && let Some(cached) = feed.tokens.get(&key, now_s) {
        if !core.keys.knows(&cached.kid) {
            return Err(VerifyError::UnknownKey.into());
        }
        if let Some(refused) = feed.refuses_token(&cached) {
            return Err(refused.into());
        }
        return Ok(cached);
    }
    let generation = feed.tokens.generation();
    let verified = core
        .access_tokens
        .verify(&core.keys, &core.db.read, token.expose())
        .await?;
    if let Some(refused) = feed.refuses_token(&verified) {
        return Err(refused.into());
    }
    ensure_live_session(core, &verified.session_id, &verified.user_id, healthy).await?;
    let verified = Arc::new(verified);
    if healthy {
        feed.tokens.insert(key, verified.clone(), generation, now_s);
    }
    Ok(verified)
}

/// The user `user_id`; when `session_id` is given, only if that session
/// is this user's and still live (revocation checked in the same call;
/// from memory while the revocation feed is healthy).
pub async fn user_of_live_session(
    core: &AuthCore,
    user_id: &UserId,
    session_id: Option<&SessionId>,
) -> Result<users::Model, AuthError> {
    if let Some(sid) = session_id {
        let healthy = core.revocations.healthy();
        ensure_live_session(core, sid.as_str(), user_id.as_str(), healthy).await?;
    }
    users::find(&core.db.read, user_id.as_str())
        .await
        .map_err(db("find user"))?
        .ok_or_else(|| AuthError::refused(Reason::UserNotFound, "no such user"))
}

/// Refuses (as a revoked token) a session that is unknown, another user's,
/// revoked or past its absolute lifetime. With a healthy feed (`healthy`,
/// read once per request), a session known live answers from memory.
async fn ensure_live_session(
    core: &AuthCore,
    sid: &str,
    user_id: &str,
    healthy: bool,
) -> Result<(), AuthError> {
    let feed = &core.revocations;
    let now = now_ms();
    if healthy && let Some(known) = feed.sessions.known_live(sid, user_id, now) {
        if feed.refuses_session(sid, user_id, known.created_at_ms) {
            return Err(VerifyError::Revoked.into());
        }
        return Ok(());
    }
    let generation = feed.sessions.generation();
    let family = session_rows::find(&core.db.read, sid)
        .await
        .map_err(db("find session of access token"))?;
    match family {
        Some(f)
            if f.user_id == user_id
                && f.revoked_at.is_none()
                && f.expires_at > now
                && !feed.refuses_session(sid, user_id, f.created_at) =>
        {
            if healthy {
                feed.sessions
                    .remember(sid, user_id, f.created_at, f.expires_at, generation);
            }
            Ok(())
        }
        _ => Err(VerifyError::Revoked.into()),
    }
}

/// XOR-pad of 32 bytes derived from the retired token: the successor is
/// stored so that only someone holding the retired token can read it, and
/// the database alone yields no usable token.
fn pad(old: &RefreshToken) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"kakao-login refresh successor v1\0");
    h.update(old.expose().as_bytes());
    h.finalize().into()
}

fn seal(old: &RefreshToken, successor: &RefreshToken) -> String {
    let mut bytes = URL_SAFE_NO_PAD
        .decode(successor.expose())
        .unwrap_or_default();
    for (b, p) in bytes.iter_mut().zip(pad(old)) {
        *b ^= p;
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unseal(old: &RefreshToken, sealed: &str) -> Option<RefreshToken> {
    let mut bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    if bytes.len() != 32 {
        return None;
    }
    for (b, p) in bytes.iter_mut().zip(pad(old)) {
        *b ^= p;
    }
    RefreshToken::from_unsealed(URL_SAFE_NO_PAD.encode(bytes)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refresh_result_is_counted_under_one_outcome() {
        let rotation = |outcome| Rotation {
            tokens: SessionTokens {
                access: IssuedAccessToken {
                    token: String::new(),
                    expires_in: 0,
                },
                session: IssuedSession {
                    session_id: String::new(),
                    user_id: String::new(),
                    refresh_token: RefreshToken::generate(),
                    refresh_expires_in: 0,
                },
            },
            outcome,
        };
        let cases: Vec<(Result<Rotation, AuthError>, Option<RefreshOutcome>)> = vec![
            (
                Ok(rotation(RefreshOutcome::Rotated)),
                Some(RefreshOutcome::Rotated),
            ),
            (
                Ok(rotation(RefreshOutcome::GraceReplay)),
                Some(RefreshOutcome::GraceReplay),
            ),
            (
                Err(AuthError::refused(Reason::TokenReused, "x")),
                Some(RefreshOutcome::ReuseDetected),
            ),
            (
                Err(unusable(RefreshTokenError::Missing)),
                Some(RefreshOutcome::Refused),
            ),
            (
                Err(unusable(RefreshTokenError::Malformed)),
                Some(RefreshOutcome::Refused),
            ),
            (Err(refresh_refused()), Some(RefreshOutcome::Refused)),
            (
                Err(AuthError::DatabaseUnavailable(anyhow::anyhow!("down"))),
                None,
            ),
            (Err(AuthError::Unexpected(anyhow::anyhow!("bug"))), None),
        ];
        for (result, expected) in cases {
            assert_eq!(refresh_outcome(&result), expected);
        }
    }

    #[test]
    fn a_missing_refresh_token_is_a_bad_request_and_a_malformed_one_an_invalid_token() {
        assert_eq!(
            unusable(RefreshTokenError::Missing).reason(),
            Reason::InvalidRequest
        );
        assert_eq!(
            unusable(RefreshTokenError::Malformed).reason(),
            Reason::InvalidToken
        );
    }

    #[test]
    fn a_sealed_successor_opens_only_with_the_retired_token() {
        let (old, next) = (RefreshToken::generate(), RefreshToken::generate());
        let sealed = seal(&old, &next);
        assert_ne!(sealed, next.expose());
        assert_eq!(unseal(&old, &sealed), Some(next.clone()));
        assert_ne!(unseal(&RefreshToken::generate(), &sealed), Some(next));
    }
}
