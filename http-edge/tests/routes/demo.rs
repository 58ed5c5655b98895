//! The demo page and its script.

use reqwest::StatusCode;

use crate::harness::*;

#[tokio::test]
async fn the_demo_page_is_served_with_a_strict_csp() {
    let edge = TestEdge::start().await;
    let response = edge.get("/", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let csp = header(response.headers(), "content-security-policy")
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(
        header(response.headers(), "cache-control"),
        Some("no-store")
    );
    let html = response.text().await.unwrap();
    for id in ["login", "me", "nickname", "refresh", "logout", "error"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
    }
    assert!(html.contains("카카오 로그인"));
    assert!(html.contains("/auth/kakao/login?return_to=/"));
    assert!(!html.contains("<script>"));

    let script = edge.get("/demo.js", None).await;
    assert_eq!(script.status(), StatusCode::OK);
    let js = script.text().await.unwrap();
    assert!(js.contains("credentials: 'include'"));
    assert!(!js.contains("innerHTML ="));
}
