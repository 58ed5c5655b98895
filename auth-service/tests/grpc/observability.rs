//! Metrics port, request ids in logs, readiness that follows the database,
//! and the request size limit.

use std::time::Duration;

use auth_proto::v1::{
    BuildLoginUrlRequest, CompleteLoginRequest, GetJwksRequest, RefreshSessionRequest,
    VerifyAccessTokenRequest,
};
use sea_orm::TransactionTrait;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

use test_support::{
    LogCapture, Stack, consent, health_status, http, login, poll, query, start_login, users,
};

fn with_request_id<T>(message: T, id: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("x-request-id", id.parse().unwrap());
    request
}

#[tokio::test]
async fn the_metrics_port_shows_rpcs_kakao_calls_logins_and_refreshes() {
    let stack = Stack::start().await;
    let done = login(&stack, users::HONG).await;
    let tokens = done.tokens.unwrap();
    let mut client = stack.auth.client().await;
    let rotated = client
        .refresh_session(RefreshSessionRequest {
            refresh_token: tokens.refresh_token.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();

    let addr = stack.auth.metrics_addr.unwrap();
    let res = http()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = res.text().await.unwrap();
    for needle in [
        r#"auth_rpc_duration_seconds_count{method="BuildLoginUrl",code="OK"} 1"#,
        r#"auth_rpc_duration_seconds_count{method="CompleteLogin",code="OK"} 1"#,
        r#"auth_rpc_duration_seconds_count{method="RefreshSession",code="OK"} 1"#,
        r#"auth_rpc_duration_seconds_bucket{method="CompleteLogin",code="OK",le="+Inf"} 1"#,
        "auth_rpc_in_flight 0",
        r#"auth_provider_request_duration_seconds_count{provider="kakao",endpoint="token",outcome="ok"} 1"#,
        r#"auth_provider_request_duration_seconds_count{provider="kakao",endpoint="user_me",outcome="ok"} 1"#,
        r#"auth_logins_total{provider="kakao",user="new"} 1"#,
        r#"auth_logins_total{provider="kakao",user="returning"} 0"#,
        r#"auth_refresh_total{outcome="rotated"} 1"#,
        r#"auth_refresh_total{outcome="reuse_detected"} 0"#,
    ] {
        assert!(text.contains(needle), "{needle} missing in\n{text}");
    }
    for secret in [
        &tokens.access_token,
        &tokens.refresh_token,
        &rotated.refresh_token,
    ] {
        assert!(!text.contains(secret.as_str()));
    }
}

#[tokio::test]
async fn a_refused_rpc_is_counted_under_its_grpc_code() {
    let stack = Stack::start().await;
    let mut client = stack.auth.client().await;
    let err = client
        .complete_login(CompleteLoginRequest {
            code: "some-code".into(),
            state: "forged-state-forged-state-forged".into(),
            binding: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let text = stack.auth.scrape_metrics().await;
    assert!(
        text.contains(
            r#"auth_rpc_duration_seconds_count{method="CompleteLogin",code="FailedPrecondition"} 1"#
        ),
        "{text}"
    );
}

#[tokio::test]
async fn the_metrics_port_can_be_turned_off() {
    let stack = Stack::start_with(Default::default(), &[("METRICS_ADDR", "off")]).await;
    assert_eq!(stack.auth.metrics_addr, None);
    assert!(
        stack
            .auth
            .client()
            .await
            .get_jwks(GetJwksRequest {})
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn the_callers_request_id_is_echoed_and_a_malformed_one_replaced() {
    let stack = Stack::start().await;
    let mut client = stack.auth.client().await;
    let res = client
        .get_jwks(with_request_id(GetJwksRequest {}, "edge-7f3a.1_B"))
        .await
        .unwrap();
    assert_eq!(res.metadata().get("x-request-id").unwrap(), "edge-7f3a.1_B");
    let res = client
        .get_jwks(with_request_id(GetJwksRequest {}, "a b<script>"))
        .await
        .unwrap();
    let generated = res
        .metadata()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(uuid::Uuid::parse_str(generated).is_ok(), "{generated}");
}

/// The test runs on tokio's current-thread runtime, so the server's tasks
/// log through this thread's default subscriber (the JSON format of
/// `LOG_FORMAT=json`, at debug).
#[tokio::test]
async fn every_log_line_of_an_rpc_carries_its_request_id_and_no_secret() {
    let captured = LogCapture::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let stack = Stack::start().await;
    let started = start_login(&stack, "/dashboard").await;
    let q = query(&consent(&started.url, users::HONG, true).await);
    let mut client = stack.auth.client().await;
    let done = client
        .complete_login(with_request_id(
            CompleteLoginRequest {
                code: q["code"].clone(),
                state: q["state"].clone(),
                binding: started.binding.clone(),
                ..Default::default()
            },
            "login-req-1",
        ))
        .await
        .unwrap()
        .into_inner();
    let tokens = done.tokens.unwrap();

    let logs = captured.text();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let completed = lines
        .iter()
        .find(|l| l["fields"]["message"] == "login completed")
        .unwrap_or_else(|| panic!("no login line in\n{logs}"));
    assert_eq!(completed["span"]["name"], "CompleteLogin");
    assert_eq!(completed["span"]["request_id"], "login-req-1");
    let outcome = lines
        .iter()
        .find(|l| {
            l["fields"]["message"] == "rpc finished" && l["fields"]["method"] == "CompleteLogin"
        })
        .unwrap_or_else(|| panic!("no outcome line in\n{logs}"));
    assert_eq!(outcome["fields"]["request_id"], "login-req-1");
    assert_eq!(outcome["fields"]["code"], "OK");
    assert!(outcome["fields"]["duration_ms"].is_number());
    for secret in [
        q["code"].as_str(),
        q["state"].as_str(),
        started.binding.as_str(),
        tokens.access_token.as_str(),
        tokens.refresh_token.as_str(),
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
}

/// A verification answered from the cache runs without a span of its own
/// (it logs nothing); its id is still echoed, the call counted and the
/// outcome line logged with the id.
#[tokio::test]
async fn a_verification_answered_from_the_cache_is_echoed_counted_and_logged_with_its_id() {
    let captured = LogCapture::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let stack = Stack::start().await;
    let access_token = login(&stack, users::HONG)
        .await
        .tokens
        .unwrap()
        .access_token;
    poll(Duration::from_secs(5), || async {
        stack
            .auth
            .core
            .revocations
            .healthy()
            .then_some(())
            .ok_or(())
    })
    .await
    .expect("the revocation feed becomes healthy");

    let mut client = stack.auth.client().await;
    for id in ["verify-1", "verify-2"] {
        let request = VerifyAccessTokenRequest {
            access_token: access_token.clone(),
        };
        let res = client
            .verify_access_token(with_request_id(request, id))
            .await
            .unwrap();
        assert_eq!(res.metadata().get("x-request-id").unwrap(), id);
        assert!(!stack.auth.core.revocations.tokens.is_empty());
    }

    let text = stack.auth.scrape_metrics().await;
    let needle = r#"auth_rpc_duration_seconds_count{method="VerifyAccessToken",code="OK"} 2"#;
    assert!(text.contains(needle), "{needle} missing in\n{text}");
    let logs = captured.text();
    let outcome_ids: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("one JSON object per line"))
        .filter(|l| {
            l["fields"]["message"] == "rpc finished" && l["fields"]["method"] == "VerifyAccessToken"
        })
        .map(|l| l["fields"]["request_id"].clone())
        .collect();
    assert_eq!(outcome_ids, ["verify-1", "verify-2"], "{logs}");
    assert!(!logs.contains(&access_token), "the token reached the logs");
}

#[tokio::test]
async fn an_oversized_request_is_refused_with_a_clean_status() {
    let stack = Stack::start().await;
    let mut client = stack.auth.client().await;
    let err = client
        .build_login_url(BuildLoginUrlRequest {
            return_to: format!("/{}", "a".repeat(70 * 1024)),
            binding: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err.code(), Code::OutOfRange | Code::ResourceExhausted),
        "{err:?}"
    );
    // The server is unharmed and the refusal is measured.
    assert!(client.get_jwks(GetJwksRequest {}).await.is_ok());
    let text = stack.auth.scrape_metrics().await;
    let code = if err.code() == Code::OutOfRange {
        "OutOfRange"
    } else {
        "ResourceExhausted"
    };
    let needle =
        format!(r#"auth_rpc_duration_seconds_count{{method="BuildLoginUrl",code="{code}"}} 1"#);
    assert!(text.contains(&needle), "{needle} missing in\n{text}");
}

/// Polls both health names until they report `want` (or fails after 5 s).
async fn wait_for_health(stack: &Stack, want: ServingStatus) {
    poll(Duration::from_secs(5), || async move {
        let now = [
            health_status(&stack.auth, "auth.v1.AuthService").await,
            health_status(&stack.auth, "").await,
        ];
        if now == [want, want] {
            Ok(())
        } else {
            Err(now)
        }
    })
    .await
    .unwrap_or_else(|now| panic!("health is {now:?}, want {want:?}"));
}

/// Closing the service's own pool makes every ping fail for good
/// (`PoolClosed`), on SQLite and PostgreSQL alike.
#[tokio::test]
async fn readiness_turns_not_serving_when_the_database_is_gone() {
    let stack = Stack::start_with(Default::default(), &[("DB_PING_INTERVAL", "100ms")]).await;
    wait_for_health(&stack, ServingStatus::Serving).await;
    stack.auth.core.db.clone().close().await.unwrap();
    wait_for_health(&stack, ServingStatus::NotServing).await;
}

/// Holding every pooled connection makes the ping time out (a database
/// that cannot answer within the ping timeout counts as down); releasing
/// them brings readiness back.
#[tokio::test]
async fn readiness_comes_back_when_the_database_answers_again() {
    let stack = Stack::start_with(Default::default(), &[("DB_PING_INTERVAL", "100ms")]).await;
    wait_for_health(&stack, ServingStatus::Serving).await;
    // Writes queue on `db.write` (one connection on SQLite): holding it is
    // enough for the readiness ping to time out.
    let db = &stack.auth.core.db.write;
    let mut held = Vec::new();
    while let Ok(txn) = tokio::time::timeout(Duration::from_millis(300), db.begin()).await {
        held.push(txn.unwrap());
        assert!(held.len() <= 64, "the pool never ran out");
    }
    wait_for_health(&stack, ServingStatus::NotServing).await;
    drop(held);
    wait_for_health(&stack, ServingStatus::Serving).await;
}
