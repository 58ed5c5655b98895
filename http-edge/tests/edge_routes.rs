//! The real edge on port 0 in front of a fake auth-service (a tonic server
//! with canned answers and `x-auth-error` errors, a real Ed25519 key set that
//! signs real access tokens, and tonic-health's health service), driven with
//! reqwest with redirects disabled.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use aws_lc_rs::{
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tonic_health::server::HealthReporter;

use auth_proto::v1::{
    BuildLoginUrlRequest, BuildLoginUrlResponse, CompleteLoginRequest, CompleteLoginResponse,
    GetJwksRequest, GetJwksResponse, GetUserRequest, GetUserResponse, HandleUnlinkRequest,
    HandleUnlinkResponse, RefreshSessionRequest, RefreshSessionResponse, RevokeSessionRequest,
    RevokeSessionResponse, TokenPair, User, VerifyAccessTokenRequest, VerifyAccessTokenResponse,
    auth_service_server::{AuthService, AuthServiceServer},
};
use http_edge::{Application, Settings};
use reqwest::{StatusCode, header::HeaderMap, redirect::Policy};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Code, Request, Response, Status, metadata::MetadataValue};
use url::Url;

const FRONTEND: &str = "https://app.example.com";
const ERROR_ROUTE: &str = "https://app.example.com/login/error?lang=ko";
const AUTHORIZE_URL: &str = "https://kauth.kakao.com/oauth/authorize?client_id=demo&state=s1";
const ISSUER: &str = "kakao-login-auth-service";
const AUDIENCE: &str = "kakao-login";

// ---------------------------------------------------------------- signing keys

/// An Ed25519 signing key as the auth-service holds one.
#[derive(Clone)]
struct SigningKey {
    kid: String,
    pkcs8: Vec<u8>,
    public: Vec<u8>,
}

impl SigningKey {
    fn generate(kid: &str) -> SigningKey {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        SigningKey {
            kid: kid.into(),
            pkcs8: pkcs8.as_ref().to_vec(),
            public: pair.public_key().as_ref().to_vec(),
        }
    }

    /// The public JWK, as GetJwks publishes it.
    fn jwk(&self) -> Value {
        json!({
            "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(&self.public),
            "kid": self.kid, "alg": "EdDSA", "use": "sig"
        })
    }

    /// An EdDSA JWT over `claims` with this key's `kid`.
    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&self.pkcs8)).unwrap()
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The claims of a fresh access token of `sub`'s session `sid`.
fn claims(sub: &str, sid: &str) -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "sid": sid,
        "iat": now(), "exp": now() + 900, "jti": "jti-1"
    })
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

// ---------------------------------------------------------------- fake service

/// How long the fake takes to rotate a refresh token, so that concurrent
/// refreshes overlap.
const REFRESH_DELAY: Duration = Duration::from_millis(200);

/// Canned answers keyed by the input; records what it was asked.
#[derive(Clone)]
struct FakeAuth {
    calls: Arc<Mutex<Vec<String>>>,
    /// The `x-request-id` metadata of every BuildLoginUrl call.
    request_ids: Arc<Mutex<Vec<String>>>,
    /// The keys GetJwks publishes; the first signs [`FakeAuth::token`].
    keys: Arc<Mutex<Vec<SigningKey>>>,
}

impl Default for FakeAuth {
    fn default() -> Self {
        FakeAuth {
            calls: Arc::default(),
            request_ids: Arc::default(),
            keys: Arc::new(Mutex::new(vec![SigningKey::generate("k1")])),
        }
    }
}

impl FakeAuth {
    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    /// How many calls began with `prefix`.
    fn count(&self, prefix: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.starts_with(prefix))
            .count()
    }

    fn key(&self) -> SigningKey {
        self.keys.lock().unwrap()[0].clone()
    }

    /// A valid access token of user `u1`'s live session `sess-1`.
    fn token(&self) -> String {
        self.key().sign(&claims("u1", "sess-1"))
    }

    /// Adds a key to the published set (a rotation).
    fn publish(&self, key: SigningKey) {
        self.keys.lock().unwrap().push(key);
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
        let id = request.metadata().get("x-request-id");
        let id = id.map_or("-", |id| id.to_str().unwrap()).to_owned();
        self.request_ids.lock().unwrap().push(id);
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
        tokio::time::sleep(REFRESH_DELAY).await;
        match r.refresh_token.as_str() {
            "refresh-1" => Ok(Response::new(RefreshSessionResponse {
                tokens: Some(tokens("acc2.jwt.sig", "refresh-2")),
            })),
            "refresh-a" => Ok(Response::new(RefreshSessionResponse {
                tokens: Some(tokens("acc-b.jwt.sig", "refresh-b")),
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

    /// The edge verifies tokens itself: it must never ask.
    async fn verify_access_token(
        &self,
        _request: Request<VerifyAccessTokenRequest>,
    ) -> Result<Response<VerifyAccessTokenResponse>, Status> {
        self.record("verify_access_token".into());
        Err(Status::unimplemented("the edge verifies locally"))
    }

    async fn get_user(
        &self,
        request: Request<GetUserRequest>,
    ) -> Result<Response<GetUserResponse>, Status> {
        let r = request.into_inner();
        self.record(format!(
            "get_user user_id={} session_id={}",
            r.user_id, r.session_id
        ));
        match (r.user_id.as_str(), r.session_id.as_str()) {
            ("u1", "sess-1") => Ok(Response::new(GetUserResponse { user: Some(user()) })),
            ("u1", _) => Err(failure(Code::Unauthenticated, "session_revoked")),
            _ => Err(failure(Code::NotFound, "user_not_found")),
        }
    }

    async fn handle_unlink(
        &self,
        request: Request<HandleUnlinkRequest>,
    ) -> Result<Response<HandleUnlinkResponse>, Status> {
        self.record("handle_unlink".into());
        if request.into_inner().admin_key != "admin-key" {
            return Err(failure(Code::Unauthenticated, "invalid_admin_key"));
        }
        Ok(Response::new(HandleUnlinkResponse {
            known_user: true,
            sessions_revoked: 1,
        }))
    }

    async fn get_jwks(
        &self,
        _request: Request<GetJwksRequest>,
    ) -> Result<Response<GetJwksResponse>, Status> {
        self.record("get_jwks".into());
        let keys: Vec<Value> = self.keys.lock().unwrap().iter().map(|k| k.jwk()).collect();
        Ok(Response::new(GetJwksResponse {
            jwks_json: json!({ "keys": keys }).to_string(),
        }))
    }

    type WatchRevocationsStream = tonic::codegen::BoxStream<auth_proto::v1::RevocationEvent>;

    /// The edge does not follow revocations yet.
    async fn watch_revocations(
        &self,
        _request: Request<auth_proto::v1::WatchRevocationsRequest>,
    ) -> Result<Response<Self::WatchRevocationsStream>, Status> {
        Err(Status::unimplemented("watch_revocations"))
    }
}

// ---------------------------------------------------------------- harness

struct TestEdge {
    base: String,
    client: reqwest::Client,
    fake: FakeAuth,
    /// The fake's health service (absent when the service is down).
    health: Option<HealthReporter>,
}

impl TestEdge {
    /// The edge in front of a running fake auth-service that reports
    /// `auth.v1.AuthService` as SERVING.
    async fn start() -> TestEdge {
        let fake = FakeAuth::default();
        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_serving::<AuthServiceServer<FakeAuth>>().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tonic::transport::Server::builder()
            .add_service(health_service)
            .add_service(AuthServiceServer::new(fake.clone()))
            .serve_with_incoming(TcpListenerStream::new(listener));
        tokio::spawn(server);
        let mut edge = Self::with_service(format!("http://{addr}"), fake).await;
        edge.health = Some(health);
        edge
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
            jwt_issuer: ISSUER.into(),
            jwt_audience: AUDIENCE.into(),
            demo_page: true,
        };
        let app = Application::build(settings).await.unwrap();
        let base = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        let client = reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap();
        TestEdge {
            base,
            client,
            fake,
            health: None,
        }
    }

    /// `GET /auth/me` with `token` in the access cookie.
    async fn me(&self, token: &str) -> reqwest::Response {
        self.get("/auth/me", Some(&format!("access_token={token}")))
            .await
    }

    async fn metrics(&self) -> String {
        let response = self.get("/metrics", None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            header(response.headers(), "content-type")
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        response.text().await.unwrap()
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

async fn assert_unauthenticated(response: reqwest::Response, reason: &str, case: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "unauthenticated", "reason": reason}),
        "{case}"
    );
}

#[tokio::test]
async fn me_answers_the_profile_of_a_valid_token_with_one_get_user_call() {
    let edge = TestEdge::start().await;
    let response = edge.me(&edge.fake.token()).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(response.headers(), "cache-control"),
        Some("no-store")
    );
    assert_eq!(
        header(response.headers(), "content-type"),
        Some("application/json")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({
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
    assert_eq!(
        edge.fake.calls(),
        vec![
            "get_jwks".to_owned(),
            "get_user user_id=u1 session_id=sess-1".to_owned()
        ]
    );

    // The key set stays cached: the next request is one call.
    assert_eq!(edge.me(&edge.fake.token()).await.status(), StatusCode::OK);
    assert_eq!(edge.fake.count("get_jwks"), 1);
    assert_eq!(edge.fake.count("get_user"), 2);
}

#[tokio::test]
async fn me_refuses_bad_tokens_without_asking_for_the_user() {
    let edge = TestEdge::start().await;
    let key = edge.fake.key();
    let valid = edge.fake.token();
    let parts: Vec<&str> = valid.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64_json(&claims("u2", "sess-1")),
        parts[2]
    );
    let alg_none = format!(
        "{}.{}.",
        b64_json(&json!({"alg": "none", "typ": "JWT", "kid": "k1"})),
        b64_json(&claims("u1", "sess-1"))
    );
    let hs256_with_the_public_key = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let secret = EncodingKey::from_secret(&key.public);
        jsonwebtoken::encode(&header, &claims("u1", "sess-1"), &secret).unwrap()
    };
    let hs256_with_the_jwk_x = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let x = URL_SAFE_NO_PAD.encode(&key.public);
        let secret = EncodingKey::from_secret(x.as_bytes());
        jsonwebtoken::encode(&header, &claims("u1", "sess-1"), &secret).unwrap()
    };
    let forged_k1 = SigningKey::generate("k1").sign(&claims("u1", "sess-1"));
    let unknown_kid = SigningKey::generate("k-unknown").sign(&claims("u1", "sess-1"));
    let no_kid = {
        let header = Header::new(Algorithm::EdDSA);
        let signer = EncodingKey::from_ed_der(&key.pkcs8);
        jsonwebtoken::encode(&header, &claims("u1", "sess-1"), &signer).unwrap()
    };
    let fresh = claims("u1", "sess-1");
    let expired = key.sign(&with(
        with(fresh.clone(), "exp", json!(now() - 120)),
        "iat",
        json!(now() - 1020),
    ));
    let wrong_issuer = key.sign(&with(fresh.clone(), "iss", json!("someone-else")));
    let wrong_audience = key.sign(&with(fresh.clone(), "aud", json!("another-app")));
    let without_sid = {
        let mut c = fresh.clone();
        c.as_object_mut().unwrap().remove("sid");
        key.sign(&c)
    };
    let without_aud = {
        let mut c = fresh.clone();
        c.as_object_mut().unwrap().remove("aud");
        key.sign(&c)
    };

    let cases: Vec<(&str, String, &str)> = vec![
        ("tampered payload", tampered, "invalid_token"),
        ("alg none", alg_none, "invalid_token"),
        (
            "HS256 with the public key",
            hs256_with_the_public_key,
            "invalid_token",
        ),
        (
            "HS256 with the JWK x",
            hs256_with_the_jwk_x,
            "invalid_token",
        ),
        ("another key claiming k1", forged_k1, "invalid_token"),
        ("unknown kid", unknown_kid, "invalid_token"),
        ("no kid", no_kid, "invalid_token"),
        ("expired", expired, "token_expired"),
        ("wrong issuer", wrong_issuer, "invalid_token"),
        ("wrong audience", wrong_audience, "invalid_token"),
        ("no sid", without_sid, "invalid_token"),
        ("no aud", without_aud, "invalid_token"),
        ("garbage", "not-a-jwt".into(), "invalid_token"),
        ("three garbage parts", "a.b.c".into(), "invalid_token"),
    ];
    for (case, token, reason) in cases {
        assert_unauthenticated(edge.me(&token).await, reason, case).await;
    }
    assert_unauthenticated(edge.get("/auth/me", None).await, "missing_token", "none").await;
    assert_eq!(edge.fake.count("get_user"), 0);
    assert_eq!(edge.fake.count("verify_access_token"), 0);
}

#[tokio::test]
async fn a_token_with_the_wrong_alg_is_refused_before_any_key_lookup() {
    let edge = TestEdge::start().await;
    let alg_none = format!(
        "{}.{}.",
        b64_json(&json!({"alg": "none", "kid": "k1"})),
        b64_json(&claims("u1", "sess-1"))
    );
    let hs256 = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let secret = EncodingKey::from_secret(&edge.fake.key().public);
        jsonwebtoken::encode(&header, &claims("u1", "sess-1"), &secret).unwrap()
    };
    for token in [alg_none, hs256, "garbage".into()] {
        assert_unauthenticated(edge.me(&token).await, "invalid_token", &token).await;
    }
    assert!(edge.fake.calls().is_empty(), "{:?}", edge.fake.calls());
}

#[tokio::test]
async fn me_for_a_revoked_session_is_401_session_revoked() {
    let edge = TestEdge::start().await;
    let token = edge.fake.key().sign(&claims("u1", "sess-revoked"));
    assert_unauthenticated(edge.me(&token).await, "session_revoked", "revoked").await;
    assert_eq!(
        edge.fake.calls().last().unwrap(),
        "get_user user_id=u1 session_id=sess-revoked"
    );
}

#[tokio::test]
async fn me_for_a_deleted_user_is_401_user_not_found() {
    let edge = TestEdge::start().await;
    let token = edge.fake.key().sign(&claims("u-deleted", "sess-1"));
    assert_unauthenticated(edge.me(&token).await, "user_not_found", "deleted").await;
}

#[tokio::test]
async fn me_picks_up_a_key_rotated_in_after_the_cache_was_filled() {
    let edge = TestEdge::start().await;
    assert_eq!(edge.me(&edge.fake.token()).await.status(), StatusCode::OK);

    let rotated = SigningKey::generate("k2");
    edge.fake.publish(rotated.clone());
    let response = edge.me(&rotated.sign(&claims("u1", "sess-1"))).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(edge.fake.count("get_jwks"), 2);
    // The old key still verifies, from the refreshed cache.
    assert_eq!(edge.me(&edge.fake.token()).await.status(), StatusCode::OK);
    assert_eq!(edge.fake.count("get_jwks"), 2);
}

#[tokio::test]
async fn concurrent_unknown_kids_share_one_refetch_and_later_ones_wait_for_the_window() {
    let edge = TestEdge::start().await;
    let stranger = SigningKey::generate("k-unknown").sign(&claims("u1", "sess-1"));
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let request = edge
            .client
            .get(format!("{}/auth/me", edge.base))
            .header("cookie", format!("access_token={stranger}"));
        requests.spawn(async move { request.send().await.unwrap() });
    }
    while let Some(response) = requests.join_next().await {
        assert_unauthenticated(response.unwrap(), "invalid_token", "concurrent").await;
    }
    // One load of the empty cache, one refetch for the unknown kid.
    assert_eq!(edge.fake.count("get_jwks"), 2);

    assert_unauthenticated(edge.me(&stranger).await, "invalid_token", "again").await;
    assert_eq!(edge.fake.count("get_jwks"), 2);
    assert_eq!(edge.fake.count("get_user"), 0);
}

#[tokio::test]
async fn me_with_the_service_down_is_503() {
    let edge = TestEdge::with_service_down().await;
    let response = edge.me(&edge.fake.token()).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"error": "unavailable"}));
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
async fn jwks_is_served_from_the_cache_as_received() {
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
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "keys": [edge.fake.key().jwk()] }));

    // Verifying a token and serving the set again use the same fetch.
    assert_eq!(edge.me(&edge.fake.token()).await.status(), StatusCode::OK);
    let again = edge.get("/.well-known/jwks.json", None).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(edge.fake.count("get_jwks"), 1);
}

#[tokio::test]
async fn jwks_with_the_service_down_is_503() {
    let edge = TestEdge::with_service_down().await;
    let response = edge.get("/.well-known/jwks.json", None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"error": "unavailable"}));
}

#[tokio::test]
async fn healthz_answers_ok_even_with_the_service_down() {
    let edge = TestEdge::with_service_down().await;
    let response = edge.get("/healthz", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn readyz_is_ready_when_the_auth_service_is_serving() {
    let edge = TestEdge::start().await;
    let response = edge.get("/readyz", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(response.headers(), "cache-control"),
        Some("no-store")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"status": "ready"}));
}

#[tokio::test]
async fn readyz_is_503_when_the_auth_service_is_not_serving() {
    let edge = TestEdge::start().await;
    edge.health
        .as_ref()
        .unwrap()
        .set_not_serving::<AuthServiceServer<FakeAuth>>()
        .await;
    let response = edge.get("/readyz", None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"status": "unavailable"}));
}

#[tokio::test]
async fn readyz_is_503_with_the_service_down_while_healthz_stays_ok() {
    let edge = TestEdge::with_service_down().await;
    let response = edge.get("/readyz", None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"status": "unavailable"}));
    assert_eq!(edge.get("/healthz", None).await.status(), StatusCode::OK);
}

// ---------------------------------------------------------------- /metrics

fn assert_has_line(text: &str, line: &str) {
    assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
}

#[tokio::test]
async fn metrics_count_the_login_funnel_and_logins() {
    let edge = TestEdge::start().await;
    edge.get("/auth/kakao/login?return_to=%2Fdashboard", None)
        .await;
    edge.get(
        "/auth/kakao/callback?code=good-code&state=s1",
        Some("kakao_login_binding=new-binding"),
    )
    .await;
    edge.get("/auth/kakao/callback?error=access_denied", None)
        .await;
    edge.get("/auth/kakao/callback?code=c&state=reused", None)
        .await;
    edge.get("/auth/kakao/callback?code=c&state=expired", None)
        .await;
    edge.get("/auth/kakao/callback?code=c&state=kakao-down", None)
        .await;
    edge.get("/auth/kakao/callback?state=s1", None).await;
    edge.get(
        "/auth/kakao/login?return_to=https%3A%2F%2Fevil.example%2F",
        None,
    )
    .await;

    let text = edge.metrics().await;
    for line in [
        r#"edge_login_funnel_total{step="started"} 1"#,
        r#"edge_login_funnel_total{step="completed"} 1"#,
        r#"edge_login_funnel_total{step="cancelled"} 1"#,
        r#"edge_login_funnel_total{step="state_rejected"} 2"#,
        r#"edge_login_funnel_total{step="upstream_failed"} 1"#,
        r#"edge_login_funnel_total{step="invalid_request"} 2"#,
        r#"edge_logins_total{user="new"} 1"#,
        r#"edge_logins_total{user="returning"} 0"#,
        r#"edge_http_request_duration_seconds_count{route="/auth/kakao/login"} 2"#,
        r#"edge_http_request_duration_seconds_count{route="/auth/kakao/callback"} 6"#,
        // The scrape being answered.
        "edge_http_requests_in_flight 1",
    ] {
        assert_has_line(&text, line);
    }
}

#[tokio::test]
async fn metrics_count_refresh_outcomes_and_time_requests_by_route() {
    let edge = TestEdge::start().await;
    for token in ["refresh-1", "old", "db-down"] {
        edge.post(
            "/auth/refresh",
            &[("cookie", &format!("refresh_token={token}"))],
        )
        .await;
    }
    edge.post("/auth/refresh", &[]).await;
    edge.get("/no/such/page", None).await;

    let text = edge.metrics().await;
    for line in [
        r#"edge_refresh_total{outcome="rotated"} 1"#,
        r#"edge_refresh_total{outcome="reuse_detected"} 1"#,
        r#"edge_refresh_total{outcome="refused"} 1"#,
        r#"edge_refresh_total{outcome="unavailable"} 1"#,
        "# TYPE edge_http_request_duration_seconds histogram",
        r#"edge_http_request_duration_seconds_count{route="/auth/refresh"} 4"#,
        r#"edge_http_request_duration_seconds_count{route="other"} 1"#,
    ] {
        assert_has_line(&text, line);
    }
    assert!(!text.contains("/no/such/page"));
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

// ---------------------------------------------------------------- refresh single-flight

/// Fires `n` concurrent `POST /auth/refresh`, each with the refresh cookie
/// `tokens[i % tokens.len()]`, and answers (status, Set-Cookie values) by
/// request.
async fn concurrent_refreshes(
    edge: &TestEdge,
    n: usize,
    tokens: &[&str],
) -> Vec<(StatusCode, Vec<String>)> {
    let requests = (0..n).map(|i| {
        edge.client
            .post(format!("{}/auth/refresh", edge.base))
            .header(
                "cookie",
                format!("refresh_token={}", tokens[i % tokens.len()]),
            )
            .send()
    });
    let responses = join_all(requests).await;
    responses
        .into_iter()
        .map(|r| {
            let r = r.unwrap();
            (r.status(), set_cookies(r.headers()))
        })
        .collect()
}

/// Awaits every future, concurrently, in order.
async fn join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}

#[tokio::test]
async fn concurrent_refreshes_with_one_cookie_share_one_rotation() {
    let edge = TestEdge::start().await;
    let answers = concurrent_refreshes(&edge, 5, &["refresh-1"]).await;

    let rotated = vec![
        "access_token=acc2.jwt.sig; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=900".to_owned(),
        "refresh_token=refresh-2; HttpOnly; SameSite=Lax; Secure; Path=/auth; Max-Age=1209600"
            .to_owned(),
    ];
    for (status, cookies) in &answers {
        assert_eq!(*status, StatusCode::NO_CONTENT);
        assert_eq!(cookies, &rotated);
    }
    assert_eq!(edge.fake.count("refresh_session"), 1);
    let text = edge.metrics().await;
    assert_has_line(&text, r#"edge_refresh_total{outcome="rotated"} 5"#);

    // Once the rotation has finished, the same cookie makes a new call (the
    // real service would refuse it as a reuse; the fake rotates again).
    let again = edge
        .post("/auth/refresh", &[("cookie", "refresh_token=refresh-1")])
        .await;
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
    assert_eq!(edge.fake.count("refresh_session"), 2);
}

#[tokio::test]
async fn concurrent_refreshes_with_different_cookies_are_not_joined() {
    let edge = TestEdge::start().await;
    let answers = concurrent_refreshes(&edge, 2, &["refresh-1", "refresh-a"]).await;

    assert!(answers.iter().all(|(s, _)| *s == StatusCode::NO_CONTENT));
    assert!(answers[0].1[1].starts_with("refresh_token=refresh-2;"));
    assert!(answers[1].1[1].starts_with("refresh_token=refresh-b;"));
    let mut calls = edge.fake.calls();
    calls.sort();
    assert_eq!(
        calls,
        vec![
            "refresh_session refresh-1".to_owned(),
            "refresh_session refresh-a".to_owned()
        ]
    );
}

#[tokio::test]
async fn concurrent_refreshes_with_a_refused_cookie_all_get_the_refusal() {
    let edge = TestEdge::start().await;
    let answers = concurrent_refreshes(&edge, 3, &["old"]).await;
    for (status, cookies) in &answers {
        assert_eq!(*status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            cookies,
            &vec![CLEAR_ACCESS.to_owned(), CLEAR_REFRESH.to_owned()]
        );
    }
    assert_eq!(edge.fake.count("refresh_session"), 1);
}

// ---------------------------------------------------------------- limits

/// Sends `request` as is on a new connection and reads the answer until the
/// server closes it (or resets it after answering).
async fn raw(edge: &TestEdge, request: &[u8]) -> String {
    let addr = edge.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// A chunked `POST path` of `size` bytes with the refresh cookie `refresh-1`.
fn chunked_post(path: &str, size: usize) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\ncookie: refresh_token=refresh-1\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n{size:x}\r\n"
    )
    .into_bytes();
    request.extend(std::iter::repeat_n(b'x', size));
    request.extend_from_slice(b"\r\n0\r\n\r\n");
    request
}

#[tokio::test]
async fn a_post_body_over_4_kib_is_413_before_any_call() {
    let edge = TestEdge::start().await;
    for path in ["/auth/refresh", "/auth/logout"] {
        let response = edge
            .client
            .post(format!("{}{path}", edge.base))
            .header("cookie", "refresh_token=refresh-1")
            .body(vec![b'x'; 4097])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert!(set_cookies(response.headers()).is_empty());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"error": "payload_too_large"}));

        let answer = raw(&edge, &chunked_post(path, 5000)).await;
        assert!(answer.starts_with("HTTP/1.1 413 "), "{path}: {answer}");
        assert!(
            answer.ends_with(r#"{"error":"payload_too_large"}"#),
            "{answer}"
        );
    }
    assert!(edge.fake.calls().is_empty());
}

#[tokio::test]
async fn a_post_body_of_up_to_4_kib_is_read_and_ignored() {
    let edge = TestEdge::start().await;
    let response = edge
        .client
        .post(format!("{}/auth/refresh", edge.base))
        .header("cookie", "refresh_token=refresh-1")
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let answer = raw(&edge, &chunked_post("/auth/logout", 4096)).await;
    assert!(answer.starts_with("HTTP/1.1 204 "), "{answer}");
    assert_eq!(edge.fake.count("refresh_session"), 1);
    assert_eq!(edge.fake.count("revoke_session"), 1);
}

#[tokio::test]
async fn a_query_over_4_kib_on_login_or_callback_redirects_to_invalid_request() {
    let edge = TestEdge::start().await;
    let pad = "x".repeat(4100);
    let login = edge
        .get(&format!("/auth/kakao/login?return_to=%2F&pad={pad}"), None)
        .await;
    assert_eq!(login.status(), StatusCode::FOUND);
    assert_eq!(
        header(login.headers(), "location"),
        Some(error_route("invalid_request").as_str())
    );
    assert!(set_cookies(login.headers()).is_empty());

    let callback = edge
        .get(
            &format!("/auth/kakao/callback?code=good-code&state=s1&pad={pad}"),
            Some("kakao_login_binding=b-1"),
        )
        .await;
    assert_error_redirect(&callback, "invalid_request");
    assert!(edge.fake.calls().is_empty());
}

#[tokio::test]
async fn a_request_head_over_16_kib_is_431_and_a_large_one_below_passes() {
    let edge = TestEdge::start().await;
    let below = edge
        .client
        .get(format!("{}/healthz", edge.base))
        .header("x-filler", "a".repeat(12 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(below.status(), StatusCode::OK);

    let filler = "a".repeat(17 * 1024);
    let request = format!(
        "GET /healthz HTTP/1.1\r\nhost: localhost\r\nx-filler: {filler}\r\nconnection: close\r\n\r\n"
    );
    let answer = raw(&edge, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
}

// ---------------------------------------------------------------- request ids

#[tokio::test]
async fn a_valid_request_id_is_echoed_and_sent_to_the_service() {
    let edge = TestEdge::start().await;
    let response = edge
        .client
        .get(format!("{}/auth/kakao/login", edge.base))
        .header("x-request-id", "req-42.A_b")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        header(response.headers(), "x-request-id"),
        Some("req-42.A_b")
    );
    assert_eq!(*edge.fake.request_ids.lock().unwrap(), vec!["req-42.A_b"]);
}

#[tokio::test]
async fn an_invalid_or_missing_request_id_is_replaced_by_a_uuid() {
    let edge = TestEdge::start().await;
    let too_long = "a".repeat(65);
    for id in [
        Some("has space"),
        Some("semi;colon"),
        Some(too_long.as_str()),
        None,
    ] {
        let mut request = edge.client.get(format!("{}/auth/kakao/login", edge.base));
        if let Some(id) = id {
            request = request.header("x-request-id", id);
        }
        let response = request.send().await.unwrap();
        let echoed = header(response.headers(), "x-request-id")
            .unwrap()
            .to_owned();
        assert!(uuid::Uuid::parse_str(&echoed).is_ok(), "{id:?} -> {echoed}");
        let sent = edge.fake.request_ids.lock().unwrap().last().cloned();
        assert_eq!(sent, Some(echoed), "{id:?}");
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let edge = TestEdge::start().await;
    for response in [
        edge.get("/healthz", None).await,
        edge.get("/no/such/page", None).await,
        edge.post("/auth/refresh", &[("origin", "https://evil.example")])
            .await,
    ] {
        assert!(header(response.headers(), "x-request-id").is_some());
    }
}
