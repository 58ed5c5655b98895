//! Concurrent `POST /auth/refresh` with one cookie share one rotation.

use reqwest::StatusCode;

use crate::harness::*;

/// Fires `n` concurrent `POST /auth/refresh`, each with the refresh cookie
/// `tokens[i % tokens.len()]`, and answers (status, Set-Cookie values) by
/// request.
async fn concurrent_refreshes(
    edge: &TestEdge,
    n: usize,
    tokens: &[&str],
) -> Vec<(StatusCode, Vec<String>)> {
    let requests = (0..n).map(|i| {
        edge.client
            .post(format!("{}/auth/refresh", edge.base))
            .header(
                "cookie",
                format!("refresh_token={}", tokens[i % tokens.len()]),
            )
            .send()
    });
    let responses = join_all(requests).await;
    responses
        .into_iter()
        .map(|r| {
            let r = r.unwrap();
            (r.status(), set_cookie_lines(r.headers()))
        })
        .collect()
}

/// Awaits every future, concurrently, in order.
async fn join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}

#[tokio::test]
async fn concurrent_refreshes_with_one_cookie_share_one_rotation() {
    let edge = TestEdge::start().await;
    let answers = concurrent_refreshes(&edge, 5, &["refresh-1"]).await;

    let rotated = vec![
        "access_token=acc2.jwt.sig; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=900".to_owned(),
        "refresh_token=refresh-2; HttpOnly; SameSite=Lax; Secure; Path=/auth; Max-Age=1209600"
            .to_owned(),
    ];
    for (status, cookies) in &answers {
        assert_eq!(*status, StatusCode::NO_CONTENT);
        assert_eq!(cookies, &rotated);
    }
    assert_eq!(edge.fake.count("refresh_session"), 1);
    let text = edge.metrics().await;
    assert_has_line(&text, r#"edge_refresh_total{outcome="rotated"} 5"#);

    // Once the rotation has finished, the same cookie makes a new call (the
    // real service would refuse it as a reuse; the fake rotates again).
    let again = edge
        .post("/auth/refresh", &[("cookie", "refresh_token=refresh-1")])
        .await;
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
    assert_eq!(edge.fake.count("refresh_session"), 2);
}

#[tokio::test]
async fn concurrent_refreshes_with_different_cookies_are_not_joined() {
    let edge = TestEdge::start().await;
    let answers = concurrent_refreshes(&edge, 2, &["refresh-1", "refresh-a"]).await;

    assert!(answers.iter().all(|(s, _)| *s == StatusCode::NO_CONTENT));
    assert!(answers[0].1[1].starts_with("refresh_token=refresh-2;"));
    assert!(answers[1].1[1].starts_with("refresh_token=refresh-b;"));
    let mut calls = edge.fake.calls();
    calls.sort();
    assert_eq!(
        calls,
        vec![
            "refresh_session refresh-1".to_owned(),
            "refresh_session refresh-a".to_owned()
        ]
    );
}

#[tokio::test]
async fn concurrent_refreshes_with_a_refused_cookie_all_get_the_refusal() {
    let edge = TestEdge::start().await;
    let answers = concurrent_refreshes(&edge, 3, &["old"]).await;
    for (status, cookies) in &answers {
        assert_eq!(*status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            cookies,
            &vec![CLEAR_ACCESS.to_owned(), CLEAR_REFRESH.to_owned()]
        );
    }
    assert_eq!(edge.fake.count("refresh_session"), 1);
}
