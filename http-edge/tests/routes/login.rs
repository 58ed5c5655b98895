//! `GET /auth/kakao/login`: the redirect to Kakao and the binding cookie.

use reqwest::StatusCode;

use crate::{fake_auth::*, harness::*};

#[tokio::test]
async fn login_redirects_to_kakao_and_sets_the_binding_cookie() {
    let edge = TestEdge::start().await;
    let response = edge
        .get("/auth/kakao/login?return_to=%2Fdashboard%3Ftab%3D1", None)
        .await;

    assert_eq!(response.status(), StatusCode::FOUND);
    let h = response.headers();
    assert_eq!(header(h, "location"), Some(AUTHORIZE_URL));
    assert_eq!(
        set_cookie_lines(h),
        vec![
            "__Host-kakao_login_binding=new-binding; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=600"
                .to_owned()
        ]
    );
    assert_eq!(header(h, "cache-control"), Some("no-store"));
    assert_eq!(header(h, "x-content-type-options"), Some("nosniff"));
    assert_eq!(
        edge.fake.calls(),
        vec!["build_login_url return_to=/dashboard?tab=1 binding= provider=kakao".to_owned()]
    );
}

#[tokio::test]
async fn login_never_adopts_a_binding_cookie_the_browser_brings() {
    let edge = TestEdge::start().await;
    for planted in [
        "__Host-kakao_login_binding=planted; other=1",
        "kakao_login_binding=planted",
    ] {
        let response = edge.get("/auth/kakao/login", Some(planted)).await;

        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(
            set_cookie_lines(response.headers()),
            vec![
                "__Host-kakao_login_binding=new-binding; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=600"
                    .to_owned()
            ],
            "{planted}"
        );
    }
    assert_eq!(
        edge.fake.calls(),
        vec!["build_login_url return_to= binding= provider=kakao".to_owned(); 2],
        "the service is always asked for a new binding"
    );
}

#[tokio::test]
async fn login_with_a_refused_return_to_redirects_to_the_error_route() {
    let edge = TestEdge::start().await;
    let response = edge
        .get(
            "/auth/kakao/login?return_to=https%3A%2F%2Fevil.example%2F",
            None,
        )
        .await;

    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        header(response.headers(), "location"),
        Some(error_route("invalid_return_to").as_str())
    );
    assert_eq!(
        header(response.headers(), "cache-control"),
        Some("no-store")
    );
}

#[tokio::test]
async fn login_with_the_service_down_redirects_to_unavailable() {
    let edge = TestEdge::with_service_down().await;
    let response = edge.get("/auth/kakao/login", None).await;

    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        header(response.headers(), "location"),
        Some(error_route("unavailable").as_str())
    );
}
