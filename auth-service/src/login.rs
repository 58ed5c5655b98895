//! The login flow: the one place that orders
//! state check → Kakao (token, id_token, profile) → database → tokens.

use auth_proto::Reason;

use crate::{
    auth_core::AuthCore,
    domain::{
        AuthorizationCode, BrowserBinding, LoginAttempt, LoginState, ReturnTo, pkce_challenge,
    },
    error::{AuthError, db},
    kakao::AuthorizeParams,
    persistence::{login_write::LoginRecord, ms, now_ms, users},
    sessions::{self, NewSession, SessionTokens},
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

/// Seals a login attempt into its `state` and returns Kakao's authorize
/// URL for it. Nothing is written to the database (see
/// [`crate::domain::StateSealer`]).
///
/// The PKCE verifier is derived from the browser binding and the state
/// (see [`BrowserBinding::pkce_verifier`]), so it is neither stored nor
/// sealed; the state carries only the binding's hash.
pub async fn build_login_url(
    core: &AuthCore,
    return_to: ReturnTo,
    binding: Option<BrowserBinding>,
) -> Result<LoginStarted, AuthError> {
    let binding = binding.unwrap_or_else(BrowserBinding::generate);
    let ttl = core.settings.login_attempt_ttl;
    let attempt = LoginAttempt::new(
        now_ms().saturating_add(ms(ttl)),
        binding.hash(),
        return_to.as_str().to_owned(),
    );
    let state = core.state_sealer.seal(&attempt);
    let challenge = pkce_challenge(&binding.pkce_verifier(&state));
    let url = core.kakao.authorize_url(&AuthorizeParams {
        state: state.expose(),
        nonce: &attempt.nonce(),
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
/// The state is opened, its binding and expiry checked, and its id claimed
/// (exactly once) *before* the code is sent to Kakao: a forged, replayed,
/// expired or cross-browser callback never costs a Kakao call and never
/// spends the victim's code. A state presented with the wrong binding is
/// refused without being claimed, so a leaked state cannot be used to
/// spoil its owner's login. The claim and the final write are two steps
/// because a database transaction must not stay open across Kakao's
/// network round trips; the final write upserts the user and stores the
/// session atomically, in one round trip ([`login_write`]), so either all
/// of it is recorded or none of it.
pub async fn complete_login(
    core: &AuthCore,
    code: AuthorizationCode,
    state: LoginState,
    binding: Option<BrowserBinding>,
) -> Result<LoginCompleted, AuthError> {
    let attempt = core
        .state_sealer
        .open(&state)
        .ok_or_else(AuthError::bad_login_state)?;
    let Some(binding) = binding.filter(|b| b.matches(&attempt.binding_hash)) else {
        return Err(AuthError::bad_login_state());
    };
    if attempt.expires_at <= now_ms() {
        return Err(AuthError::refused(
            Reason::LoginExpired,
            "login attempt has expired, start again",
        ));
    }
    let return_to = ReturnTo::from_stored(&attempt.return_to)
        .ok_or_else(|| AuthError::Unexpected(anyhow::anyhow!("sealed return_to is unreadable")))?;
    if !core
        .db
        .claim_login_state(&attempt.state_id(), attempt.expires_at)
        .await
        .map_err(db("claim login state"))?
    {
        return Err(AuthError::bad_login_state());
    }

    let kakao_tokens = core
        .kakao
        .exchange_code(&code, &binding.pkce_verifier(&state))
        .await?;
    // The id_token (when one came or `openid` asked for one) is verified
    // before its access token is spent on the profile.
    let id_token = core
        .kakao_id_tokens
        .verify(kakao_tokens.id_token.as_deref(), &attempt.nonce())
        .await?;
    let kakao_user = core.kakao.fetch_user(&kakao_tokens.access_token).await?;
    if let Some(id_token) = id_token {
        id_token.check_subject(kakao_user.id)?;
    }

    let profile = users::ProfileUpdate {
        kakao_id: kakao_user.id,
        nickname: kakao_user.nickname,
        profile_image_url: kakao_user.profile_image_url,
        thumbnail_image_url: kakao_user.thumbnail_image_url,
        email: kakao_user.email,
    };
    let now = now_ms();
    let session = NewSession::new(&core.settings, now);
    let (user, new_user) = core
        .db
        .record_login(LoginRecord {
            profile,
            now,
            session_id: session.id.clone(),
            session_expires_at: session.expires_at,
            token_hash: session.refresh_token.hash(),
            token_expires_at: session.refresh_expires_at,
        })
        .await
        .map_err(db("store user and session"))?;
    let session = session.issued(user.id.clone());

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
