//! Naver and Google through the same RPCs as Kakao (SQLite, or PostgreSQL
//! with `TEST_DATABASE_URL`): logins making identities, the provider
//! sealed in the state, a disabled provider, links (and `identity_in_use`),
//! unlinks (and `last_identity`), and two racing first logins making one
//! user.

use auth_proto::v1::{GetUserRequest, Provider, UnlinkIdentityRequest};
use kakao_emulator::{EmulatorConfig, Endpoint};
use test_support::{Stack, complete_with, login_on, login_with, reason, start_with, users};

fn provider_of(i: &auth_proto::v1::Identity) -> Provider {
    Provider::try_from(i.provider).unwrap()
}

#[tokio::test]
async fn naver_and_google_logins_make_one_user_per_identity_and_keep_only_verified_email() {
    let stack = Stack::start().await;
    let naver = login_with(&stack.auth, Provider::Naver, users::NAVER_GILDONG).await;
    assert!(naver.new_user && !naver.linked);
    let user = naver.user.unwrap();
    assert_eq!(user.kakao_id, "", "no Kakao identity");
    assert_eq!(
        user.email, "",
        "Naver's address is never kept: it has no verified flag"
    );
    assert_eq!(user.identities.len(), 1);
    assert_eq!(provider_of(&user.identities[0]), Provider::Naver);
    let again = login_with(&stack.auth, Provider::Naver, users::NAVER_GILDONG).await;
    assert!(!again.new_user);
    assert_eq!(again.user.unwrap().id, user.id, "a returning Naver user");

    let google = login_with(&stack.auth, Provider::Google, users::GOOGLE_KIM).await;
    assert!(google.new_user, "no linking by anything but a link");
    let g = google.user.unwrap();
    assert_ne!(g.id, user.id);
    assert_eq!(
        g.identities[0].subject,
        users::GOOGLE_KIM,
        "the sub, not the email"
    );
    assert_eq!(g.email, "kim.google@gmail.com", "verified: kept");
    let emile = login_with(&stack.auth, Provider::Google, users::GOOGLE_EMILE).await;
    assert_eq!(emile.user.unwrap().email, "", "unverified: dropped");
    assert!(google.tokens.is_some_and(|t| !t.access_token.is_empty()));
}

#[tokio::test]
async fn a_state_sealed_for_one_provider_is_refused_at_another_before_any_token_call() {
    let stack = Stack::start().await;
    let started = start_with(&stack.auth, Provider::Kakao, None)
        .await
        .unwrap();
    let refused = complete_with(
        &stack.auth,
        Provider::Naver,
        started,
        &users::HONG.to_string(),
    )
    .await
    .unwrap_err();
    assert_eq!(reason(&refused), "invalid_state");
    let control = stack.kakao.control();
    for endpoint in [Endpoint::Token, Endpoint::NaverToken, Endpoint::GoogleToken] {
        assert_eq!(control.calls(endpoint), 0, "{endpoint:?}");
    }
}

#[tokio::test]
async fn a_disabled_provider_is_not_found() {
    let stack = Stack::start_with(EmulatorConfig::default(), &[("GOOGLE_CLIENT_ID", "")]).await;
    let refused = start_with(&stack.auth, Provider::Google, None)
        .await
        .err()
        .unwrap();
    assert_eq!(refused.code(), tonic::Code::NotFound);
    assert_eq!(reason(&refused), "provider_disabled");
    assert!(start_with(&stack.auth, Provider::Naver, None).await.is_ok());
}

#[tokio::test]
async fn linking_attaches_an_identity_only_for_its_owner_and_unlinking_keeps_the_last() {
    let stack = Stack::start().await;
    let auth = &stack.auth;
    let hong = login_on(auth, users::HONG).await;
    let hong_tokens = hong.tokens.unwrap();
    let hong_id = hong.user.unwrap().id;

    // Link Naver to hong: no new session, the identity joins hong.
    let started = start_with(auth, Provider::Naver, Some(&hong_tokens.access_token))
        .await
        .unwrap();
    let linked = complete_with(auth, Provider::Naver, started, users::NAVER_GILDONG)
        .await
        .unwrap();
    assert!(linked.linked && linked.tokens.is_none() && !linked.new_user);
    let linked_user = linked.user.unwrap();
    assert_eq!(linked_user.id, hong_id);
    assert_eq!(linked_user.identities.len(), 2);
    let naver_login = login_with(auth, Provider::Naver, users::NAVER_GILDONG).await;
    assert_eq!(
        naver_login.user.unwrap().id,
        hong_id,
        "Naver now logs hong in"
    );

    // kim cannot take hong's Naver account.
    let kim = login_on(auth, users::KIM).await;
    let kim_tokens = kim.tokens.unwrap();
    let started = start_with(auth, Provider::Naver, Some(&kim_tokens.access_token))
        .await
        .unwrap();
    let taken = complete_with(auth, Provider::Naver, started, users::NAVER_GILDONG)
        .await
        .unwrap_err();
    assert_eq!(reason(&taken), "identity_in_use");
    // Nor link a second Naver account to hong.
    let started = start_with(auth, Provider::Naver, Some(&hong_tokens.access_token))
        .await
        .unwrap();
    let second = complete_with(auth, Provider::Naver, started, users::NAVER_BEAR)
        .await
        .unwrap_err();
    assert_eq!(reason(&second), "identity_in_use");

    // GetUser lists both identities, oldest first.
    let mut client = auth.client().await;
    let listed = client
        .get_user(GetUserRequest {
            user_id: hong_id.clone(),
            session_id: hong_tokens.session_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    let providers: Vec<Provider> = listed.identities.iter().map(provider_of).collect();
    assert_eq!(providers, [Provider::Kakao, Provider::Naver]);

    // Unlink Naver (Naver is asked to revoke the kept grant), then the
    // last identity is refused, and an identity never linked is not found.
    let unlink = |provider: Provider| UnlinkIdentityRequest {
        user_id: hong_id.clone(),
        session_id: hong_tokens.session_id.clone(),
        provider: provider as i32,
    };
    let done = client
        .unlink_identity(unlink(Provider::Naver))
        .await
        .unwrap()
        .into_inner();
    assert!(done.provider_revoked);
    assert_eq!(stack.kakao.control().calls(Endpoint::NaverRevoke), 1);
    assert_eq!(done.identities.len(), 1);
    let last = client
        .unlink_identity(unlink(Provider::Kakao))
        .await
        .unwrap_err();
    assert_eq!(reason(&last), "last_identity");
    let none = client
        .unlink_identity(unlink(Provider::Google))
        .await
        .unwrap_err();
    assert_eq!(reason(&none), "identity_not_found");
    // Hong's session still works; the unlinked Naver account is a new user.
    let again = login_with(auth, Provider::Naver, users::NAVER_GILDONG).await;
    assert!(again.new_user);
    assert_ne!(again.user.unwrap().id, hong_id);

    // Another user's session cannot unlink hong's identities.
    let foreign = client
        .unlink_identity(UnlinkIdentityRequest {
            user_id: hong_id.clone(),
            session_id: kim_tokens.session_id,
            provider: Provider::Kakao as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&foreign), "session_revoked");
}

#[tokio::test]
async fn a_link_needs_a_live_session() {
    let stack = Stack::start().await;
    let auth = &stack.auth;
    let refused = start_with(auth, Provider::Google, Some("not-a-token"))
        .await
        .err()
        .unwrap();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);

    // A link started by a session that then ends is refused at the
    // callback, before Google's token endpoint is called.
    let hong = login_on(auth, users::HONG).await;
    let tokens = hong.tokens.unwrap();
    let started = start_with(auth, Provider::Google, Some(&tokens.access_token))
        .await
        .unwrap();
    let mut client = auth.client().await;
    client
        .revoke_session(auth_proto::v1::RevokeSessionRequest {
            refresh_token: tokens.refresh_token,
            access_token: String::new(),
        })
        .await
        .unwrap();
    let ended = complete_with(auth, Provider::Google, started, users::GOOGLE_KIM)
        .await
        .unwrap_err();
    assert_eq!(reason(&ended), "session_revoked");
    assert_eq!(stack.kakao.control().calls(Endpoint::GoogleToken), 0);
}

#[tokio::test]
async fn two_racing_first_logins_of_one_google_account_make_one_user() {
    let stack = Stack::start().await;
    let auth = &stack.auth;
    let first = start_with(auth, Provider::Google, None).await.unwrap();
    let second = start_with(auth, Provider::Google, None).await.unwrap();
    let (a, b) = tokio::join!(
        complete_with(auth, Provider::Google, first, users::GOOGLE_KIM),
        complete_with(auth, Provider::Google, second, users::GOOGLE_KIM),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.user.unwrap().id, b.user.unwrap().id);
    assert_eq!(u8::from(a.new_user) + u8::from(b.new_user), 1);
}
