//! `POST /auth/logout/all` (every session of the access cookie's user) and
//! `POST /auth/logout` by the access cookie when the refresh cookie is gone.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{fake_auth::*, harness::*};

async fn assert_refused(response: reqwest::Response, status: StatusCode, body: Value) {
    assert_eq!(response.status(), status);
    assert!(
        set_cookie_lines(response.headers()).is_empty(),
        "cookies kept: the frontend may refresh and retry"
    );
    assert_eq!(response.json::<Value>().await.unwrap(), body);
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_user_and_clears_the_cookies() {
    let edge = TestEdge::start().await;
    let cookie = format!(
        "access_token={}; refresh_token=refresh-1",
        edge.fake.token()
    );
    let response = edge
        .post(
            "/auth/logout/all",
            &[("origin", FRONTEND), ("cookie", &cookie)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        set_cookie_lines(response.headers()),
        vec![CLEAR_ACCESS.to_owned(), CLEAR_REFRESH.to_owned()]
    );
    let calls: Vec<String> = edge
        .fake
        .calls()
        .into_iter()
        .filter(|c| c != "get_jwks")
        .collect();
    assert_eq!(
        calls,
        vec!["revoke_all_sessions user_id=u1 session_id=sess-1".to_owned()]
    );
}

#[tokio::test]
async fn logout_all_without_a_valid_access_cookie_is_401_without_a_call() {
    let edge = TestEdge::start().await;
    let expired = edge
        .fake
        .key()
        .sign(&with(claims("u1", "sess-1"), "exp", json!(now() - 3600)));
    for (cookie, reason) in [
        ("refresh_token=refresh-1".to_owned(), "missing_token"),
        ("access_token=garbage".to_owned(), "invalid_token"),
        (format!("access_token={expired}"), "token_expired"),
    ] {
        let response = edge.post("/auth/logout/all", &[("cookie", &cookie)]).await;
        assert_refused(
            response,
            StatusCode::UNAUTHORIZED,
            json!({"error": "unauthenticated", "reason": reason}),
        )
        .await;
    }
    assert_eq!(edge.fake.count("revoke_all_sessions"), 0);
}

#[tokio::test]
async fn logout_all_with_a_token_of_an_ended_session_is_401_session_revoked() {
    let edge = TestEdge::start().await;
    edge.fake.revoke_session_unannounced("sess-1");
    let cookie = format!("access_token={}", edge.fake.token());
    let response = edge.post("/auth/logout/all", &[("cookie", &cookie)]).await;
    assert_refused(
        response,
        StatusCode::UNAUTHORIZED,
        json!({"error": "unauthenticated", "reason": "session_revoked"}),
    )
    .await;
}

#[tokio::test]
async fn logout_all_follows_the_csrf_rules_of_logout() {
    let edge = TestEdge::start().await;
    let cookie = format!("access_token={}", edge.fake.token());
    for guard in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let response = edge
            .post("/auth/logout/all", &[guard, ("cookie", &cookie)])
            .await;
        assert_refused(
            response,
            StatusCode::FORBIDDEN,
            json!({"error": "forbidden", "reason": "cross_site"}),
        )
        .await;
    }
    assert!(edge.fake.calls().is_empty());
}

#[tokio::test]
async fn logout_all_while_the_database_is_down_is_503() {
    let edge = TestEdge::start().await;
    let token = edge.fake.key().sign(&claims("u1", "db-down"));
    let cookie = format!("access_token={token}");
    let response = edge.post("/auth/logout/all", &[("cookie", &cookie)]).await;
    assert_refused(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"error": "unavailable"}),
    )
    .await;
}

#[tokio::test]
async fn logout_with_only_the_access_cookie_still_ends_its_session() {
    let edge = TestEdge::start().await;
    let cookie = format!("access_token={}", edge.fake.token());
    let response = edge.post("/auth/logout", &[("cookie", &cookie)]).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        set_cookie_lines(response.headers()),
        vec![CLEAR_ACCESS.to_owned(), CLEAR_REFRESH.to_owned()]
    );
    assert_eq!(
        edge.fake.calls(),
        vec!["revoke_session refresh= access=<jwt>".to_owned()]
    );
}
