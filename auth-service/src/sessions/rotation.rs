//! Refresh-token rotation: every refresh retires the presented token and
//! issues a successor; a retired token presented again within the grace
//! window gets the newest token of its chain (the successor, or its
//! successor if that was rotated too: a slow tab is never handed a token
//! that would trip reuse detection), after it the family is revoked
//! (reuse detection).
//!
//! The successor is stored sealed on the retired row
//! (`domain::SuccessorSealer`: an AEAD under a server-side key and the
//! retired token) and cleared once the grace window has passed
//! ([`clear_sealed_successors`]), so a database dump holds sealed
//! successors of the last few seconds' rotations only.

use std::{sync::Arc, time::Duration};

use auth_proto::Reason;
use sea_orm::TransactionTrait;

use super::{
    IssuedSession, SessionTokens, refresh_refused, revocation::revoke_family, unusable,
    with_access_token,
};
use crate::{
    auth_core::AuthCore,
    domain::{RefreshToken, RefreshTokenError},
    error::{AuthError, db},
    metrics::RefreshOutcome,
    persistence::{ms, now_ms, refresh_tokens, session_rows},
};

/// How many rotations a grace replay follows to the newest token (tabs
/// refreshing within one grace window).
const MAX_CHAIN: usize = 16;

/// A successful rotation and how it came about.
struct Rotation {
    tokens: SessionTokens,
    outcome: RefreshOutcome,
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
        let sealed = core
            .successor_sealer
            .seal(&presented, &successor)
            .ok_or_else(|| AuthError::Unexpected(anyhow::anyhow!("seal the successor")))?;
        let expires_at = now
            .saturating_add(ms(core.settings.refresh_token_ttl))
            .min(family.expires_at);
        let txn = core.db.write.begin().await.map_err(db("begin rotation"))?;
        let won = refresh_tokens::mark_rotated(&txn, &row.id, sealed, now)
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
    // Inside the grace window: hand out the newest token of the chain.
    let (token, token_row) = newest_of_chain(core, presented, row, &family.id, now).await?;
    let session = IssuedSession {
        session_id: family.id,
        user_id: family.user_id,
        refresh_token: token,
        refresh_expires_in: (token_row.expires_at - now) / 1000,
    };
    Ok(Rotation {
        tokens: with_access_token(core, session)?,
        outcome: RefreshOutcome::GraceReplay,
    })
}

/// Follows the sealed successors from a rotated token to the first one not
/// rotated yet: what a replay within the grace window gets. Refused
/// (without revoking anything) when the chain cannot be followed.
async fn newest_of_chain(
    core: &AuthCore,
    mut token: RefreshToken,
    mut row: refresh_tokens::Model,
    family_id: &str,
    now: i64,
) -> Result<(RefreshToken, refresh_tokens::Model), AuthError> {
    for _ in 0..MAX_CHAIN {
        let successor = row
            .successor_sealed
            .as_deref()
            .and_then(|sealed| core.successor_sealer.open(&token, sealed))
            .ok_or_else(refresh_refused)?;
        let successor_row = refresh_tokens::find_by_hash(&core.db.read, &successor.hash())
            .await
            .map_err(db("find successor refresh token"))?
            .filter(|r| r.session_id == family_id && r.expires_at > now)
            .ok_or_else(refresh_refused)?;
        if successor_row.rotated_at.is_none() {
            return Ok((successor, successor_row));
        }
        (token, row) = (successor, successor_row);
    }
    Err(refresh_refused())
}

/// Clears, every `refresh_reuse_grace` (at least every second, at most
/// every minute), the sealed successors of tokens rotated longer than the
/// grace window ago: a sealed successor lives at most about twice the
/// window.
pub async fn clear_sealed_successors(core: Arc<AuthCore>) {
    let grace = core.settings.refresh_reuse_grace;
    let every = grace.clamp(Duration::from_secs(1), Duration::from_secs(60));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let cutoff = now_ms().saturating_sub(ms(grace));
        match refresh_tokens::clear_sealed_successors(&core.db.write, cutoff).await {
            Ok(n) if n > 0 => tracing::debug!(cleared = n, "sealed refresh successors cleared"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "clearing sealed refresh successors failed"),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access_tokens::IssuedAccessToken;

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
}
