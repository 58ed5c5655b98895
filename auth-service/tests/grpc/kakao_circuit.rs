//! The circuit breaker in front of Kakao: after five outages in a row,
//! callbacks are answered `kakao_unavailable` at once without reaching
//! Kakao; a probe after the open period closes it when Kakao is back; and
//! Kakao refusing codes (it answers, so it is up) never opens it.

use std::time::Duration;

use auth_proto::v1::{CompleteLoginRequest, CompleteLoginResponse};
use auth_service::kakao::circuit::FAILURES_TO_OPEN;
use kakao_emulator::{EmulatorConfig, Endpoint, Fault};
use tonic::Code;

use test_support::{Stack, consent, query, reason, start_login, users, wait_until};

/// A login whose callback is completed while Kakao behaves as it is set to.
async fn try_login(stack: &Stack) -> Result<CompleteLoginResponse, tonic::Status> {
    let started = start_login(stack, "").await;
    let q = query(&consent(&started.url, users::HONG, true).await);
    let mut client = stack.auth.client().await;
    client
        .complete_login(CompleteLoginRequest {
            code: q["code"].clone(),
            state: q["state"].clone(),
            binding: started.binding,
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

fn assert_kakao_unavailable(result: Result<CompleteLoginResponse, tonic::Status>) {
    let err = result.expect_err("the login fails");
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::Unavailable, "kakao_unavailable")
    );
}

fn token_calls(stack: &Stack) -> usize {
    stack.kakao.control().calls(Endpoint::Token)
}

fn down() -> Fault {
    Fault::Status {
        status: 503,
        body: serde_json::json!({}),
    }
}

#[tokio::test]
async fn after_five_outages_in_a_row_callbacks_are_refused_without_calling_kakao() {
    let stack = Stack::start_with(EmulatorConfig::default(), &[("KAKAO_CIRCUIT_OPEN", "1h")]).await;
    stack.kakao.control().set_fault(Endpoint::Token, down());
    for _ in 0..FAILURES_TO_OPEN {
        assert_kakao_unavailable(try_login(&stack).await);
    }
    assert_eq!(token_calls(&stack), FAILURES_TO_OPEN as usize);
    // Kakao now hangs: a call that reached it would wait out KAKAO_TIMEOUT
    // and be counted. None does.
    stack
        .kakao
        .control()
        .set_fault(Endpoint::Token, Fault::Hang);
    for _ in 0..10 {
        assert_kakao_unavailable(try_login(&stack).await);
    }
    assert_eq!(token_calls(&stack), FAILURES_TO_OPEN as usize);
}

#[tokio::test]
async fn a_probe_after_the_open_period_closes_the_circuit_once_kakao_is_back() {
    let stack = Stack::start_with(
        EmulatorConfig::default(),
        &[("KAKAO_CIRCUIT_OPEN", "300ms")],
    )
    .await;
    stack.kakao.control().set_fault(Endpoint::Token, down());
    for _ in 0..FAILURES_TO_OPEN {
        assert_kakao_unavailable(try_login(&stack).await);
    }
    stack.kakao.control().clear_faults();
    wait_until(
        Duration::from_secs(10),
        "a login succeeds once the circuit lets a probe through",
        || async { try_login(&stack).await.is_ok() },
    )
    .await;
    let calls = token_calls(&stack);
    for _ in 0..3 {
        try_login(&stack).await.expect("the circuit is closed");
    }
    assert_eq!(token_calls(&stack), calls + 3);
}

#[tokio::test]
async fn kakao_refusing_codes_never_opens_the_circuit() {
    let stack = Stack::start_with(EmulatorConfig::default(), &[("KAKAO_CIRCUIT_OPEN", "1h")]).await;
    let refused = Fault::Status {
        status: 400,
        body: serde_json::json!({"error":"invalid_grant","error_code":"KOE320"}),
    };
    stack.kakao.control().set_fault(Endpoint::Token, refused);
    for _ in 0..FAILURES_TO_OPEN * 2 {
        let err = try_login(&stack).await.expect_err("refused");
        assert_eq!(err.code(), Code::FailedPrecondition);
    }
    assert_eq!(token_calls(&stack), FAILURES_TO_OPEN as usize * 2);
    stack.kakao.control().clear_faults();
    try_login(&stack).await.expect("Kakao was up all along");
}
