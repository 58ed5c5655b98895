//! `/auth/me` from memory while the revocation feed is up: each kind of
//! event evicts what it covers (seen through `/auth/me`'s answers and the
//! fake's GetUser count), the edge asks per request while the feed is down,
//! and it resumes from its last cursor.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{fake_auth::*, harness::*};

/// A valid access token of `u1`'s live session `sid`.
fn token_of(edge: &TestEdge, sid: &str) -> String {
    edge.fake.key().sign(&claims("u1", sid))
}

async fn assert_refused(edge: &TestEdge, token: &str, reason: &str) {
    let response = edge.me(token).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{reason}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"error": "unauthenticated", "reason": reason}));
}

/// The value of the metrics line that starts with `name`.
async fn metric(edge: &TestEdge, name: &str) -> u64 {
    let text = edge.metrics().await;
    let line = text.lines().find(|l| l.starts_with(name));
    let value = line.and_then(|l| l.rsplit(' ').next());
    value
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name}\n{text}"))
}

#[tokio::test]
async fn a_second_me_is_answered_from_memory_without_get_user() {
    let edge = TestEdge::start().await;
    let token = edge.fake.token();
    let first = edge.me(&token).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();

    let second = edge.me(&token).await;
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(
        header(second.headers(), "content-type"),
        Some("application/json")
    );
    assert_eq!(header(second.headers(), "cache-control"), Some("no-store"));
    assert_eq!(second.json::<Value>().await.unwrap(), first);
    assert_eq!(edge.fake.count("get_user"), 1);

    let hits = r#"edge_profile_cache_lookups_total{result="hit"}"#;
    assert_eq!(metric(&edge, hits).await, 1);
    let misses = r#"edge_token_cache_lookups_total{result="miss"}"#;
    assert_eq!(metric(&edge, misses).await, 1);
    assert_has_line(&edge.metrics().await, "edge_revocation_feed_up 1");
}

#[tokio::test]
async fn a_session_revoked_on_the_feed_is_refused_without_asking_the_service() {
    let edge = TestEdge::start().await;
    let (revoked, other) = (token_of(&edge, "sess-1"), token_of(&edge, "sess-2"));
    for token in [&revoked, &other] {
        assert_eq!(edge.me(token).await.status(), StatusCode::OK);
    }

    // The fake's GetUser would still answer: only the event can refuse it.
    edge.fake.feed.revoke_session("u1", "sess-1");
    edge.wait_for_me(&revoked, StatusCode::UNAUTHORIZED).await;

    assert_refused(&edge, &revoked, "session_revoked").await;
    assert_eq!(edge.me(&other).await.status(), StatusCode::OK);
    assert_eq!(edge.fake.count("get_user"), 2, "{:?}", edge.fake.calls());
}

#[tokio::test]
async fn a_user_revoked_on_the_feed_loses_every_session_issued_before() {
    let edge = TestEdge::start().await;
    let (first, second) = (token_of(&edge, "sess-1"), token_of(&edge, "sess-2"));
    for token in [&first, &second] {
        assert_eq!(edge.me(token).await.status(), StatusCode::OK);
    }

    let revoked_at = now() + 1;
    edge.fake.feed.revoke_user("u1", revoked_at);
    edge.wait_for_me(&first, StatusCode::UNAUTHORIZED).await;

    assert_refused(&edge, &second, "session_revoked").await;
    assert_eq!(edge.fake.count("get_user"), 2);
    // A login after the revocation is not locked out.
    let later = edge
        .fake
        .key()
        .sign(&with(claims("u1", "sess-2"), "iat", json!(revoked_at + 1)));
    assert_eq!(edge.me(&later).await.status(), StatusCode::OK);
    // One issued in the very second of the revocation is asked for.
    let same_second = edge
        .fake
        .key()
        .sign(&with(claims("u1", "sess-2"), "iat", json!(revoked_at)));
    assert_eq!(edge.me(&same_second).await.status(), StatusCode::OK);
    assert_eq!(edge.me(&same_second).await.status(), StatusCode::OK);
    assert_eq!(edge.fake.count("get_user"), 5, "never cached");
}

#[tokio::test]
async fn a_retired_key_leaves_the_cache_and_the_served_key_set() {
    let edge = TestEdge::start().await;
    let next = SigningKey::generate("k2");
    edge.fake.publish(next.clone());
    let old = edge.fake.token();
    assert_eq!(edge.me(&old).await.status(), StatusCode::OK);

    edge.fake.feed.retire_key("k1");
    edge.wait_for_me(&old, StatusCode::UNAUTHORIZED).await;

    assert_refused(&edge, &old, "invalid_token").await;
    let jwks: Value = edge
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, ["k2"], "the fake still publishes k1: {jwks}");
    let fresh = next.sign(&claims("u1", "sess-1"));
    assert_eq!(edge.me(&fresh).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_reset_drops_every_cached_answer() {
    let edge = TestEdge::start().await;
    let token = edge.fake.token();
    for _ in 0..2 {
        assert_eq!(edge.me(&token).await.status(), StatusCode::OK);
    }
    assert_eq!(edge.fake.count("get_user"), 1);

    edge.fake.feed.reset();
    test_support::wait_until(
        std::time::Duration::from_secs(5),
        "the profile is asked for again",
        || async {
            assert_eq!(edge.me(&token).await.status(), StatusCode::OK);
            edge.fake.count("get_user") == 2
        },
    )
    .await;
    // And cached again.
    assert_eq!(edge.me(&token).await.status(), StatusCode::OK);
    assert_eq!(edge.fake.count("get_user"), 2);
}

#[tokio::test]
async fn while_the_feed_is_down_every_me_asks_the_service() {
    let edge = TestEdge::start().await;
    let (revoked, other) = (token_of(&edge, "sess-1"), token_of(&edge, "sess-2"));
    assert_eq!(edge.me(&revoked).await.status(), StatusCode::OK);
    assert_eq!(edge.me(&revoked).await.status(), StatusCode::OK);
    assert_eq!(edge.fake.count("get_user"), 1);

    edge.fake.feed.set_refusing(true);
    edge.fake.feed.fail();
    edge.wait_for_feed(false).await;
    // Revoked while no event can reach the edge: its cache must not answer.
    edge.fake.revoke_session_unannounced("sess-1");
    assert_refused(&edge, &revoked, "session_revoked").await;
    for _ in 0..3 {
        assert_eq!(edge.me(&other).await.status(), StatusCode::OK);
    }
    assert_eq!(edge.fake.count("get_user"), 5, "one call per request");
    let bypassed = r#"edge_profile_cache_lookups_total{result="bypassed"}"#;
    assert_eq!(metric(&edge, bypassed).await, 4);

    edge.fake.feed.set_refusing(false);
    edge.wait_for_feed(true).await;
    for _ in 0..3 {
        assert_eq!(edge.me(&other).await.status(), StatusCode::OK);
    }
    assert_eq!(edge.fake.count("get_user"), 6, "cached again once resumed");
}

#[tokio::test]
async fn a_dropped_feed_resumes_from_its_cursor_and_gets_what_it_missed() {
    let edge = TestEdge::start().await;
    let (first, second) = (token_of(&edge, "sess-1"), token_of(&edge, "sess-2"));
    edge.fake.feed.revoke_session("u1", "sess-x");
    let cursor = edge.fake.feed.revoke_session("u1", "sess-1");
    edge.wait_for_me(&first, StatusCode::UNAUTHORIZED).await;
    assert_eq!(edge.me(&second).await.status(), StatusCode::OK);

    edge.fake.feed.set_refusing(true);
    edge.fake.feed.disconnect();
    edge.wait_for_feed(false).await;
    // Missed while down; the fake's GetUser still says live.
    let missed = edge.fake.feed.revoke_session("u1", "sess-2");
    edge.fake.feed.set_refusing(false);
    edge.wait_for_feed(true).await;
    edge.wait_for_me(&second, StatusCode::UNAUTHORIZED).await;

    let subscriptions = edge.fake.feed.subscriptions();
    assert_eq!(subscriptions[0], 0, "from now at start");
    assert!(
        subscriptions[1..].iter().all(|&after| after == cursor),
        "every resubscription resumes after {cursor}: {subscriptions:?}"
    );

    edge.fake.feed.disconnect();
    test_support::wait_until(
        std::time::Duration::from_secs(5),
        "a resubscription after the replayed event",
        || async { edge.fake.feed.subscriptions().last() == Some(&missed) },
    )
    .await;
}
