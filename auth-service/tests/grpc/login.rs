use std::time::Duration;

use auth_proto::v1::{BuildLoginUrlRequest, CompleteLoginRequest, CompleteLoginResponse};
use auth_service::{
    domain::{BrowserBinding, LoginAttempt},
    persistence::{login_state_claims, now_ms, refresh_tokens, users as user_rows},
};
use kakao_emulator::{EmulatorConfig, Endpoint, Fault};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, Statement};
use tonic::Code;

use test_support::{
    AuthHandle, CLIENT_ID, FRONTEND_URL, REDIRECT_URI, Stack, consent, login, query, reason,
    settings, start_login, users,
};

async fn complete(
    stack: &Stack,
    code: &str,
    state: &str,
    binding: &str,
) -> Result<CompleteLoginResponse, tonic::Status> {
    let mut client = stack.auth.client().await;
    client
        .complete_login(CompleteLoginRequest {
            code: code.into(),
            state: state.into(),
            binding: binding.into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

async fn user_count(stack: &Stack) -> u64 {
    user_rows::Entity::find()
        .count(&stack.auth.core.db.read)
        .await
        .unwrap()
}

/// The row count of every table in the database (whatever tables later
/// migrations add).
async fn row_counts(stack: &Stack) -> Vec<(String, i64)> {
    let db = &stack.auth.core.db.read;
    let backend = db.get_database_backend();
    let list = match backend {
        DbBackend::Postgres => {
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table'",
    };
    let mut counts = Vec::new();
    for row in db
        .query_all_raw(Statement::from_string(backend, list))
        .await
        .unwrap()
    {
        let table: String = row.try_get("", "name").unwrap();
        let count = db
            .query_one_raw(Statement::from_string(
                backend,
                format!(r#"SELECT COUNT(*) AS n FROM "{table}""#),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap();
        counts.push((table, count));
    }
    counts.sort();
    counts
}

#[tokio::test]
async fn the_authorize_url_carries_every_parameter_kakao_needs() {
    let stack = Stack::start().await;
    let started = start_login(&stack, "/dashboard").await;
    let q = query(&started.url);
    assert!(
        started
            .url
            .starts_with(&format!("{}/oauth/authorize?", stack.kakao.base_url()))
    );
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["redirect_uri"], REDIRECT_URI);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert!(q["state"].len() > 130, "a sealed attempt");
    assert!(!q["nonce"].is_empty());
    assert_eq!(started.binding.len(), 43);
    assert!(
        !started.url.contains(&started.binding),
        "the binding never leaves in a URL"
    );
}

#[tokio::test]
async fn a_new_user_registers_and_a_returning_user_logs_in_to_the_same_row() {
    let stack = Stack::start().await;
    let first = login(&stack, users::HONG).await;
    let user = first.user.clone().unwrap();
    assert!(first.new_user);
    assert_eq!(first.return_to, format!("{FRONTEND_URL}dashboard"));
    assert_eq!(user.kakao_id, users::HONG.to_string());
    assert_eq!(user.nickname, "홍길동 🙂");
    assert_eq!(user.email, "hong@example.com");
    let tokens = first.tokens.unwrap();
    assert_eq!(tokens.access_expires_in, 15 * 60);
    assert_eq!(tokens.refresh_token.len(), 43);
    let seen = stack.kakao.control().last_token_request().unwrap();
    assert!(seen.had_code_verifier, "PKCE verifier sent");
    assert!(!seen.had_client_secret);

    // Deliberate: let the clock move on between the two logins.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let second = login(&stack, users::HONG).await;
    assert!(!second.new_user);
    let again = second.user.unwrap();
    assert_eq!(again.id, user.id, "same row");
    assert!(again.last_login_at >= user.last_login_at);
    assert_eq!(user_count(&stack).await, 1);
}

#[tokio::test]
async fn email_is_stored_only_when_kakao_says_it_is_valid() {
    let stack = Stack::start().await;
    let kim = login(&stack, users::KIM).await.user.unwrap();
    assert_eq!(kim.email, "", "invalid e-mail is not kept");
    let cat = login(&stack, users::CAT).await.user.unwrap();
    assert_eq!(cat.email, "");
    assert_eq!(cat.nickname, "🐱 고양이 😺");
    let default = login(&stack, users::DEFAULT).await.user.unwrap();
    assert_eq!(default.profile_image_url, "", "default images are not kept");
    assert_eq!(user_count(&stack).await, 3);
}

#[tokio::test]
async fn a_reused_state_is_refused_without_calling_kakao_again() {
    let stack = Stack::start().await;
    let started = start_login(&stack, "").await;
    let q = query(&consent(&started.url, users::HONG, true).await);
    complete(&stack, &q["code"], &q["state"], &started.binding)
        .await
        .expect("first use");
    let calls = stack.kakao.control().calls(Endpoint::Token);
    let err = complete(&stack, &q["code"], &q["state"], &started.binding)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "invalid_state");
    assert_eq!(
        stack.kakao.control().calls(Endpoint::Token),
        calls,
        "no token call for a reused state"
    );
}

#[tokio::test]
async fn a_forged_state_is_refused_without_calling_kakao() {
    let stack = Stack::start().await;
    let started = start_login(&stack, "").await;
    let q = query(&consent(&started.url, users::HONG, true).await);
    for forged in ["A".repeat(43), "not-a-state".to_owned(), String::new()] {
        let err = complete(&stack, &q["code"], &forged, &started.binding)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition, "{forged}");
        assert_eq!(reason(&err), "invalid_state");
    }
    assert_eq!(stack.kakao.control().calls(Endpoint::Token), 0);
}

#[tokio::test]
async fn a_state_presented_by_another_browser_is_refused_and_stays_its_owners() {
    let stack = Stack::start().await;
    let started = start_login(&stack, "").await;
    let q = query(&consent(&started.url, users::HONG, true).await);
    let other = start_login(&stack, "").await.binding;
    for binding in [other.as_str(), ""] {
        let err = complete(&stack, &q["code"], &q["state"], binding)
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), reason(&err)),
            (Code::FailedPrecondition, "invalid_state")
        );
    }
    assert_eq!(stack.kakao.control().calls(Endpoint::Token), 0);
    // A mis-bound presentation does not claim the state: someone who saw
    // the callback URL cannot spoil the owner's login.
    complete(&stack, &q["code"], &q["state"], &started.binding)
        .await
        .expect("the owner completes");
}

#[tokio::test]
async fn an_expired_attempt_is_refused_without_calling_kakao() {
    let stack = Stack::start().await;
    let started = start_login(&stack, "").await;
    let q = query(&consent(&started.url, users::HONG, true).await);
    let binding = BrowserBinding::parse(&started.binding).unwrap();
    let expired = stack.auth.core.state_sealer.seal(&LoginAttempt::new(
        now_ms() - 1,
        binding.hash(),
        FRONTEND_URL.into(),
        auth_service::providers::Provider::Kakao,
        None,
    ));
    let err = complete(&stack, &q["code"], expired.expose(), &started.binding)
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::FailedPrecondition, "login_expired")
    );
    assert_eq!(stack.kakao.control().calls(Endpoint::Token), 0);
}

#[tokio::test]
async fn starting_logins_writes_nothing_to_the_database() {
    let stack = Stack::start().await;
    let before = row_counts(&stack).await;
    assert!(before.iter().any(|(t, _)| t == "login_state_claims"));
    for _ in 0..20 {
        start_login(&stack, "/dashboard").await;
    }
    assert_eq!(row_counts(&stack).await, before);
}

#[tokio::test]
async fn a_tampered_or_foreign_state_is_refused_without_calling_kakao() {
    let stack = Stack::start().await;
    let started = start_login(&stack, "").await;
    let q = query(&consent(&started.url, users::HONG, true).await);
    let state = q["state"].clone();
    let mut tampered = Vec::new();
    for i in [0, 3, 20, state.len() / 2, state.len() - 1] {
        let mut b = state.clone().into_bytes();
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        tampered.push(String::from_utf8(b).unwrap());
    }
    tampered.push(state[..state.len() - 4].to_owned());
    // A state sealed by another deployment (another database, another key).
    let other = Stack::start().await;
    let foreign = start_login(&other, "").await;
    tampered.push(foreign.state);
    for bad in &tampered {
        let err = complete(&stack, &q["code"], bad, &started.binding)
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), reason(&err)),
            (Code::FailedPrecondition, "invalid_state"),
            "{bad}"
        );
    }
    assert_eq!(stack.kakao.control().calls(Endpoint::Token), 0);
    complete(&stack, &q["code"], &state, &started.binding)
        .await
        .expect("the untampered state still works");
}

#[tokio::test]
async fn a_service_sharing_the_database_accepts_the_states_of_another() {
    let stack = Stack::start().await;
    let second = AuthHandle::start(settings(&stack.db.url, &stack.kakao.base_url(), &[])).await;
    let started = start_login(&stack, "/x").await;
    let q = query(&consent(&started.url, users::HONG, true).await);
    let mut client = second.client().await;
    let done = client
        .complete_login(CompleteLoginRequest {
            code: q["code"].clone(),
            state: q["state"].clone(),
            binding: started.binding.clone(),
            ..Default::default()
        })
        .await
        .expect("the second service completes the first one's login")
        .into_inner();
    assert_eq!(done.return_to, format!("{FRONTEND_URL}x"));
    let err = complete(&stack, &q["code"], &q["state"], &started.binding)
        .await
        .unwrap_err();
    assert_eq!(
        reason(&err),
        "invalid_state",
        "claimed once across services"
    );
}

#[tokio::test]
async fn claims_of_expired_states_are_purged() {
    let stack = Stack::start().await;
    let db = &stack.auth.core.db.write;
    let now = now_ms();
    assert!(login_state_claims::claim(db, "old", now - 1).await.unwrap());
    assert!(
        login_state_claims::claim(db, "live", now + 60_000)
            .await
            .unwrap()
    );
    assert!(
        !login_state_claims::claim(db, "live", now + 60_000)
            .await
            .unwrap()
    );
    assert_eq!(
        login_state_claims::purge_expired(db, now, 100)
            .await
            .unwrap(),
        1
    );
    let left: Vec<_> = login_state_claims::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.state_id)
        .collect();
    assert_eq!(left, ["live"]);
}

#[tokio::test]
async fn malformed_input_is_invalid_argument() {
    let stack = Stack::start().await;
    let mut client = stack.auth.client().await;
    let err = client
        .build_login_url(BuildLoginUrlRequest {
            return_to: "https://evil.example/".into(),
            binding: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::InvalidArgument, "invalid_return_to")
    );
    let err = client
        .build_login_url(BuildLoginUrlRequest {
            return_to: String::new(),
            binding: "short".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::InvalidArgument, "invalid_binding")
    );
    let started = start_login(&stack, "").await;
    let err = complete(&stack, "", &started.state, &started.binding)
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::InvalidArgument, "invalid_request")
    );
    let err = complete(&stack, "has space", &started.state, &started.binding)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn an_absolute_return_to_on_an_allowed_origin_is_kept() {
    let stack = Stack::start().await;
    let mut client = stack.auth.client().await;
    let started = client
        .build_login_url(BuildLoginUrlRequest {
            return_to: "https://admin.example.com/users?page=2".into(),
            binding: String::new(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let q = query(&consent(&started.authorize_url, users::CAT, true).await);
    let done = complete(&stack, &q["code"], &q["state"], &started.binding)
        .await
        .unwrap();
    assert_eq!(done.return_to, "https://admin.example.com/users?page=2");
}

/// Runs a login whose Kakao call fails as configured; returns the status.
async fn login_with_fault(stack: &Stack, endpoint: Endpoint, fault: Fault) -> tonic::Status {
    let started = start_login(stack, "").await;
    let q = query(&consent(&started.url, users::HONG, true).await);
    stack.kakao.control().set_fault(endpoint, fault);
    let err = complete(stack, &q["code"], &q["state"], &started.binding)
        .await
        .unwrap_err();
    stack.kakao.control().clear_faults();
    err
}

#[tokio::test]
async fn kakao_token_endpoint_failures_become_precise_statuses() {
    let stack = Stack::start().await;
    let cases = [
        (
            Fault::Status {
                status: 400,
                body: serde_json::json!({"error":"invalid_grant","error_description":"authorization code not found","error_code":"KOE320"}),
            },
            Code::FailedPrecondition,
            "kakao_rejected",
        ),
        (
            Fault::Status {
                status: 400,
                body: serde_json::json!({"error":"invalid_grant","error_code":"KOE303"}),
            },
            Code::FailedPrecondition,
            "kakao_rejected",
        ),
        (
            Fault::Status {
                status: 503,
                body: serde_json::json!({}),
            },
            Code::Unavailable,
            "kakao_unavailable",
        ),
        (
            Fault::Status {
                status: 400,
                body: serde_json::json!({"error":"invalid_request","error_code":"KOE237"}),
            },
            Code::Unavailable,
            "kakao_unavailable",
        ),
        (
            Fault::Delay(Duration::from_secs(3)),
            Code::Unavailable,
            "kakao_unavailable",
        ),
        (Fault::Hang, Code::Unavailable, "kakao_unavailable"),
        (Fault::Garbage, Code::Unavailable, "kakao_unavailable"),
    ];
    for (fault, code, why) in cases {
        let label = format!("{fault:?}");
        let err = login_with_fault(&stack, Endpoint::Token, fault).await;
        assert_eq!((err.code(), reason(&err)), (code, why), "{label}");
        assert!(
            !err.message().contains("KOE"),
            "no Kakao detail crosses the wire: {}",
            err.message()
        );
    }
    assert_eq!(user_count(&stack).await, 0);
}

#[tokio::test]
async fn kakao_user_endpoint_failures_become_precise_statuses() {
    let stack = Stack::start().await;
    let cases = [
        (
            Fault::Status {
                status: 401,
                body: serde_json::json!({"msg":"this access token does not exist","code":-401}),
            },
            Code::FailedPrecondition,
        ),
        (
            Fault::Status {
                status: 503,
                body: serde_json::json!({"msg":"maintenance","code":-9798}),
            },
            Code::Unavailable,
        ),
        (Fault::Delay(Duration::from_secs(3)), Code::Unavailable),
        (Fault::Garbage, Code::Unavailable),
    ];
    for (fault, code) in cases {
        let label = format!("{fault:?}");
        let err = login_with_fault(&stack, Endpoint::UserMe, fault).await;
        assert_eq!(err.code(), code, "{label}");
    }
    assert_eq!(user_count(&stack).await, 0);
}

#[tokio::test]
async fn kakao_unreachable_is_unavailable() {
    let stack = Stack::start().await;
    let started = start_login(&stack, "").await;
    let q = query(&consent(&started.url, users::HONG, true).await);
    let mut stack = stack;
    let kakao = std::mem::replace(
        &mut stack.kakao,
        kakao_emulator::start(EmulatorConfig::default(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap(),
    );
    kakao.shutdown().await;
    let err = complete(&stack, &q["code"], &q["state"], &started.binding)
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::Unavailable, "kakao_unavailable")
    );
}

#[tokio::test]
async fn a_client_secret_kakao_requires_but_we_lack_is_an_internal_misconfiguration() {
    let config = EmulatorConfig {
        client_secret: Some("emulator-secret".into()),
        ..EmulatorConfig::default()
    };
    let stack = Stack::start_with(config, &[]).await;
    let started = start_login(&stack, "").await;
    let q = query(&consent(&started.url, users::HONG, true).await);
    let err = complete(&stack, &q["code"], &q["state"], &started.binding)
        .await
        .unwrap_err();
    assert_eq!((err.code(), reason(&err)), (Code::Internal, "server_error"));
    assert_eq!(err.message(), "internal error");
}

#[tokio::test]
async fn the_client_secret_is_sent_when_configured() {
    let config = EmulatorConfig {
        client_secret: Some("emulator-secret".into()),
        ..EmulatorConfig::default()
    };
    let stack = Stack::start_with(config, &[("KAKAO_CLIENT_SECRET", "emulator-secret")]).await;
    let done = login(&stack, users::HONG).await;
    assert!(done.new_user);
    assert!(
        stack
            .kakao
            .control()
            .last_token_request()
            .unwrap()
            .had_client_secret
    );
}

#[tokio::test]
async fn two_simultaneous_first_logins_of_one_kakao_user_make_one_row() {
    let stack = Stack::start().await;
    let mut pending = Vec::new();
    for _ in 0..4 {
        let started = start_login(&stack, "").await;
        let q = query(&consent(&started.url, users::HONG, true).await);
        pending.push((q["code"].clone(), q["state"].clone(), started.binding));
    }
    let results = futures_join(&stack, pending).await;
    let ids: std::collections::HashSet<_> =
        results.iter().map(|r| r.user.clone().unwrap().id).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(
        results.iter().filter(|r| r.new_user).count(),
        1,
        "exactly one registration"
    );
    assert_eq!(user_count(&stack).await, 1);
}

async fn futures_join(
    stack: &Stack,
    pending: Vec<(String, String, String)>,
) -> Vec<CompleteLoginResponse> {
    let mut tasks = Vec::new();
    for (code, state, binding) in pending {
        let mut client = stack.auth.client().await;
        tasks.push(tokio::spawn(async move {
            client
                .complete_login(CompleteLoginRequest {
                    code,
                    state,
                    binding,
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner())
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap().expect("concurrent login succeeds"));
    }
    out
}

#[tokio::test]
async fn the_database_holds_no_raw_binding_state_or_refresh_token() {
    let stack = Stack::start().await;
    let started = start_login(&stack, "").await;
    let q = query(&consent(&started.url, users::HONG, true).await);
    let done = complete(&stack, &q["code"], &q["state"], &started.binding)
        .await
        .unwrap();
    let tokens = done.tokens.unwrap();
    let rows = refresh_tokens::of_session(&stack.auth.core.db.read, &tokens.session_id)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_ne!(rows[0].token_hash, tokens.refresh_token);
    assert!(!format!("{rows:?}").contains(&tokens.refresh_token));
    let claims = login_state_claims::Entity::find()
        .all(&stack.auth.core.db.read)
        .await
        .unwrap();
    assert_eq!(claims.len(), 1, "the state is claimed");
    let claimed = &claims[0].state_id;
    assert!(
        !started.state.contains(claimed.as_str()),
        "only the sealed id"
    );
    assert!(!claimed.contains(&started.binding));
}
