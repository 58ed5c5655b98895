//! The revocation feed seen from outside: cached verifications evicted by
//! each kind of revocation, WatchRevocations resuming after a disconnect,
//! the database fallback while the feed is down, and two replicas on one
//! database enforcing each other's revocations.

use std::time::{Duration, Instant};

use auth_proto::v1::{
    GetUserRequest, HandleUnlinkRequest, RefreshSessionRequest, RevocationEvent,
    RevokeSessionRequest, VerifyAccessTokenRequest, WatchRevocationsRequest,
    revocation_event::Kind,
};
use auth_service::{key_ring, persistence::revocations};
use kakao_emulator::EmulatorConfig;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tonic::{Code, Streaming};

use test_support::{
    AuthHandle, CLIENT_ID, REDIRECT_URI, TestDb, login_on, reason, settings, users,
};

const ADMIN_KEY: &str = "test-admin-key";
/// How long a replica may take to enforce another's revocation (the feed
/// reads the log every 200 ms); generous for a loaded test machine.
const ENFORCED_WITHIN: Duration = Duration::from_secs(2);

/// The emulator, one database, and `n` replicas on it.
struct Cluster {
    replicas: Vec<AuthHandle>,
    _kakao: kakao_emulator::RunningEmulator,
    _db: TestDb,
}

impl Cluster {
    async fn start(n: usize, extra: &[(&str, &str)]) -> Cluster {
        test_support::init_tracing();
        let kakao = kakao_emulator::start(
            EmulatorConfig {
                client_id: CLIENT_ID.into(),
                redirect_uris: vec![REDIRECT_URI.into()],
                ..EmulatorConfig::default()
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let db = TestDb::new().await;
        let mut extra = extra.to_vec();
        extra.push(("KAKAO_ADMIN_KEY", ADMIN_KEY));
        let mut replicas = Vec::new();
        for _ in 0..n {
            let replica = AuthHandle::start(settings(&db.url, &kakao.base_url(), &extra)).await;
            wait_until_following(&replica).await;
            replicas.push(replica);
        }
        Cluster {
            replicas,
            _kakao: kakao,
            _db: db,
        }
    }

    fn a(&self) -> &AuthHandle {
        &self.replicas[0]
    }

    fn b(&self) -> &AuthHandle {
        &self.replicas[1]
    }
}

async fn wait_until_following(auth: &AuthHandle) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !auth.core.revocations.healthy() {
        assert!(Instant::now() < deadline, "the feed never became healthy");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn verify(auth: &AuthHandle, token: &str) -> Result<String, tonic::Status> {
    auth.client()
        .await
        .verify_access_token(VerifyAccessTokenRequest {
            access_token: token.into(),
        })
        .await
        .map(|r| r.into_inner().session_id)
}

/// Verifies twice, so the second answer comes from the cache, and checks
/// that the token is cached.
async fn verify_cached(auth: &AuthHandle, token: &str) {
    verify(auth, token).await.expect("verifies");
    verify(auth, token).await.expect("verifies from the cache");
    assert!(
        !auth.core.revocations.tokens.is_empty(),
        "the answer is cached"
    );
}

/// Polls until `auth` refuses `token` with `why`, within [`ENFORCED_WITHIN`].
async fn refused_soon(auth: &AuthHandle, token: &str, why: &str) {
    let deadline = Instant::now() + ENFORCED_WITHIN;
    loop {
        match verify(auth, token).await {
            Err(e) => {
                assert_eq!((e.code(), reason(&e)), (Code::Unauthenticated, why));
                return;
            }
            Ok(_) => assert!(Instant::now() < deadline, "still accepted at the deadline"),
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn logout(auth: &AuthHandle, refresh_token: &str) {
    auth.client()
        .await
        .revoke_session(RevokeSessionRequest {
            refresh_token: refresh_token.into(),
            ..Default::default()
        })
        .await
        .expect("RevokeSession");
}

async fn unlink(auth: &AuthHandle, kakao_id: i64) -> i64 {
    auth.client()
        .await
        .handle_unlink(HandleUnlinkRequest {
            admin_key: ADMIN_KEY.into(),
            app_id: String::new(),
            user_id: kakao_id.to_string(),
            referrer_type: "UNLINK_FROM_APPS".into(),
        })
        .await
        .expect("HandleUnlink")
        .into_inner()
        .sessions_revoked
}

#[tokio::test]
async fn each_kind_of_revocation_ends_a_cached_verification() {
    let cluster = Cluster::start(1, &[("REFRESH_REUSE_GRACE", "50ms")]).await;
    let auth = cluster.a();

    // Logout.
    let t = login_on(auth, users::HONG).await.tokens.unwrap();
    verify_cached(auth, &t.access_token).await;
    logout(auth, &t.refresh_token).await;
    refused_soon(auth, &t.access_token, "session_revoked").await;

    // Refresh-token reuse after the grace window.
    let t0 = login_on(auth, users::KIM).await.tokens.unwrap();
    let mut client = auth.client().await;
    let t1 = client
        .refresh_session(RefreshSessionRequest {
            refresh_token: t0.refresh_token.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    verify_cached(auth, &t1.access_token).await;
    tokio::time::sleep(Duration::from_millis(120)).await;
    let reused = client
        .refresh_session(RefreshSessionRequest {
            refresh_token: t0.refresh_token,
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&reused), "token_reused");
    refused_soon(auth, &t1.access_token, "session_revoked").await;

    // Kakao unlink: every session of the user; a login right after (in the
    // same second, most likely) works.
    let (c1, c2) = (
        login_on(auth, users::CAT).await.tokens.unwrap(),
        login_on(auth, users::CAT).await.tokens.unwrap(),
    );
    verify_cached(auth, &c1.access_token).await;
    verify_cached(auth, &c2.access_token).await;
    assert_eq!(unlink(auth, users::CAT).await, 2);
    refused_soon(auth, &c1.access_token, "session_revoked").await;
    refused_soon(auth, &c2.access_token, "session_revoked").await;
    let after = login_on(auth, users::CAT).await.tokens.unwrap();
    verify_cached(auth, &after.access_token).await;

    // Key retirement, as `auth-service keys retire` does it (from another
    // process: this replica learns of it only from the log).
    let token = login_on(auth, users::DEFAULT)
        .await
        .tokens
        .unwrap()
        .access_token;
    verify_cached(auth, &token).await;
    let db = &auth.core.db.write;
    let old_kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    key_ring::rotate(db, &Default::default(), std::time::Duration::ZERO)
        .await
        .unwrap();
    auth.core.keys.reload(db).await.unwrap();
    assert!(key_ring::retire(db, &old_kid).await.unwrap());
    refused_soon(auth, &token, "invalid_token").await;
    let fresh = login_on(auth, users::DEFAULT)
        .await
        .tokens
        .unwrap()
        .access_token;
    assert!(
        verify(auth, &fresh).await.is_ok(),
        "the new key signs and verifies"
    );
}

async fn watch(auth: &AuthHandle, after: i64) -> Streaming<RevocationEvent> {
    auth.client()
        .await
        .watch_revocations(WatchRevocationsRequest {
            after_sequence: after,
        })
        .await
        .expect("WatchRevocations")
        .into_inner()
}

async fn next(stream: &mut Streaming<RevocationEvent>) -> RevocationEvent {
    tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("an event in time")
        .expect("no stream error")
        .expect("the stream goes on")
}

/// Nothing but heartbeats for a while.
async fn quiet(stream: &mut Streaming<RevocationEvent>) {
    match tokio::time::timeout(Duration::from_millis(500), stream.message()).await {
        Err(_) => {}
        Ok(Ok(Some(e))) => assert_eq!(e.kind(), Kind::Heartbeat, "unexpected {e:?}"),
        Ok(other) => panic!("stream ended: {other:?}"),
    }
}

#[tokio::test]
async fn a_resumed_stream_gets_exactly_the_missed_revocations() {
    let cluster = Cluster::start(1, &[]).await;
    let auth = cluster.a();
    let mut sessions = Vec::new();
    for user in [users::HONG, users::KIM, users::CAT, users::DEFAULT] {
        sessions.push(login_on(auth, user).await.tokens.unwrap());
    }

    let mut stream = watch(auth, 0).await;
    let reset = next(&mut stream).await;
    assert_eq!(reset.kind(), Kind::Reset, "from now: a RESET first");
    logout(auth, &sessions[0].refresh_token).await;
    let first = next(&mut stream).await;
    assert_eq!(
        (first.kind(), first.session_id.as_str()),
        (Kind::SessionRevoked, sessions[0].session_id.as_str())
    );
    assert!(first.sequence > reset.sequence);
    assert!(first.revoked_at > 0);
    drop(stream);

    // Missed while disconnected.
    logout(auth, &sessions[1].refresh_token).await;
    logout(auth, &sessions[2].refresh_token).await;

    let mut stream = watch(auth, first.sequence).await;
    let mut missed = Vec::new();
    for _ in 0..2 {
        let e = next(&mut stream).await;
        assert_eq!(e.kind(), Kind::SessionRevoked);
        missed.push(e.session_id);
    }
    assert_eq!(
        missed,
        [
            sessions[1].session_id.clone(),
            sessions[2].session_id.clone()
        ]
    );
    quiet(&mut stream).await;
    // And it follows live ones after the replay.
    logout(auth, &sessions[3].refresh_token).await;
    let live = next(&mut stream).await;
    assert_eq!(live.session_id, sessions[3].session_id);
    assert!(live.sequence > first.sequence);
}

#[tokio::test]
async fn a_cursor_the_service_cannot_resume_gets_a_reset() {
    let cluster = Cluster::start(1, &[]).await;
    let auth = cluster.a();
    let mut seqs = Vec::new();
    for user in [users::HONG, users::KIM, users::CAT] {
        let t = login_on(auth, user).await.tokens.unwrap();
        logout(auth, &t.refresh_token).await;
        let mut stream = watch(auth, 0).await;
        seqs.push(next(&mut stream).await.sequence);
    }
    let newest = seqs[2];

    // Ahead of the log: another database.
    let mut stream = watch(auth, newest + 1000).await;
    let first = next(&mut stream).await;
    assert_eq!((first.kind(), first.sequence), (Kind::Reset, newest));
    quiet(&mut stream).await;

    // Older than what the log holds (the first two rows purged).
    revocations::Entity::delete_many()
        .filter(revocations::Column::Seq.lte(seqs[1]))
        .exec(&auth.core.db.write)
        .await
        .unwrap();
    let mut stream = watch(auth, seqs[0] - 1).await;
    assert_eq!(next(&mut stream).await.kind(), Kind::Reset);
    // The oldest cursor still held resumes.
    let mut stream = watch(auth, seqs[1]).await;
    let e = next(&mut stream).await;
    assert_eq!((e.kind(), e.sequence), (Kind::SessionRevoked, newest));
}

#[tokio::test]
async fn revocations_made_on_one_replica_are_enforced_by_the_other_within_a_second() {
    let cluster = Cluster::start(2, &[]).await;
    let (a, b) = (cluster.a(), cluster.b());
    let done = login_on(a, users::HONG).await;
    let user_id = done.user.unwrap().id;
    let t = done.tokens.unwrap();
    verify_cached(b, &t.access_token).await;
    let get_user = || GetUserRequest {
        user_id: user_id.clone(),
        session_id: t.session_id.clone(),
    };
    b.client().await.get_user(get_user()).await.expect("live");

    // B streams it too.
    let mut stream = watch(b, 0).await;
    assert_eq!(next(&mut stream).await.kind(), Kind::Reset);

    logout(a, &t.refresh_token).await;
    refused_soon(b, &t.access_token, "session_revoked").await;
    let err = b.client().await.get_user(get_user()).await.unwrap_err();
    assert_eq!(reason(&err), "session_revoked");
    let e = next(&mut stream).await;
    assert_eq!(
        (e.kind(), e.session_id.as_str()),
        (Kind::SessionRevoked, t.session_id.as_str())
    );

    // A user-wide revocation on B reaches A.
    let c = login_on(b, users::CAT).await.tokens.unwrap();
    verify_cached(a, &c.access_token).await;
    assert_eq!(unlink(b, users::CAT).await, 1);
    refused_soon(a, &c.access_token, "session_revoked").await;
}

#[tokio::test]
async fn while_the_feed_is_down_verification_asks_the_database() {
    let cluster = Cluster::start(2, &[]).await;
    let (a, b) = (cluster.a(), cluster.b());
    let t = login_on(a, users::KIM).await.tokens.unwrap();
    verify_cached(b, &t.access_token).await;

    b.core.revocations.suspend_for_tests(true);
    let deadline = Instant::now() + Duration::from_secs(3);
    while b.core.revocations.healthy() {
        assert!(Instant::now() < deadline, "the feed stays healthy");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Unhealthy: no new subscription.
    let err = b
        .client()
        .await
        .watch_revocations(WatchRevocationsRequest { after_sequence: 0 })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err)),
        (Code::Unavailable, "unavailable")
    );

    logout(a, &t.refresh_token).await;
    // B never read the revocation: the stale entry is still in its cache,
    // yet B refuses at once, from the database.
    assert!(!b.core.revocations.tokens.is_empty());
    let err = verify(b, &t.access_token).await.unwrap_err();
    assert_eq!(reason(&err), "session_revoked");

    b.core.revocations.suspend_for_tests(false);
    wait_until_following(b).await;
    let err = verify(b, &t.access_token).await.unwrap_err();
    assert_eq!(
        reason(&err),
        "session_revoked",
        "and from memory once it resumed"
    );
}

#[tokio::test]
async fn revoking_all_sessions_on_one_replica_streams_user_revoked_and_is_enforced_by_the_other() {
    use auth_proto::v1::RevokeAllSessionsRequest;
    let cluster = Cluster::start(2, &[]).await;
    let (a, b) = (cluster.a(), cluster.b());
    let done = login_on(a, users::HONG).await;
    let user_id = done.user.unwrap().id;
    let t = done.tokens.unwrap();
    verify_cached(b, &t.access_token).await;
    let mut stream = watch(b, 0).await;
    assert_eq!(next(&mut stream).await.kind(), Kind::Reset);

    let ended = a
        .client()
        .await
        .revoke_all_sessions(RevokeAllSessionsRequest {
            user_id: user_id.clone(),
            session_id: String::new(),
        })
        .await
        .expect("RevokeAllSessions")
        .into_inner()
        .sessions_revoked;
    assert_eq!(ended, 1);
    refused_soon(b, &t.access_token, "session_revoked").await;
    let e = next(&mut stream).await;
    assert_eq!(
        (e.kind(), e.session_id.as_str()),
        (Kind::SessionRevoked, t.session_id.as_str())
    );
    let e = next(&mut stream).await;
    assert_eq!(
        (e.kind(), e.user_id.as_str()),
        (Kind::UserRevoked, user_id.as_str())
    );
}
