//! `POST /auth/refresh` and `POST /auth/logout`: rotated or cleared cookies.

use reqwest::StatusCode;

use crate::harness::*;

#[tokio::test]
async fn refresh_rotates_the_tokens_into_new_cookies() {
    let edge = TestEdge::start().await;
    let response = edge
        .post("/auth/refresh", &[("cookie", "refresh_token=refresh-1")])
        .await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        set_cookie_lines(response.headers()),
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
            set_cookie_lines(response.headers()),
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
    assert!(set_cookie_lines(response.headers()).is_empty());
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
        set_cookie_lines(response.headers()),
        vec![CLEAR_ACCESS.to_owned(), CLEAR_REFRESH.to_owned()]
    );
    assert_eq!(
        edge.fake.calls(),
        vec!["revoke_session refresh=refresh-1 access=<jwt>".to_owned()]
    );
}

#[tokio::test]
async fn logout_without_a_refresh_cookie_still_clears_the_cookies() {
    let edge = TestEdge::start().await;
    let response = edge.post("/auth/logout", &[]).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        set_cookie_lines(response.headers()),
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
        set_cookie_lines(response.headers()),
        vec![CLEAR_ACCESS.to_owned(), CLEAR_REFRESH.to_owned()]
    );
}
