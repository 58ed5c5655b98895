//! Cross-site POSTs refused, CORS for the frontend origin only.

use reqwest::StatusCode;

use crate::{fake_auth::*, harness::*};

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
            assert!(set_cookie_lines(response.headers()).is_empty());
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
