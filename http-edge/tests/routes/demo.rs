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
    for (label, provider) in [
        ("카카오 로그인", "kakao"),
        ("네이버 로그인", "naver"),
        ("Google 로그인", "google"),
    ] {
        let button = format!("href=\"/auth/{provider}/login?return_to=/\">{label}</a>");
        assert!(html.contains(&button), "{button}");
    }
    assert!(html.contains("id=\"identities\""));
    assert!(!html.contains("<script>"));

    let script = edge.get("/demo.js", None).await;
    assert_eq!(script.status(), StatusCode::OK);
    let js = script.text().await.unwrap();
    assert!(js.contains("credentials: 'include'"));
    for needle in [
        "'/auth/' + provider.slug + '/link?return_to=/'",
        "'/auth/identities/' + slug + '/unlink'",
        "method: 'POST', credentials: 'same-origin'",
        "identities.length > 1",
    ] {
        assert!(js.contains(needle), "{needle}");
    }
    assert!(!js.contains("innerHTML ="));
}
