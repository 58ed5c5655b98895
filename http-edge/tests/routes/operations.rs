//! What operators use: the JWK set, `/healthz`, `/readyz`, `/metrics`, and
//! JSON answers for unknown paths and methods.

use auth_proto::v1::auth_service_server::AuthServiceServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{fake_auth::*, harness::*};

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
        Some("public, max-age=60")
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

#[tokio::test]
async fn metrics_count_the_login_funnel_and_logins() {
    let edge = TestEdge::start().await;
    edge.get("/auth/kakao/login?return_to=%2Fdashboard", None)
        .await;
    edge.get(
        "/auth/kakao/callback?code=good-code&state=s1",
        Some("__Host-kakao_login_binding=new-binding"),
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
        r#"edge_login_funnel_total{provider="kakao",step="started"} 1"#,
        r#"edge_login_funnel_total{provider="kakao",step="completed"} 1"#,
        r#"edge_login_funnel_total{provider="kakao",step="cancelled"} 1"#,
        r#"edge_login_funnel_total{provider="kakao",step="state_rejected"} 2"#,
        r#"edge_login_funnel_total{provider="kakao",step="upstream_failed"} 1"#,
        r#"edge_login_funnel_total{provider="kakao",step="invalid_request"} 2"#,
        r#"edge_logins_total{user="new"} 1"#,
        r#"edge_logins_total{user="returning"} 0"#,
        r#"edge_http_request_duration_seconds_count{route="/auth/{provider}/login"} 2"#,
        r#"edge_http_request_duration_seconds_count{route="/auth/{provider}/callback"} 6"#,
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
