//! Cookie scoping and transport hardening: `COOKIE_DOMAIN` on the access
//! cookie only, the `__Host-` binding cookie (a look-alike cookie another
//! host could plant is never read), and `Strict-Transport-Security` when
//! the frontend is served over HTTPS.

use reqwest::StatusCode;
use url::Url;

use crate::harness::*;

#[tokio::test]
async fn cookie_domain_goes_on_the_access_cookie_only() {
    let edge = TestEdge::start_with(|s| s.cookie_domain = Some("example.com".into())).await;
    let response = edge
        .get(
            "/auth/kakao/callback?code=good-code&state=s1",
            Some("__Host-kakao_login_binding=b-1"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        set_cookie_lines(response.headers()),
        vec![
            "access_token=acc.jwt.sig; HttpOnly; SameSite=Lax; Secure; Path=/; Domain=example.com; Max-Age=900"
                .to_owned(),
            "refresh_token=refresh-1; HttpOnly; SameSite=Lax; Secure; Path=/auth; Max-Age=1209600"
                .to_owned(),
            CLEAR_BINDING.to_owned(),
        ]
    );

    let response = edge
        .post("/auth/logout", &[("cookie", "refresh_token=refresh-1")])
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        set_cookie_lines(response.headers()),
        vec![
            "access_token=; HttpOnly; SameSite=Lax; Secure; Path=/; Domain=example.com; Max-Age=0"
                .to_owned(),
            CLEAR_REFRESH.to_owned(),
        ]
    );
}

#[tokio::test]
async fn a_binding_cookie_without_the_host_prefix_is_never_read() {
    let edge = TestEdge::start().await;
    edge.get(
        "/auth/kakao/callback?code=c&state=s1",
        Some("kakao_login_binding=planted"),
    )
    .await;
    assert_eq!(
        edge.fake.calls(),
        vec!["complete_login code=c state=s1 binding= provider=kakao".to_owned()]
    );
}

#[tokio::test]
async fn every_answer_carries_hsts_when_the_frontend_is_https() {
    let edge = TestEdge::start().await;
    let answers = [
        edge.get("/auth/kakao/login", None).await,
        edge.get("/auth/kakao/callback?code=c&state=s1", None).await,
        edge.get("/auth/me", None).await,
        edge.post("/auth/logout", &[]).await,
        edge.get("/healthz", None).await,
        edge.get("/nope", None).await,
        edge.get("/auth/refresh", None).await,
    ];
    for response in answers {
        assert_eq!(
            header(response.headers(), "strict-transport-security"),
            Some("max-age=31536000"),
            "{}",
            response.url()
        );
    }
}

#[tokio::test]
async fn no_hsts_when_the_frontend_is_plain_http() {
    let edge = TestEdge::start_with(|s| {
        s.frontend_url = Url::parse("http://localhost:3000/").unwrap();
    })
    .await;
    for response in [
        edge.get("/auth/kakao/login", None).await,
        edge.get("/healthz", None).await,
    ] {
        assert_eq!(
            header(response.headers(), "strict-transport-security"),
            None
        );
    }
}
