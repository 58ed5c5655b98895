//! `auth.v1.AuthService` over tonic: decode → one domain call → encode.
//!
//! Each RPC runs in a span named after it that carries the `request_id`
//! (see [`RequestId`]), so every log line of the call has it; timing, the
//! gRPC code and the outcome log are recorded around the server by
//! [`crate::rpc_observer`].

use std::sync::Arc;

use auth_proto::v1::{
    BuildLoginUrlRequest, BuildLoginUrlResponse, CompleteLoginRequest, CompleteLoginResponse,
    GetJwksRequest, GetJwksResponse, GetUserRequest, GetUserResponse, HandleUnlinkRequest,
    HandleUnlinkResponse, RefreshSessionRequest, RefreshSessionResponse, RevokeSessionRequest,
    RevokeSessionResponse, TokenPair, User, VerifyAccessTokenRequest, VerifyAccessTokenResponse,
    auth_service_server::AuthService,
};
use tonic::{Request, Response, Status};

use crate::{
    AuthCore,
    domain::{AuthorizationCode, BrowserBinding, LoginState, RefreshToken, ReturnTo},
    error::AuthError,
    login,
    metrics::RefreshOutcome,
    persistence::users,
    rpc_observer::RequestId,
    sessions::{self, SessionTokens},
    unlink,
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

fn invalid_request(message: &'static str) -> AuthError {
    AuthError::invalid_argument("invalid_request", message)
}

/// An empty binding means "none yet"; a present one must be well formed.
fn optional_binding(raw: &str, on_error: AuthError) -> Result<Option<BrowserBinding>, AuthError> {
    if raw.is_empty() {
        return Ok(None);
    }
    BrowserBinding::parse(raw).map(Some).map_err(|_| on_error)
}

fn refresh_token(raw: &str) -> Result<RefreshToken, AuthError> {
    if raw.is_empty() {
        return Err(invalid_request("refresh_token is required"));
    }
    RefreshToken::parse(raw).map_err(|_| {
        AuthError::unauthenticated("invalid_token", "refresh token is invalid or expired")
    })
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

fn user_message(u: users::Model) -> User {
    User {
        id: u.id,
        kakao_id: u.kakao_id.to_string(),
        nickname: u.nickname,
        profile_image_url: u.profile_image_url.unwrap_or_default(),
        thumbnail_image_url: u.thumbnail_image_url.unwrap_or_default(),
        email: u.email.unwrap_or_default(),
        created_at: u.created_at / 1000,
        last_login_at: u.last_login_at / 1000,
    }
}

#[tonic::async_trait]
impl AuthService for AuthGrpc {
    #[tracing::instrument(name = "BuildLoginUrl", skip_all, fields(request_id = %RequestId::of(&request)))]
    async fn build_login_url(
        &self,
        request: Request<BuildLoginUrlRequest>,
    ) -> Result<Response<BuildLoginUrlResponse>, Status> {
        let req = request.into_inner();
        let s = &self.core.settings;
        let return_to = ReturnTo::parse(&req.return_to, &s.frontend_url, &s.allowed_origins)
            .map_err(|_| {
                AuthError::invalid_argument(
                    "invalid_return_to",
                    "return_to is not an allowed destination",
                )
            })?;
        let binding = optional_binding(
            &req.binding,
            AuthError::invalid_argument("invalid_binding", "binding is malformed"),
        )?;
        let started = login::build_login_url(&self.core, return_to, binding).await?;
        Ok(Response::new(BuildLoginUrlResponse {
            authorize_url: started.authorize_url,
            binding: started.binding.expose().to_owned(),
            expires_in_seconds: started.expires_in_seconds,
        }))
    }

    #[tracing::instrument(name = "CompleteLogin", skip_all, fields(request_id = %RequestId::of(&request)))]
    async fn complete_login(
        &self,
        request: Request<CompleteLoginRequest>,
    ) -> Result<Response<CompleteLoginResponse>, Status> {
        let req = request.into_inner();
        let code = AuthorizationCode::parse(&req.code)
            .map_err(|_| invalid_request("code is missing or malformed"))?;
        let state = LoginState::parse(&req.state).map_err(|_| AuthError::invalid_state())?;
        let binding = optional_binding(&req.binding, AuthError::invalid_state())?;
        let done = login::complete_login(&self.core, code, state, binding).await?;
        Ok(Response::new(CompleteLoginResponse {
            tokens: Some(token_pair(done.tokens)),
            user: Some(user_message(done.user)),
            new_user: done.new_user,
            return_to: done.return_to.as_str().to_owned(),
        }))
    }

    #[tracing::instrument(name = "RefreshSession", skip_all, fields(request_id = %RequestId::of(&request)))]
    async fn refresh_session(
        &self,
        request: Request<RefreshSessionRequest>,
    ) -> Result<Response<RefreshSessionResponse>, Status> {
        let token = refresh_token(&request.into_inner().refresh_token)
            .inspect_err(|_| self.core.metrics.refresh(RefreshOutcome::Refused))?;
        let tokens = sessions::refresh(&self.core, token).await?;
        Ok(Response::new(RefreshSessionResponse {
            tokens: Some(token_pair(tokens)),
        }))
    }

    #[tracing::instrument(name = "RevokeSession", skip_all, fields(request_id = %RequestId::of(&request)))]
    async fn revoke_session(
        &self,
        request: Request<RevokeSessionRequest>,
    ) -> Result<Response<RevokeSessionResponse>, Status> {
        let raw = request.into_inner().refresh_token;
        if raw.is_empty() {
            return Err(invalid_request("refresh_token is required").into());
        }
        if let Ok(token) = RefreshToken::parse(&raw) {
            sessions::revoke(&self.core, token).await?;
        }
        Ok(Response::new(RevokeSessionResponse {}))
    }

    #[tracing::instrument(name = "VerifyAccessToken", skip_all, fields(request_id = %RequestId::of(&request)))]
    async fn verify_access_token(
        &self,
        request: Request<VerifyAccessTokenRequest>,
    ) -> Result<Response<VerifyAccessTokenResponse>, Status> {
        let token = request.into_inner().access_token;
        if token.is_empty() || token.len() > 4096 {
            return Err(invalid_request("access_token is missing or too long").into());
        }
        let claims = sessions::verify_access_token(&self.core, &token).await?;
        Ok(Response::new(VerifyAccessTokenResponse {
            user_id: claims.sub,
            session_id: claims.sid,
            token_id: claims.jti,
            expires_at: claims.exp,
            issued_at: claims.iat,
        }))
    }

    #[tracing::instrument(name = "GetUser", skip_all, fields(request_id = %RequestId::of(&request)))]
    async fn get_user(
        &self,
        request: Request<GetUserRequest>,
    ) -> Result<Response<GetUserResponse>, Status> {
        let req = request.into_inner();
        if req.user_id.is_empty() || req.user_id.len() > 64 || req.session_id.len() > 64 {
            return Err(invalid_request("user_id is missing or malformed").into());
        }
        let session_id = Some(req.session_id.as_str()).filter(|s| !s.is_empty());
        let user = sessions::user_of_live_session(&self.core, &req.user_id, session_id).await?;
        Ok(Response::new(GetUserResponse {
            user: Some(user_message(user)),
        }))
    }

    #[tracing::instrument(name = "HandleUnlink", skip_all, fields(request_id = %RequestId::of(&request)))]
    async fn handle_unlink(
        &self,
        request: Request<HandleUnlinkRequest>,
    ) -> Result<Response<HandleUnlinkResponse>, Status> {
        let req = request.into_inner();
        let kakao_id: i64 = req
            .user_id
            .parse()
            .map_err(|_| invalid_request("user_id must be a Kakao user id"))?;
        let referrer: String = req
            .referrer_type
            .chars()
            .filter(|c| c.is_ascii_uppercase() || *c == '_')
            .take(32)
            .collect();
        let done =
            unlink::handle_unlink(&self.core, &req.admin_key, &req.app_id, kakao_id, &referrer)
                .await?;
        Ok(Response::new(HandleUnlinkResponse {
            known_user: done.known_user,
            sessions_revoked: i64::try_from(done.sessions_revoked).unwrap_or(i64::MAX),
        }))
    }

    #[tracing::instrument(name = "GetJwks", skip_all, fields(request_id = %RequestId::of(&_request)))]
    async fn get_jwks(
        &self,
        _request: Request<GetJwksRequest>,
    ) -> Result<Response<GetJwksResponse>, Status> {
        Ok(Response::new(GetJwksResponse {
            jwks_json: self
                .core
                .keys
                .fresh_jwks_json(&self.core.db)
                .await
                .to_string(),
        }))
    }
}
