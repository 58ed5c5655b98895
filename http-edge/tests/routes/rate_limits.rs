//! Per-client limits on login starts and code-carrying callbacks: the
//! defaults, what is counted, how an over-limit request is answered, and
//! whose `X-Forwarded-For` is believed.

use http_edge::RateLimitSettings;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::*;

const LOGIN: &str = "/auth/kakao/login";
const CALLBACK: &str = "/auth/kakao/callback?code=garbage&state=s1";
const BINDING: &str = "kakao_login_binding=b1";

fn limits(login: u16, callback: u16) -> RateLimitSettings {
    RateLimitSettings {
        login_per_minute: login,
        callback_per_minute: callback,
        trusted_proxies: Vec::new(),
    }
}

/// A navigation refused as `rate_limited`: a 302 to the error route with a
/// `Retry-After` of at most 70 s, and no cookie set or cleared.
fn assert_rate_limited(response: &reqwest::Response) {
    assert_eq!(response.status(), StatusCode::FOUND);
    let h = response.headers();
    assert_eq!(
        header(h, "location"),
        Some(error_route("rate_limited").as_str())
    );
    let retry: u64 = header(h, "retry-after").unwrap().parse().unwrap();
    assert!((1..=70).contains(&retry), "Retry-After: {retry}");
    assert!(set_cookie_lines(h).is_empty(), "the binding is kept");
    assert_eq!(header(h, "cache-control"), Some("no-store"));
}

impl TestEdge {
    async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }
}

#[tokio::test]
async fn by_default_one_address_starts_120_logins_and_sends_60_code_callbacks_a_minute() {
    let edge = TestEdge::start_with(|s| s.rate_limits = RateLimitSettings::default()).await;
    for i in 0..120 {
        let response = edge.get(LOGIN, None).await;
        assert_eq!(response.status(), StatusCode::FOUND, "start {i}");
        assert_ne!(
            header(response.headers(), "location"),
            Some(error_route("rate_limited").as_str()),
            "start {i}"
        );
    }
    assert_rate_limited(&edge.get(LOGIN, None).await);
    assert_eq!(edge.fake.count("build_login_url"), 120);

    for _ in 0..60 {
        let response = edge.get(CALLBACK, Some(BINDING)).await;
        assert_error_redirect(&response, "invalid_state");
    }
    assert_rate_limited(&edge.get(CALLBACK, Some(BINDING)).await);
    assert_eq!(
        edge.fake.count("complete_login"),
        60,
        "the 61st callback never reached the service (nor Kakao)"
    );

    let metrics = edge.metrics().await;
    assert_has_line(
        &metrics,
        r#"edge_login_funnel_total{provider="kakao",step="rate_limited"} 2"#,
    );
}

#[tokio::test]
async fn only_callbacks_with_a_code_and_a_state_are_counted() {
    let edge = TestEdge::start_with(|s| s.rate_limits = limits(0, 2)).await;
    for _ in 0..10 {
        let cancelled = edge
            .get("/auth/kakao/callback?error=access_denied&state=s1", None)
            .await;
        assert_error_redirect(&cancelled, "access_denied");
        let malformed = edge.get("/auth/kakao/callback?state=s1", None).await;
        assert_error_redirect(&malformed, "invalid_request");
    }
    for _ in 0..2 {
        assert_error_redirect(&edge.get(CALLBACK, Some(BINDING)).await, "invalid_state");
    }
    assert_rate_limited(&edge.get(CALLBACK, Some(BINDING)).await);
    assert_error_redirect(
        &edge
            .get("/auth/kakao/callback?error=access_denied", None)
            .await,
        "access_denied",
    );
    assert_eq!(edge.fake.count("complete_login"), 2);
    assert_eq!(edge.fake.count("build_login_url"), 0);
    // The login limit is off.
    for _ in 0..5 {
        assert_eq!(edge.get(LOGIN, None).await.status(), StatusCode::FOUND);
    }
    assert_eq!(edge.fake.count("build_login_url"), 5);
}

#[tokio::test]
async fn a_fetch_over_the_limit_gets_429_with_retry_after() {
    let edge = TestEdge::start_with(|s| s.rate_limits = limits(1, 1)).await;
    let fetch = [("sec-fetch-mode", "cors")];
    assert_eq!(
        edge.get_with(LOGIN, &fetch).await.status(),
        StatusCode::FOUND
    );
    let response = edge.get_with(LOGIN, &fetch).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = header(response.headers(), "retry-after")
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=70).contains(&retry), "Retry-After: {retry}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"error": "rate_limited"}));
    // A navigation (Sec-Fetch-Mode: navigate, or none) lands on the error route.
    let navigate = [("sec-fetch-mode", "navigate")];
    assert_rate_limited(&edge.get_with(LOGIN, &navigate).await);

    edge.get(CALLBACK, Some(BINDING)).await;
    let response = edge
        .get_with(
            CALLBACK,
            &[("sec-fetch-mode", "no-cors"), ("cookie", BINDING)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(edge.fake.count("complete_login"), 1);
}

#[tokio::test]
async fn x_forwarded_for_counts_apart_only_behind_a_trusted_proxy() {
    // Untrusted: the header is the client's own word and is ignored.
    let edge = TestEdge::start_with(|s| s.rate_limits = limits(1, 0)).await;
    let from = |addr: &'static str| [("x-forwarded-for", addr)];
    assert_eq!(
        edge.get_with(LOGIN, &from("198.51.100.1")).await.status(),
        StatusCode::FOUND
    );
    assert_rate_limited(&edge.get_with(LOGIN, &from("198.51.100.2")).await);

    // Behind a trusted proxy (the test's 127.0.0.1): the right-most
    // untrusted entry is the client; entries to its left are not believed.
    let mut trusting = limits(1, 0);
    trusting.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    let edge = TestEdge::start_with(|s| s.rate_limits = trusting).await;
    let ok = |response: reqwest::Response| {
        assert_eq!(response.status(), StatusCode::FOUND);
        assert!(
            !header(response.headers(), "location")
                .unwrap()
                .contains("rate_limited")
        );
    };
    ok(edge.get_with(LOGIN, &from("198.51.100.1")).await);
    assert_rate_limited(&edge.get_with(LOGIN, &from("198.51.100.1")).await);
    assert_rate_limited(
        &edge
            .get_with(LOGIN, &from("203.0.113.50, 198.51.100.1, 127.0.0.9"))
            .await,
    );
    ok(edge.get_with(LOGIN, &from("198.51.100.2")).await);
    ok(edge.get_with(LOGIN, &from("2001:db8:1:2::1")).await);
    assert_rate_limited(&edge.get_with(LOGIN, &from("2001:db8:1:2::ff")).await);
    // No header: the proxy itself is the client.
    ok(edge.get(LOGIN, None).await);
    assert_rate_limited(&edge.get(LOGIN, None).await);
}
