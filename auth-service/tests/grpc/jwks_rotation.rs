//! Key rotation with an activation time: `auth-service keys rotate` (the
//! real binary) publishes the new key at once and signs with it only once
//! its activation time has passed, so every JWKS cache holds it before any
//! token names it.

use std::{path::PathBuf, process::Command, time::Duration};

use auth_proto::v1::GetJwksRequest;
use auth_service::persistence::{now_ms, signing_keys};
use test_support::{Stack, login, users, wait_until};

/// Runs `auth-service keys <args>` against the stack's database.
fn keys(stack: &Stack, args: &[&str], delay: &str) -> String {
    let dir = std::env::temp_dir();
    let out = Command::new(PathBuf::from(env!("CARGO_BIN_EXE_auth-service")))
        .arg("keys")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "error")
        .env("DATABASE_URL", &stack.db.url)
        .env("KEY_ACTIVATION_DELAY", delay)
        .current_dir(dir)
        .output()
        .expect("run auth-service keys");
    assert!(
        out.status.success(),
        "keys {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn published_kids(stack: &Stack) -> Vec<String> {
    let json = stack
        .auth
        .client()
        .await
        .get_jwks(GetJwksRequest {})
        .await
        .unwrap()
        .into_inner()
        .jwks_json;
    let set: serde_json::Value = serde_json::from_str(&json).unwrap();
    set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn kid_of_a_new_token(stack: &Stack) -> String {
    let token = login(stack, users::HONG).await.tokens.unwrap().access_token;
    jsonwebtoken::decode_header(&token).unwrap().kid.unwrap()
}

/// The key `keys rotate` just added (the newest row).
async fn newest_key(stack: &Stack) -> signing_keys::Model {
    signing_keys::all(&stack.auth.core.db.read)
        .await
        .unwrap()
        .pop()
        .unwrap()
}

#[tokio::test]
async fn after_rotate_the_jwks_lists_the_new_key_before_any_token_carries_its_kid() {
    let stack = Stack::start().await;
    let old_kid = kid_of_a_new_token(&stack).await;
    keys(&stack, &["rotate"], "1h");
    let new = newest_key(&stack).await;
    assert_ne!(new.kid, old_kid);

    let published = published_kids(&stack).await;
    assert!(
        published.contains(&new.kid) && published.contains(&old_kid),
        "{published:?}"
    );
    // GetJwks reloaded the keys: this replica holds the pending key, and
    // still signs with the active one.
    assert!(stack.auth.core.keys.knows(&new.kid));
    for _ in 0..3 {
        assert_eq!(kid_of_a_new_token(&stack).await, old_kid);
    }
    let list = keys(&stack, &["list"], "1h");
    assert!(
        list.lines()
            .any(|l| l.starts_with(&new.kid) && l.contains("pending")),
        "{list}"
    );
}

#[tokio::test]
async fn once_its_activation_time_has_passed_tokens_carry_the_new_kid() {
    let stack = Stack::start().await;
    let old_kid = kid_of_a_new_token(&stack).await;
    keys(&stack, &["rotate"], "1s");
    let new = newest_key(&stack).await;
    let activates_at = new.activates_at.expect("an activation time");
    assert!(published_kids(&stack).await.contains(&new.kid));

    wait_until(
        Duration::from_secs(10),
        "tokens carry the new kid",
        || async {
            let kid = kid_of_a_new_token(&stack).await;
            if kid == new.kid {
                assert!(now_ms() >= activates_at, "signed before its activation");
            } else {
                assert_eq!(kid, old_kid);
            }
            kid == new.kid
        },
    )
    .await;
    let token = login(&stack, users::KIM).await.tokens.unwrap().access_token;
    assert!(test_support::verify(&stack, &token).await.is_ok());
}
