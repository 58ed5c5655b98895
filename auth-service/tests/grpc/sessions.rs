use std::time::Duration;

use auth_proto::v1::RevokeSessionRequest;
use auth_service::persistence::{refresh_tokens, session_rows};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use tonic::Code;

use test_support::{Stack, login, reason, refresh, users, verify};

#[tokio::test]
async fn refreshing_rotates_both_tokens_and_retires_the_old_refresh_token() {
    let stack = Stack::start_with(Default::default(), &[("REFRESH_REUSE_GRACE", "1ms")]).await;
    let first = login(&stack, users::HONG).await;
    let user_id = first.user.unwrap().id;
    let t0 = first.tokens.unwrap();
    let t1 = refresh(&stack, &t0.refresh_token).await.expect("rotation");
    assert_ne!(t1.refresh_token, t0.refresh_token);
    assert_ne!(t1.access_token, t0.access_token);
    assert_eq!(t1.session_id, t0.session_id, "same family");
    assert_eq!(verify(&stack, &t1.access_token).await.unwrap(), user_id);
    let t2 = refresh(&stack, &t1.refresh_token)
        .await
        .expect("second rotation");
    assert_eq!(verify(&stack, &t2.access_token).await.unwrap(), user_id);
    let rows = refresh_tokens::of_session(&stack.auth.core.db.read, &t0.session_id)
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows.iter().filter(|r| r.rotated_at.is_none()).count(),
        1,
        "one live token per family"
    );
}

#[tokio::test]
async fn reuse_after_the_grace_window_revokes_the_whole_family() {
    let stack = Stack::start_with(Default::default(), &[("REFRESH_REUSE_GRACE", "50ms")]).await;
    let t0 = login(&stack, users::HONG).await.tokens.unwrap();
    let t1 = refresh(&stack, &t0.refresh_token).await.unwrap();
    // Deliberate: outlive the 50 ms REFRESH_REUSE_GRACE.
    tokio::time::sleep(Duration::from_millis(120)).await;
    let err = refresh(&stack, &t0.refresh_token).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::Unauthenticated, "token_reused")
    );
    // Every token of the family stops working, the thief's and the victim's.
    let err = refresh(&stack, &t1.refresh_token).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::Unauthenticated, "session_revoked")
    );
    let err = verify(&stack, &t1.access_token).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::Unauthenticated, "session_revoked")
    );
    let family = session_rows::find(&stack.auth.core.db.read, &t0.session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        family.revoked_reason.as_deref(),
        Some("reuse_detected"),
        "recorded"
    );
    // The next login still works.
    let again = login(&stack, users::HONG).await.tokens.unwrap();
    assert!(verify(&stack, &again.access_token).await.is_ok());
}

#[tokio::test]
async fn two_simultaneous_refreshes_inside_the_grace_window_get_the_same_pair() {
    let stack = Stack::start().await;
    let t0 = login(&stack, users::HONG).await.tokens.unwrap();
    let (a, b) = tokio::join!(
        refresh(&stack, &t0.refresh_token),
        refresh(&stack, &t0.refresh_token)
    );
    let (a, b) = (a.expect("first tab"), b.expect("second tab"));
    assert_eq!(a.refresh_token, b.refresh_token, "one rotation, shared");
    let rows = refresh_tokens::of_session(&stack.auth.core.db.read, &t0.session_id)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "exactly one successor");
    // A third presentation inside the window also gets it; the family lives.
    let c = refresh(&stack, &t0.refresh_token).await.unwrap();
    assert_eq!(c.refresh_token, a.refresh_token);
    assert!(refresh(&stack, &a.refresh_token).await.is_ok());
}

#[tokio::test]
async fn logout_then_refresh_is_refused_and_logout_is_idempotent() {
    let stack = Stack::start().await;
    let t0 = login(&stack, users::CAT).await.tokens.unwrap();
    let mut client = stack.auth.client().await;
    client
        .revoke_session(RevokeSessionRequest {
            refresh_token: t0.refresh_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    client
        .revoke_session(RevokeSessionRequest {
            refresh_token: t0.refresh_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    client
        .revoke_session(RevokeSessionRequest {
            refresh_token: "x".repeat(43),
            ..Default::default()
        })
        .await
        .unwrap();
    let err = refresh(&stack, &t0.refresh_token).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::Unauthenticated, "session_revoked")
    );
    let err = verify(&stack, &t0.access_token).await.unwrap_err();
    assert_eq!(reason(&err), "session_revoked");
    let err = client
        .revoke_session(RevokeSessionRequest {
            refresh_token: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn refresh_after_the_family_lifetime_or_with_garbage_is_refused() {
    let stack = Stack::start().await;
    let t0 = login(&stack, users::HONG).await.tokens.unwrap();
    session_rows::Entity::update_many()
        .col_expr(session_rows::Column::ExpiresAt, Expr::value(1i64))
        .filter(session_rows::Column::Id.eq(t0.session_id.clone()))
        .exec(&stack.auth.core.db.write)
        .await
        .unwrap();
    let err = refresh(&stack, &t0.refresh_token).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::Unauthenticated, "session_expired")
    );
    for garbage in ["A".repeat(43), "short".to_owned()] {
        let err = refresh(&stack, &garbage).await.unwrap_err();
        assert_eq!(
            (err.code(), reason(&err)),
            (Code::Unauthenticated, "invalid_token")
        );
    }
    let err = refresh(&stack, "").await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}
