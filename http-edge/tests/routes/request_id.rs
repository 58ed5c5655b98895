//! `x-request-id`: echoed when valid, replaced otherwise, sent to the service.

use reqwest::StatusCode;

use crate::harness::*;

#[tokio::test]
async fn a_valid_request_id_is_echoed_and_sent_to_the_service() {
    let edge = TestEdge::start().await;
    let response = edge
        .client
        .get(format!("{}/auth/kakao/login", edge.base))
        .header("x-request-id", "req-42.A_b")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        header(response.headers(), "x-request-id"),
        Some("req-42.A_b")
    );
    assert_eq!(*edge.fake.request_ids.lock().unwrap(), vec!["req-42.A_b"]);
}

#[tokio::test]
async fn an_invalid_or_missing_request_id_is_replaced_by_a_uuid() {
    let edge = TestEdge::start().await;
    let too_long = "a".repeat(65);
    for id in [
        Some("has space"),
        Some("semi;colon"),
        Some(too_long.as_str()),
        None,
    ] {
        let mut request = edge.client.get(format!("{}/auth/kakao/login", edge.base));
        if let Some(id) = id {
            request = request.header("x-request-id", id);
        }
        let response = request.send().await.unwrap();
        let echoed = header(response.headers(), "x-request-id")
            .unwrap()
            .to_owned();
        assert!(uuid::Uuid::parse_str(&echoed).is_ok(), "{id:?} -> {echoed}");
        let sent = edge.fake.request_ids.lock().unwrap().last().cloned();
        assert_eq!(sent, Some(echoed), "{id:?}");
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let edge = TestEdge::start().await;
    for response in [
        edge.get("/healthz", None).await,
        edge.get("/no/such/page", None).await,
        edge.post("/auth/refresh", &[("origin", "https://evil.example")])
            .await,
    ] {
        assert!(header(response.headers(), "x-request-id").is_some());
    }
}
