use auth_proto::AccessClaims;
use auth_proto::v1::{GetJwksRequest, GetUserRequest};
use auth_service::{
    access_tokens::AccessTokens,
    key_ring::{self, KeyRing},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use tonic::Code;

use test_support::{Stack, TestDb, login, reason, users, verify};

fn claims_of(token: &str) -> AccessClaims {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn b64(json: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(json).unwrap())
}

#[tokio::test]
async fn access_tokens_carry_only_the_documented_claims() {
    let stack = Stack::start().await;
    let done = login(&stack, users::HONG).await;
    let token = done.tokens.unwrap().access_token;
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert!(header.kid.is_some());
    let payload: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let mut keys: Vec<_> = payload.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["aud", "exp", "iat", "iss", "jti", "sid", "sub"]);
    assert_eq!(
        payload["sub"],
        done.user.unwrap().id,
        "sub is our id, not the Kakao id"
    );
    assert!(!token.contains("hong@example.com"));
}

#[tokio::test]
async fn forged_and_foreign_tokens_are_all_unauthenticated() {
    let stack = Stack::start().await;
    let token = login(&stack, users::HONG)
        .await
        .tokens
        .unwrap()
        .access_token;
    let claims = claims_of(&token);
    let header = jsonwebtoken::decode_header(&token).unwrap();
    let kid = header.kid.clone().unwrap();
    let [h, p, s]: [&str; 3] = token.split('.').collect::<Vec<_>>().try_into().unwrap();

    // The public key (as published) used as an HMAC secret: the classic confusion.
    let jwks = jwks(&stack).await;
    let x = jwks["keys"][0]["x"].as_str().unwrap().to_owned();
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(kid.clone());
    let hs256 =
        jsonwebtoken::encode(&hs, &claims, &EncodingKey::from_secret(x.as_bytes())).unwrap();

    // A token correctly signed by a key that is not ours.
    let other_db = TestDb::new().await;
    let other_conn = auth_service::persistence::connect_and_migrate(&secrecy::SecretString::from(
        other_db.url.clone(),
    ))
    .await
    .unwrap();
    let other_keys = KeyRing::load_or_create(&other_conn.write, Default::default())
        .await
        .unwrap();
    let foreign = AccessTokens::new(
        claims.iss.clone(),
        claims.aud.clone(),
        std::time::Duration::from_secs(60),
    )
    .issue(&other_keys, &claims.sub, &claims.sid)
    .unwrap()
    .token;
    other_conn.close().await.unwrap();
    drop(other_db);

    let mut tampered_claims = claims.clone();
    tampered_claims.sub = "someone-else".into();
    let tampered = format!(
        "{h}.{}.{s}",
        b64(&serde_json::to_value(&tampered_claims).unwrap())
    );
    let none = format!(
        "{}.{p}.",
        b64(&serde_json::json!({"alg":"none","typ":"JWT"}))
    );
    let unknown_kid = format!(
        "{}.{p}.{s}",
        b64(&serde_json::json!({"alg":"EdDSA","typ":"JWT","kid":"nope"}))
    );

    let cases: Vec<(&str, String, &str)> = vec![
        ("tampered payload", tampered, "invalid_token"),
        ("alg none", none, "invalid_token"),
        ("HS256 keyed with the public key", hs256, "invalid_token"),
        ("unknown kid", unknown_kid, "invalid_token"),
        ("signed by a foreign key", foreign, "invalid_token"),
        ("garbage", "not.a.jwt".into(), "invalid_token"),
        (
            "truncated",
            token[..token.len() - 5].to_owned(),
            "invalid_token",
        ),
    ];
    for (label, bad, why) in cases {
        let err = verify(&stack, &bad).await.unwrap_err();
        assert_eq!(
            (err.code(), reason(&err)),
            (Code::Unauthenticated, why),
            "{label}"
        );
    }
    assert!(
        verify(&stack, &token).await.is_ok(),
        "the genuine token still verifies"
    );
}

#[tokio::test]
async fn expired_and_misaddressed_tokens_are_refused() {
    let stack = Stack::start().await;
    let token = login(&stack, users::HONG)
        .await
        .tokens
        .unwrap()
        .access_token;
    let claims = claims_of(&token);
    // Sign with the service's own key, but with bad claims.
    let mut expired = claims.clone();
    expired.exp = expired.iat - 3600;
    let mut wrong_iss = claims.clone();
    wrong_iss.iss = "someone-else".into();
    let mut wrong_aud = claims.clone();
    wrong_aud.aud = "another-app".into();
    let cases = [
        (
            sign_with_service_key(&stack, &expired).await,
            "token_expired",
        ),
        (
            sign_with_service_key(&stack, &wrong_iss).await,
            "invalid_token",
        ),
        (
            sign_with_service_key(&stack, &wrong_aud).await,
            "invalid_token",
        ),
    ];
    for (bad, why) in cases {
        let err = verify(&stack, &bad).await.unwrap_err();
        assert_eq!((err.code(), reason(&err)), (Code::Unauthenticated, why));
    }
}

/// Signs arbitrary claims with the service's current private key, read
/// from the database like a replica would.
async fn sign_with_service_key(stack: &Stack, claims: &AccessClaims) -> String {
    use base64::engine::general_purpose::STANDARD;
    let keys = auth_service::persistence::signing_keys::published(&stack.auth.core.db.read)
        .await
        .unwrap();
    let key = &keys[0];
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_ed_der(&STANDARD.decode(&key.private_key).unwrap()),
    )
    .unwrap()
}

#[tokio::test]
async fn a_rotated_key_keeps_old_tokens_valid_until_it_is_retired() {
    let stack = Stack::start().await;
    let old = login(&stack, users::HONG)
        .await
        .tokens
        .unwrap()
        .access_token;
    let old_kid = jsonwebtoken::decode_header(&old).unwrap().kid.unwrap();
    let db = &stack.auth.core.db.write;
    let new_kid = key_ring::rotate(db, &Default::default(), std::time::Duration::ZERO)
        .await
        .unwrap();
    stack.auth.core.keys.reload(db).await.unwrap();
    let new = login(&stack, users::HONG)
        .await
        .tokens
        .unwrap()
        .access_token;
    assert_eq!(
        jsonwebtoken::decode_header(&new).unwrap().kid.unwrap(),
        new_kid,
        "new tokens use the new key"
    );
    assert!(
        verify(&stack, &old).await.is_ok(),
        "old key still published"
    );
    let jwks = jwks(&stack).await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    assert!(jwks["keys"][0].get("d").is_none(), "public parts only");
    assert!(
        auth_service::persistence::signing_keys::retire(db, &old_kid, 1)
            .await
            .unwrap()
    );
    stack.auth.core.keys.reload(db).await.unwrap();
    let err = verify(&stack, &old).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(verify(&stack, &new).await.is_ok());
}

#[tokio::test]
async fn get_user_returns_the_profile_of_a_live_session_and_refuses_a_caller_without_one() {
    let stack = Stack::start().await;
    let done = login(&stack, users::CAT).await;
    let id = done.user.unwrap().id;
    let tokens = done.tokens.unwrap();
    let mut client = stack.auth.client().await;
    let get = |user_id: &str, session_id: &str| GetUserRequest {
        user_id: user_id.into(),
        session_id: session_id.into(),
    };
    let user = client
        .get_user(get(&id, &tokens.session_id))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(user.nickname, "🐱 고양이 😺");
    assert_eq!(user.kakao_id, users::CAT.to_string());
    // Without a session, only a caller listed in AUTH_GRPC_ADMIN_CLIENTS
    // (none here: no client certificates) may read a user.
    for user_id in [id.as_str(), "missing"] {
        let err = client.get_user(get(user_id, "")).await.unwrap_err();
        assert_eq!(
            (err.code(), reason(&err)),
            (Code::PermissionDenied, "caller_not_allowed")
        );
    }
    let err = client.get_user(get("", "")).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    // Another user's session, an unknown session, then a revoked one.
    let other = login(&stack, users::HONG).await.tokens.unwrap();
    for sid in [other.session_id.as_str(), "unknown"] {
        let err = client.get_user(get(&id, sid)).await.unwrap_err();
        assert_eq!(
            (err.code(), reason(&err)),
            (Code::Unauthenticated, "session_revoked")
        );
    }
    client
        .revoke_session(auth_proto::v1::RevokeSessionRequest {
            refresh_token: tokens.refresh_token,
            ..Default::default()
        })
        .await
        .unwrap();
    let err = client
        .get_user(get(&id, &tokens.session_id))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::Unauthenticated, "session_revoked")
    );
}

/// The JWK set the service publishes.
async fn jwks(stack: &Stack) -> serde_json::Value {
    let mut client = stack.auth.client().await;
    let json = client
        .get_jwks(GetJwksRequest {})
        .await
        .unwrap()
        .into_inner()
        .jwks_json;
    serde_json::from_str(&json).unwrap()
}
