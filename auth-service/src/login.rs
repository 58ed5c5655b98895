//! The login flow: the one place that orders
//! state check → Kakao → database → tokens.

use auth_proto::Reason;
use sea_orm::TransactionTrait;

use crate::{
    auth_core::AuthCore,
    domain::{
        AuthorizationCode, BrowserBinding, LoginState, ReturnTo, pkce_challenge, random_token,
    },
    error::{AuthError, db},
    kakao::{AuthorizeParams, id_token_claims},
    persistence::{login_attempts, ms, now_ms, users},
    sessions::{self, SessionTokens},
};

/// A started login.
pub struct LoginStarted {
    /// Where to send the browser.
    pub authorize_url: String,
    /// The binding secret for the browser's cookie.
    pub binding: BrowserBinding,
    /// Lifetime of the attempt, in seconds.
    pub expires_in_seconds: i64,
}

/// A finished login.
pub struct LoginCompleted {
    /// The new session's tokens.
    pub tokens: SessionTokens,
    /// The user, as just stored.
    pub user: users::Model,
    /// True when this login registered the user.
    pub new_user: bool,
    /// Where to send the browser.
    pub return_to: ReturnTo,
}

/// Stores a login attempt and returns Kakao's authorize URL for it.
///
/// The PKCE verifier is derived from the browser binding and the state
/// (see [`BrowserBinding::pkce_verifier`]), so the database holds neither it
/// nor the binding itself, only the binding's hash.
pub async fn build_login_url(
    core: &AuthCore,
    return_to: ReturnTo,
    binding: Option<BrowserBinding>,
) -> Result<LoginStarted, AuthError> {
    let binding = binding.unwrap_or_else(BrowserBinding::generate);
    let state = LoginState::generate();
    let nonce = random_token(16);
    let challenge = pkce_challenge(&binding.pkce_verifier(&state));
    let now = now_ms();
    let ttl = core.settings.login_attempt_ttl;
    login_attempts::insert(
        &core.db,
        login_attempts::Model {
            state: state.expose().to_owned(),
            binding_hash: binding.hash(),
            nonce: nonce.clone(),
            return_to: return_to.as_str().to_owned(),
            created_at: now,
            expires_at: now.saturating_add(ms(ttl)),
            claimed_at: None,
        },
    )
    .await
    .map_err(db("store login attempt"))?;
    let url = core.kakao.authorize_url(&AuthorizeParams {
        state: state.expose(),
        nonce: &nonce,
        code_challenge: &challenge,
        scope: core.settings.kakao.scope.as_deref(),
        prompt: core.settings.kakao.prompt.as_deref(),
    });
    Ok(LoginStarted {
        authorize_url: url.into(),
        binding,
        expires_in_seconds: i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
    })
}

/// Finishes a login.
///
/// The attempt is claimed (exactly once) and its binding checked *before*
/// the code is sent to Kakao: a forged, replayed or cross-browser callback
/// never costs a Kakao call and never spends the victim's code. The claim
/// and the final write are two steps because a database transaction must
/// not stay open across Kakao's network round trips; the final transaction
/// deletes the claimed attempt, upserts the user and stores the session,
/// so either all of the login is recorded or none of it.
pub async fn complete_login(
    core: &AuthCore,
    code: AuthorizationCode,
    state: LoginState,
    binding: Option<BrowserBinding>,
) -> Result<LoginCompleted, AuthError> {
    let now = now_ms();
    let attempt = login_attempts::claim(&core.db, state.expose(), now)
        .await
        .map_err(db("claim login attempt"))?
        .ok_or_else(AuthError::bad_login_state)?;
    let Some(binding) = binding.filter(|b| b.matches(&attempt.binding_hash)) else {
        return Err(AuthError::bad_login_state());
    };
    if attempt.expires_at <= now {
        return Err(AuthError::refused(
            Reason::LoginExpired,
            "login attempt has expired, start again",
        ));
    }
    let return_to = ReturnTo::from_stored(&attempt.return_to)
        .ok_or_else(|| AuthError::Unexpected(anyhow::anyhow!("stored return_to is unreadable")))?;

    let kakao_tokens = core
        .kakao
        .exchange_code(&code, &binding.pkce_verifier(&state))
        .await?;
    let kakao_user = core.kakao.fetch_user(&kakao_tokens.access_token).await?;
    if let Some(id_token) = &kakao_tokens.id_token {
        let claims = id_token_claims(id_token).ok_or_else(|| {
            AuthError::refused(Reason::KakaoRejected, "kakao sent an unreadable id_token")
        })?;
        let nonce_ok = claims.nonce.as_deref() == Some(attempt.nonce.as_str());
        let sub_ok = claims
            .sub
            .as_deref()
            .is_none_or(|s| s == kakao_user.id.to_string());
        let aud_ok = claims
            .aud
            .as_deref()
            .is_none_or(|a| a == core.kakao.client_id());
        if !(nonce_ok && sub_ok && aud_ok) {
            return Err(AuthError::bad_login_state());
        }
    }

    let profile = users::ProfileUpdate {
        kakao_id: kakao_user.id,
        nickname: kakao_user.nickname,
        profile_image_url: kakao_user.profile_image_url,
        thumbnail_image_url: kakao_user.thumbnail_image_url,
        email: kakao_user.email,
    };
    let now = now_ms();
    let txn = core
        .db
        .begin()
        .await
        .map_err(db("begin login transaction"))?;
    if !login_attempts::consume(&txn, state.expose())
        .await
        .map_err(db("consume login attempt"))?
    {
        return Err(AuthError::bad_login_state());
    }
    let (user, new_user) = users::upsert_by_kakao_id(&txn, &profile, now)
        .await
        .map_err(db("upsert user by kakao id"))?;
    let session = sessions::start(&txn, &core.settings, &user.id, now)
        .await
        .map_err(db("start session"))?;
    txn.commit().await.map_err(db("commit login"))?;

    let tokens = sessions::with_access_token(core, session)?;
    core.metrics.login(new_user);
    tracing::info!(user_id = %user.id, new_user, "login completed");
    Ok(LoginCompleted {
        tokens,
        user,
        new_user,
        return_to,
    })
}
