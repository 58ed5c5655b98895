//! End to end, as a browser lives it: the real edge, the real auth-service,
//! the Kakao emulator and a fresh database (SQLite, or PostgreSQL when
//! `TEST_DATABASE_URL` is set), all on port 0, driven over HTTP without
//! following redirects.

use auth_proto::v1::Provider;
use std::{collections::HashMap, net::SocketAddr, ops::Deref, time::Duration};

use auth_service::{
    domain::{BrowserBinding, LoginAttempt},
    persistence::{now_ms, users as user_rows},
};
use cookie::{Cookie, SameSite};
use http_edge::AuthServiceTls;
use http_edge::RateLimitSettings;
use kakao_emulator::{Endpoint, Fault};
use reqwest::{Response, header};
use sea_orm::{EntityTrait, PaginatorTrait};
use test_support::{
    CertFiles, EdgeClient, EdgeHandle, FRONTEND_URL, LogCapture, Stack, consent, cookie_header,
    edge, location, query, set_cookies, tls::path, urlencode, users,
};
use url::Url;

/// The real edge in front of `auth_url`, its error route keeping `lang=ko`.
async fn start_edge(auth_url: String) -> EdgeHandle {
    EdgeHandle::start(edge::settings(
        auth_url,
        FRONTEND_URL,
        "http://localhost:3000/login-error?lang=ko",
        &["http://localhost:3000", "https://admin.example.com"],
    ))
    .await
}

/// The whole system, seen through a browser of the edge (`w.get(..)`,
/// `w.login(..)`: [`EdgeClient`]).
struct World {
    stack: Stack,
    _edge: EdgeHandle,
    browser: EdgeClient,
}

impl Deref for World {
    type Target = EdgeClient;
    fn deref(&self) -> &EdgeClient {
        &self.browser
    }
}

impl World {
    /// The default stack with an edge in front.
    async fn start() -> World {
        World::with(Stack::start().await).await
    }

    /// An edge in front of `stack`.
    async fn with(stack: Stack) -> World {
        let edge = start_edge(stack.auth.url()).await;
        World::on(stack, edge)
    }

    fn on(stack: Stack, edge: EdgeHandle) -> World {
        let browser = EdgeClient::new(edge.base.clone());
        World {
            stack,
            _edge: edge,
            browser,
        }
    }

    /// How many user rows the database holds.
    async fn user_count(&self) -> u64 {
        user_rows::Entity::find()
            .count(&self.stack.auth.core.db.read)
            .await
            .unwrap()
    }

    async fn token_calls(&self) -> usize {
        self.stack.kakao.control().calls(Endpoint::Token)
    }
}

/// A cookie's `Max-Age` in seconds.
fn max_age(cookie: &Cookie) -> Option<i64> {
    cookie.max_age().map(|age| age.whole_seconds())
}

/// Asserts an error redirect to the frontend's error route with `code`.
fn assert_error_redirect(res: &Response, code: &str) {
    assert_eq!(res.status(), 302, "a navigation always ends in a redirect");
    let loc = Url::parse(&location(res)).unwrap();
    assert_eq!(
        loc.origin(),
        Url::parse(FRONTEND_URL).unwrap().origin(),
        "lands on the frontend"
    );
    assert_eq!(loc.path(), "/login-error");
    let q: HashMap<_, _> = loc.query_pairs().into_owned().collect();
    assert_eq!(q.get("error").map(String::as_str), Some(code), "{loc}");
    assert_eq!(
        q.get("lang").map(String::as_str),
        Some("ko"),
        "other params kept"
    );
    assert_eq!(q.len(), 2, "nothing but the error code is added");
    let cookies = set_cookies(res);
    assert!(!cookies.contains_key("access_token") && !cookies.contains_key("refresh_token"));
}

#[tokio::test]
async fn a_first_login_lands_on_the_frontend_route_with_token_cookies_only() {
    let w = World::start().await;
    let (authorize, binding) = w.begin("/dashboard?tab=1").await;
    assert!(authorize.starts_with(&w.stack.kakao.base_url()));
    let redirect = consent(&authorize, users::HONG, true).await;
    let code = query(&redirect)["code"].clone();
    let res = w.callback(&redirect, &binding).await;

    assert_eq!(res.status(), 302);
    assert_eq!(location(&res), "http://localhost:3000/dashboard?tab=1");
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(res.headers()[header::REFERRER_POLICY], "no-referrer");
    let cookies = set_cookies(&res);
    let access = &cookies["access_token"];
    let refresh = &cookies["refresh_token"];
    for c in [access, refresh] {
        assert_eq!(
            (c.http_only(), c.secure(), c.same_site()),
            (Some(true), Some(true), Some(SameSite::Lax)),
            "HttpOnly, Secure, SameSite=Lax in {c}"
        );
        assert_eq!(c.domain(), None, "host-only by default");
    }
    assert_eq!(access.path(), Some("/"));
    assert_eq!(max_age(access), Some(900));
    assert_eq!(refresh.path(), Some("/auth"));
    assert_eq!(access.value().split('.').count(), 3, "a JWT");
    assert_eq!(refresh.value().len(), 43);
    let cleared = &cookies["__Host-kakao_login_binding"];
    assert!(
        cleared.value().is_empty() && max_age(cleared) == Some(0),
        "binding cleared"
    );

    let loc = location(&res);
    let body = res.text().await.unwrap();
    for secret in [access.value(), refresh.value(), code.as_str()] {
        assert!(
            !loc.contains(secret) && !body.contains(secret),
            "no secret in Location or body"
        );
    }

    let me = w
        .get("/auth/me", &format!("access_token={}", access.value()))
        .await;
    assert_eq!(me.status(), 200);
    let me: serde_json::Value = me.json().await.unwrap();
    assert_eq!(me["nickname"], "홍길동 🙂");
    assert_eq!(me["kakao_id"], users::HONG.to_string());
    assert_eq!(me["email"], "hong@example.com");
}

#[tokio::test]
async fn a_returning_user_logs_in_to_the_same_row() {
    let w = World::start().await;
    let first = w.login(users::CAT, "").await;
    assert_eq!(
        location(&first),
        FRONTEND_URL,
        "no return_to lands on FRONTEND_URL"
    );
    let me1: serde_json::Value = w
        .get("/auth/me", &cookie_header(&first))
        .await
        .json()
        .await
        .unwrap();
    let second = w.login(users::CAT, "/again").await;
    assert_eq!(location(&second), "http://localhost:3000/again");
    let me2: serde_json::Value = w
        .get("/auth/me", &cookie_header(&second))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me1["id"], me2["id"]);
    assert_eq!(me2["email"], serde_json::Value::Null);
    assert_eq!(w.user_count().await, 1);
}

#[tokio::test]
async fn cancelled_consent_lands_on_the_error_route() {
    let w = World::start().await;
    let (authorize, binding) = w.begin("/dashboard").await;
    let redirect = consent(&authorize, users::HONG, false).await;
    assert_eq!(query(&redirect)["error"], "access_denied");
    let res = w.callback(&redirect, &binding).await;
    assert_error_redirect(&res, "access_denied");
    assert_eq!(w.token_calls().await, 0);
}

#[tokio::test]
async fn forged_reused_unbound_and_expired_states_never_reach_the_token_endpoint() {
    let w = World::start().await;
    // Forged.
    let (authorize, binding) = w.begin("").await;
    let redirect = consent(&authorize, users::HONG, true).await;
    let code = query(&redirect)["code"].clone();
    let forged = format!("/auth/kakao/callback?code={code}&state={}", "A".repeat(43));
    assert_error_redirect(&w.get(&forged, &binding).await, "invalid_state");
    // Unbound: no binding cookie, then another browser's binding.
    let (authorize, _) = w.begin("").await;
    let redirect = consent(&authorize, users::HONG, true).await;
    assert_error_redirect(&w.callback(&redirect, "").await, "invalid_state");
    let (authorize, _) = w.begin("").await;
    let redirect = consent(&authorize, users::HONG, true).await;
    let (_, other_binding) = w.begin("").await;
    assert_error_redirect(
        &w.callback(&redirect, &other_binding).await,
        "invalid_state",
    );
    // Expired.
    let (authorize, binding2) = w.begin("").await;
    let redirect = consent(&authorize, users::HONG, true).await;
    let expired = w.stack.auth.core.state_sealer.seal(&LoginAttempt::new(
        now_ms() - 1,
        BrowserBinding::parse(binding2.trim_start_matches("__Host-kakao_login_binding="))
            .unwrap()
            .hash(),
        "http://localhost:3000/".into(),
        Provider::Kakao,
        None,
    ));
    let mut redirect = url::Url::parse(&redirect).unwrap();
    let pairs: Vec<(String, String)> = redirect
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "state" {
                (k, expired.expose().to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    redirect.query_pairs_mut().clear().extend_pairs(pairs);
    assert_error_redirect(
        &w.callback(redirect.as_str(), &binding2).await,
        "login_expired",
    );
    assert_eq!(
        w.token_calls().await,
        0,
        "no refused state cost a Kakao call"
    );
    // Reused: a good login, then the same callback again (a reload).
    let (authorize, binding) = w.begin("").await;
    let redirect = consent(&authorize, users::HONG, true).await;
    assert_eq!(w.callback(&redirect, &binding).await.status(), 302);
    let calls = w.token_calls().await;
    assert_error_redirect(&w.callback(&redirect, &binding).await, "invalid_state");
    assert_eq!(w.token_calls().await, calls);
}

#[tokio::test]
async fn a_callback_without_code_or_state_is_an_invalid_request() {
    let w = World::start().await;
    for q in [
        "",
        "?code=abc",
        "?state=abc",
        "?code=&state=",
        "?%zz=1",
        "?error=server_error&state=x",
    ] {
        let res = w.get(&format!("/auth/kakao/callback{q}"), "").await;
        let expected = if q.contains("error=") {
            "kakao_error"
        } else {
            "invalid_request"
        };
        assert_error_redirect(&res, expected);
    }
}

/// Every open-redirect trick we know, through the real edge and service.
#[tokio::test]
async fn open_redirect_tricks_in_return_to_end_on_the_error_route() {
    let w = World::start().await;
    let tricks = [
        "https://evil.com",
        "//evil.com",
        "///evil.com",
        "/\\evil.com",
        "\\\\evil.com",
        "/\t/evil.com",
        "https:evil.com",
        "http:/evil.com",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "https://localhost:3000@evil.com/",
        "http://localhost:3000.evil.com/",
        "https://evil.com#@localhost:3000",
        "http://localhost:3001/",
        "https://localhost:3000/",
        "evil.com",
        "%2F%2Fevil.com",
        "http://user:pass@localhost:3000/",
        "ftp://localhost:3000/",
    ];
    assert!(tricks.len() >= 15);
    for trick in tricks {
        let res = w
            .get(
                &format!("/auth/kakao/login?return_to={}", urlencode(trick)),
                "",
            )
            .await;
        assert_error_redirect(&res, "invalid_return_to");
    }
}

#[tokio::test]
async fn kakao_failures_land_on_the_error_route_with_a_short_code() {
    let w = World::start().await;
    let cases = [
        (
            Endpoint::Token,
            Fault::Status {
                status: 400,
                body: serde_json::json!({"error":"invalid_grant","error_code":"KOE320"}),
            },
            "kakao_error",
        ),
        (
            Endpoint::Token,
            Fault::Status {
                status: 500,
                body: serde_json::json!({}),
            },
            "unavailable",
        ),
        (
            Endpoint::Token,
            Fault::Delay(Duration::from_secs(3)),
            "unavailable",
        ),
        (Endpoint::Token, Fault::Hang, "unavailable"),
        (
            Endpoint::UserMe,
            Fault::Status {
                status: 401,
                body: serde_json::json!({"msg":"this access token does not exist","code":-401}),
            },
            "kakao_error",
        ),
        (Endpoint::UserMe, Fault::Garbage, "unavailable"),
    ];
    for (endpoint, fault, code) in cases {
        let (authorize, binding) = w.begin("").await;
        let redirect = consent(&authorize, users::HONG, true).await;
        w.stack.kakao.control().set_fault(endpoint, fault);
        assert_error_redirect(&w.callback(&redirect, &binding).await, code);
        w.stack.kakao.control().clear_faults();
    }
    assert_eq!(w.user_count().await, 0);
}

#[tokio::test]
async fn a_refused_kakao_id_token_lands_on_the_error_route_with_kakao_error() {
    let stack = Stack::start_with(
        kakao_emulator::EmulatorConfig::default(),
        &[("KAKAO_SCOPE", "openid")],
    )
    .await;
    let w = World::with(stack).await;
    w.stack
        .kakao
        .control()
        .set_id_token_fault(Some(kakao_emulator::IdTokenFault::WrongSignature));
    let (authorize, binding) = w.begin("").await;
    let redirect = consent(&authorize, users::HONG, true).await;
    assert_error_redirect(&w.callback(&redirect, &binding).await, "kakao_error");
    assert_eq!(w.user_count().await, 0);
}

#[tokio::test]
async fn an_unreachable_auth_service_ends_in_the_error_route_not_a_5xx() {
    let closed: SocketAddr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let stack = Stack::start().await;
    let w = World::on(stack, start_edge(format!("http://{closed}")).await);
    assert_error_redirect(
        &w.get("/auth/kakao/login?return_to=/x", "").await,
        "unavailable",
    );
    let res = w
        .get(
            &format!("/auth/kakao/callback?code=abc&state={}", "A".repeat(43)),
            "__Host-kakao_login_binding=x",
        )
        .await;
    assert_error_redirect(&res, "unavailable");
    let me = w.get("/auth/me", "access_token=abc").await;
    assert_eq!(
        me.status(),
        401,
        "a malformed token is refused locally, no RPC needed"
    );
}

#[tokio::test]
async fn refresh_rotates_cookies_and_reuse_clears_them() {
    let stack = Stack::start_with(Default::default(), &[("REFRESH_REUSE_GRACE", "50ms")]).await;
    let w = World::with(stack).await;
    let login = w.login(users::HONG, "").await;
    let old = cookie_header(&login);
    let res = w
        .post("/auth/refresh", &old, Some("http://localhost:3000"))
        .await;
    assert_eq!(res.status(), 204);
    let rotated = set_cookies(&res);
    assert_eq!(rotated["refresh_token"].path(), Some("/auth"));
    assert_eq!(rotated["access_token"].http_only(), Some(true));
    let new = cookie_header(&res);
    assert_eq!(w.get("/auth/me", &new).await.status(), 200);
    // Deliberate: outlive the 50 ms REFRESH_REUSE_GRACE, so that the old
    // token counts as reused rather than as a concurrent tab.
    tokio::time::sleep(Duration::from_millis(120)).await;
    let reused = w.post("/auth/refresh", &old, None).await;
    assert_eq!(reused.status(), 401);
    let cleared = set_cookies(&reused);
    assert!(
        cleared["refresh_token"].value().is_empty() && cleared["access_token"].value().is_empty()
    );
    let after = w.post("/auth/refresh", &new, None).await;
    assert_eq!(after.status(), 401, "the whole family is revoked");
    assert_eq!(
        w.get("/auth/me", &new).await.status(),
        401,
        "its access token too"
    );
}

#[tokio::test]
async fn logout_revokes_the_session_and_cross_site_posts_are_refused() {
    let w = World::start().await;
    let login = w.login(users::KIM, "").await;
    let cookies = cookie_header(&login);
    let forged = w
        .post("/auth/logout", &cookies, Some("https://evil.example"))
        .await;
    assert_eq!(forged.status(), 403);
    let forged = w
        .post("/auth/refresh", &cookies, Some("https://evil.example"))
        .await;
    assert_eq!(forged.status(), 403);
    let res = w
        .post("/auth/logout", &cookies, Some("http://localhost:3000"))
        .await;
    assert_eq!(res.status(), 204);
    let cleared = set_cookies(&res);
    assert_eq!(max_age(&cleared["access_token"]), Some(0));
    assert_eq!(max_age(&cleared["refresh_token"]), Some(0));
    assert_eq!(w.post("/auth/refresh", &cookies, None).await.status(), 401);
    assert_eq!(
        w.get("/auth/me", &cookies).await.status(),
        401,
        "revoked session refused at /auth/me"
    );
}

#[tokio::test]
async fn the_demo_page_and_the_jwks_are_served() {
    let w = World::start().await;
    let page = w.get("/", "").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("카카오 로그인"));
    let jwks: serde_json::Value = w
        .get("/.well-known/jwks.json", "")
        .await
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["alg"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    assert!(key["kid"].is_string() && key.get("d").is_none());
}

/// A whole login, refresh and logout with every component logging at debug
/// level (this test's runtime is single-threaded, so the thread's
/// subscriber sees the edge, the service and the emulator alike): no token,
/// code, binding or client secret may appear anywhere in the output.
#[tokio::test]
async fn a_full_flow_logged_at_debug_level_leaks_no_secret() {
    const CLIENT_SECRET: &str = "client-secret-that-must-never-be-logged";
    let logs = LogCapture::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter("debug")
        .with_writer(logs.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::debug!("capture started");

    let emulator = kakao_emulator::EmulatorConfig {
        client_secret: Some(CLIENT_SECRET.into()),
        ..Default::default()
    };
    let stack = Stack::start_with(emulator, &[("KAKAO_CLIENT_SECRET", CLIENT_SECRET)]).await;
    let w = World::with(stack).await;
    let (authorize, binding) = w.begin("/dashboard").await;
    let redirect = consent(&authorize, users::HONG, true).await;
    let code = query(&redirect)["code"].clone();
    let res = w.callback(&redirect, &binding).await;
    assert_eq!(location(&res), "http://localhost:3000/dashboard");
    let cookies = set_cookies(&res);
    let (access, refresh) = (
        cookies["access_token"].value().to_owned(),
        cookies["refresh_token"].value().to_owned(),
    );
    let session = cookie_header(&res);
    assert_eq!(w.get("/auth/me", &session).await.status(), 200);
    let rotated = w.post("/auth/refresh", &session, None).await;
    assert_eq!(rotated.status(), 204);
    let new_refresh = set_cookies(&rotated)["refresh_token"].value().to_owned();
    assert_eq!(
        w.post("/auth/logout", &cookie_header(&rotated), None)
            .await
            .status(),
        204
    );

    let text = logs.text();
    assert!(
        text.lines().count() > 20,
        "debug logs were captured:\n{text}"
    );
    assert!(text.contains("request_id"), "request ids are logged");
    let binding_value = binding.trim_start_matches("__Host-kakao_login_binding=");
    for (what, secret) in [
        ("authorization code", code.as_str()),
        ("binding", binding_value),
        ("access token", access.as_str()),
        ("access token signature", access.rsplit('.').next().unwrap()),
        ("refresh token", refresh.as_str()),
        ("rotated refresh token", new_refresh.as_str()),
        ("client secret", CLIENT_SECRET),
    ] {
        assert!(!text.contains(secret), "the {what} appears in the logs");
    }
}

#[tokio::test]
async fn kakaos_unlink_callback_revokes_the_users_sessions() {
    const ADMIN_KEY: &str = "admin-key-for-the-unlink-callback";
    let stack = Stack::start_with(
        Default::default(),
        &[("KAKAO_ADMIN_KEY", ADMIN_KEY), ("KAKAO_APP_ID", "1234")],
    )
    .await;
    let w = World::with(stack).await;
    let session = cookie_header(&w.login(users::HONG, "").await);
    assert_eq!(w.get("/auth/me", &session).await.status(), 200);

    let call = |key: &str, form: String| {
        w.http
            .post(w.url("/auth/kakao/unlink"))
            .header(header::AUTHORIZATION, format!("KakaoAK {key}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form)
            .send()
    };
    let form = |user: i64, app: &str| {
        format!("app_id={app}&user_id={user}&referrer_type=UNLINK_FROM_APPS")
    };
    assert_eq!(
        call("wrong-key", form(users::HONG, "1234"))
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        call(ADMIN_KEY, form(users::HONG, "9999"))
            .await
            .unwrap()
            .status(),
        401,
        "another app"
    );
    assert_eq!(
        call(ADMIN_KEY, "user_id=not-a-number".into())
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        w.get("/auth/me", &session).await.status(),
        200,
        "refused callbacks change nothing"
    );

    let ok = call(ADMIN_KEY, form(users::HONG, "1234")).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "OK");
    let me = w.get("/auth/me", &session).await;
    assert_eq!(me.status(), 401);
    assert_eq!(
        me.json::<serde_json::Value>().await.unwrap()["reason"],
        "session_revoked"
    );
    assert_eq!(w.post("/auth/refresh", &session, None).await.status(), 401);
    let user = user_rows::Entity::find()
        .one(&w.stack.auth.core.db.read)
        .await
        .unwrap()
        .unwrap();
    assert!(user.unlinked_at.is_some(), "marked unlinked");

    // Kakao may also call with GET; unknown users are acknowledged.
    let get = w
        .http
        .get(w.url(&format!("/auth/kakao/unlink?{}", form(42, "1234"))))
        .header(header::AUTHORIZATION, format!("KakaoAK {ADMIN_KEY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    // Logging in again re-links the user.
    let again = cookie_header(&w.login(users::HONG, "").await);
    assert_eq!(w.get("/auth/me", &again).await.status(), 200);
    let user = user_rows::Entity::find()
        .one(&w.stack.auth.core.db.read)
        .await
        .unwrap()
        .unwrap();
    assert!(user.unlinked_at.is_none());
}

#[tokio::test]
async fn the_unlink_callback_is_refused_when_no_admin_key_is_configured() {
    let w = World::start().await;
    let res = w
        .http
        .post(w.url("/auth/kakao/unlink"))
        .header(header::AUTHORIZATION, "KakaoAK anything")
        .body("user_id=3208537903")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn three_thousand_login_starts_through_the_edge_store_nothing() {
    // The test edge has no rate limit: every start reaches the service.
    let w = World::start().await;
    let before = w.stack.auth.row_counts().await;
    assert!(before.iter().any(|(t, _)| t == "login_state_claims"));
    let mut starts = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let browser = w.browser.clone();
        starts.spawn(async move {
            for _ in 0..300 {
                let res = browser.get("/auth/kakao/login?return_to=%2Fx", "").await;
                assert_eq!(res.status(), 302);
                assert!(location(&res).contains("/oauth/authorize?"));
            }
        });
    }
    while let Some(done) = starts.join_next().await {
        done.unwrap();
    }
    assert_eq!(w.stack.auth.row_counts().await, before);
}

#[tokio::test]
async fn garbage_codes_from_one_address_cost_at_most_60_token_calls_a_minute() {
    // The default limits; the attacker pairs its own login starts (with
    // their binding cookies) with callbacks carrying a garbage code.
    let stack = Stack::start().await;
    let mut settings = edge::settings(
        stack.auth.url(),
        FRONTEND_URL,
        "http://localhost:3000/login-error?lang=ko",
        &["http://localhost:3000"],
    );
    settings.rate_limits = RateLimitSettings::default();
    let w = World::on(stack, EdgeHandle::start(settings).await);
    for pair in 0..65 {
        let (authorize, binding) = w.begin("").await;
        let state = urlencode(&query(&authorize)["state"]);
        let res = w
            .get(
                &format!("/auth/kakao/callback?code=garbage&state={state}"),
                &binding,
            )
            .await;
        let code = if pair < 60 {
            "kakao_error"
        } else {
            "rate_limited"
        };
        assert_error_redirect(&res, code);
    }
    assert_eq!(w.token_calls().await, 60);
}

/// The edge in front of a TLS stack, configured as an operator would: an
/// `https://` URL, the CA's file and its own client certificate's files.
async fn start_edge_over_tls(stack: &Stack, client: Option<&CertFiles>) -> EdgeHandle {
    let pki = stack.pki.as_ref().expect("a TLS stack");
    let mut vars = HashMap::from([("AUTH_SERVICE_CA", path(&pki.ca_path))]);
    if let Some(client) = client {
        vars.insert("AUTH_SERVICE_CLIENT_CERT", path(&client.cert_path));
        vars.insert("AUTH_SERVICE_CLIENT_KEY", path(&client.key_path));
    }
    let tls = AuthServiceTls::from_vars(&|name| vars.get(name).cloned(), true)
        .expect("TLS settings are valid");
    let url = stack.auth.url();
    assert!(url.starts_with("https://"), "{url}");
    let mut settings = edge::settings(
        url,
        FRONTEND_URL,
        "http://localhost:3000/login-error?lang=ko",
        &["http://localhost:3000"],
    );
    settings.auth_service_tls = tls;
    EdgeHandle::start(settings).await
}

#[tokio::test]
async fn the_edge_logs_in_end_to_end_over_tls_with_its_client_certificate() {
    let stack = Stack::start_tls(&[]).await;
    let client = stack.pki.as_ref().expect("TLS").client("http-edge");
    let edge = start_edge_over_tls(&stack, Some(&client)).await;
    let w = World::on(stack, edge);
    assert!(w.is_ready().await, "health answers over TLS");
    let res = w.login(users::HONG, "/dashboard").await;
    assert_eq!(res.status(), 302);
    assert_eq!(location(&res), "http://localhost:3000/dashboard");
    let me = w.me(&cookie_header(&res)).await;
    assert_eq!(me.status(), 200);
    let body = me.text().await.unwrap();
    assert!(body.contains(&users::HONG.to_string()), "{body}");
}

#[tokio::test]
async fn an_edge_without_a_client_certificate_is_refused_and_ends_on_the_error_route() {
    let stack = Stack::start_tls(&[]).await;
    let edge = start_edge_over_tls(&stack, None).await;
    let w = World::on(stack, edge);
    assert!(!w.is_ready().await);
    let res = w.get("/auth/kakao/login", "").await;
    assert_eq!(res.status(), 302);
    assert!(
        location(&res).starts_with("http://localhost:3000/login-error?lang=ko&error="),
        "{}",
        location(&res)
    );
}

#[test]
fn an_edge_client_key_that_is_not_its_certificates_is_refused_at_start() {
    let pki = test_support::TestPki::new();
    let (edge, other) = (pki.client("http-edge"), pki.client("other"));
    let vars = HashMap::from([
        ("AUTH_SERVICE_CA", path(&pki.ca_path)),
        ("AUTH_SERVICE_CLIENT_CERT", path(&edge.cert_path)),
        ("AUTH_SERVICE_CLIENT_KEY", path(&other.key_path)),
    ]);
    let err = AuthServiceTls::from_vars(&|name| vars.get(name).cloned(), true).unwrap_err();
    assert_eq!(err.variable, "AUTH_SERVICE_CLIENT_KEY");
}
