//! Kakao's end-to-end matrix (`e2e.rs`) for Naver and for Google: the real
//! edge, the real auth-service, the emulator (Naver under `/naver`, Google
//! under `/google`) and a fresh database (SQLite, or PostgreSQL when
//! `TEST_DATABASE_URL` is set), driven over HTTP without following
//! redirects. One test per row of the matrix; each runs the row for every
//! provider of [`MATRIX`] and names the provider in its assertions.

use std::{
    collections::{BTreeSet, HashMap},
    time::{Duration, Instant},
};

use auth_proto::v1::Provider;
use auth_service::{
    domain::{BrowserBinding, LoginAttempt},
    persistence::{now_ms, users as user_rows},
};
use cookie::SameSite;
use kakao_emulator::{Endpoint, Fault, IdTokenFault};
use reqwest::{Response, header};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use test_support::{
    EdgeClient, EdgeHandle, FRONTEND_URL, LogCapture, Stack, consent_as, cookie_header, edge,
    location, query, set_cookies,
    stack::{GOOGLE_CLIENT_SECRET, NAVER_CLIENT_SECRET},
    urlencode, users,
};
use url::Url;

const ERROR_ROUTE: &str = "http://localhost:3000/login-error?lang=ko";
const BINDING: &str = "__Host-kakao_login_binding";

/// A provider as the matrix drives it.
#[derive(Clone, Copy)]
struct Idp {
    /// The path name (`/auth/{name}/...`).
    name: &'static str,
    provider: Provider,
    /// The account that consents.
    user: &'static str,
    /// A second account.
    other: &'static str,
    /// Its token endpoint at the emulator.
    token: Endpoint,
}

const NAVER: Idp = Idp {
    name: "naver",
    provider: Provider::Naver,
    user: users::NAVER_GILDONG,
    other: users::NAVER_BEAR,
    token: Endpoint::NaverToken,
};
const GOOGLE: Idp = Idp {
    name: "google",
    provider: Provider::Google,
    user: users::GOOGLE_KIM,
    other: users::GOOGLE_EMILE,
    token: Endpoint::GoogleToken,
};
/// Kakao, only as the other side of the cross-provider row.
const KAKAO: Idp = Idp {
    name: "kakao",
    provider: Provider::Kakao,
    user: "3208537903",  // users::HONG
    other: "3208537904", // users::KIM
    token: Endpoint::Token,
};
/// The providers every row runs for.
const MATRIX: [Idp; 2] = [NAVER, GOOGLE];

/// The stack, an edge in front of it, and a browser of that edge.
struct World {
    stack: Stack,
    _edge: EdgeHandle,
    browser: EdgeClient,
}

impl World {
    async fn start() -> World {
        let stack = Stack::start().await;
        let settings = edge::settings(
            stack.auth.url(),
            FRONTEND_URL,
            ERROR_ROUTE,
            &["http://localhost:3000"],
        );
        let edge = EdgeHandle::start(settings).await;
        let browser = EdgeClient::new(edge.base.clone());
        World {
            stack,
            _edge: edge,
            browser,
        }
    }

    /// `/auth/{p}/login` in a fresh browser (no `return_to` when empty):
    /// the authorize URL and the binding as a `Cookie` header.
    async fn begin(&self, p: Idp, return_to: &str) -> (String, String) {
        let mut path = format!("/auth/{}/login", p.name);
        if !return_to.is_empty() {
            path = format!("{path}?return_to={}", urlencode(return_to));
        }
        let res = self.browser.get(&path, "").await;
        assert_eq!(res.status(), 302, "{}: login redirects", p.name);
        let binding = set_cookies(&res)
            .get(BINDING)
            .unwrap_or_else(|| panic!("{}: a binding cookie", p.name))
            .value()
            .to_owned();
        (location(&res), format!("{BINDING}={binding}"))
    }

    /// A fresh login to which `user` agreed at the provider: the
    /// provider's redirect to the callback and the binding.
    async fn consented(&self, p: Idp, user: &str) -> (String, String) {
        let (authorize, binding) = self.begin(p, "").await;
        (consent_as(&authorize, user, true).await, binding)
    }

    /// The provider's `redirect` arriving at this edge with `cookies`.
    async fn callback(&self, p: Idp, redirect: &str, cookies: &str) -> Response {
        let url = Url::parse(redirect).unwrap();
        assert_eq!(url.path(), format!("/auth/{}/callback", p.name));
        let path = format!("{}?{}", url.path(), url.query().unwrap_or(""));
        self.browser.get(&path, cookies).await
    }

    /// A whole login of `user`; the callback's response.
    async fn login(&self, p: Idp, user: &str, return_to: &str) -> Response {
        let (authorize, binding) = self.begin(p, return_to).await;
        let redirect = consent_as(&authorize, user, true).await;
        self.callback(p, &redirect, &binding).await
    }

    fn token_calls(&self, p: Idp) -> usize {
        self.stack.kakao.control().calls(p.token)
    }

    async fn user_count(&self) -> u64 {
        user_rows::Entity::find()
            .count(&self.stack.auth.core.db.read)
            .await
            .unwrap()
    }

    /// The `/auth/me` body of a session.
    async fn me(&self, p: Idp, cookies: &str) -> Value {
        let res = self.browser.me(cookies).await;
        assert_eq!(res.status(), 200, "{}: /auth/me", p.name);
        res.json().await.unwrap()
    }

    /// The service's `auth_logins_total` of `p` for `user` (`new`,
    /// `returning`).
    async fn logins(&self, p: Idp, user: &str) -> u64 {
        let metrics = self.stack.auth.scrape_metrics().await;
        let series = format!(
            r#"auth_logins_total{{provider="{}",user="{user}"}} "#,
            p.name
        );
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&series))
            .unwrap_or_else(|| panic!("{series} in\n{metrics}"))
            .parse()
            .unwrap()
    }
}

/// A navigation that ended on the error route with `code` and nothing
/// else added, no session cookie set and the binding (if touched) cleared.
fn assert_error_route(p: Idp, res: &Response, code: &str) {
    assert_eq!(res.status(), 302, "{}: a redirect", p.name);
    let loc = Url::parse(&location(res)).unwrap();
    assert_eq!(loc.origin(), Url::parse(FRONTEND_URL).unwrap().origin());
    assert_eq!(loc.path(), "/login-error", "{}: {loc}", p.name);
    let q: HashMap<_, _> = loc.query_pairs().into_owned().collect();
    assert_eq!(
        q.get("error").map(String::as_str),
        Some(code),
        "{}: {loc}",
        p.name
    );
    assert_eq!(q.len(), 2, "{}: only the error is added: {loc}", p.name);
    let cookies = set_cookies(res);
    for name in ["access_token", "refresh_token"] {
        assert!(!cookies.contains_key(name), "{}: no {name}", p.name);
    }
    if let Some(binding) = cookies.get(BINDING) {
        assert!(binding.value().is_empty(), "{}: binding cleared", p.name);
    }
}

/// `redirect` with its `state` replaced.
fn with_state(redirect: &str, state: &str) -> String {
    let mut url = Url::parse(redirect).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "state" {
                (k, state.into())
            } else {
                (k, v)
            }
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.into()
}

#[tokio::test]
async fn a_new_then_returning_user_lands_on_return_to_with_exactly_the_token_cookies() {
    let w = World::start().await;
    for (done, p) in MATRIX.into_iter().enumerate() {
        let res = w.login(p, p.user, "/dashboard?tab=1").await;
        assert_eq!(res.status(), 302, "{}", p.name);
        assert_eq!(location(&res), "http://localhost:3000/dashboard?tab=1");
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(res.headers()[header::REFERRER_POLICY], "no-referrer");
        let cookies = set_cookies(&res);
        let names: BTreeSet<&str> = cookies.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            BTreeSet::from(["access_token", "refresh_token", BINDING]),
            "{}: exactly the token cookies and the cleared binding",
            p.name
        );
        for name in ["access_token", "refresh_token"] {
            let c = &cookies[name];
            assert_eq!(
                (c.http_only(), c.secure(), c.same_site(), c.domain()),
                (Some(true), Some(true), Some(SameSite::Lax), None),
                "{}: flags of {c}",
                p.name
            );
            assert!(!c.value().is_empty(), "{}: {name} set", p.name);
        }
        assert_eq!(cookies["access_token"].path(), Some("/"));
        assert_eq!(cookies["refresh_token"].path(), Some("/auth"));
        let binding = &cookies[BINDING];
        assert!(
            binding.value().is_empty() && binding.max_age().is_some_and(|a| a.is_zero()),
            "{}: binding cleared: {binding}",
            p.name
        );
        let first = w.me(p, &cookie_header(&res)).await;
        assert_eq!(first["identities"][0]["provider"], p.name, "{first}");
        assert_eq!(
            w.user_count().await,
            done as u64 + 1,
            "{}: a new row",
            p.name
        );

        let again = w.login(p, p.user, "").await;
        assert_eq!(location(&again), FRONTEND_URL, "{}: no return_to", p.name);
        let second = w.me(p, &cookie_header(&again)).await;
        assert_eq!(second["id"], first["id"], "{}: the same user", p.name);
        assert_eq!(
            w.user_count().await,
            done as u64 + 1,
            "{}: no new row",
            p.name
        );
        assert_eq!(
            (w.logins(p, "new").await, w.logins(p, "returning").await),
            (1, 1),
            "{}",
            p.name
        );
    }
}

#[tokio::test]
async fn cancelled_consent_lands_on_access_denied_without_a_token_call() {
    let w = World::start().await;
    for p in MATRIX {
        let (authorize, binding) = w.begin(p, "/dashboard").await;
        let redirect = consent_as(&authorize, p.user, false).await;
        assert_eq!(query(&redirect)["error"], "access_denied", "{}", p.name);
        assert_error_route(
            p,
            &w.callback(p, &redirect, &binding).await,
            "access_denied",
        );
        assert_eq!(w.token_calls(p), 0, "{}: no token call", p.name);
    }
    assert_eq!(w.user_count().await, 0);
}

#[tokio::test]
async fn forged_unbound_expired_and_reused_states_never_reach_the_token_endpoint() {
    let w = World::start().await;
    for p in MATRIX {
        // Forged.
        let (redirect, binding) = w.consented(p, p.user).await;
        let forged = with_state(&redirect, &"A".repeat(43));
        assert_error_route(p, &w.callback(p, &forged, &binding).await, "invalid_state");
        // Unbound: no binding cookie, then another browser's binding.
        let (redirect, _) = w.consented(p, p.user).await;
        assert_error_route(p, &w.callback(p, &redirect, "").await, "invalid_state");
        let (redirect, _) = w.consented(p, p.user).await;
        let (_, other_browser) = w.begin(p, "").await;
        let res = w.callback(p, &redirect, &other_browser).await;
        assert_error_route(p, &res, "invalid_state");
        // Expired: sealed for this browser and this provider, a moment ago.
        let (redirect, binding) = w.consented(p, p.user).await;
        let hash = BrowserBinding::parse(binding.trim_start_matches(&format!("{BINDING}=")))
            .unwrap()
            .hash();
        let attempt = LoginAttempt::new(now_ms() - 1, hash, FRONTEND_URL.into(), p.provider, None);
        let expired = w.stack.auth.core.state_sealer.seal(&attempt);
        let expired = with_state(&redirect, expired.expose());
        assert_error_route(p, &w.callback(p, &expired, &binding).await, "login_expired");
        assert_eq!(
            w.token_calls(p),
            0,
            "{}: no refused state cost a call",
            p.name
        );
        // Reused: a good login, then the same callback again (a reload).
        let (redirect, binding) = w.consented(p, p.user).await;
        assert_eq!(w.callback(p, &redirect, &binding).await.status(), 302);
        let calls = w.token_calls(p);
        assert_eq!(calls, 1, "{}", p.name);
        let res = w.callback(p, &redirect, &binding).await;
        assert_error_route(p, &res, "invalid_state");
        assert_eq!(
            w.token_calls(p),
            calls,
            "{}: the replay cost no call",
            p.name
        );
    }
}

#[tokio::test]
async fn a_state_started_for_one_provider_is_refused_at_another_providers_callback() {
    assert_eq!(KAKAO.user, users::HONG.to_string());
    assert_eq!(KAKAO.other, users::KIM.to_string());
    let w = World::start().await;
    let all = [KAKAO, NAVER, GOOGLE];
    for from in all {
        for to in all.into_iter().filter(|to| to.name != from.name) {
            let (authorize, binding) = w.begin(from, "").await;
            let state = query(&authorize)["state"].clone();
            // A real code of `to`, for the same account, from another login.
            let (redirect, _) = w.consented(to, to.user).await;
            let res = w
                .callback(to, &with_state(&redirect, &state), &binding)
                .await;
            assert_error_route(to, &res, "invalid_state");
            let calls = (w.token_calls(from), w.token_calls(to));
            assert_eq!(calls, (0, 0), "{} state at {}: no call", from.name, to.name);
        }
    }
    assert_eq!(w.user_count().await, 0);
}

#[tokio::test]
async fn provider_errors_land_on_provider_error_or_unavailable_without_a_session() {
    let w = World::start().await;
    let status = |status: u16, body: Value| Fault::Status { status, body };
    let cases = [
        (
            NAVER,
            Endpoint::NaverToken,
            Fault::ok_with_error("invalid_request", "no valid data in session"),
            "provider_error",
        ),
        (
            NAVER,
            Endpoint::NaverProfile,
            status(
                401,
                json!({"resultcode":"024","message":"Authentication failed"}),
            ),
            "provider_error",
        ),
        (
            NAVER,
            Endpoint::NaverToken,
            status(500, json!({})),
            "unavailable",
        ),
        (NAVER, Endpoint::NaverProfile, Fault::Garbage, "unavailable"),
        (
            GOOGLE,
            Endpoint::GoogleToken,
            status(
                400,
                json!({"error":"invalid_grant","error_description":"Bad Request"}),
            ),
            "provider_error",
        ),
        (
            GOOGLE,
            Endpoint::GoogleToken,
            status(503, json!({})),
            "unavailable",
        ),
        (GOOGLE, Endpoint::GoogleToken, Fault::Garbage, "unavailable"),
    ];
    for (p, endpoint, fault, code) in cases {
        let (redirect, binding) = w.consented(p, p.user).await;
        w.stack.kakao.control().set_fault(endpoint, fault.clone());
        let res = w.callback(p, &redirect, &binding).await;
        w.stack.kakao.control().clear_faults();
        assert!(w.stack.kakao.control().calls(endpoint) > 0, "{fault:?}");
        assert_error_route(p, &res, code);
    }
    assert_eq!(w.user_count().await, 0);
}

#[tokio::test]
async fn a_provider_that_hangs_ends_on_unavailable_once_the_timeout_is_out() {
    let w = World::start().await;
    for p in MATRIX {
        let (redirect, binding) = w.consented(p, p.user).await;
        w.stack.kakao.control().set_fault(p.token, Fault::Hang);
        let started = Instant::now();
        let res = w.callback(p, &redirect, &binding).await;
        let took = started.elapsed();
        w.stack.kakao.control().clear_faults();
        assert_error_route(p, &res, "unavailable");
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(5),
            "{}: KAKAO_TIMEOUT (1 s) bounds the wait, took {took:?}",
            p.name
        );
    }
    assert_eq!(w.user_count().await, 0);
}

#[tokio::test]
async fn a_refused_google_id_token_lands_on_provider_error_without_a_session() {
    // Naver's classic flow has no id_token: this row is Google's alone.
    let w = World::start().await;
    for fault in [
        IdTokenFault::WrongAudience,
        IdTokenFault::WrongIssuer,
        IdTokenFault::WrongSignature,
        IdTokenFault::Expired,
        IdTokenFault::WrongNonce,
        IdTokenFault::AlgNone,
        IdTokenFault::Missing,
    ] {
        let (redirect, binding) = w.consented(GOOGLE, GOOGLE.user).await;
        w.stack
            .kakao
            .control()
            .set_google_id_token_fault(Some(fault));
        let res = w.callback(GOOGLE, &redirect, &binding).await;
        w.stack.kakao.control().clear_faults();
        assert_error_route(GOOGLE, &res, "provider_error");
        assert_eq!(w.user_count().await, 0, "{fault:?}: no user");
    }
}

/// Logins, failures, a refresh and a logout with every component logging
/// at debug level (the runtime is single-threaded, so the thread's
/// subscriber sees the edge, the service and the emulator alike).
#[tokio::test]
async fn no_code_state_or_token_appears_in_a_location_a_body_or_the_logs() {
    let logs = LogCapture::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter("debug")
        .with_writer(logs.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let w = World::start().await;
    // Secrets by value, and what the edge sent after each callback.
    let (mut secrets, mut sent): (Vec<(String, String)>, Vec<String>) = (vec![], vec![]);
    let mut keep = |what: &str, p: Idp, value: &str| {
        secrets.push((format!("{}'s {what}", p.name), value.to_owned()));
    };
    for p in MATRIX {
        let failures = match p.name {
            "naver" => vec![(
                Endpoint::NaverToken,
                Fault::ok_with_error("invalid_grant", "no valid data in session"),
            )],
            _ => vec![(
                Endpoint::GoogleToken,
                Fault::Status {
                    status: 400,
                    body: json!({"error": "invalid_grant"}),
                },
            )],
        };
        for fault in failures.into_iter().map(Some).chain([None]) {
            let (authorize, binding) = w.begin(p, "/dashboard").await;
            let redirect = consent_as(&authorize, p.user, true).await;
            keep("state", p, &query(&authorize)["state"]);
            keep("code", p, &query(&redirect)["code"]);
            keep(
                "binding",
                p,
                binding.trim_start_matches(&format!("{BINDING}=")),
            );
            if let Some((endpoint, fault)) = &fault {
                w.stack.kakao.control().set_fault(*endpoint, fault.clone());
            }
            let res = w.callback(p, &redirect, &binding).await;
            w.stack.kakao.control().clear_faults();
            if fault.is_some() {
                assert_error_route(p, &res, "provider_error");
            }
            sent.push(location(&res));
            if fault.is_some() {
                sent.push(res.text().await.unwrap());
                continue;
            }
            let cookies = set_cookies(&res);
            keep("access token", p, cookies["access_token"].value());
            keep("refresh token", p, cookies["refresh_token"].value());
            let session = cookie_header(&res);
            sent.push(res.text().await.unwrap());
            sent.push(w.me(p, &session).await.to_string());
            let rotated = w.browser.post("/auth/refresh", &session, None).await;
            assert_eq!(rotated.status(), 204, "{}", p.name);
            keep(
                "rotated refresh",
                p,
                set_cookies(&rotated)["refresh_token"].value(),
            );
            let rotated = cookie_header(&rotated);
            let out = w.browser.post("/auth/logout", &rotated, None).await;
            assert_eq!(out.status(), 204, "{}", p.name);
            sent.push(out.text().await.unwrap());
        }
    }
    secrets.push(("Naver's client secret".into(), NAVER_CLIENT_SECRET.into()));
    secrets.push(("Google's client secret".into(), GOOGLE_CLIENT_SECRET.into()));
    // The provider tokens never reach the test: look for their shapes
    // (Naver's access `AAAAQ+…`, Google's `ya29.`, `1//0…` and any JWT,
    // an id_token or ours, by its header's `eyJ`).
    let shapes = ["AAAAQ+", "ya29.", "1//0", "eyJ"];
    let text = logs.text();
    assert!(text.lines().count() > 50, "debug logs were captured");
    assert!(text.contains("request_id"), "request ids are logged");
    for target in ["auth_service", "http_edge", "kakao_emulator"] {
        assert!(text.contains(target), "{target} logged");
    }
    for (what, secret) in &secrets {
        assert!(secret.len() >= 8, "{what} is a real value: {secret:?}");
        assert!(
            !text.contains(secret.as_str()),
            "{what} appears in the logs"
        );
        for s in &sent {
            assert!(!s.contains(secret.as_str()), "{what} appears in {s}");
        }
    }
    for shape in shapes {
        let found = text.lines().find(|l| l.contains(shape));
        assert!(
            found.is_none(),
            "a token shaped {shape:?} logged: {found:?}"
        );
        assert!(sent.iter().all(|s| !s.contains(shape)), "{shape:?} sent");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_racing_first_logins_of_one_account_make_one_user() {
    let w = World::start().await;
    let mut users_so_far = 0;
    for p in MATRIX {
        for account in [p.user, p.other] {
            let (a, binding_a) = w.consented(p, account).await;
            let (b, binding_b) = w.consented(p, account).await;
            let (ra, rb) =
                tokio::join!(w.callback(p, &a, &binding_a), w.callback(p, &b, &binding_b));
            for res in [&ra, &rb] {
                assert_eq!(
                    location(res),
                    FRONTEND_URL,
                    "{} {account}: both land",
                    p.name
                );
            }
            let id_a = w.me(p, &cookie_header(&ra)).await["id"].clone();
            let id_b = w.me(p, &cookie_header(&rb)).await["id"].clone();
            assert_eq!(id_a, id_b, "{} {account}: one user", p.name);
            users_so_far += 1;
            assert_eq!(w.user_count().await, users_so_far, "{} {account}", p.name);
        }
        assert_eq!(
            (w.logins(p, "new").await, w.logins(p, "returning").await),
            (2, 2),
            "{}: one new and one returning login per account",
            p.name
        );
    }
}
