use auth_proto::v1::{
    BuildLoginUrlRequest, CompleteLoginRequest, GetUserRequest, RefreshSessionRequest,
    VerifyAccessTokenRequest,
};
use kakao_emulator::EmulatorConfig;

use test_support::{AuthHandle, TestDb, consent, query, settings, start_emulator, users};

/// Two replicas on one database, started at the same moment (so their
/// migrations and first-key creation race), mixed within every flow.
#[tokio::test]
async fn replicas_sharing_a_database_serve_each_others_logins_sessions_and_tokens() {
    let kakao = start_emulator(EmulatorConfig::default()).await;
    let db = TestDb::new().await;
    let (a, b) = tokio::join!(
        AuthHandle::start(settings(&db.url, &kakao.base_url(), &[])),
        AuthHandle::start(settings(&db.url, &kakao.base_url(), &[]))
    );
    let (mut ca, mut cb) = (a.client().await, b.client().await);

    // Login started on A, completed on B.
    let started = ca
        .build_login_url(BuildLoginUrlRequest {
            return_to: "/x".into(),
            binding: String::new(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let q = query(&consent(&started.authorize_url, users::HONG, true).await);
    let done = cb
        .complete_login(CompleteLoginRequest {
            code: q["code"].clone(),
            state: q["state"].clone(),
            binding: started.binding,
            ..Default::default()
        })
        .await
        .expect("B completes A's login")
        .into_inner();
    let tokens = done.tokens.unwrap();

    // A token signed by B verifies on A, even if A cached its keys before B
    // created one (an unknown kid triggers a reload).
    for client in [&mut ca, &mut cb] {
        client
            .verify_access_token(VerifyAccessTokenRequest {
                access_token: tokens.access_token.clone(),
            })
            .await
            .expect("either replica verifies");
    }
    // Refresh issued by B, rotated on A, then rotated again on B.
    let r1 = ca
        .refresh_session(RefreshSessionRequest {
            refresh_token: tokens.refresh_token,
        })
        .await
        .expect("A rotates B's session")
        .into_inner()
        .tokens
        .unwrap();
    let r2 = cb
        .refresh_session(RefreshSessionRequest {
            refresh_token: r1.refresh_token,
        })
        .await
        .expect("B rotates A's rotation")
        .into_inner()
        .tokens
        .unwrap();
    let user = ca
        .get_user(GetUserRequest {
            user_id: done.user.unwrap().id,
            session_id: r2.session_id,
        })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(user.nickname, "홍길동 🙂");
    a.stop().await;
    b.stop().await;
}
