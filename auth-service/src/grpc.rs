//! `auth.v1.AuthService` over tonic: decode → one domain call → encode.
//!
//! Decoding parses each field into its domain newtype and answers a bad one
//! with the refusal the contract names for that RPC; everything else is
//! decided in [`crate::login`], [`crate::sessions`], [`crate::unlink`] and
//! [`crate::revocations`].
//! Each RPC runs in a span named after it that carries the `request_id`
//! (see [`crate::request_id`]), except a VerifyAccessToken answered from
//! the cache, which logs nothing; timing, the gRPC code and the outcome log
//! are recorded around the server by [`crate::rpc_observer`].

use std::sync::Arc;

use auth_proto::{
    Reason, RequestId,
    v1::{
        BuildLoginUrlRequest, BuildLoginUrlResponse, CompleteLoginRequest, CompleteLoginResponse,
        GetJwksRequest, GetJwksResponse, GetUserRequest, GetUserResponse, HandleUnlinkRequest,
        HandleUnlinkResponse, RefreshSessionRequest, RefreshSessionResponse,
        RevokeAllSessionsRequest, RevokeAllSessionsResponse, RevokeSessionRequest,
        RevokeSessionResponse, TokenPair, UnlinkIdentityRequest, UnlinkIdentityResponse, User,
        VerifyAccessTokenRequest, VerifyAccessTokenResponse, WatchRevocationsRequest,
        auth_service_server::AuthService,
    },
};
use tonic::{Request, Response, Status};
use tracing::Instrument;

use crate::{
    auth_core::AuthCore,
    domain::{
        AccessToken, AuthorizationCode, BrowserBinding, KakaoUserId, LoginState, RefreshToken,
        ReturnTo, SessionId, UserId,
    },
    error::AuthError,
    identity_links, login,
    persistence::{identities, users},
    providers::api::Provider,
    request_id,
    revocations::watch,
    sessions::{self, CacheMiss, CachedVerification, SessionTokens},
    token_cache::VerifiedToken,
    unlink::{self, UnlinkCallback},
};

/// The gRPC face of [`AuthCore`].
#[derive(Clone)]
pub struct AuthGrpc {
    core: Arc<AuthCore>,
}

impl AuthGrpc {
    /// Wraps the shared core.
    pub fn new(core: Arc<AuthCore>) -> Self {
        AuthGrpc { core }
    }
}

#[tonic::async_trait]
impl AuthService for AuthGrpc {
    #[tracing::instrument(name = "BuildLoginUrl", skip_all, fields(request_id = %request_id::of(&request)))]
    async fn build_login_url(
        &self,
        request: Request<BuildLoginUrlRequest>,
    ) -> Result<Response<BuildLoginUrlResponse>, Status> {
        let req = request.into_inner();
        let s = &self.core.settings;
        let return_to = ReturnTo::parse(&req.return_to, &s.frontend_url, &s.allowed_origins)
            .map_err(|_| {
                AuthError::refused(
                    Reason::InvalidReturnTo,
                    "return_to is not an allowed destination",
                )
            })?;
        let binding = BrowserBinding::parse_optional(&req.binding)
            .map_err(|_| AuthError::refused(Reason::InvalidBinding, "binding is malformed"))?;
        let link = match req.link_access_token.as_str() {
            "" => None,
            token => Some(
                AccessToken::parse(token.to_owned())
                    .map_err(|_| AuthError::bad_field("link_access_token is too long"))?,
            ),
        };
        let started =
            login::build_login_url(&self.core, req.provider(), return_to, binding, link).await?;
        Ok(Response::new(BuildLoginUrlResponse {
            authorize_url: started.authorize_url,
            binding: started.binding.expose().to_owned(),
            expires_in_seconds: started.expires_in_seconds,
        }))
    }

    #[tracing::instrument(name = "CompleteLogin", skip_all, fields(request_id = %request_id::of(&request)))]
    async fn complete_login(
        &self,
        request: Request<CompleteLoginRequest>,
    ) -> Result<Response<CompleteLoginResponse>, Status> {
        let req = request.into_inner();
        let code = AuthorizationCode::parse(&req.code)
            .map_err(|_| AuthError::bad_field("code is missing or malformed"))?;
        // A malformed state or binding is answered like a forged one.
        let state = LoginState::parse(&req.state).map_err(|_| AuthError::bad_login_state())?;
        let binding = BrowserBinding::parse_optional(&req.binding)
            .map_err(|_| AuthError::bad_login_state())?;
        let provider = req.provider();
        let done = login::complete_login(&self.core, provider, code, state, binding).await?;
        Ok(Response::new(CompleteLoginResponse {
            linked: done.tokens.is_none(),
            tokens: done.tokens.map(token_pair),
            user: Some(user_message(done.user)),
            new_user: done.new_user,
            return_to: done.return_to.as_str().to_owned(),
        }))
    }

    #[tracing::instrument(name = "RefreshSession", skip_all, fields(request_id = %request_id::of(&request)))]
    async fn refresh_session(
        &self,
        request: Request<RefreshSessionRequest>,
    ) -> Result<Response<RefreshSessionResponse>, Status> {
        let presented = RefreshToken::parse(&request.into_inner().refresh_token);
        let tokens = sessions::refresh(&self.core, presented).await?;
        Ok(Response::new(RefreshSessionResponse {
            tokens: Some(token_pair(tokens)),
        }))
    }

    #[tracing::instrument(name = "RevokeSession", skip_all, fields(request_id = %request_id::of(&request)))]
    async fn revoke_session(
        &self,
        request: Request<RevokeSessionRequest>,
    ) -> Result<Response<RevokeSessionResponse>, Status> {
        let req = request.into_inner();
        let presented = RefreshToken::parse(&req.refresh_token);
        sessions::revoke(&self.core, presented, &req.access_token).await?;
        Ok(Response::new(RevokeSessionResponse {}))
    }

    #[tracing::instrument(name = "RevokeAllSessions", skip_all, fields(request_id = %request_id::of(&request)))]
    async fn revoke_all_sessions(
        &self,
        request: Request<RevokeAllSessionsRequest>,
    ) -> Result<Response<RevokeAllSessionsResponse>, Status> {
        let req = request.into_inner();
        let malformed = |_| AuthError::bad_field("user_id is missing or malformed");
        let user_id = UserId::parse(&req.user_id).map_err(malformed)?;
        let session_id = SessionId::parse_optional(&req.session_id).map_err(malformed)?;
        let ended = sessions::revoke_all_of_user(&self.core, &user_id, session_id.as_ref()).await?;
        Ok(Response::new(RevokeAllSessionsResponse {
            sessions_revoked: i64::try_from(ended).unwrap_or(i64::MAX),
        }))
    }

    /// Answered from the verified-token cache when it may be, without a
    /// span: that answer logs nothing (the observer's outcome line carries
    /// the request id), and the span was about 6% of the call's
    /// instructions. The rest runs in the usual span.
    async fn verify_access_token(
        &self,
        request: Request<VerifyAccessTokenRequest>,
    ) -> Result<Response<VerifyAccessTokenResponse>, Status> {
        let (metadata, extensions, message) = request.into_parts();
        let token = AccessToken::parse(message.access_token)
            .map_err(|_| AuthError::bad_field("access_token is missing or too long"))?;
        let verified = match sessions::verify_from_cache(&self.core, &token) {
            CachedVerification::Answered(answer) => answer.map_err(AuthError::from)?,
            CachedVerification::Missed(miss) => {
                let request_id = request_id::of_parts(&metadata, &extensions);
                // Boxed: the full verification's state (signature, key
                // lookup, session check) is ~3 KB, and inline it made
                // every call's future that big, a hit's too: one large
                // allocation per call, past glibc's per-thread cache, so
                // taken under the arena lock.
                Box::pin(verify_in_span(&self.core, request_id, &token, miss)).await?
            }
        };
        Ok(Response::new(VerifyAccessTokenResponse {
            user_id: verified.user_id.as_ref().to_owned(),
            session_id: verified.session_id.as_ref().to_owned(),
            token_id: verified.token_id.as_ref().to_owned(),
            expires_at: verified.expires_at,
            issued_at: verified.issued_at,
        }))
    }

    #[tracing::instrument(name = "GetUser", skip_all, fields(request_id = %request_id::of(&request)))]
    async fn get_user(
        &self,
        request: Request<GetUserRequest>,
    ) -> Result<Response<GetUserResponse>, Status> {
        let admin = self
            .core
            .settings
            .admin_clients
            .allows(request.peer_certs());
        let req = request.into_inner();
        let malformed = |_| AuthError::bad_field("user_id is missing or malformed");
        let user_id = UserId::parse(&req.user_id).map_err(malformed)?;
        let session_id = SessionId::parse_optional(&req.session_id).map_err(malformed)?;
        if session_id.is_none() && !admin {
            return Err(AuthError::refused(
                Reason::CallerNotAllowed,
                "session_id is required unless the caller's certificate is allowed",
            )
            .into());
        }
        let user =
            sessions::user_of_live_session(&self.core, &user_id, session_id.as_ref()).await?;
        Ok(Response::new(GetUserResponse {
            user: Some(user_message(user)),
        }))
    }

    #[tracing::instrument(name = "HandleUnlink", skip_all, fields(request_id = %request_id::of(&request)))]
    async fn handle_unlink(
        &self,
        request: Request<HandleUnlinkRequest>,
    ) -> Result<Response<HandleUnlinkResponse>, Status> {
        let req = request.into_inner();
        let kakao_id = KakaoUserId::parse(&req.user_id)
            .map_err(|_| AuthError::bad_field("user_id must be a Kakao user id"))?;
        let callback = UnlinkCallback {
            admin_key: &req.admin_key,
            app_id: &req.app_id,
            kakao_id,
            referrer_type: &req.referrer_type,
        };
        let done = unlink::handle_unlink(&self.core, callback).await?;
        Ok(Response::new(HandleUnlinkResponse {
            known_user: done.known_user,
            sessions_revoked: i64::try_from(done.sessions_revoked).unwrap_or(i64::MAX),
        }))
    }

    #[tracing::instrument(name = "GetJwks", skip_all, fields(request_id = %request_id::of(&request)))]
    async fn get_jwks(
        &self,
        request: Request<GetJwksRequest>,
    ) -> Result<Response<GetJwksResponse>, Status> {
        let _ = request;
        let jwks = self.core.keys.fresh_jwks_json(&self.core.db.read).await;
        Ok(Response::new(GetJwksResponse {
            jwks_json: jwks.to_string(),
        }))
    }

    type WatchRevocationsStream = watch::EventStream;

    #[tracing::instrument(name = "WatchRevocations", skip_all, fields(request_id = %request_id::of(&request)))]
    async fn watch_revocations(
        &self,
        request: Request<WatchRevocationsRequest>,
    ) -> Result<Response<Self::WatchRevocationsStream>, Status> {
        let after = request.into_inner().after_sequence;
        let events = watch::watch(self.core.clone(), after).await?;
        Ok(Response::new(events))
    }

    #[tracing::instrument(name = "UnlinkIdentity", skip_all, fields(request_id = %request_id::of(&request)))]
    async fn unlink_identity(
        &self,
        request: Request<UnlinkIdentityRequest>,
    ) -> Result<Response<UnlinkIdentityResponse>, Status> {
        let req = request.into_inner();
        let malformed = |_| AuthError::bad_field("user_id or session_id is missing or malformed");
        let user_id = UserId::parse(&req.user_id).map_err(malformed)?;
        let session_id = SessionId::parse_optional(&req.session_id)
            .map_err(malformed)?
            .ok_or_else(|| AuthError::bad_field("session_id is required"))?;
        let provider = match req.provider() {
            Provider::Unspecified => {
                return Err(AuthError::bad_field("provider is required").into());
            }
            provider => provider,
        };
        let done =
            identity_links::unlink_identity(&self.core, &user_id, &session_id, provider).await?;
        Ok(Response::new(UnlinkIdentityResponse {
            identities: done.identities.into_iter().map(identity_message).collect(),
            provider_revoked: done.provider_revoked,
        }))
    }
}

/// The full verification of a token the cache did not answer, in the
/// RPC's span. The error becomes a `Status` inside it, because that is
/// where a database failure is logged.
async fn verify_in_span(
    core: &AuthCore,
    request_id: RequestId,
    token: &AccessToken,
    miss: CacheMiss,
) -> Result<Arc<VerifiedToken>, Status> {
    let span = tracing::info_span!("VerifyAccessToken", %request_id);
    async {
        sessions::verify_uncached(core, token, miss)
            .await
            .map_err(Status::from)
    }
    .instrument(span)
    .await
}

fn token_pair(t: SessionTokens) -> TokenPair {
    TokenPair {
        access_token: t.access.token,
        access_expires_in: t.access.expires_in,
        refresh_token: t.session.refresh_token.expose().to_owned(),
        refresh_expires_in: t.session.refresh_expires_in,
        session_id: t.session.session_id,
    }
}

fn user_message(view: users::UserView) -> User {
    let kakao_id = view.kakao_id().unwrap_or_default().to_owned();
    let u = view.user;
    User {
        id: u.id,
        kakao_id,
        nickname: u.nickname,
        profile_image_url: u.profile_image_url.unwrap_or_default(),
        thumbnail_image_url: u.thumbnail_image_url.unwrap_or_default(),
        email: u.email.unwrap_or_default(),
        created_at: u.created_at / 1000,
        last_login_at: u.last_login_at / 1000,
        identities: view.identities.into_iter().map(identity_message).collect(),
    }
}

fn identity_message(i: identities::Model) -> auth_proto::v1::Identity {
    auth_proto::v1::Identity {
        provider: Provider::from_slug(&i.provider).unwrap_or(Provider::Unspecified) as i32,
        subject: i.subject,
        email: i.email.unwrap_or_default(),
        linked_at: i.created_at / 1000,
        last_login_at: i.last_login_at / 1000,
    }
}
