//! The caches' rules, without a socket.

use super::*;

const NOW: i64 = 1_800_000_000;

fn verified(sub: &str, sid: &str) -> Verified {
    Verified {
        sub: sub.into(),
        sid: sid.into(),
        kid: "k1".into(),
        iat: NOW - 10,
        exp: NOW + 890,
    }
}

fn event(kind: Kind) -> RevocationEvent {
    RevocationEvent {
        kind: kind.into(),
        sequence: 7,
        revoked_at: NOW,
        ..Default::default()
    }
}

fn cached(cache: &VerifiedCache, token: &str, sub: &str, sid: &str) {
    let Lookup::Miss { generation } = cache.lookup(&token_key(token), NOW) else {
        panic!("expected a miss");
    };
    let body = Bytes::from(format!("{{\"id\":\"{sub}\"}}"));
    cache.insert(generation, token_key(token), verified(sub, sid), body, NOW);
}

fn up() -> VerifiedCache {
    let cache = VerifiedCache::default();
    cache.set_up(true);
    cache
}

fn is_hit(cache: &VerifiedCache, token: &str) -> bool {
    matches!(cache.lookup(&token_key(token), NOW), Lookup::Hit(_))
}

#[test]
fn nothing_is_read_or_cached_while_the_feed_is_down() {
    let cache = VerifiedCache::default();
    assert!(matches!(
        cache.lookup(&token_key("t"), NOW),
        Lookup::Untrusted
    ));
    cache.insert(0, token_key("t"), verified("u1", "s1"), Bytes::new(), NOW);
    cache.set_up(true);
    assert!(!is_hit(&cache, "t"));

    cached(&cache, "t", "u1", "s1");
    assert!(is_hit(&cache, "t"));
    cache.set_up(false);
    cache.set_up(true);
    assert!(!is_hit(&cache, "t"), "going down drops the caches");
}

#[test]
fn an_answer_fetched_before_a_reset_is_not_cached() {
    let cache = up();
    let Lookup::Miss { generation } = cache.lookup(&token_key("t"), NOW) else {
        panic!()
    };
    cache.apply(&event(Kind::Reset), NOW);
    cache.insert(
        generation,
        token_key("t"),
        verified("u1", "s1"),
        Bytes::new(),
        NOW,
    );
    assert_eq!(cache.sizes(), (0, 0));
}

#[test]
fn each_revocation_evicts_what_it_covers_and_refuses_it_later() {
    let cache = up();
    cached(&cache, "a", "u1", "s1");
    cached(&cache, "b", "u1", "s2");
    cached(&cache, "c", "u2", "s3");

    let mut session = event(Kind::SessionRevoked);
    session.session_id = "s1".into();
    cache.apply(&session, NOW);
    assert!(!is_hit(&cache, "a") && is_hit(&cache, "b") && is_hit(&cache, "c"));
    assert_eq!(
        cache.standing(&verified("u1", "s1")),
        Standing::SessionRevoked
    );
    cached(&cache, "a", "u1", "s1");
    assert!(
        !is_hit(&cache, "a"),
        "a revoked session is not cached again"
    );

    let mut user = event(Kind::UserRevoked);
    user.user_id = "u1".into();
    cache.apply(&user, NOW);
    assert!(!is_hit(&cache, "b") && is_hit(&cache, "c"));
    let mut later = verified("u1", "s9");
    later.iat = NOW + 1;
    assert_eq!(cache.standing(&later), Standing::Clear);
    later.iat = NOW;
    assert_eq!(cache.standing(&later), Standing::AskService);

    let mut key = event(Kind::KeyRetired);
    key.kid = "k1".into();
    cache.apply(&key, NOW);
    assert!(!is_hit(&cache, "c"));
    assert_eq!(cache.standing(&verified("u3", "s4")), Standing::KeyRetired);
}

#[test]
fn an_expired_token_is_not_answered_from_the_cache() {
    let cache = up();
    cached(&cache, "t", "u1", "s1");
    assert!(matches!(
        cache.lookup(&token_key("t"), NOW + 900),
        Lookup::Miss { .. }
    ));
}

#[test]
fn forgetting_a_users_profiles_keeps_their_tokens_and_other_users() {
    let cache = up();
    cached(&cache, "a", "u1", "s1");
    cached(&cache, "b", "u1", "s2");
    cached(&cache, "c", "u2", "s3");
    let Lookup::Miss { generation } = cache.lookup(&token_key("d"), NOW) else {
        panic!("expected a miss");
    };
    cache.forget_profiles_of("u1");
    assert!(!is_hit(&cache, "a") && !is_hit(&cache, "b") && is_hit(&cache, "c"));
    assert!(matches!(
        cache.lookup(&token_key("a"), NOW),
        Lookup::Token { .. }
    ));
    assert_eq!(cache.standing(&verified("u1", "s1")), Standing::Clear);
    cache.insert(
        generation,
        token_key("d"),
        verified("u1", "s4"),
        Bytes::new(),
        NOW,
    );
    assert!(
        !is_hit(&cache, "d"),
        "an answer fetched before is not cached"
    );
    let Lookup::Token {
        generation,
        verified,
    } = cache.lookup(&token_key("a"), NOW)
    else {
        panic!("the token stays cached");
    };
    cache.insert(generation, token_key("a"), verified, Bytes::new(), NOW);
    assert!(is_hit(&cache, "a"), "a fresh answer is cached again");
}
