//! The refresh-grace successor: sealed under a server-side key, cleared
//! once the grace window has passed, and a replay within the window gets
//! the newest token of the chain (never one that trips reuse detection).

use std::time::Duration;

use auth_service::{domain::RefreshToken, persistence::refresh_tokens};
use test_support::{Stack, login, refresh, users, wait_until};

async fn row_of(stack: &Stack, token: &str) -> refresh_tokens::Model {
    let hash = RefreshToken::parse(token).unwrap().hash();
    refresh_tokens::find_by_hash(&stack.auth.core.db.read, &hash)
        .await
        .unwrap()
        .expect("the token's row")
}

#[tokio::test]
async fn a_slow_tab_replaying_a_twice_rotated_token_within_grace_gets_the_newest_pair() {
    let stack = Stack::start_with(Default::default(), &[("REFRESH_REUSE_GRACE", "1m")]).await;
    let a = login(&stack, users::HONG).await.tokens.unwrap();
    let b = refresh(&stack, &a.refresh_token).await.expect("A → B");
    let c = refresh(&stack, &b.refresh_token).await.expect("B → C");

    // The slow tab still holds A.
    let slow = refresh(&stack, &a.refresh_token)
        .await
        .expect("A within grace");
    assert_eq!(slow.refresh_token, c.refresh_token, "the newest token, C");
    // What it got is live: using it rotates normally, the family lives on.
    let d = refresh(&stack, &slow.refresh_token).await.expect("C → D");
    assert!(refresh(&stack, &d.refresh_token).await.is_ok());
}

#[tokio::test]
async fn the_sealed_successor_is_cleared_once_the_grace_window_has_passed() {
    let stack = Stack::start_with(Default::default(), &[("REFRESH_REUSE_GRACE", "2s")]).await;
    let a = login(&stack, users::HONG).await.tokens.unwrap();
    let b = refresh(&stack, &a.refresh_token).await.unwrap();
    let sealed = row_of(&stack, &a.refresh_token)
        .await
        .successor_sealed
        .expect("sealed during the window");
    assert!(!sealed.contains(&b.refresh_token));
    // Not the old pad (successor XOR SHA-256(retired token)): a database
    // copy plus the retired token does not give the successor.
    assert_ne!(sealed.len(), b.refresh_token.len());

    wait_until(
        Duration::from_secs(10),
        "the sealed successor is cleared",
        || async {
            row_of(&stack, &a.refresh_token)
                .await
                .successor_sealed
                .is_none()
        },
    )
    .await;
    let rows = refresh_tokens::of_session(&stack.auth.core.db.read, &a.session_id)
        .await
        .unwrap();
    assert!(
        rows.iter().all(|r| r.successor_sealed.is_none()),
        "{rows:?}"
    );
    // B, never rotated, still refreshes.
    assert!(refresh(&stack, &b.refresh_token).await.is_ok());
}
