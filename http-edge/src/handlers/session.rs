//! The session API: `/auth/me` (from memory when the token and its
//! session's profile are cached, else the access token verified locally and
//! one call that also checks the session is live), `/auth/refresh` (one
//! rotation per refresh token, shared by concurrent requests),
//! `/auth/logout` (by the refresh cookie and the access cookie's session)
//! and `/auth/logout/all` (every session of the access cookie's user).
//! Answers are JSON or `204`; refresh outcomes and cache lookups are
//! counted in [`crate::metrics`].

use auth_proto::{
    Reason,
    v1::{GetUserRequest, RefreshSessionRequest, RevokeAllSessionsRequest, RevokeSessionRequest},
};
use http::{HeaderMap, StatusCode};
use hyper::body::Bytes;
use warp::reply::Response;

use super::profile::Profile;
use crate::{
    cookies::{self, ACCESS_COOKIE, REFRESH_COOKIE},
    error::ApiError,
    metrics::{CacheResult, RefreshOutcome},
    reply::{json_bytes, no_content, with_cookies},
    single_flight,
    state::{Ctx, Outcome, Rotation},
    verified_cache::{Lookup, Standing, Verified, token_key, unix_now},
};

/// GET /auth/me
pub(crate) async fn me(ctx: Ctx, headers: HeaderMap) -> Response {
    let result = match cookies::read(&headers, ACCESS_COOKIE) {
        None => Err(ApiError::missing_token()),
        Some(access_token) => profile(&ctx, &access_token).await,
    };
    let (outcome, response) = match result {
        Ok(body) => (Outcome::Done("ok"), json_bytes(StatusCode::OK, body)),
        Err(error) => (Outcome::Failed(error.as_str()), error.into_response()),
    };
    ctx.finish("me", outcome, response)
}

/// The profile's JSON body. From memory when the revocation feed is up and
/// both the token and its session's profile are cached (see
/// [`crate::verified_cache`]); else the token is verified locally (unless
/// cached), refused at once if a known revocation covers it, and the user
/// asked for in one call that also checks that the session is live; the
/// answer is cached when the feed vouches for it.
async fn profile(ctx: &Ctx, access_token: &str) -> Result<Bytes, ApiError> {
    use CacheResult::{Bypassed, Hit, Miss};
    let cache = &ctx.state().verified;
    let key = token_key(access_token);
    let now = unix_now();
    let (generation, verified, counted) = match cache.lookup(&key, now) {
        Lookup::Hit(body) => {
            ctx.metrics().cache_lookup(Hit, Hit);
            return Ok(body);
        }
        Lookup::Token {
            generation,
            verified,
        } => (Some(generation), verified, (Hit, Miss)),
        Lookup::Miss { generation } => (
            Some(generation),
            verify(ctx, access_token).await?,
            (Miss, Miss),
        ),
        Lookup::Untrusted => (None, verify(ctx, access_token).await?, (Bypassed, Bypassed)),
    };
    ctx.metrics().cache_lookup(counted.0, counted.1);
    let cacheable = match cache.standing(&verified) {
        Standing::Clear => true,
        Standing::AskService => false,
        Standing::SessionRevoked => return Err(ApiError::refused(Reason::SessionRevoked)),
        Standing::KeyRetired => return Err(ApiError::refused(Reason::InvalidToken)),
    };
    let body = get_user(ctx, &verified).await?;
    if let (Some(generation), true) = (generation, cacheable) {
        cache.insert(generation, key, verified, body.clone(), now);
    }
    Ok(body)
}

/// Verifies the token against the cached key set.
async fn verify(ctx: &Ctx, access_token: &str) -> Result<Verified, ApiError> {
    let (claims, kid) = ctx.state().jwks.verify(access_token).await?;
    Ok(Verified::new(claims, kid))
}

/// The user of a verified token as the `/auth/me` body, in one call that
/// also checks that the token's session is still live.
async fn get_user(ctx: &Ctx, verified: &Verified) -> Result<Bytes, ApiError> {
    let request = GetUserRequest {
        user_id: verified.sub.clone(),
        session_id: verified.sid.clone(),
    };
    let answer = ctx
        .client()
        .get_user(ctx.request(request))
        .await
        .map_err(|s| ApiError::from_status(&ctx.failed(s)))?;
    let user = answer.into_inner().user.ok_or(ApiError::ServerError)?;
    serde_json::to_vec(&Profile::from(user))
        .map(Bytes::from)
        .map_err(|_| ApiError::ServerError)
}

/// Evicts the cached session of the request's access token: this browser
/// just ended it (logout, refresh-token reuse), so its next `/auth/me`
/// asks the service even before the revocation feed reports it.
fn forget_session(ctx: &Ctx, headers: &HeaderMap) {
    if let Some(access_token) = cookies::read(headers, ACCESS_COOKIE) {
        ctx.state()
            .verified
            .evict_session_of(&token_key(&access_token));
    }
}

/// POST /auth/refresh
pub(crate) async fn refresh(ctx: Ctx, headers: HeaderMap) -> Response {
    let result = match cookies::read(&headers, REFRESH_COOKIE) {
        None => Err(ApiError::missing_token()),
        Some(refresh_token) => rotate(&ctx, refresh_token).await,
    };
    let counted = result
        .as_ref()
        .map_or_else(RefreshOutcome::of_error, |_| RefreshOutcome::Rotated);
    ctx.metrics().refresh(counted);
    if counted == RefreshOutcome::ReuseDetected {
        forget_session(&ctx, &headers);
    }
    let (outcome, response) = match result {
        Ok(cookies) => (Outcome::Done("refreshed"), no_content(cookies)),
        Err(error @ ApiError::Unauthenticated(_)) => {
            let cleared = [ctx.cookies().clear_access(), ctx.cookies().clear_refresh()];
            let outcome = Outcome::Failed(error.as_str());
            (outcome, with_cookies(error.into_response(), cleared))
        }
        Err(error) => (Outcome::Failed(error.as_str()), error.into_response()),
    };
    ctx.finish("refresh", outcome, response)
}

/// Rotates the token, or joins the rotation of the same token already in
/// flight (see [`crate::single_flight`]) and answers with its cookies.
async fn rotate(ctx: &Ctx, refresh_token: String) -> Rotation {
    let key = single_flight::key_of(&refresh_token);
    let leader = ctx.clone();
    let call = async move { rotate_once(&leader, refresh_token).await };
    let rotation = ctx.state().refreshes.run(key, call).await;
    rotation.unwrap_or(Err(ApiError::ServerError))
}

async fn rotate_once(ctx: &Ctx, refresh_token: String) -> Rotation {
    let answer = ctx
        .client()
        .refresh_session(ctx.request(RefreshSessionRequest { refresh_token }))
        .await
        .map_err(|s| ApiError::from_status(&ctx.failed(s)))?
        .into_inner();
    let tokens = answer.tokens.ok_or(ApiError::ServerError)?;
    ctx.cookies()
        .tokens(&tokens)
        .map_err(|_| ApiError::ServerError)
}

/// POST /auth/logout
pub(crate) async fn logout(ctx: Ctx, headers: HeaderMap) -> Response {
    let refresh_token = cookies::read(&headers, REFRESH_COOKIE);
    let access_token = cookies::read(&headers, ACCESS_COOKIE);
    let result = match (refresh_token, access_token) {
        (None, None) => Ok(()),
        (refresh_token, access_token) => {
            let request = RevokeSessionRequest {
                refresh_token: refresh_token.unwrap_or_default(),
                access_token: access_token.unwrap_or_default(),
            };
            revoke(&ctx, request).await
        }
    };
    forget_session(&ctx, &headers);
    let cleared = [ctx.cookies().clear_access(), ctx.cookies().clear_refresh()];
    let (outcome, response) = match result {
        Ok(()) => (Outcome::Done("logged_out"), no_content(cleared)),
        Err(error) => {
            let outcome = Outcome::Failed(error.as_str());
            (outcome, with_cookies(error.into_response(), cleared))
        }
    };
    ctx.finish("logout", outcome, response)
}

/// Revokes the refresh token's family and the access token's session (the
/// service ignores a token that names no session: a browser that lost one
/// cookie still ends its session with the other).
async fn revoke(ctx: &Ctx, request: RevokeSessionRequest) -> Result<(), ApiError> {
    match ctx.client().revoke_session(ctx.request(request)).await {
        Ok(_) => Ok(()),
        // A malformed or unknown token names no session: logging out is done.
        Err(s) => match ApiError::from_status(&ctx.failed(s)) {
            ApiError::Unauthenticated(_) => Ok(()),
            error => Err(error),
        },
    }
}

/// POST /auth/logout/all: ends every session of the access cookie's user
/// (this browser's included) and clears this browser's cookies. Needs a
/// valid access cookie of a live session (else 401, cookies kept: refresh,
/// then retry), so a token of an ended session cannot end the others.
pub(crate) async fn logout_all(ctx: Ctx, headers: HeaderMap) -> Response {
    let result = match cookies::read(&headers, ACCESS_COOKIE) {
        None => Err(ApiError::missing_token()),
        Some(access_token) => revoke_all(&ctx, &access_token).await,
    };
    let (outcome, response) = match result {
        Ok(()) => {
            forget_session(&ctx, &headers);
            let cleared = [ctx.cookies().clear_access(), ctx.cookies().clear_refresh()];
            (Outcome::Done("logged_out_everywhere"), no_content(cleared))
        }
        Err(error) => (Outcome::Failed(error.as_str()), error.into_response()),
    };
    ctx.finish("logout_all", outcome, response)
}

/// The access token verified locally, refused at once when a known
/// revocation covers it (whether its session is still live is for the
/// service to say, in the call the token is for).
pub(super) async fn verified_unrevoked(
    ctx: &Ctx,
    access_token: &str,
) -> Result<Verified, ApiError> {
    let verified = verify(ctx, access_token).await?;
    match ctx.state().verified.standing(&verified) {
        Standing::Clear | Standing::AskService => Ok(verified),
        Standing::SessionRevoked => Err(ApiError::refused(Reason::SessionRevoked)),
        Standing::KeyRetired => Err(ApiError::refused(Reason::InvalidToken)),
    }
}

/// Verifies the access token (see [`verified_unrevoked`]), then asks the
/// service to end every session of its user, provided its own session is
/// still live.
async fn revoke_all(ctx: &Ctx, access_token: &str) -> Result<(), ApiError> {
    let verified = verified_unrevoked(ctx, access_token).await?;
    let request = RevokeAllSessionsRequest {
        user_id: verified.sub.clone(),
        session_id: verified.sid.clone(),
    };
    ctx.client()
        .revoke_all_sessions(ctx.request(request))
        .await
        .map_err(|s| ApiError::from_status(&ctx.failed(s)))?;
    Ok(())
}
