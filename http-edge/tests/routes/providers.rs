//! `/auth/{provider}/...`: the provider from the path sent to the service,
//! unknown and disabled providers answered the same 404, links started with
//! the access cookie and completed without session cookies.

use auth_proto::v1::Provider;
use reqwest::StatusCode;
use serde_json::Value;

use crate::{fake_auth::*, harness::*};

const NEW_BINDING: &str =
    "__Host-kakao_login_binding=new-binding; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=600";

/// A start that failed: a 302 to the error route with `code`, no cookie
/// touched (a start holds no binding yet).
fn assert_start_refused(response: &reqwest::Response, code: &str) {
    assert_eq!(response.status(), StatusCode::FOUND);
    let h = response.headers();
    assert_eq!(header(h, "location"), Some(error_route(code).as_str()));
    assert!(set_cookie_lines(h).is_empty());
}

/// The status, headers that matter and body of a response, to compare two.
async fn shape(response: reqwest::Response) -> (StatusCode, Vec<String>, Option<String>, String) {
    let status = response.status();
    let cookies = set_cookie_lines(response.headers());
    let content_type = header(response.headers(), "content-type").map(str::to_owned);
    (
        status,
        cookies,
        content_type,
        response.text().await.unwrap(),
    )
}

#[tokio::test]
async fn each_provider_starts_its_own_login_and_is_counted_under_its_name() {
    let edge = TestEdge::start().await;
    for provider in ["naver", "google"] {
        let response = edge
            .get(&format!("/auth/{provider}/login?return_to=%2Fa"), None)
            .await;
        assert_eq!(response.status(), StatusCode::FOUND, "{provider}");
        assert_eq!(header(response.headers(), "location"), Some(AUTHORIZE_URL));
        assert_eq!(set_cookie_lines(response.headers()), vec![NEW_BINDING]);
    }
    let response = edge
        .get(
            "/auth/naver/callback?code=good-code&state=s1",
            Some("__Host-kakao_login_binding=b-1"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(set_cookie_lines(response.headers()).len(), 3);
    assert_error_redirect(
        &edge
            .get("/auth/google/callback?error=server_error", None)
            .await,
        "provider_error",
    );
    assert_eq!(
        edge.fake.calls(),
        vec![
            "build_login_url return_to=/a binding= provider=naver".to_owned(),
            "build_login_url return_to=/a binding= provider=google".to_owned(),
            "complete_login code=good-code state=s1 binding=b-1 provider=naver".to_owned(),
        ]
    );
    let text = edge.metrics().await;
    for line in [
        r#"edge_login_funnel_total{provider="naver",step="started"} 1"#,
        r#"edge_login_funnel_total{provider="naver",step="completed"} 1"#,
        r#"edge_login_funnel_total{provider="google",step="started"} 1"#,
        r#"edge_login_funnel_total{provider="google",step="upstream_failed"} 1"#,
        r#"edge_login_funnel_total{provider="kakao",step="started"} 0"#,
        r#"edge_http_request_duration_seconds_count{route="/auth/{provider}/login"} 2"#,
        r#"edge_http_request_duration_seconds_count{route="/auth/{provider}/callback"} 2"#,
    ] {
        assert_has_line(&text, line);
    }
}

#[tokio::test]
async fn unknown_and_disabled_providers_answer_the_same_404() {
    let edge = TestEdge::start().await;
    edge.fake.disable(Provider::Google);
    let token = edge.fake.token();
    let access = format!("access_token={token}");
    let unknown = shape(edge.get("/auth/github/login", None).await).await;
    assert_eq!(unknown.0, StatusCode::NOT_FOUND);
    for path in [
        "/auth/github/callback?code=c&state=s1",
        "/auth/github/link",
        "/auth/Kakao/login",
    ] {
        assert_eq!(
            shape(edge.get(path, Some(&access)).await).await,
            unknown,
            "{path}"
        );
    }
    assert!(
        edge.fake.calls().is_empty(),
        "an unknown provider is never asked for"
    );

    for path in [
        "/auth/google/login?return_to=%2F",
        "/auth/google/link",
        "/auth/google/callback?code=c&state=s1",
    ] {
        let cookies = format!("{access}; __Host-kakao_login_binding=b-1");
        assert_eq!(
            shape(edge.get(path, Some(&cookies)).await).await,
            unknown,
            "{path}"
        );
    }
    assert_eq!(edge.fake.count("build_login_url"), 2);
    assert_eq!(edge.fake.count("complete_login"), 1);
    let text = edge.metrics().await;
    assert_has_line(
        &text,
        r#"edge_login_funnel_total{provider="google",step="started"} 0"#,
    );
    assert!(!text.contains("github"));
}

#[tokio::test]
async fn a_link_needs_the_access_cookie_and_sends_it_to_the_service() {
    let edge = TestEdge::start().await;
    let response = edge
        .get("/auth/naver/link?return_to=%2Fsettings", None)
        .await;
    assert_start_refused(&response, "login_required");
    assert!(edge.fake.calls().is_empty());

    let revoked = edge
        .get("/auth/naver/link", Some("access_token=revoked.jwt.sig"))
        .await;
    assert_start_refused(&revoked, "login_required");

    let token = edge.fake.token();
    let response = edge
        .get(
            "/auth/google/link?return_to=%2Fsettings",
            Some(&format!("access_token={token}")),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(header(response.headers(), "location"), Some(AUTHORIZE_URL));
    assert_eq!(set_cookie_lines(response.headers()), vec![NEW_BINDING]);
    assert_eq!(
        edge.fake.calls(),
        vec![
            "build_login_url return_to= binding= provider=naver link=<jwt>".to_owned(),
            "build_login_url return_to=/settings binding= provider=google link=<jwt>".to_owned(),
        ]
    );
    let text = edge.metrics().await;
    assert_has_line(
        &text,
        r#"edge_login_funnel_total{provider="naver",step="login_required"} 2"#,
    );
    assert_has_line(
        &text,
        r#"edge_login_funnel_total{provider="google",step="started"} 1"#,
    );
    assert_has_line(
        &text,
        r#"edge_http_request_duration_seconds_count{route="/auth/{provider}/link"} 3"#,
    );
}

#[tokio::test]
async fn a_linked_callback_lands_without_session_cookies_and_refreshes_the_profile() {
    let edge = TestEdge::start().await;
    let token = edge.fake.token();
    assert_eq!(edge.me(&token).await.status(), StatusCode::OK);
    assert_eq!(edge.me(&token).await.status(), StatusCode::OK);
    assert_eq!(edge.fake.count("get_user"), 1, "the profile is cached");

    let response = edge
        .get(
            "/auth/naver/callback?code=link-code&state=s1",
            Some(&format!(
                "access_token={token}; __Host-kakao_login_binding=b-1"
            )),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let h = response.headers();
    assert_eq!(
        header(h, "location"),
        Some("https://app.example.com/settings")
    );
    assert_eq!(set_cookie_lines(h), vec![CLEAR_BINDING.to_owned()]);
    assert_eq!(header(h, "cache-control"), Some("no-store"));

    assert_eq!(edge.me(&token).await.status(), StatusCode::OK);
    assert_eq!(
        edge.fake.count("get_user"),
        2,
        "the user's cached profile was dropped"
    );
    let text = edge.metrics().await;
    assert_has_line(
        &text,
        r#"edge_login_funnel_total{provider="naver",step="linked"} 1"#,
    );
    assert_has_line(&text, r#"edge_logins_total{user="returning"} 0"#);
    assert_has_line(&text, r#"edge_logins_total{user="new"} 0"#);
}

#[tokio::test]
async fn a_link_refused_by_the_service_lands_on_the_error_route_with_its_code() {
    let edge = TestEdge::start().await;
    for (state, code) in [
        ("in-use", "identity_in_use"),
        ("link-ended", "login_required"),
    ] {
        let response = edge
            .get(
                &format!("/auth/google/callback?code=c&state={state}"),
                Some("__Host-kakao_login_binding=b-1"),
            )
            .await;
        assert_error_redirect(&response, code);
    }
    assert_has_line(
        &edge.metrics().await,
        r#"edge_login_funnel_total{provider="google",step="identity_in_use"} 1"#,
    );
}

// ------------------------------------------------- POST /auth/identities/{p}/unlink

async fn unlink(edge: &TestEdge, provider: &str, token: &str) -> reqwest::Response {
    edge.post(
        &format!("/auth/identities/{provider}/unlink"),
        &[
            ("cookie", &format!("access_token={token}")),
            ("origin", FRONTEND),
        ],
    )
    .await
}

async fn json(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

#[tokio::test]
async fn unlinking_an_identity_answers_the_ones_left_and_refreshes_the_profile() {
    let edge = TestEdge::start().await;
    let token = edge.fake.token();
    assert_eq!(edge.me(&token).await.status(), StatusCode::OK);

    let response = unlink(&edge, "naver", &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(response.headers(), "content-type"),
        Some("application/json")
    );
    assert_eq!(
        header(response.headers(), "access-control-allow-origin"),
        Some(FRONTEND)
    );
    assert!(set_cookie_lines(response.headers()).is_empty());
    assert_eq!(
        json(response).await,
        serde_json::json!({
            "identities": [{
                "provider": "kakao", "email": null,
                "linked_at": 1_700_000_000, "last_login_at": 1_700_000_100
            }],
            "provider_revoked": true
        })
    );
    assert_eq!(edge.me(&token).await.status(), StatusCode::OK);
    assert_eq!(
        edge.fake.calls(),
        vec![
            "get_jwks".to_owned(),
            "get_user user_id=u1 session_id=sess-1".to_owned(),
            "unlink_identity user_id=u1 session_id=sess-1 provider=naver".to_owned(),
            "get_user user_id=u1 session_id=sess-1".to_owned(),
        ],
        "the token's sub and sid are sent, and the profile asked for again"
    );
}

#[tokio::test]
async fn a_refused_unlink_answers_a_precise_status() {
    let edge = TestEdge::start().await;
    let token = edge.fake.token();
    let db_down = edge.fake.key().sign(&claims("u1", "db-down"));
    let conflict = serde_json::json!({"error": "conflict", "reason": "last_identity"});
    let missing = serde_json::json!({"error": "not_found", "reason": "identity_not_found"});
    let revoked = serde_json::json!({"error": "unauthenticated", "reason": "session_revoked"});
    for (provider, token, status, body) in [
        ("kakao", token.as_str(), StatusCode::CONFLICT, conflict),
        ("google", token.as_str(), StatusCode::NOT_FOUND, missing),
        (
            "github",
            token.as_str(),
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": "not_found"}),
        ),
        (
            "naver",
            db_down.as_str(),
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"error": "unavailable"}),
        ),
        (
            "naver",
            "not-a-jwt",
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"error": "unauthenticated", "reason": "invalid_token"}),
        ),
    ] {
        let response = unlink(&edge, provider, token).await;
        assert_eq!(response.status(), status, "{provider}");
        assert_eq!(json(response).await, body, "{provider}");
    }
    edge.fake.revoke_session_unannounced("sess-1");
    let response = unlink(&edge, "naver", &token).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(response).await, revoked);

    let response = edge.post("/auth/identities/naver/unlink", &[]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        json(response).await,
        serde_json::json!({"error": "unauthenticated", "reason": "missing_token"})
    );
    assert_eq!(edge.fake.count("unlink_identity"), 4);
}

#[tokio::test]
async fn unlinking_is_guarded_like_logout() {
    let edge = TestEdge::start().await;
    let cookie = format!("access_token={}", edge.fake.token());
    for headers in [
        &[
            ("origin", "https://evil.example"),
            ("cookie", cookie.as_str()),
        ][..],
        &[
            ("sec-fetch-site", "cross-site"),
            ("cookie", cookie.as_str()),
        ][..],
    ] {
        let response = edge.post("/auth/identities/naver/unlink", headers).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    let response = edge
        .get("/auth/identities/naver/unlink", Some(&cookie))
        .await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let oversized = edge
        .client
        .post(format!("{}/auth/identities/naver/unlink", edge.base))
        .header("cookie", &cookie)
        .body(vec![b'x'; 4097])
        .send()
        .await
        .unwrap();
    assert_eq!(oversized.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(edge.fake.calls().is_empty());
}
