//! End to end with every provider: the real edge, the real auth-service,
//! the emulator (Kakao, and Naver and Google under their prefixes) and a
//! fresh database, driven over HTTP without following redirects. Logins
//! with Naver and Google, a second provider linked while logged in, an
//! identity that is someone else's, unlinking down to the last identity,
//! and unknown or disabled providers.

use std::time::Duration;

use kakao_emulator::EmulatorConfig;
use reqwest::Response;
use serde_json::{Value, json};
use test_support::{
    CookieJar, EdgeClient, EdgeHandle, FRONTEND_URL, Stack, consent_as, edge, location,
    set_cookie_lines, urlencode, users, wait_until,
};
use url::Url;

const ERROR_ROUTE: &str = "http://localhost:3000/login-error?lang=ko";
const BINDING: &str = "__Host-kakao_login_binding";

/// The stack, an edge in front of it, and a browser of that edge.
struct World {
    _stack: Stack,
    _edge: EdgeHandle,
    browser: EdgeClient,
}

impl World {
    async fn start() -> World {
        World::with(Stack::start().await).await
    }

    async fn with(stack: Stack) -> World {
        let settings = edge::settings(
            stack.auth.url(),
            FRONTEND_URL,
            ERROR_ROUTE,
            &["http://localhost:3000"],
        );
        let edge = EdgeHandle::start(settings).await;
        let browser = EdgeClient::new(edge.base.clone());
        World {
            _stack: stack,
            _edge: edge,
            browser,
        }
    }

    /// Waits until the edge follows the revocation feed (its profile cache
    /// is then in use).
    async fn feed_up(&self) {
        wait_until(
            Duration::from_secs(10),
            "the revocation feed is up",
            || async {
                let text = self.browser.get("/metrics", "").await.text().await.unwrap();
                text.lines().any(|l| l == "edge_revocation_feed_up 1")
            },
        )
        .await;
    }

    /// A navigation to `/auth/{provider}/{step}` (`login` or `link`) with
    /// `jar`'s cookies, the consent at the provider as `user`, and the
    /// callback with the binding it set. The jar takes in every cookie set
    /// on the way; returns the callback's response.
    async fn through(
        &self,
        jar: &mut CookieJar,
        provider: &str,
        step: &str,
        user: &str,
    ) -> Response {
        let path = format!(
            "/auth/{provider}/{step}?return_to={}",
            urlencode("/settings")
        );
        let start = self.browser.get(&path, &jar.header()).await;
        assert_eq!(start.status(), 302, "{path} redirects to the provider");
        jar.absorb(&start);
        assert!(jar.get(BINDING).is_some(), "a binding cookie");
        let redirect = consent_as(&location(&start), user, true).await;
        let redirect = Url::parse(&redirect).unwrap();
        assert_eq!(redirect.path(), format!("/auth/{provider}/callback"));
        let callback = format!(
            "/auth/{provider}/callback?{}",
            redirect.query().unwrap_or("")
        );
        let response = self.browser.get(&callback, &jar.header()).await;
        jar.absorb(&response);
        response
    }

    /// A browser logged in with `provider` as `user`.
    async fn logged_in(&self, provider: &str, user: &str) -> CookieJar {
        let mut jar = CookieJar::new();
        let response = self.through(&mut jar, provider, "login", user).await;
        assert_eq!(location(&response), "http://localhost:3000/settings");
        assert!(jar.get("access_token").is_some() && jar.get("refresh_token").is_some());
        jar
    }

    async fn me(&self, jar: &CookieJar) -> Value {
        let response = self.browser.me(&jar.header()).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    async fn unlink(&self, jar: &CookieJar, provider: &str) -> (u16, Value) {
        let path = format!("/auth/identities/{provider}/unlink");
        let response = self
            .browser
            .post(&path, &jar.header(), Some("http://localhost:3000"))
            .await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }
}

/// The providers of a `/auth/me` body or an unlink answer, in order.
fn providers(identities: &Value) -> Vec<&str> {
    identities
        .as_array()
        .expect("identities")
        .iter()
        .map(|i| i["provider"].as_str().unwrap())
        .collect()
}

/// A navigation that ended on the error route with `code`.
fn assert_error_route(response: &Response, code: &str) {
    assert_eq!(response.status(), 302);
    let url = Url::parse(&location(response)).unwrap();
    assert_eq!(url.path(), "/login-error");
    let error = url.query_pairs().find(|(k, _)| k == "error");
    assert_eq!(error.map(|(_, v)| v.into_owned()).as_deref(), Some(code));
}

#[tokio::test]
async fn naver_and_google_logins_land_with_session_cookies_and_list_their_identity() {
    let w = World::start().await;
    let naver = w.logged_in("naver", users::NAVER_GILDONG).await;
    let google = w.logged_in("google", users::GOOGLE_KIM).await;

    let me = w.me(&naver).await;
    assert_eq!(providers(&me["identities"]), ["naver"]);
    assert_eq!(me["kakao_id"], "", "no Kakao identity");
    let me_google = w.me(&google).await;
    assert_eq!(providers(&me_google["identities"]), ["google"]);
    assert!(
        me_google["identities"][0]["email"].is_string(),
        "{me_google}"
    );
    assert_ne!(me["id"], me_google["id"], "one user per identity");
    for identity in [&me["identities"][0], &me_google["identities"][0]] {
        assert!(identity.get("subject").is_none(), "{identity}");
        assert!(identity["linked_at"].as_i64().unwrap() > 0);
    }

    let again = w.logged_in("naver", users::NAVER_GILDONG).await;
    assert_eq!(w.me(&again).await["id"], me["id"], "a returning user");
    let metrics = w.browser.get("/metrics", "").await.text().await.unwrap();
    for line in [
        r#"edge_login_funnel_total{provider="naver",step="completed"} 2"#,
        r#"edge_login_funnel_total{provider="google",step="completed"} 1"#,
        r#"edge_login_funnel_total{provider="kakao",step="started"} 0"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
    }
}

#[tokio::test]
async fn a_provider_linked_while_logged_in_shows_at_once_and_logs_in_the_same_user() {
    let w = World::start().await;
    w.feed_up().await;
    let mut jar = w.logged_in("kakao", &users::HONG.to_string()).await;
    let before = w.me(&jar).await;
    assert_eq!(providers(&before["identities"]), ["kakao"]);
    assert_eq!(
        providers(&w.me(&jar).await["identities"]),
        ["kakao"],
        "from the cache"
    );
    let access = jar.get("access_token").unwrap().to_owned();
    let refresh = jar.get("refresh_token").unwrap().to_owned();

    let linked = w
        .through(&mut jar, "google", "link", users::GOOGLE_KIM)
        .await;
    assert_eq!(location(&linked), "http://localhost:3000/settings");
    let cookies = set_cookie_lines(linked.headers());
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert!(
        cookies[0].starts_with(&format!("{BINDING}=;")),
        "{cookies:?}"
    );
    assert_eq!(jar.get("access_token"), Some(access.as_str()), "kept");
    assert_eq!(jar.get("refresh_token"), Some(refresh.as_str()), "kept");

    let after = w.me(&jar).await;
    assert_eq!(providers(&after["identities"]), ["kakao", "google"]);
    let google = w.logged_in("google", users::GOOGLE_KIM).await;
    assert_eq!(w.me(&google).await["id"], before["id"]);

    let metrics = w.browser.get("/metrics", "").await.text().await.unwrap();
    let line = r#"edge_login_funnel_total{provider="google",step="linked"} 1"#;
    assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
}

#[tokio::test]
async fn a_link_without_a_login_or_of_another_users_identity_lands_on_the_error_route() {
    let w = World::start().await;
    let start = w.browser.get("/auth/naver/link", "").await;
    assert_error_route(&start, "login_required");
    let forged = w
        .browser
        .get("/auth/naver/link", "access_token=not.a.jwt")
        .await;
    assert_error_route(&forged, "login_required");

    w.logged_in("naver", users::NAVER_GILDONG).await;
    let mut hong = w.logged_in("kakao", &users::HONG.to_string()).await;
    let taken = w
        .through(&mut hong, "naver", "link", users::NAVER_GILDONG)
        .await;
    assert_error_route(&taken, "identity_in_use");
    assert_eq!(providers(&w.me(&hong).await["identities"]), ["kakao"]);
}

#[tokio::test]
async fn identities_can_be_unlinked_down_to_the_last_one() {
    let w = World::start().await;
    w.feed_up().await;
    let mut jar = w.logged_in("kakao", &users::HONG.to_string()).await;
    w.through(&mut jar, "naver", "link", users::NAVER_GILDONG)
        .await;
    assert_eq!(
        providers(&w.me(&jar).await["identities"]),
        ["kakao", "naver"]
    );

    let (status, body) = w.unlink(&jar, "naver").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(providers(&body["identities"]), ["kakao"]);
    assert!(body["provider_revoked"].is_boolean(), "{body}");
    assert_eq!(
        providers(&w.me(&jar).await["identities"]),
        ["kakao"],
        "the cached profile was dropped"
    );

    assert_eq!(
        w.unlink(&jar, "kakao").await,
        (409, json!({"error": "conflict", "reason": "last_identity"}))
    );
    assert_eq!(
        w.unlink(&jar, "naver").await,
        (
            404,
            json!({"error": "not_found", "reason": "identity_not_found"})
        )
    );
    assert_eq!(
        w.unlink(&jar, "github").await,
        (404, json!({"error": "not_found"}))
    );
    assert_eq!(
        w.unlink(&CookieJar::new(), "kakao").await,
        (
            401,
            json!({"error": "unauthenticated", "reason": "missing_token"})
        )
    );
    // The unlinked Naver account now logs in as a new user of its own.
    let naver = w.logged_in("naver", users::NAVER_GILDONG).await;
    assert_ne!(w.me(&naver).await["id"], w.me(&jar).await["id"]);
}

#[tokio::test]
async fn unknown_and_disabled_providers_answer_the_same_404() {
    let stack = Stack::start_with(EmulatorConfig::default(), &[("GOOGLE_CLIENT_ID", "")]).await;
    let w = World::with(stack).await;
    let jar = w.logged_in("naver", users::NAVER_GILDONG).await;

    let answer = |response: Response| async move {
        let status = response.status();
        let cookies = set_cookie_lines(response.headers());
        (status, cookies, response.text().await.unwrap())
    };
    let unknown = answer(w.browser.get("/auth/github/login", "").await).await;
    assert_eq!(unknown.0, 404);
    assert!(unknown.1.is_empty());
    // (A disabled provider's callback carrying `?error=` never reaches the
    // service: it lands on the error route like any cancelled consent.)
    for path in [
        "/auth/google/login?return_to=%2F",
        "/auth/google/link",
        "/auth/google/callback?code=c&state=s",
        "/auth/github/link",
        "/auth/github/callback?code=c&state=s",
    ] {
        let response = w.browser.get(path, &jar.header()).await;
        assert_eq!(answer(response).await, unknown, "{path}");
    }
}
