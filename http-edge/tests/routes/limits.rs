//! Body, query and request-head size limits.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::harness::*;

/// Sends `request` as is on a new connection and reads the answer until the
/// server closes it (or resets it after answering).
async fn raw(edge: &TestEdge, request: &[u8]) -> String {
    let addr = edge.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// A chunked `POST path` of `size` bytes with the refresh cookie `refresh-1`.
fn chunked_post(path: &str, size: usize) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\ncookie: refresh_token=refresh-1\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n{size:x}\r\n"
    )
    .into_bytes();
    request.extend(std::iter::repeat_n(b'x', size));
    request.extend_from_slice(b"\r\n0\r\n\r\n");
    request
}

#[tokio::test]
async fn a_post_body_over_4_kib_is_413_before_any_call() {
    let edge = TestEdge::start().await;
    for path in ["/auth/refresh", "/auth/logout"] {
        let response = edge
            .client
            .post(format!("{}{path}", edge.base))
            .header("cookie", "refresh_token=refresh-1")
            .body(vec![b'x'; 4097])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert!(set_cookie_lines(response.headers()).is_empty());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"error": "payload_too_large"}));

        let answer = raw(&edge, &chunked_post(path, 5000)).await;
        assert!(answer.starts_with("HTTP/1.1 413 "), "{path}: {answer}");
        assert!(
            answer.ends_with(r#"{"error":"payload_too_large"}"#),
            "{answer}"
        );
    }
    assert!(edge.fake.calls().is_empty());
}

#[tokio::test]
async fn a_post_body_of_up_to_4_kib_is_read_and_ignored() {
    let edge = TestEdge::start().await;
    let response = edge
        .client
        .post(format!("{}/auth/refresh", edge.base))
        .header("cookie", "refresh_token=refresh-1")
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let answer = raw(&edge, &chunked_post("/auth/logout", 4096)).await;
    assert!(answer.starts_with("HTTP/1.1 204 "), "{answer}");
    assert_eq!(edge.fake.count("refresh_session"), 1);
    assert_eq!(edge.fake.count("revoke_session"), 1);
}

#[tokio::test]
async fn a_query_over_4_kib_on_login_or_callback_redirects_to_invalid_request() {
    let edge = TestEdge::start().await;
    let pad = "x".repeat(4100);
    let login = edge
        .get(&format!("/auth/kakao/login?return_to=%2F&pad={pad}"), None)
        .await;
    assert_eq!(login.status(), StatusCode::FOUND);
    assert_eq!(
        header(login.headers(), "location"),
        Some(error_route("invalid_request").as_str())
    );
    assert!(set_cookie_lines(login.headers()).is_empty());

    let callback = edge
        .get(
            &format!("/auth/kakao/callback?code=good-code&state=s1&pad={pad}"),
            Some("__Host-kakao_login_binding=b-1"),
        )
        .await;
    assert_error_redirect(&callback, "invalid_request");
    assert!(edge.fake.calls().is_empty());
}

#[tokio::test]
async fn a_request_head_over_16_kib_is_431_and_a_large_one_below_passes() {
    let edge = TestEdge::start().await;
    let below = edge
        .client
        .get(format!("{}/healthz", edge.base))
        .header("x-filler", "a".repeat(12 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(below.status(), StatusCode::OK);

    let filler = "a".repeat(17 * 1024);
    let request = format!(
        "GET /healthz HTTP/1.1\r\nhost: localhost\r\nx-filler: {filler}\r\nconnection: close\r\n\r\n"
    );
    let answer = raw(&edge, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
}
