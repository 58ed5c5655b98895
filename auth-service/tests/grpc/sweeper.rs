//! The sweeper against a real database (SQLite, or PostgreSQL with
//! `TEST_DATABASE_URL`): ended sessions, expired refresh tokens and spent
//! login-state claims are deleted; live families keep what reuse detection
//! needs.

use std::time::Duration;

use auth_proto::v1::RevokeSessionRequest;
use auth_service::{
    persistence::{login_state_claims, now_ms, refresh_tokens, session_rows},
    sweeper::{self, BATCH, Swept},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, sea_query::Expr,
};
use tonic::Code;

use test_support::{Stack, login, reason, refresh, users, wait_until};

async fn logout(stack: &Stack, refresh_token: &str) {
    stack
        .auth
        .client()
        .await
        .revoke_session(RevokeSessionRequest {
            refresh_token: refresh_token.into(),
            ..Default::default()
        })
        .await
        .expect("RevokeSession");
}

/// (sessions, refresh tokens, claims) rows in the database.
async fn counts(db: &impl ConnectionTrait) -> (u64, u64, u64) {
    (
        session_rows::Entity::find().count(db).await.unwrap(),
        refresh_tokens::Entity::find().count(db).await.unwrap(),
        login_state_claims::Entity::find().count(db).await.unwrap(),
    )
}

#[tokio::test]
async fn a_sweep_deletes_ended_sessions_expired_tokens_and_spent_claims_only() {
    let stack = Stack::start_with(Default::default(), &[("REFRESH_REUSE_GRACE", "1ms")]).await;
    let db = &stack.auth.core.db.write;
    let hour_ago = now_ms() - 3_600_000;

    // A live family with a rotated token that has expired, and its live one.
    let live = login(&stack, users::HONG).await.tokens.unwrap();
    let live_next = refresh(&stack, &live.refresh_token).await.unwrap();
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::ExpiresAt, Expr::value(hour_ago))
        .filter(refresh_tokens::Column::TokenHash.eq(sha256(&live.refresh_token)))
        .exec(db)
        .await
        .unwrap();
    // A live family whose rotated token has not expired: reuse detection needs it.
    let watched = login(&stack, users::DEFAULT).await.tokens.unwrap();
    refresh(&stack, &watched.refresh_token).await.unwrap();
    // A revoked family, an expired family, an idle family (every token expired).
    let revoked = login(&stack, users::HONG).await.tokens.unwrap();
    logout(&stack, &revoked.refresh_token).await;
    let expired = login(&stack, users::CAT).await.tokens.unwrap();
    session_rows::Entity::update_many()
        .col_expr(session_rows::Column::ExpiresAt, Expr::value(hour_ago))
        .filter(session_rows::Column::Id.eq(expired.session_id.clone()))
        .exec(db)
        .await
        .unwrap();
    let idle = login(&stack, users::KIM).await.tokens.unwrap();
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::ExpiresAt, Expr::value(hour_ago))
        .filter(refresh_tokens::Column::SessionId.eq(idle.session_id.clone()))
        .exec(db)
        .await
        .unwrap();
    // Spent claims (more than a batch) beside the live ones of the logins.
    let spent = 2 * BATCH + 7;
    for i in 0..spent {
        let state_id = format!("spent-{i}");
        assert!(
            login_state_claims::claim(db, &state_id, hour_ago)
                .await
                .unwrap()
        );
    }
    let live_claims = 5;
    assert_eq!(counts(db).await, (5, 7, spent + live_claims));

    let swept = sweeper::sweep(&stack.auth.core, now_ms()).await.unwrap();
    assert_eq!(
        swept,
        Swept {
            sessions: 3,
            refresh_tokens: 4,
            claims: spent,
        }
    );
    assert_eq!(counts(db).await, (2, 3, live_claims));
    let left: Vec<String> = session_rows::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert!(left.contains(&live.session_id) && left.contains(&watched.session_id));

    // The live family refreshes on; a swept family's token is unknown now;
    // a replayed rotation of a live family is still caught.
    assert!(refresh(&stack, &live_next.refresh_token).await.is_ok());
    for gone in [&revoked, &expired, &idle] {
        let err = refresh(&stack, &gone.refresh_token).await.unwrap_err();
        assert_eq!(
            (err.code(), reason(&err)),
            (Code::Unauthenticated, "invalid_token")
        );
    }
    let err = refresh(&stack, &watched.refresh_token).await.unwrap_err();
    assert_eq!(reason(&err), "token_reused");

    // Nothing left to do: a second sweep deletes only what the reuse ended.
    let again = sweeper::sweep(&stack.auth.core, now_ms()).await.unwrap();
    assert_eq!((again.sessions, again.claims), (1, 0));
}

#[tokio::test]
async fn the_service_sweeps_on_its_own_every_sweep_interval() {
    let stack = Stack::start_with(Default::default(), &[("SWEEP_INTERVAL", "100ms")]).await;
    let t = login(&stack, users::HONG).await.tokens.unwrap();
    logout(&stack, &t.refresh_token).await;
    let db = &stack.auth.core.db.read;
    wait_until(
        Duration::from_secs(5),
        "the revoked session is swept",
        || async {
            session_rows::Entity::find().count(db).await.unwrap() == 0
                && refresh_tokens::Entity::find().count(db).await.unwrap() == 0
        },
    )
    .await;
}

fn sha256(token: &str) -> String {
    use auth_service::domain::RefreshToken;
    RefreshToken::parse(token).unwrap().hash()
}
