//! The real edge on port 0 in front of a fake auth-service (a tonic server
//! with canned answers and `x-auth-error` errors), driven with reqwest with
//! redirects disabled.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use auth_proto::v1::{
    BuildLoginUrlRequest, BuildLoginUrlResponse, CompleteLoginRequest, CompleteLoginResponse,
    GetJwksRequest, GetJwksResponse, GetUserRequest, GetUserResponse, RefreshSessionRequest,
    RefreshSessionResponse, RevokeSessionRequest, RevokeSessionResponse, TokenPair, User,
    VerifyAccessTokenRequest, VerifyAccessTokenResponse,
    auth_service_server::{AuthService, AuthServiceServer},
};
use http_edge::{Application, Settings};
use reqwest::{StatusCode, header::HeaderMap, redirect::Policy};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Code, Request, Response, Status, metadata::MetadataValue};
use url::Url;

const FRONTEND: &str = "https://app.example.com";
const ERROR_ROUTE: &str = "https://app.example.com/login/error?lang=ko";
const AUTHORIZE_URL: &str = "https://kauth.kakao.com/oauth/authorize?client_id=demo&state=s1";

// ---------------------------------------------------------------- fake service

/// Canned answers keyed by the input; records what it was asked.
#[derive(Clone, Default)]
struct FakeAuth {
    calls: Arc<Mutex<Vec<String>>>,
}

impl FakeAuth {
    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

fn failure(code: Code, word: &'static str) -> Status {
    let mut status = Status::new(code, "refused");
    status
        .metadata_mut()
        .insert("x-auth-error", MetadataValue::from_static(word));
    status
}

fn tokens(access: &str, refresh: &str) -> TokenPair {
    TokenPair {
        access_token: access.into(),
        access_expires_in: 900,
        refresh_token: refresh.into(),
        refresh_expires_in: 1_209_600,
        session_id: "sess-1".into(),
    }
}

fn user() -> User {
    User {
        id: "u1".into(),
        kakao_id: "4000000001".into(),
        nickname: "라이언".into(),
        profile_image_url: "".into(),
        thumbnail_image_url: "https://k.kakaocdn.net/thumb.jpg".into(),
        email: "".into(),
        created_at: 1_700_000_000,
        last_login_at: 1_700_000_100,
    }
}

#[tonic::async_trait]
impl AuthService for FakeAuth {
    async fn build_login_url(
        &self,
        request: Request<BuildLoginUrlRequest>,
    ) -> Result<Response<BuildLoginUrlResponse>, Status> {
        let r = request.into_inner();
        self.record(format!(
            "build_login_url return_to={} binding={}",
            r.return_to, r.binding
        ));
        match r.return_to.as_str() {
            "https://evil.example/" => Err(failure(Code::InvalidArgument, "invalid_return_to")),
            _ => Ok(Response::new(BuildLoginUrlResponse {
                authorize_url: AUTHORIZE_URL.into(),
                binding: if r.binding.is_empty() {
                    "new-binding".into()
                } else {
                    r.binding
                },
                expires_in_seconds: 600,
            })),
        }
    }

    async fn complete_login(
        &self,
        request: Request<CompleteLoginRequest>,
    ) -> Result<Response<CompleteLoginResponse>, Status> {
        let r = request.into_inner();
        self.record(format!(
            "complete_login code={} state={} binding={}",
            r.code, r.state, r.binding
        ));
        match (r.code.as_str(), r.state.as_str()) {
            ("good-code", "s1") => Ok(Response::new(CompleteLoginResponse {
                tokens: Some(tokens("acc.jwt.sig", "refresh-1")),
                user: Some(user()),
                new_user: true,
                return_to: format!("{FRONTEND}/dashboard?tab=1"),
            })),
            ("good-code", "elsewhere") => Ok(Response::new(CompleteLoginResponse {
                tokens: Some(tokens("acc.jwt.sig", "refresh-1")),
                user: Some(user()),
                new_user: false,
                return_to: "https://evil.example/".into(),
            })),
            (_, "expired") => Err(failure(Code::FailedPrecondition, "login_expired")),
            (_, "kakao-down") => Err(failure(Code::Unavailable, "kakao_unavailable")),
            _ => Err(failure(Code::FailedPrecondition, "invalid_state")),
        }
    }

    async fn refresh_session(
        &self,
        request: Request<RefreshSessionRequest>,
    ) -> Result<Response<RefreshSessionResponse>, Status> {
        let r = request.into_inner();
        self.record(format!("refresh_session {}", r.refresh_token));
        match r.refresh_token.as_str() {
            "refresh-1" => Ok(Response::new(RefreshSessionResponse {
                tokens: Some(tokens("acc2.jwt.sig", "refresh-2")),
            })),
            "db-down" => Err(failure(Code::Unavailable, "unavailable")),
            _ => Err(failure(Code::Unauthenticated, "token_reused")),
        }
    }

    async fn revoke_session(
        &self,
        request: Request<RevokeSessionRequest>,
    ) -> Result<Response<RevokeSessionResponse>, Status> {
        let r = request.into_inner();
        self.record(format!("revoke_session {}", r.refresh_token));
        match r.refresh_token.as_str() {
            "db-down" => Err(failure(Code::Unavailable, "unavailable")),
            _ => Ok(Response::new(RevokeSessionResponse {})),
        }
    }

    async fn verify_access_token(
        &self,
        request: Request<VerifyAccessTokenRequest>,
    ) -> Result<Response<VerifyAccessTokenResponse>, Status> {
        let user_id = match request.into_inner().access_token.as_str() {
            "acc.jwt.sig" => "u1",
            "orphan.jwt.sig" => "u-deleted",
            _ => return Err(failure(Code::Unauthenticated, "token_expired")),
        };
        Ok(Response::new(VerifyAccessTokenResponse {
            user_id: user_id.into(),
            session_id: "sess-1".into(),
            token_id: "jti-1".into(),
            expires_at: 1_700_000_900,
            issued_at: 1_700_000_000,
        }))
    }

    async fn get_user(
        &self,
        request: Request<GetUserRequest>,
    ) -> Result<Response<GetUserResponse>, Status> {
        match request.into_inner().user_id.as_str() {
            "u1" => Ok(Response::new(GetUserResponse { user: Some(user()) })),
            _ => Err(failure(Code::NotFound, "user_not_found")),
        }
    }

    async fn get_jwks(
        &self,
        _request: Request<GetJwksRequest>,
    ) -> Result<Response<GetJwksResponse>, Status> {
        Ok(Response::new(GetJwksResponse {
            jwks_json: r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"abc","kid":"k1"}]}"#.into(),
        }))
    }
}

// ---------------------------------------------------------------- harness

struct TestEdge {
    base: String,
    client: reqwest::Client,
    fake: FakeAuth,
}

impl TestEdge {
    /// The edge in front of a running fake auth-service.
    async fn start() -> TestEdge {
        let fake = FakeAuth::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tonic::transport::Server::builder()
            .add_service(AuthServiceServer::new(fake.clone()))
            .serve_with_incoming(TcpListenerStream::new(listener));
        tokio::spawn(server);
        Self::with_service(format!("http://{addr}"), fake).await
    }

    /// The edge pointed at a port where nothing listens.
    async fn with_service_down() -> TestEdge {
        let closed: SocketAddr = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        Self::with_service(format!("http://{closed}"), FakeAuth::default()).await
    }

    async fn with_service(auth_service_url: String, fake: FakeAuth) -> TestEdge {
        let settings = Settings {
            addr: "127.0.0.1:0".parse().unwrap(),
            auth_service_url,
            frontend_url: Url::parse(&format!("{FRONTEND}/")).unwrap(),
            frontend_error_url: Url::parse(ERROR_ROUTE).unwrap(),
            allowed_origins: vec![FRONTEND.into()],
            cookie_domain: None,
            jwt_issuer: "kakao-login-auth-service".into(),
            jwt_audience: "kakao-login".into(),
            demo_page: true,
        };
        let app = Application::build(settings).await.unwrap();
        let base = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        let client = reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap();
        TestEdge { base, client, fake }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send().await.unwrap()
    }

    async fn post(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.client.post(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }
}

fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

fn error_route(code: &str) -> String {
    format!("{ERROR_ROUTE}&error={code}")
}

const CLEAR_BINDING: &str =
    "kakao_login_binding=; HttpOnly; SameSite=Lax; Secure; Path=/auth/kakao; Max-Age=0";
const CLEAR_ACCESS: &str = "access_token=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0";
const CLEAR_REFRESH: &str = "refresh_token=; HttpOnly; SameSite=Lax; Secure; Path=/auth; Max-Age=0";

/// A navigation that failed: a 302 to the error route with the binding
/// cookie cleared, never cached, no referrer.
fn assert_error_redirect(response: &reqwest::Response, code: &str) {
    assert_eq!(response.status(), StatusCode::FOUND);
    let h = response.headers();
    assert_eq!(header(h, "location"), Some(error_route(code).as_str()));
    assert_eq!(set_cookies(h), vec![CLEAR_BINDING.to_owned()]);
    assert_eq!(header(h, "cache-control"), Some("no-store"));
    assert_eq!(header(h, "referrer-policy"), Some("no-referrer"));
    assert_eq!(header(h, "x-content-type-options"), Some("nosniff"));
}

// ---------------------------------------------------------------- login

#[tokio::test]
async fn login_redirects_to_kakao_and_sets_the_binding_cookie() {
    let edge = TestEdge::start().await;
    let response = edge
        .get("/auth/kakao/login?return_to=%2Fdashboard%3Ftab%3D1", None)
        .await;

    assert_eq!(response.status(), StatusCode::FOUND);
    let h = response.headers();
    assert_eq!(header(h, "location"), Some(AUTHORIZE_URL));
    assert_eq!(
        set_cookies(h),
        vec![
            "kakao_login_binding=new-binding; HttpOnly; SameSite=Lax; Secure; Path=/auth/kakao; Max-Age=600"
                .to_owned()
        ]
    );
    assert_eq!(header(h, "cache-control"), Some("no-store"));
    assert_eq!(header(h, "x-content-type-options"), Some("nosniff"));
    assert_eq!(
        edge.fake.calls(),
        vec!["build_login_url return_to=/dashboard?tab=1 binding=".to_owned()]
    );
}

#[tokio::test]
async fn login_passes_on_the_binding_this_browser_already_holds() {
    let edge = TestEdge::start().await;
    let response = edge
        .get(
            "/auth/kakao/login",
            Some("kakao_login_binding=held-binding; other=1"),
        )
        .await;

    assert_eq!(response.status(), StatusCode::FOUND);
    assert!(set_cookies(response.headers())[0].starts_with("kakao_login_binding=held-binding;"));
    assert_eq!(
        edge.fake.calls(),
        vec!["build_login_url return_to= binding=held-binding".to_owned()]
    );
}

#[tokio::test]
async fn login_with_a_refused_return_to_redirects_to_the_error_route() {
    let edge = TestEdge::start().await;
    let response = edge
        .get(
            "/auth/kakao/login?return_to=https%3A%2F%2Fevil.example%2F",
            None,
        )
        .await;

    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        header(response.headers(), "location"),
        Some(error_route("invalid_return_to").as_str())
    );
    assert_eq!(
        header(response.headers(), "cache-control"),
        Some("no-store")
    );
}

#[tokio::test]
async fn login_with_the_service_down_redirects_to_unavailable() {
    let edge = TestEdge::with_service_down().await;
    let response = edge.get("/auth/kakao/login", None).await;

    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        header(response.headers(), "location"),
        Some(error_route("unavailable").as_str())
    );
}

// ---------------------------------------------------------------- callback

#[tokio::test]
async fn callback_success_sets_exactly_the_token_cookies_and_lands_on_return_to() {
    let edge = TestEdge::start().await;
    let response = edge
        .get(
            "/auth/kakao/callback?code=good-code&state=s1",
            Some("kakao_login_binding=b-1"),
        )
        .await;

    assert_eq!(response.status(), StatusCode::FOUND);
    let h = response.headers().clone();
    let location = header(&h, "location").unwrap();
    assert_eq!(location, "https://app.example.com/dashboard?tab=1");
    assert_eq!(
        set_cookies(&h),
        vec![
            "access_token=acc.jwt.sig; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=900"
                .to_owned(),
            "refresh_token=refresh-1; HttpOnly; SameSite=Lax; Secure; Path=/auth; Max-Age=1209600"
                .to_owned(),
            CLEAR_BINDING.to_owned(),
        ]
    );
    assert_eq!(header(&h, "cache-control"), Some("no-store"));
    assert_eq!(header(&h, "referrer-policy"), Some("no-referrer"));
    assert_eq!(header(&h, "x-content-type-options"), Some("nosniff"));
    let body = response.text().await.unwrap();
    for secret in ["acc.jwt.sig", "refresh-1", "good-code", "b-1"] {
        assert!(!location.contains(secret));
        assert!(!body.contains(secret));
    }
    assert_eq!(
        edge.fake.calls(),
        vec!["complete_login code=good-code state=s1 binding=b-1".to_owned()]
    );
}

#[tokio::test]
async fn callback_without_a_binding_cookie_sends_an_empty_binding() {
    let edge = TestEdge::start().await;
    edge.get("/auth/kakao/callback?code=c&state=unknown", None)
        .await;
    assert_eq!(
        edge.fake.calls(),
        vec!["complete_login code=c state=unknown binding=".to_owned()]
    );
}

#[tokio::test]
async fn callback_where_the_user_cancelled_redirects_to_access_denied_without_a_call() {
    let edge = TestEdge::start().await;
    let response = edge
        .get(
            "/auth/kakao/callback?error=access_denied&error_description=User%20denied%20access&state=s1",
            Some("kakao_login_binding=b-1"),
        )
        .await;

    assert_error_redirect(&response, "access_denied");
    assert!(edge.fake.calls().is_empty());
}

#[tokio::test]
async fn callback_with_another_kakao_error_redirects_to_kakao_error() {
    let edge = TestEdge::start().await;
    let response = edge
        .get("/auth/kakao/callback?error=invalid_scope", None)
        .await;
    assert_error_redirect(&response, "kakao_error");
    assert!(edge.fake.calls().is_empty());
}

#[tokio::test]
async fn callback_without_a_code_redirects_to_invalid_request() {
    let edge = TestEdge::start().await;
    for path in [
        "/auth/kakao/callback?state=s1",
        "/auth/kakao/callback?code=&state=s1",
        "/auth/kakao/callback",
        "/auth/kakao/callback?%%%&&==%zz",
    ] {
        let response = edge.get(path, None).await;
        assert_error_redirect(&response, "invalid_request");
    }
    assert!(edge.fake.calls().is_empty());
}

#[tokio::test]
async fn callback_with_a_reused_state_redirects_to_the_error_route() {
    let edge = TestEdge::start().await;
    let response = edge
        .get(
            "/auth/kakao/callback?code=good-code&state=reused",
            Some("kakao_login_binding=b-1"),
        )
        .await;
    assert_error_redirect(&response, "invalid_state");
}

#[tokio::test]
async fn callback_failures_map_the_service_reason() {
    let edge = TestEdge::start().await;
    for (state, code) in [("expired", "login_expired"), ("kakao-down", "unavailable")] {
        let response = edge
            .get(&format!("/auth/kakao/callback?code=c&state={state}"), None)
            .await;
        assert_error_redirect(&response, code);
    }
}

#[tokio::test]
async fn callback_refuses_a_landing_url_on_a_foreign_origin() {
    let edge = TestEdge::start().await;
    let response = edge
        .get("/auth/kakao/callback?code=good-code&state=elsewhere", None)
        .await;
    assert_error_redirect(&response, "server_error");
}

#[tokio::test]
async fn callback_with_the_service_down_redirects_to_unavailable() {
    let edge = TestEdge::with_service_down().await;
    let response = edge
        .get(
            "/auth/kakao/callback?code=good-code&state=s1",
            Some("kakao_login_binding=b-1"),
        )
        .await;
    assert_error_redirect(&response, "unavailable");
}

// ---------------------------------------------------------------- /auth/me

#[tokio::test]
async fn me_answers_the_profile_of_the_access_cookie() {
    let edge = TestEdge::start().await;
    let response = edge.get("/auth/me", Some("access_token=acc.jwt.sig")).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(response.headers(), "cache-control"),
        Some("no-store")
    );
    assert_eq!(
        header(response.headers(), "content-type"),
        Some("application/json")
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "id": "u1",
            "kakao_id": "4000000001",
            "nickname": "라이언",
            "profile_image_url": null,
            "thumbnail_image_url": "https://k.kakaocdn.net/thumb.jpg",
            "email": null,
            "created_at": 1_700_000_000,
            "last_login_at": 1_700_000_100
        })
    );
}

#[tokio::test]
async fn me_without_a_valid_token_is_401_with_a_reason() {
    let edge = TestEdge::start().await;
    for (cookie, reason) in [
        (None, "missing_token"),
        (Some("access_token=stale"), "token_expired"),
        (Some("access_token=orphan.jwt.sig"), "user_not_found"),
    ] {
        let response = edge.get("/auth/me", cookie).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{cookie:?}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": "unauthenticated", "reason": reason})
        );
    }
}

#[tokio::test]
async fn me_with_the_service_down_is_503() {
    let edge = TestEdge::with_service_down().await;
    let response = edge.get("/auth/me", Some("access_token=acc.jwt.sig")).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"error": "unavailable"}));
}

// ---------------------------------------------------------------- refresh / logout

#[tokio::test]
async fn refresh_rotates_the_tokens_into_new_cookies() {
    let edge = TestEdge::start().await;
    let response = edge
        .post("/auth/refresh", &[("cookie", "refresh_token=refresh-1")])
        .await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        set_cookies(response.headers()),
        vec![
            "access_token=acc2.jwt.sig; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=900"
                .to_owned(),
            "refresh_token=refresh-2; HttpOnly; SameSite=Lax; Secure; Path=/auth; Max-Age=1209600"
                .to_owned(),
        ]
    );
    assert_eq!(
        header(response.headers(), "cache-control"),
        Some("no-store")
    );
}

#[tokio::test]
async fn refresh_with_a_refused_or_missing_token_is_401_and_clears_both_cookies() {
    let edge = TestEdge::start().await;
    for (headers, reason) in [
        (&[("cookie", "refresh_token=old")][..], "token_reused"),
        (&[][..], "missing_token"),
    ] {
        let response = edge.post("/auth/refresh", headers).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            set_cookies(response.headers()),
            vec![CLEAR_ACCESS.to_owned(), CLEAR_REFRESH.to_owned()]
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": "unauthenticated", "reason": reason})
        );
    }
}

#[tokio::test]
async fn refresh_while_the_database_is_down_is_503_and_keeps_the_cookies() {
    let edge = TestEdge::start().await;
    let response = edge
        .post("/auth/refresh", &[("cookie", "refresh_token=db-down")])
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(set_cookies(response.headers()).is_empty());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"error": "unavailable"}));
}

#[tokio::test]
async fn logout_revokes_the_session_and_clears_both_cookies() {
    let edge = TestEdge::start().await;
    let response = edge
        .post(
            "/auth/logout",
            &[("cookie", "refresh_token=refresh-1; access_token=a")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        set_cookies(response.headers()),
        vec![CLEAR_ACCESS.to_owned(), CLEAR_REFRESH.to_owned()]
    );
    assert_eq!(
        edge.fake.calls(),
        vec!["revoke_session refresh-1".to_owned()]
    );
}

#[tokio::test]
async fn logout_without_a_refresh_cookie_still_clears_the_cookies() {
    let edge = TestEdge::start().await;
    let response = edge.post("/auth/logout", &[]).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        set_cookies(response.headers()),
        vec![CLEAR_ACCESS.to_owned(), CLEAR_REFRESH.to_owned()]
    );
    assert!(edge.fake.calls().is_empty());
}

#[tokio::test]
async fn logout_while_the_service_is_down_is_503_but_clears_the_cookies() {
    let edge = TestEdge::with_service_down().await;
    let response = edge
        .post("/auth/logout", &[("cookie", "refresh_token=refresh-1")])
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        set_cookies(response.headers()),
        vec![CLEAR_ACCESS.to_owned(), CLEAR_REFRESH.to_owned()]
    );
}

// ---------------------------------------------------------------- CSRF / CORS

#[tokio::test]
async fn a_cross_site_post_is_refused_before_any_call() {
    let edge = TestEdge::start().await;
    for headers in [
        &[
            ("origin", "https://evil.example"),
            ("cookie", "refresh_token=refresh-1"),
        ][..],
        &[
            ("sec-fetch-site", "cross-site"),
            ("cookie", "refresh_token=refresh-1"),
        ][..],
    ] {
        for path in ["/auth/refresh", "/auth/logout"] {
            let response = edge.post(path, headers).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
            assert!(set_cookies(response.headers()).is_empty());
            assert!(header(response.headers(), "access-control-allow-origin").is_none());
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(
                body,
                serde_json::json!({"error": "forbidden", "reason": "cross_site"})
            );
        }
    }
    assert!(edge.fake.calls().is_empty());
}

#[tokio::test]
async fn a_post_from_the_frontend_origin_passes_with_cors_headers() {
    let edge = TestEdge::start().await;
    let response = edge
        .post(
            "/auth/refresh",
            &[
                ("origin", FRONTEND),
                ("sec-fetch-site", "same-site"),
                ("cookie", "refresh_token=refresh-1"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let h = response.headers();
    assert_eq!(header(h, "access-control-allow-origin"), Some(FRONTEND));
    assert_eq!(header(h, "access-control-allow-credentials"), Some("true"));
    assert_eq!(header(h, "vary"), Some("Origin"));
}

#[tokio::test]
async fn a_preflight_from_the_frontend_is_answered() {
    let edge = TestEdge::start().await;
    let response = edge
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/auth/refresh", edge.base),
        )
        .header("origin", FRONTEND)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let h = response.headers();
    assert_eq!(header(h, "access-control-allow-origin"), Some(FRONTEND));
    assert_eq!(header(h, "access-control-allow-credentials"), Some("true"));
    assert_eq!(header(h, "access-control-allow-methods"), Some("GET, POST"));
    assert_eq!(
        header(h, "access-control-allow-headers"),
        Some("content-type")
    );
    assert_eq!(header(h, "access-control-max-age"), Some("600"));
}

#[tokio::test]
async fn a_preflight_from_another_origin_is_403_without_cors_headers() {
    let edge = TestEdge::start().await;
    let response = edge
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/auth/me", edge.base))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let h = response.headers();
    assert!(header(h, "access-control-allow-origin").is_none());
    assert!(header(h, "access-control-allow-credentials").is_none());
    assert!(header(h, "access-control-allow-methods").is_none());
}

// ---------------------------------------------------------------- the rest

#[tokio::test]
async fn jwks_is_served_as_cacheable_json() {
    let edge = TestEdge::start().await;
    let response = edge.get("/.well-known/jwks.json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(response.headers(), "content-type"),
        Some("application/json")
    );
    assert_eq!(
        header(response.headers(), "cache-control"),
        Some("public, max-age=300")
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["keys"][0]["kid"], "k1");
}

#[tokio::test]
async fn healthz_answers_ok_even_with_the_service_down() {
    let edge = TestEdge::with_service_down().await;
    let response = edge.get("/healthz", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_answer_json() {
    let edge = TestEdge::start().await;
    for (response, status, error) in [
        (
            edge.get("/nope", None).await,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            edge.get("/auth/unknown", None).await,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            edge.post("/nope", &[]).await,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            edge.post("/auth/me", &[]).await,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            edge.get("/auth/logout", None).await,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ] {
        assert_eq!(response.status(), status);
        assert_eq!(
            header(response.headers(), "x-content-type-options"),
            Some("nosniff")
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body, serde_json::json!({"error": error}));
    }
}

#[tokio::test]
async fn the_demo_page_is_served_with_a_strict_csp() {
    let edge = TestEdge::start().await;
    let response = edge.get("/", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let csp = header(response.headers(), "content-security-policy")
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(
        header(response.headers(), "cache-control"),
        Some("no-store")
    );
    let html = response.text().await.unwrap();
    for id in ["login", "me", "nickname", "refresh", "logout", "error"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
    }
    assert!(html.contains("카카오 로그인"));
    assert!(html.contains("/auth/kakao/login?return_to=/"));
    assert!(!html.contains("<script>"));

    let script = edge.get("/demo.js", None).await;
    assert_eq!(script.status(), StatusCode::OK);
    let js = script.text().await.unwrap();
    assert!(js.contains("credentials: 'include'"));
    assert!(!js.contains("innerHTML ="));
}
