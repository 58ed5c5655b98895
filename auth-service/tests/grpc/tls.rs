//! TLS on the gRPC port with required client certificates, the callers a
//! certificate lets read any user, and a bad TLS file refusing the start.

use std::{process::Command, time::Duration};

use auth_proto::v1::{GetJwksRequest, GetUserRequest, auth_service_client::AuthServiceClient};
use tonic::{Code, transport::ClientTlsConfig};
use tonic_health::pb::health_check_response::ServingStatus;

use test_support::{Stack, TempDir, TestPki, health_status, login, reason, tls::path, users};

/// A GetJwks call over a channel made with `tls`: the error of the
/// handshake or of the call, if any.
async fn call_with(stack: &Stack, tls: ClientTlsConfig) -> Result<(), String> {
    let channel = stack
        .auth
        .channel_with(Some(tls))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut client = AuthServiceClient::new(channel);
    let call = client.get_jwks(GetJwksRequest {});
    match tokio::time::timeout(Duration::from_secs(5), call).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(status)) => Err(format!("call: {status}")),
        Err(_) => panic!("a refused handshake must fail, not hang"),
    }
}

#[tokio::test]
async fn a_client_certificate_of_the_ca_is_served_and_health_answers_over_tls() {
    let stack = Stack::start_tls(&[]).await;
    let pki = stack.pki.as_ref().expect("TLS stack");
    let client = pki.client("internal-service");
    call_with(&stack, pki.client_tls(Some(&client)))
        .await
        .expect("served");
    for service in ["", "auth.v1.AuthService"] {
        let status = health_status(&stack.auth, service).await;
        assert_eq!(status, ServingStatus::Serving, "{service:?}");
    }
}

#[tokio::test]
async fn a_client_without_a_certificate_or_with_one_of_another_ca_is_refused() {
    let stack = Stack::start_tls(&[]).await;
    let pki = stack.pki.as_ref().expect("TLS stack");
    let err = call_with(&stack, pki.client_tls(None)).await.unwrap_err();
    assert!(!err.is_empty());
    let stranger = TestPki::new().client("internal-service");
    let err = call_with(&stack, pki.client_tls(Some(&stranger)))
        .await
        .unwrap_err();
    assert!(!err.is_empty());
    let plain = stack.auth.channel_with(None).await;
    if let Ok(channel) = plain {
        let call = AuthServiceClient::new(channel)
            .get_jwks(GetJwksRequest {})
            .await;
        assert!(call.is_err(), "plain HTTP/2 to a TLS port is not served");
    }
}

#[tokio::test]
async fn a_listed_client_certificate_reads_any_user_and_others_need_the_session() {
    let stack = Stack::start_tls(&[("AUTH_GRPC_ADMIN_CLIENTS", "reports, ops.internal")]).await;
    let pki = stack.pki.as_ref().expect("TLS stack");
    let done = login(&stack, users::HONG).await;
    let id = done.user.unwrap().id;
    let session_id = done.tokens.unwrap().session_id;
    let get = |user_id: &str, session_id: &str| GetUserRequest {
        user_id: user_id.into(),
        session_id: session_id.into(),
    };

    // The stack's own client presents CN `test-client`: not listed.
    let mut unlisted = stack.auth.client().await;
    assert!(unlisted.get_user(get(&id, &session_id)).await.is_ok());
    let err = unlisted.get_user(get(&id, "")).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::PermissionDenied, "caller_not_allowed")
    );

    let reports = pki.client("reports");
    let channel = stack
        .auth
        .channel_with(Some(pki.client_tls(Some(&reports))))
        .await
        .expect("connect as reports");
    let mut listed = AuthServiceClient::new(channel);
    let user = listed
        .get_user(get(&id, ""))
        .await
        .expect("a listed caller reads the user")
        .into_inner()
        .user
        .expect("a user");
    assert_eq!(user.kakao_id, users::HONG.to_string());
    let err = listed.get_user(get("missing", "")).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::NotFound, "user_not_found")
    );
}

#[test]
fn a_bad_tls_file_stops_the_start_with_one_line_naming_the_variable() {
    let pki = TestPki::new();
    let dir = TempDir(std::env::temp_dir().join(format!("auth-tls-cwd-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let not_pem = dir.0.join("not-pem.txt");
    std::fs::write(&not_pem, "not a certificate\n").unwrap();
    let (cert, key, ca) = (
        path(&pki.server.cert_path),
        path(&pki.server.key_path),
        path(&pki.ca_path),
    );
    let missing = path(&dir.0.join("missing.pem"));
    let not_pem = path(&not_pem);
    let other_key = path(&pki.client("someone").key_path);
    let cases: [(&[(&str, &str)], &str); 7] = [
        (&[("AUTH_GRPC_TLS_KEY", &key)], "AUTH_GRPC_TLS_CERT"),
        (
            &[
                ("AUTH_GRPC_TLS_CERT", &cert),
                ("AUTH_GRPC_TLS_KEY", &other_key),
            ],
            "AUTH_GRPC_TLS_KEY",
        ),
        (
            &[
                ("AUTH_GRPC_TLS_CERT", &missing),
                ("AUTH_GRPC_TLS_KEY", &key),
            ],
            "AUTH_GRPC_TLS_CERT",
        ),
        (
            &[
                ("AUTH_GRPC_TLS_CERT", &not_pem),
                ("AUTH_GRPC_TLS_KEY", &key),
            ],
            "AUTH_GRPC_TLS_CERT",
        ),
        (&[("AUTH_GRPC_TLS_CERT", &cert)], "AUTH_GRPC_TLS_KEY"),
        (
            &[("AUTH_GRPC_TLS_CERT", &cert), ("AUTH_GRPC_TLS_KEY", &ca)],
            "AUTH_GRPC_TLS_KEY",
        ),
        (
            &[
                ("AUTH_GRPC_TLS_CERT", &cert),
                ("AUTH_GRPC_TLS_KEY", &key),
                ("AUTH_GRPC_CLIENT_CA", &not_pem),
            ],
            "AUTH_GRPC_CLIENT_CA",
        ),
    ];
    for (vars, variable) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_auth-service"))
            .current_dir(&dir.0)
            .env_clear()
            .env("KAKAO_CLIENT_ID", "abc")
            .env("DATABASE_URL", "sqlite::memory:")
            .env("AUTH_GRPC_ADDR", "127.0.0.1:0")
            .env("METRICS_ADDR", "off")
            .envs(vars.iter().copied())
            .output()
            .expect("run auth-service");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{vars:?}: {stderr}");
        let prefix = format!("auth-service: {variable}: ");
        assert!(
            stderr.starts_with(&prefix) && stderr.trim_end().lines().count() == 1,
            "{vars:?}: {stderr}"
        );
    }
}
