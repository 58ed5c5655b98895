//! `GET /auth/kakao/callback`: token cookies on success, the error route otherwise.

use reqwest::StatusCode;

use crate::harness::*;

#[tokio::test]
async fn callback_success_sets_exactly_the_token_cookies_and_lands_on_return_to() {
    let edge = TestEdge::start().await;
    let response = edge
        .get(
            "/auth/kakao/callback?code=good-code&state=s1",
            Some("__Host-kakao_login_binding=b-1"),
        )
        .await;

    assert_eq!(response.status(), StatusCode::FOUND);
    let h = response.headers().clone();
    let location = header(&h, "location").unwrap();
    assert_eq!(location, "https://app.example.com/dashboard?tab=1");
    assert_eq!(
        set_cookie_lines(&h),
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
        vec!["complete_login code=good-code state=s1 binding=b-1 provider=kakao".to_owned()]
    );
}

#[tokio::test]
async fn callback_without_a_binding_cookie_sends_an_empty_binding() {
    let edge = TestEdge::start().await;
    edge.get("/auth/kakao/callback?code=c&state=unknown", None)
        .await;
    assert_eq!(
        edge.fake.calls(),
        vec!["complete_login code=c state=unknown binding= provider=kakao".to_owned()]
    );
}

#[tokio::test]
async fn callback_where_the_user_cancelled_redirects_to_access_denied_without_a_call() {
    let edge = TestEdge::start().await;
    let response = edge
        .get(
            "/auth/kakao/callback?error=access_denied&error_description=User%20denied%20access&state=s1",
            Some("__Host-kakao_login_binding=b-1"),
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
            Some("__Host-kakao_login_binding=b-1"),
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
            Some("__Host-kakao_login_binding=b-1"),
        )
        .await;
    assert_error_redirect(&response, "unavailable");
}
