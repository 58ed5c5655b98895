//! The fake auth-service: a tonic server with canned answers keyed by the
//! input and `x-auth-error` errors, recording every call, and a real
//! Ed25519 key set that signs real access tokens.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use auth_proto::v1::{
    BuildLoginUrlRequest, BuildLoginUrlResponse, CompleteLoginRequest, CompleteLoginResponse,
    GetJwksRequest, GetJwksResponse, GetUserRequest, GetUserResponse, HandleUnlinkRequest,
    HandleUnlinkResponse, Identity, Provider, RefreshSessionRequest, RefreshSessionResponse,
    RevokeAllSessionsRequest, RevokeAllSessionsResponse, RevokeSessionRequest,
    RevokeSessionResponse, TokenPair, UnlinkIdentityRequest, UnlinkIdentityResponse, User,
    VerifyAccessTokenRequest, VerifyAccessTokenResponse, WatchRevocationsRequest,
    auth_service_server::AuthService,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::{
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair},
};
use serde_json::{Value, json};
use tonic::{Code, Request, Response, Status, metadata::MetadataValue};

use crate::fake_feed::{EventStream, RevocationFeed};

pub const FRONTEND: &str = "https://app.example.com";
pub const AUTHORIZE_URL: &str = "https://kauth.kakao.com/oauth/authorize?client_id=demo&state=s1";
pub const ISSUER: &str = "kakao-login-auth-service";
pub const AUDIENCE: &str = "kakao-login";

/// An Ed25519 signing key as the auth-service holds one.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub pkcs8: Vec<u8>,
    pub public: Vec<u8>,
}

impl SigningKey {
    pub fn generate(kid: &str) -> SigningKey {
        // The tests sign with jsonwebtoken, on the process-wide provider.
        service_kit::crypto::install();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        SigningKey {
            kid: kid.into(),
            pkcs8: pkcs8.as_ref().to_vec(),
            public: pair.public_key().as_ref().to_vec(),
        }
    }

    /// The public JWK, as GetJwks publishes it.
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(&self.public),
            "kid": self.kid, "alg": "EdDSA", "use": "sig"
        })
    }

    /// An EdDSA JWT over `claims` with this key's `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&self.pkcs8)).unwrap()
    }
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The claims of a fresh access token of `sub`'s session `sid`.
pub fn claims(sub: &str, sid: &str) -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "sid": sid,
        "iat": now(), "exp": now() + 900, "jti": "jti-1"
    })
}

pub fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

pub fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

// ---------------------------------------------------------------- fake service

/// How long the fake takes to rotate a refresh token, so that concurrent
/// refreshes overlap (a deliberate delay: it simulates a slow service).
pub const REFRESH_DELAY: Duration = Duration::from_millis(200);

/// Canned answers keyed by the input; records what it was asked.
#[derive(Clone)]
pub struct FakeAuth {
    pub calls: Arc<Mutex<Vec<String>>>,
    /// The `x-request-id` metadata of every BuildLoginUrl call.
    pub request_ids: Arc<Mutex<Vec<String>>>,
    /// The keys GetJwks publishes; the first signs [`FakeAuth::token`].
    pub keys: Arc<Mutex<Vec<SigningKey>>>,
    /// Sessions GetUser refuses as `session_revoked` (besides the canned
    /// ones).
    pub revoked: Arc<Mutex<HashSet<String>>>,
    /// What `WatchRevocations` streams (not recorded in `calls`).
    pub feed: RevocationFeed,
    /// Providers answered `provider_disabled` (by BuildLoginUrl and
    /// CompleteLogin).
    pub disabled: Arc<Mutex<HashSet<Provider>>>,
}

impl Default for FakeAuth {
    fn default() -> Self {
        FakeAuth {
            calls: Arc::default(),
            request_ids: Arc::default(),
            keys: Arc::new(Mutex::new(vec![SigningKey::generate("k1")])),
            revoked: Arc::default(),
            feed: RevocationFeed::default(),
            disabled: Arc::default(),
        }
    }
}

impl FakeAuth {
    pub fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    /// How many calls began with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.starts_with(prefix))
            .count()
    }

    pub fn key(&self) -> SigningKey {
        self.keys.lock().unwrap()[0].clone()
    }

    /// A valid access token of user `u1`'s live session `sess-1`.
    pub fn token(&self) -> String {
        self.key().sign(&claims("u1", "sess-1"))
    }

    /// Adds a key to the published set (a rotation).
    pub fn publish(&self, key: SigningKey) {
        self.keys.lock().unwrap().push(key);
    }

    /// Has BuildLoginUrl and CompleteLogin answer `provider_disabled` for
    /// `provider`.
    pub fn disable(&self, provider: Provider) {
        self.disabled.lock().unwrap().insert(provider);
    }

    fn refuses(&self, provider: i32) -> Result<(), Status> {
        let provider = Provider::try_from(provider).unwrap_or_default().or_kakao();
        match self.disabled.lock().unwrap().contains(&provider) {
            true => Err(failure(Code::NotFound, "provider_disabled")),
            false => Ok(()),
        }
    }

    /// Ends session `sid` for GetUser only (its event is not streamed).
    pub fn revoke_session_unannounced(&self, sid: &str) {
        self.revoked.lock().unwrap().insert(sid.into());
    }
}

pub fn failure(code: Code, word: &'static str) -> Status {
    let mut status = Status::new(code, "refused");
    status
        .metadata_mut()
        .insert("x-auth-error", MetadataValue::from_static(word));
    status
}

pub fn tokens(access: &str, refresh: &str) -> TokenPair {
    TokenPair {
        access_token: access.into(),
        access_expires_in: 900,
        refresh_token: refresh.into(),
        refresh_expires_in: 1_209_600,
        session_id: "sess-1".into(),
    }
}

pub fn user() -> User {
    User {
        id: "u1".into(),
        kakao_id: "4000000001".into(),
        nickname: "라이언".into(),
        profile_image_url: "".into(),
        thumbnail_image_url: "https://k.kakaocdn.net/thumb.jpg".into(),
        email: "".into(),
        created_at: 1_700_000_000,
        last_login_at: 1_700_000_100,
        identities: vec![identity(Provider::Kakao, "")],
    }
}

pub fn identity(provider: Provider, email: &str) -> Identity {
    Identity {
        provider: provider.into(),
        subject: "subject-1".into(),
        email: email.into(),
        linked_at: 1_700_000_000,
        last_login_at: 1_700_000_100,
    }
}

/// The slug of a request's provider (`-` when unspecified).
fn slug(provider: i32) -> &'static str {
    match Provider::try_from(provider) {
        Ok(Provider::Unspecified) | Err(_) => "-",
        Ok(p) => p.slug(),
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
        let link = match r.link_access_token.as_str() {
            "" => "",
            _ => " link=<jwt>",
        };
        self.record(format!(
            "build_login_url return_to={} binding={} provider={}{link}",
            r.return_to,
            r.binding,
            slug(r.provider)
        ));
        self.refuses(r.provider)?;
        match (r.return_to.as_str(), r.link_access_token.as_str()) {
            (_, "revoked.jwt.sig") => Err(failure(Code::Unauthenticated, "session_revoked")),
            ("https://evil.example/", _) => {
                Err(failure(Code::InvalidArgument, "invalid_return_to"))
            }
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
            "complete_login code={} state={} binding={} provider={}",
            r.code,
            r.state,
            r.binding,
            slug(r.provider)
        ));
        self.refuses(r.provider)?;
        match (r.code.as_str(), r.state.as_str()) {
            ("link-code", "s1") => Ok(Response::new(CompleteLoginResponse {
                linked: true,
                tokens: None,
                user: Some(user()),
                new_user: false,
                return_to: format!("{FRONTEND}/settings"),
            })),
            (_, "in-use") => Err(failure(Code::FailedPrecondition, "identity_in_use")),
            (_, "link-ended") => Err(failure(Code::Unauthenticated, "session_revoked")),
            ("good-code", "s1") => Ok(Response::new(CompleteLoginResponse {
                linked: false,
                tokens: Some(tokens("acc.jwt.sig", "refresh-1")),
                user: Some(user()),
                new_user: true,
                return_to: format!("{FRONTEND}/dashboard?tab=1"),
            })),
            ("good-code", "elsewhere") => Ok(Response::new(CompleteLoginResponse {
                linked: false,
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
        // Deliberate: a slow rotation, so that concurrent refreshes overlap.
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
        let access = if r.access_token.is_empty() {
            "-"
        } else {
            "<jwt>"
        };
        self.record(format!(
            "revoke_session refresh={} access={access}",
            r.refresh_token
        ));
        match r.refresh_token.as_str() {
            "db-down" => Err(failure(Code::Unavailable, "unavailable")),
            _ => Ok(Response::new(RevokeSessionResponse {})),
        }
    }

    async fn revoke_all_sessions(
        &self,
        request: Request<RevokeAllSessionsRequest>,
    ) -> Result<Response<RevokeAllSessionsResponse>, Status> {
        let r = request.into_inner();
        self.record(format!(
            "revoke_all_sessions user_id={} session_id={}",
            r.user_id, r.session_id
        ));
        if self.revoked.lock().unwrap().contains(&r.session_id) {
            return Err(failure(Code::Unauthenticated, "session_revoked"));
        }
        match (r.user_id.as_str(), r.session_id.as_str()) {
            ("u1", "db-down") => Err(failure(Code::Unavailable, "unavailable")),
            ("u1", _) => Ok(Response::new(RevokeAllSessionsResponse {
                sessions_revoked: 2,
            })),
            _ => Err(failure(Code::NotFound, "user_not_found")),
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
        if self.revoked.lock().unwrap().contains(&r.session_id) {
            return Err(failure(Code::Unauthenticated, "session_revoked"));
        }
        match (r.user_id.as_str(), r.session_id.as_str()) {
            ("u1", "sess-1" | "sess-2") => {
                Ok(Response::new(GetUserResponse { user: Some(user()) }))
            }
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

    /// u1's identities are Kakao and Naver: Naver can go, Kakao is then the
    /// last; Google is not one of them. Session `db-down` finds the
    /// database down.
    async fn unlink_identity(
        &self,
        request: Request<UnlinkIdentityRequest>,
    ) -> Result<Response<UnlinkIdentityResponse>, Status> {
        let r = request.into_inner();
        self.record(format!(
            "unlink_identity user_id={} session_id={} provider={}",
            r.user_id,
            r.session_id,
            slug(r.provider)
        ));
        if self.revoked.lock().unwrap().contains(&r.session_id) {
            return Err(failure(Code::Unauthenticated, "session_revoked"));
        }
        let provider = Provider::try_from(r.provider).unwrap_or_default();
        match (r.user_id.as_str(), r.session_id.as_str(), provider) {
            (_, "db-down", _) => Err(failure(Code::Unavailable, "unavailable")),
            ("u1", _, Provider::Naver) => Ok(Response::new(UnlinkIdentityResponse {
                identities: vec![identity(Provider::Kakao, "")],
                provider_revoked: true,
            })),
            ("u1", _, Provider::Kakao) => Err(failure(Code::FailedPrecondition, "last_identity")),
            ("u1", _, _) => Err(failure(Code::NotFound, "identity_not_found")),
            _ => Err(failure(Code::Unauthenticated, "session_revoked")),
        }
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

    type WatchRevocationsStream = EventStream;

    async fn watch_revocations(
        &self,
        request: Request<WatchRevocationsRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let after = request.into_inner().after_sequence;
        self.feed.subscribe(after).map(Response::new)
    }
}
