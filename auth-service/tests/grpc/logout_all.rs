//! Ending sessions without the refresh token: RevokeSession by the access
//! token's session, and RevokeAllSessions ("log out everywhere").

use auth_proto::v1::{RevokeAllSessionsRequest, RevokeSessionRequest};
use auth_service::persistence::revocations;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tonic::Code;

use test_support::{Stack, login, reason, refresh, users, verify};

async fn revoke_all(stack: &Stack, user_id: &str, session_id: &str) -> Result<i64, tonic::Status> {
    stack
        .auth
        .client()
        .await
        .revoke_all_sessions(RevokeAllSessionsRequest {
            user_id: user_id.into(),
            session_id: session_id.into(),
        })
        .await
        .map(|r| r.into_inner().sessions_revoked)
}

#[tokio::test]
async fn logout_with_only_the_access_token_ends_its_session() {
    let stack = Stack::start().await;
    let t = login(&stack, users::HONG).await.tokens.unwrap();
    let other = login(&stack, users::HONG).await.tokens.unwrap();
    stack
        .auth
        .client()
        .await
        .revoke_session(RevokeSessionRequest {
            refresh_token: String::new(),
            access_token: t.access_token.clone(),
        })
        .await
        .expect("RevokeSession");
    let err = refresh(&stack, &t.refresh_token).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::Unauthenticated, "session_revoked")
    );
    assert_eq!(
        reason(&verify(&stack, &t.access_token).await.unwrap_err()),
        "session_revoked"
    );
    assert!(
        refresh(&stack, &other.refresh_token).await.is_ok(),
        "the user's other session lives on"
    );
    // A forged or garbled access token names no session: still a success.
    let mut client = stack.auth.client().await;
    for access_token in ["not-a-jwt", "a.b.c"] {
        client
            .revoke_session(RevokeSessionRequest {
                refresh_token: String::new(),
                access_token: access_token.into(),
            })
            .await
            .expect("idempotent");
    }
    let err = client
        .revoke_session(RevokeSessionRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::InvalidArgument, "invalid_request")
    );
}

#[tokio::test]
async fn revoke_all_sessions_ends_every_session_of_the_user_and_logs_the_user() {
    let stack = Stack::start().await;
    let first = login(&stack, users::HONG).await;
    let user_id = first.user.unwrap().id;
    let a = first.tokens.unwrap();
    let b = login(&stack, users::HONG).await.tokens.unwrap();
    let other = login(&stack, users::CAT).await.tokens.unwrap();

    assert_eq!(
        revoke_all(&stack, &user_id, &a.session_id).await.unwrap(),
        2
    );
    for t in [&a, &b] {
        let err = refresh(&stack, &t.refresh_token).await.unwrap_err();
        assert_eq!(reason(&err), "session_revoked");
        let err = verify(&stack, &t.access_token).await.unwrap_err();
        assert_eq!(reason(&err), "session_revoked");
    }
    assert!(refresh(&stack, &other.refresh_token).await.is_ok());
    let logged = revocations::Entity::find()
        .filter(revocations::Column::UserId.eq(user_id.as_str()))
        .all(&stack.auth.core.db.read)
        .await
        .unwrap();
    let kinds: Vec<&str> = logged.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["session", "session", "user"]);

    // Again, by an internal service (no session): nothing live is left.
    assert_eq!(revoke_all(&stack, &user_id, "").await.unwrap(), 0);
}

#[tokio::test]
async fn revoke_all_sessions_refuses_an_ended_session_an_unknown_user_and_bad_ids() {
    let stack = Stack::start().await;
    let first = login(&stack, users::HONG).await;
    let user_id = first.user.unwrap().id;
    let t = first.tokens.unwrap();
    let live = login(&stack, users::HONG).await.tokens.unwrap();
    stack
        .auth
        .client()
        .await
        .revoke_session(RevokeSessionRequest {
            refresh_token: t.refresh_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap();

    let refused = |r: Result<i64, tonic::Status>| {
        let e = r.unwrap_err();
        (e.code(), reason(&e).to_owned())
    };
    assert_eq!(
        refused(revoke_all(&stack, &user_id, &t.session_id).await),
        (Code::Unauthenticated, "session_revoked".into()),
        "a token of an ended session cannot end the others"
    );
    assert!(refresh(&stack, &live.refresh_token).await.is_ok());
    assert_eq!(
        refused(revoke_all(&stack, "00000000-0000-4000-8000-000000000000", "").await),
        (Code::NotFound, "user_not_found".into())
    );
    assert_eq!(
        refused(revoke_all(&stack, "", "").await),
        (Code::InvalidArgument, "invalid_request".into())
    );
    assert_eq!(
        refused(revoke_all(&stack, &user_id, &"s".repeat(65)).await),
        (Code::InvalidArgument, "invalid_request".into())
    );
}
