//! The login flow, for every provider: the one place that orders
//! state check → provider (token, id_token, profile) → database → tokens.
//! A link (attach a provider's identity to the logged-in user) is the same
//! flow with the same checks, ending in the identity's write instead of a
//! session.

use auth_proto::Reason;
use secrecy::ExposeSecret;

use crate::{
    auth_core::AuthCore,
    domain::{
        AccessToken, AuthorizationCode, BrowserBinding, LinkTarget, LoginAttempt, LoginState,
        ReturnTo, pkce_challenge, provider_grant_row,
    },
    error::{AuthError, db},
    metrics::LoginKind,
    persistence::{
        identities::{self, LinkOutcome},
        login_write::LoginRecord,
        ms, now_ms, users,
    },
    providers::{AuthorizeParams, Provider, Providers},
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

/// A finished login, or link.
pub struct LoginCompleted {
    /// The new session's tokens; `None` for a link.
    pub tokens: Option<SessionTokens>,
    /// The user, as just stored, with the identity just used.
    pub user: users::UserView,
    /// True when this login registered the user.
    pub new_user: bool,
    /// Where to send the browser.
    pub return_to: ReturnTo,
}

/// The provider a request names, if it is enabled here.
fn enabled(core: &AuthCore, provider: Provider) -> Result<Provider, AuthError> {
    let provider = provider.or_kakao();
    if core.providers.is_enabled(provider) {
        Ok(provider)
    } else {
        Err(AuthError::refused(
            Reason::ProviderDisabled,
            "this provider is not enabled",
        ))
    }
}

/// Seals a login (or, with `link_access_token`, a link) attempt into its
/// `state` and returns the provider's authorize URL for it. Nothing is
/// written to the database (see [`crate::domain::StateSealer`]).
///
/// The PKCE verifier is derived from the browser binding and the state
/// (see [`BrowserBinding::pkce_verifier`]), so it is neither stored nor
/// sealed; the state carries only the binding's hash.
pub async fn build_login_url(
    core: &AuthCore,
    provider: Provider,
    return_to: ReturnTo,
    binding: Option<BrowserBinding>,
    link_access_token: Option<AccessToken>,
) -> Result<LoginStarted, AuthError> {
    let provider = enabled(core, provider)?;
    let link = match link_access_token {
        None => None,
        Some(token) => {
            let verified = sessions::verify(core, &token).await?;
            Some(LinkTarget {
                user_id: verified.user_id.as_ref().to_owned(),
                session_id: verified.session_id.as_ref().to_owned(),
            })
        }
    };
    let binding = binding.unwrap_or_else(BrowserBinding::generate);
    let ttl = core.settings.login_attempt_ttl;
    let attempt = LoginAttempt::new(
        now_ms().saturating_add(ms(ttl)),
        binding.hash(),
        return_to.as_str().to_owned(),
        provider,
        link,
    );
    let state = core.state_sealer.seal(&attempt);
    let challenge = pkce_challenge(&binding.pkce_verifier(&state));
    let params = AuthorizeParams {
        state: state.expose(),
        nonce: &attempt.nonce(),
        code_challenge: &challenge,
    };
    let url = core
        .providers
        .authorize_url(provider, &params)
        .await
        .ok_or_else(|| {
            enabled(core, provider)
                .err()
                .unwrap_or_else(AuthError::bad_login_state)
        })?
        .map_err(|e| AuthError::from_provider(provider, e))?;
    Ok(LoginStarted {
        authorize_url: url.into(),
        binding,
        expires_in_seconds: i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
    })
}

/// Finishes a login (or a link).
///
/// The state is opened, its provider, binding and expiry checked, and its
/// id claimed (exactly once) *before* the code is sent to the provider: a
/// forged, replayed, expired, cross-provider or cross-browser callback
/// never costs a provider call and never spends the victim's code. A state
/// presented with the wrong binding is refused without being claimed, so a
/// leaked state cannot be used to spoil its owner's login. The claim and
/// the final write are two steps because a database transaction must not
/// stay open across the provider's network round trips; the final write
/// upserts the identity and the user and stores the session atomically, in
/// one round trip ([`crate::persistence::login_write`]), so either all of
/// it is recorded or none of it.
pub async fn complete_login(
    core: &AuthCore,
    provider: Provider,
    code: AuthorizationCode,
    state: LoginState,
    binding: Option<BrowserBinding>,
) -> Result<LoginCompleted, AuthError> {
    // A disabled provider is answered first, whatever the state: its
    // callback then looks exactly like an unknown one's.
    let provider = enabled(core, provider)?;
    let attempt = core
        .state_sealer
        .open(&state)
        .ok_or_else(AuthError::bad_login_state)?;
    if attempt.provider != provider {
        return Err(AuthError::bad_login_state());
    }
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
    if let Some(link) = &attempt.link {
        // A link whose session ended meanwhile is refused before the code
        // is spent.
        sessions::require_live_session(core, &link.session_id, &link.user_id).await?;
    }
    if !core
        .db
        .claim_login_state(&attempt.state_id(), attempt.expires_at)
        .await
        .map_err(db("claim login state"))?
    {
        return Err(AuthError::bad_login_state());
    }

    let verifier = if Providers::uses_pkce(provider) {
        binding.pkce_verifier(&state)
    } else {
        String::new()
    };
    let signed_in = core
        .providers
        .sign_in(provider, &code, &verifier, &attempt.nonce(), state.expose())
        .await
        .ok_or_else(|| {
            AuthError::refused(Reason::ProviderDisabled, "this provider is not enabled")
        })??;
    let grant_sealed = signed_in.grant.as_ref().map(|grant| {
        core.settings.key_encryption.seal(
            &provider_grant_row(provider.slug(), &signed_in.user.subject),
            grant.expose_secret().as_bytes(),
        )
    });

    if let Some(link) = attempt.link {
        return complete_link(
            core,
            provider,
            link,
            signed_in.user,
            grant_sealed,
            return_to,
        )
        .await;
    }

    let now = now_ms();
    let session = NewSession::new(&core.settings, now);
    let (user, new_user) = core
        .db
        .record_login(LoginRecord {
            provider: provider.slug(),
            profile: signed_in.user,
            grant_sealed,
            now,
            session_id: session.id.clone(),
            session_expires_at: session.expires_at,
            token_hash: session.refresh_token.hash(),
            token_expires_at: session.refresh_expires_at,
        })
        .await
        .map_err(db("store user and session"))?;
    let session = session.issued(user.user.id.clone());

    let tokens = sessions::with_access_token(core, session)?;
    let kind = if new_user {
        LoginKind::New
    } else {
        LoginKind::Returning
    };
    core.metrics.login(provider, kind);
    tracing::info!(user_id = %user.user.id, provider = provider.slug(), new_user, "login completed");
    Ok(LoginCompleted {
        tokens: Some(tokens),
        user,
        new_user,
        return_to,
    })
}

/// Attaches the identity to the user the state names. No automatic
/// linking ever happens elsewhere: this is the only way a second identity
/// joins a user, and only for the logged-in person who asked.
async fn complete_link(
    core: &AuthCore,
    provider: Provider,
    link: LinkTarget,
    profile: crate::providers::api::ProviderUser,
    grant_sealed: Option<String>,
    return_to: ReturnTo,
) -> Result<LoginCompleted, AuthError> {
    let now = now_ms();
    let outcome = identities::link(
        &core.db.write,
        &link.user_id,
        provider.slug(),
        &profile,
        grant_sealed,
        now,
    )
    .await
    .map_err(db("link identity"))?;
    match outcome {
        LinkOutcome::Linked => {}
        LinkOutcome::OwnedByAnother => {
            tracing::info!(user_id = %link.user_id, provider = provider.slug(), "link refused: identity belongs to another user");
            return Err(AuthError::refused(
                Reason::IdentityInUse,
                "this account is already linked to another user",
            ));
        }
        LinkOutcome::ProviderTaken => {
            return Err(AuthError::refused(
                Reason::IdentityInUse,
                "the user already has another account of this provider linked",
            ));
        }
    }
    let user = users::find_view(&core.db.write, &link.user_id)
        .await
        .map_err(db("read linked user"))?
        .ok_or_else(|| AuthError::refused(Reason::UserNotFound, "no such user"))?;
    core.metrics.login(provider, LoginKind::Linked);
    tracing::info!(user_id = %link.user_id, provider = provider.slug(), "identity linked");
    Ok(LoginCompleted {
        tokens: None,
        user,
        new_user: false,
        return_to,
    })
}
