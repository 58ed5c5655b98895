use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::support::Stack;

#[tokio::test]
async fn health_reports_the_auth_service_as_serving() {
    let stack = Stack::start().await;
    let channel = tonic::transport::Endpoint::from_shared(stack.auth.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    for service in ["", "auth.v1.AuthService"] {
        let res = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(res.status(), ServingStatus::Serving, "{service:?}");
    }
}
