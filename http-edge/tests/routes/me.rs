//! `GET /auth/me`: local access-token verification, then one GetUser call
//! (answers from memory are `cache`'s).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{fake_auth::*, harness::*};

async fn assert_unauthenticated(response: reqwest::Response, reason: &str, case: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "unauthenticated", "reason": reason}),
        "{case}"
    );
}

#[tokio::test]
async fn me_answers_the_profile_of_a_valid_token_with_one_get_user_call_then_from_memory() {
    let edge = TestEdge::start().await;
    let response = edge.me(&edge.fake.token()).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(response.headers(), "cache-control"),
        Some("no-store")
    );
    assert_eq!(
        header(response.headers(), "content-type"),
        Some("application/json")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "id": "u1",
            "kakao_id": "4000000001",
            "nickname": "라이언",
            "profile_image_url": null,
            "thumbnail_image_url": "https://k.kakaocdn.net/thumb.jpg",
            "email": null,
            "created_at": 1_700_000_000,
            "last_login_at": 1_700_000_100,
            "identities": [{
                "provider": "kakao", "email": null,
                "linked_at": 1_700_000_000, "last_login_at": 1_700_000_100
            }]
        })
    );
    assert_eq!(
        edge.fake.calls(),
        vec![
            "get_jwks".to_owned(),
            "get_user user_id=u1 session_id=sess-1".to_owned()
        ]
    );

    // The key set and the answer stay cached (the revocation feed is up):
    // the next request makes no call.
    assert_eq!(edge.me(&edge.fake.token()).await.status(), StatusCode::OK);
    assert_eq!(edge.fake.count("get_jwks"), 1);
    assert_eq!(edge.fake.count("get_user"), 1);
}

#[tokio::test]
async fn me_refuses_bad_tokens_without_asking_for_the_user() {
    let edge = TestEdge::start().await;
    let key = edge.fake.key();
    let valid = edge.fake.token();
    let parts: Vec<&str> = valid.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64_json(&claims("u2", "sess-1")),
        parts[2]
    );
    let alg_none = format!(
        "{}.{}.",
        b64_json(&json!({"alg": "none", "typ": "JWT", "kid": "k1"})),
        b64_json(&claims("u1", "sess-1"))
    );
    let hs256_with_the_public_key = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let secret = EncodingKey::from_secret(&key.public);
        jsonwebtoken::encode(&header, &claims("u1", "sess-1"), &secret).unwrap()
    };
    let hs256_with_the_jwk_x = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let x = URL_SAFE_NO_PAD.encode(&key.public);
        let secret = EncodingKey::from_secret(x.as_bytes());
        jsonwebtoken::encode(&header, &claims("u1", "sess-1"), &secret).unwrap()
    };
    let forged_k1 = SigningKey::generate("k1").sign(&claims("u1", "sess-1"));
    let unknown_kid = SigningKey::generate("k-unknown").sign(&claims("u1", "sess-1"));
    let no_kid = {
        let header = Header::new(Algorithm::EdDSA);
        let signer = EncodingKey::from_ed_der(&key.pkcs8);
        jsonwebtoken::encode(&header, &claims("u1", "sess-1"), &signer).unwrap()
    };
    let fresh = claims("u1", "sess-1");
    let expired = key.sign(&with(
        with(fresh.clone(), "exp", json!(now() - 120)),
        "iat",
        json!(now() - 1020),
    ));
    let wrong_issuer = key.sign(&with(fresh.clone(), "iss", json!("someone-else")));
    let wrong_audience = key.sign(&with(fresh.clone(), "aud", json!("another-app")));
    let without_sid = {
        let mut c = fresh.clone();
        c.as_object_mut().unwrap().remove("sid");
        key.sign(&c)
    };
    let without_aud = {
        let mut c = fresh.clone();
        c.as_object_mut().unwrap().remove("aud");
        key.sign(&c)
    };

    let cases: Vec<(&str, String, &str)> = vec![
        ("tampered payload", tampered, "invalid_token"),
        ("alg none", alg_none, "invalid_token"),
        (
            "HS256 with the public key",
            hs256_with_the_public_key,
            "invalid_token",
        ),
        (
            "HS256 with the JWK x",
            hs256_with_the_jwk_x,
            "invalid_token",
        ),
        ("another key claiming k1", forged_k1, "invalid_token"),
        ("unknown kid", unknown_kid, "invalid_token"),
        ("no kid", no_kid, "invalid_token"),
        ("expired", expired, "token_expired"),
        ("wrong issuer", wrong_issuer, "invalid_token"),
        ("wrong audience", wrong_audience, "invalid_token"),
        ("no sid", without_sid, "invalid_token"),
        ("no aud", without_aud, "invalid_token"),
        ("garbage", "not-a-jwt".into(), "invalid_token"),
        ("three garbage parts", "a.b.c".into(), "invalid_token"),
    ];
    for (case, token, reason) in cases {
        assert_unauthenticated(edge.me(&token).await, reason, case).await;
    }
    assert_unauthenticated(edge.get("/auth/me", None).await, "missing_token", "none").await;
    assert_eq!(edge.fake.count("get_user"), 0);
    assert_eq!(edge.fake.count("verify_access_token"), 0);
}

#[tokio::test]
async fn a_token_with_the_wrong_alg_is_refused_before_any_key_lookup() {
    let edge = TestEdge::start().await;
    let alg_none = format!(
        "{}.{}.",
        b64_json(&json!({"alg": "none", "kid": "k1"})),
        b64_json(&claims("u1", "sess-1"))
    );
    let hs256 = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let secret = EncodingKey::from_secret(&edge.fake.key().public);
        jsonwebtoken::encode(&header, &claims("u1", "sess-1"), &secret).unwrap()
    };
    for token in [alg_none, hs256, "garbage".into()] {
        assert_unauthenticated(edge.me(&token).await, "invalid_token", &token).await;
    }
    assert!(edge.fake.calls().is_empty(), "{:?}", edge.fake.calls());
}

#[tokio::test]
async fn me_for_a_revoked_session_is_401_session_revoked() {
    let edge = TestEdge::start().await;
    let token = edge.fake.key().sign(&claims("u1", "sess-revoked"));
    assert_unauthenticated(edge.me(&token).await, "session_revoked", "revoked").await;
    assert_eq!(
        edge.fake.calls().last().unwrap(),
        "get_user user_id=u1 session_id=sess-revoked"
    );
}

#[tokio::test]
async fn me_for_a_deleted_user_is_401_user_not_found() {
    let edge = TestEdge::start().await;
    let token = edge.fake.key().sign(&claims("u-deleted", "sess-1"));
    assert_unauthenticated(edge.me(&token).await, "user_not_found", "deleted").await;
}

#[tokio::test]
async fn me_picks_up_a_key_rotated_in_after_the_cache_was_filled() {
    let edge = TestEdge::start().await;
    assert_eq!(edge.me(&edge.fake.token()).await.status(), StatusCode::OK);

    let rotated = SigningKey::generate("k2");
    edge.fake.publish(rotated.clone());
    let response = edge.me(&rotated.sign(&claims("u1", "sess-1"))).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(edge.fake.count("get_jwks"), 2);
    // The old key still verifies, from the refreshed cache.
    assert_eq!(edge.me(&edge.fake.token()).await.status(), StatusCode::OK);
    assert_eq!(edge.fake.count("get_jwks"), 2);
}

#[tokio::test]
async fn concurrent_unknown_kids_share_one_refetch_and_later_ones_wait_for_the_window() {
    let edge = TestEdge::start().await;
    let stranger = SigningKey::generate("k-unknown").sign(&claims("u1", "sess-1"));
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let request = edge
            .client
            .get(format!("{}/auth/me", edge.base))
            .header("cookie", format!("access_token={stranger}"));
        requests.spawn(async move { request.send().await.unwrap() });
    }
    while let Some(response) = requests.join_next().await {
        assert_unauthenticated(response.unwrap(), "invalid_token", "concurrent").await;
    }
    // One load of the empty cache, one refetch for the unknown kid.
    assert_eq!(edge.fake.count("get_jwks"), 2);

    assert_unauthenticated(edge.me(&stranger).await, "invalid_token", "again").await;
    assert_eq!(edge.fake.count("get_jwks"), 2);
    assert_eq!(edge.fake.count("get_user"), 0);
}

#[tokio::test]
async fn me_with_the_service_down_is_503() {
    let edge = TestEdge::with_service_down().await;
    let response = edge.me(&edge.fake.token()).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"error": "unavailable"}));
}
