//! Kakao's id_token, verified for real: signed id_tokens from the emulator
//! over HTTP, each spoiled token refused without a session, the JWKS cached
//! by its Cache-Control and refetched (once) for an unknown kid.

use auth_proto::v1::{CompleteLoginRequest, CompleteLoginResponse};
use auth_service::persistence::{session_rows, users as user_rows};
use kakao_emulator::{EmulatorConfig, Endpoint, Fault, IdTokenFault};
use sea_orm::{EntityTrait, PaginatorTrait};
use tonic::Code;

use test_support::{Stack, consent, login, query, reason, start_login, users};

/// A stack whose logins ask Kakao for `openid`.
async fn oidc_stack() -> Stack {
    Stack::start_with(EmulatorConfig::default(), &[("KAKAO_SCOPE", "openid")]).await
}

/// One login of `user` through the emulator, as the service answers it.
async fn try_login(stack: &Stack, user: i64) -> Result<CompleteLoginResponse, tonic::Status> {
    let started = start_login(stack, "").await;
    let q = query(&consent(&started.url, user, true).await);
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

/// Users and sessions stored so far.
async fn stored(stack: &Stack) -> (u64, u64) {
    let db = &stack.auth.core.db.read;
    let users = user_rows::Entity::find().count(db).await.unwrap();
    let sessions = session_rows::Entity::find().count(db).await.unwrap();
    (users, sessions)
}

fn jwks_fetches(stack: &Stack) -> usize {
    stack.kakao.control().calls(Endpoint::Jwks)
}

#[tokio::test]
async fn with_openid_the_nonce_is_sent_and_a_valid_id_token_completes_the_login() {
    let stack = oidc_stack().await;
    let started = start_login(&stack, "").await;
    let q = query(&started.url);
    assert_eq!(q["scope"], "openid");
    assert_eq!(q["nonce"].len(), 22);

    let done = login(&stack, users::HONG).await;
    assert_eq!(done.user.unwrap().kakao_id, users::HONG.to_string());
    assert_eq!(jwks_fetches(&stack), 1, "the JWKS was fetched to verify");
    assert_eq!(stored(&stack).await, (1, 1));
}

#[tokio::test]
async fn without_openid_no_id_token_is_asked_for_and_no_jwks_fetched() {
    let stack = Stack::start().await;
    login(&stack, users::HONG).await;
    assert_eq!(jwks_fetches(&stack), 0);
}

#[tokio::test]
async fn each_spoiled_id_token_is_refused_without_issuing_a_session() {
    let stack = oidc_stack().await;
    let cases = [
        (IdTokenFault::WrongSignature, "signature is invalid"),
        (IdTokenFault::WrongIssuer, "wrong issuer"),
        (IdTokenFault::WrongAudience, "another app"),
        (IdTokenFault::Expired, "expired"),
        (IdTokenFault::NoNonce, "nonce does not match"),
        (IdTokenFault::WrongNonce, "nonce does not match"),
        (IdTokenFault::AlgNone, "not signed with RS256"),
        (IdTokenFault::Hs256, "not signed with RS256"),
        (IdTokenFault::WrongSubject, "another user"),
        (IdTokenFault::Missing, "no id_token"),
    ];
    for (fault, message) in cases {
        stack.kakao.control().set_id_token_fault(Some(fault));
        let err = try_login(&stack, users::HONG).await.unwrap_err();
        assert_eq!(
            (err.code(), reason(&err)),
            (Code::FailedPrecondition, "kakao_rejected"),
            "{fault:?}"
        );
        assert!(
            err.message().contains(message),
            "{fault:?}: {}",
            err.message()
        );
        assert_eq!(stored(&stack).await, (0, 0), "{fault:?}: nothing stored");
    }
    stack.kakao.control().set_id_token_fault(None);
    try_login(&stack, users::HONG)
        .await
        .expect("a good id_token passes again");
    assert_eq!(jwks_fetches(&stack), 1, "every key lookup hit the cache");
}

#[tokio::test]
async fn the_cached_jwks_serves_later_logins_and_a_rotated_key_is_fetched_once() {
    let stack = oidc_stack().await;
    login(&stack, users::HONG).await;
    login(&stack, users::CAT).await;
    assert_eq!(
        jwks_fetches(&stack),
        1,
        "Cache-Control max-age=3600: the second login used the cache"
    );

    stack.kakao.control().rotate_signing_key();
    login(&stack, users::HONG).await;
    assert_eq!(jwks_fetches(&stack), 2, "the new kid caused one refetch");
    login(&stack, users::KIM).await;
    assert_eq!(jwks_fetches(&stack), 2, "and the new key is cached");
}

#[tokio::test]
async fn unknown_kids_refetch_the_jwks_at_most_once_per_floor() {
    let stack = oidc_stack().await;
    login(&stack, users::HONG).await;
    assert_eq!(jwks_fetches(&stack), 1);
    stack
        .kakao
        .control()
        .set_id_token_fault(Some(IdTokenFault::UnknownKid));
    for attempt in 0..3 {
        let err = try_login(&stack, users::HONG).await.unwrap_err();
        assert_eq!(
            (err.code(), reason(&err)),
            (Code::FailedPrecondition, "kakao_rejected"),
            "attempt {attempt}"
        );
        assert!(err.message().contains("key kakao does not publish"));
        assert_eq!(jwks_fetches(&stack), 2, "one refetch, then the floor");
    }
    assert_eq!(stored(&stack).await, (1, 1), "only the first login stored");
}

#[tokio::test]
async fn a_jwks_outage_with_a_cold_cache_is_kakao_unavailable() {
    let stack = oidc_stack().await;
    stack.kakao.control().set_fault(
        Endpoint::Jwks,
        Fault::Status {
            status: 503,
            body: serde_json::json!({}),
        },
    );
    let err = try_login(&stack, users::HONG).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::Unavailable, "kakao_unavailable")
    );
    assert_eq!(stored(&stack).await, (0, 0));
    stack.kakao.control().clear_faults();
    try_login(&stack, users::HONG)
        .await
        .expect("the next login fetches the JWKS");
}

#[test]
fn a_plain_http_kakao_url_off_loopback_is_refused_at_start_naming_the_variable() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_auth-service"))
        .env_clear()
        .env("KAKAO_CLIENT_ID", "abc")
        .env("KAKAO_AUTH_BASE_URL", "http://kauth.kakao.com")
        .env("METRICS_ADDR", "off")
        .env("AUTH_GRPC_ADDR", "127.0.0.1:0")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run auth-service");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("auth-service: KAKAO_AUTH_BASE_URL: must be https"),
        "{stderr}"
    );
}
