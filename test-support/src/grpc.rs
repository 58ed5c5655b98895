//! The auth-service as the edge sees it over gRPC: a login through the
//! emulator, token verification, health, and the `x-auth-error` reason.

use auth_proto::v1::{
    BuildLoginUrlRequest, CompleteLoginRequest, CompleteLoginResponse, RefreshSessionRequest,
    TokenPair, VerifyAccessTokenRequest,
};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use auth_proto::v1::Provider;

use crate::{
    browser::{consent, consent_as, query},
    stack::{AuthHandle, Stack},
};

/// The reason word the service puts in `x-auth-error`.
pub fn reason(status: &tonic::Status) -> &str {
    status
        .metadata()
        .get(auth_proto::AUTH_ERROR_KEY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// A started login: the authorize URL, the binding and the state.
pub struct Started {
    pub url: String,
    pub binding: String,
    pub state: String,
}

/// BuildLoginUrl with `return_to` and no binding.
pub async fn start_login(stack: &Stack, return_to: &str) -> Started {
    start_login_on(&stack.auth, return_to).await
}

/// BuildLoginUrl on one service (of several sharing a database).
pub async fn start_login_on(auth: &AuthHandle, return_to: &str) -> Started {
    let mut client = auth.client().await;
    let res = client
        .build_login_url(BuildLoginUrlRequest {
            return_to: return_to.into(),
            binding: String::new(),
            ..Default::default()
        })
        .await
        .expect("BuildLoginUrl")
        .into_inner();
    let state = query(&res.authorize_url)["state"].clone();
    Started {
        url: res.authorize_url,
        binding: res.binding,
        state,
    }
}

/// BuildLoginUrl for `provider` (a link when `link_access_token` is set).
pub async fn start_with(
    auth: &AuthHandle,
    provider: Provider,
    link_access_token: Option<&str>,
) -> Result<Started, tonic::Status> {
    let mut client = auth.client().await;
    let res = client
        .build_login_url(BuildLoginUrlRequest {
            return_to: "/dashboard".into(),
            provider: provider as i32,
            link_access_token: link_access_token.unwrap_or_default().to_owned(),
            ..Default::default()
        })
        .await?
        .into_inner();
    let state = query(&res.authorize_url)["state"].clone();
    Ok(Started {
        url: res.authorize_url,
        binding: res.binding,
        state,
    })
}

/// Plays `user` at `provider`'s consent page for `started`, then
/// CompleteLogin with the callback's code and state.
pub async fn complete_with(
    auth: &AuthHandle,
    provider: Provider,
    started: Started,
    user: &str,
) -> Result<CompleteLoginResponse, tonic::Status> {
    let callback = consent_as(&started.url, user, true).await;
    let q = query(&callback);
    let mut client = auth.client().await;
    client
        .complete_login(CompleteLoginRequest {
            code: q["code"].clone(),
            state: q["state"].clone(),
            binding: started.binding,
            provider: provider as i32,
        })
        .await
        .map(tonic::Response::into_inner)
}

/// A login with `provider` as `user` (a Kakao id, a Naver account key, a
/// Google `sub`).
pub async fn login_with(
    auth: &AuthHandle,
    provider: Provider,
    user: &str,
) -> CompleteLoginResponse {
    let started = start_with(auth, provider, None)
        .await
        .expect("BuildLoginUrl");
    complete_with(auth, provider, started, user)
        .await
        .expect("CompleteLogin")
}

/// Logs `user` in through the emulator; returns the CompleteLogin answer.
pub async fn login(stack: &Stack, user: i64) -> CompleteLoginResponse {
    login_on(&stack.auth, user).await
}

/// Logs `user` in through the emulator on one service (of several sharing
/// a database).
pub async fn login_on(auth: &AuthHandle, user: i64) -> CompleteLoginResponse {
    let started = start_login_on(auth, "/dashboard").await;
    let callback = consent(&started.url, user, true).await;
    let q = query(&callback);
    let mut client = auth.client().await;
    client
        .complete_login(CompleteLoginRequest {
            code: q["code"].clone(),
            state: q["state"].clone(),
            binding: started.binding,
            ..Default::default()
        })
        .await
        .expect("CompleteLogin")
        .into_inner()
}

/// VerifyAccessToken; the user id on success.
pub async fn verify(stack: &Stack, token: &str) -> Result<String, tonic::Status> {
    let mut client = stack.auth.client().await;
    client
        .verify_access_token(VerifyAccessTokenRequest {
            access_token: token.into(),
        })
        .await
        .map(|r| r.into_inner().user_id)
}

/// RefreshSession; the new pair on success.
pub async fn refresh(stack: &Stack, token: &str) -> Result<TokenPair, tonic::Status> {
    let mut client = stack.auth.client().await;
    client
        .refresh_session(RefreshSessionRequest {
            refresh_token: token.into(),
        })
        .await
        .map(|r| {
            r.into_inner()
                .tokens
                .expect("a refreshed session has tokens")
        })
}

/// What the standard health service reports for `service` (`""`: the
/// whole server).
pub async fn health_status(auth: &AuthHandle, service: &str) -> ServingStatus {
    HealthClient::new(auth.channel().await)
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .expect("health check answers")
        .into_inner()
        .status()
}
