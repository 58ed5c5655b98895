//! Per-client limits on the two routes an unauthenticated visitor can make
//! expensive: starting a login (`LOGIN_RATE_LIMIT`, default 120 a minute)
//! and sending a callback with a code and a state (`CALLBACK_RATE_LIMIT`,
//! default 60 a minute; each may cost a call to Kakao's token endpoint,
//! which spends the app's Kakao quota for every user). A callback without a
//! code and a state (a cancelled consent, a malformed query) costs no Kakao
//! call and is not counted.
//!
//! The client is the peer address, or the address `TRUSTED_PROXIES` saw
//! ([`client`]); the counting is [`window`]'s. The counts live in this
//! process: each replica limits on its own.

pub(crate) mod client;
mod window;

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::{Duration, Instant},
};

use http::HeaderMap;
use ipnet::IpNet;

use crate::configuration::RateLimitSettings;
use window::Limiter;

/// The peer address of a request's connection, put in its extensions by
/// [`crate::server`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerAddr(pub(crate) SocketAddr);

/// What is limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limited {
    /// `GET /auth/{provider}/login` and `GET /auth/{provider}/link`.
    LoginStart,
    /// `GET /auth/{provider}/callback` with a code and a state.
    Callback,
}

/// A refused request: the client may try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryAfter(pub(crate) Duration);

impl RetryAfter {
    /// Whole seconds, rounded up (at least 1): a `Retry-After` value.
    pub(crate) fn seconds(self) -> u64 {
        let whole = self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0);
        whole.max(1)
    }
}

/// The limits of this replica; `None` where a limit is off.
pub(crate) struct RateLimits {
    login_start: Option<Limiter>,
    callback: Option<Limiter>,
    trusted_proxies: Vec<IpNet>,
}

impl RateLimits {
    /// The limits `settings` ask for.
    pub(crate) fn new(settings: &RateLimitSettings) -> RateLimits {
        let limiter = |per_minute: u16| (per_minute > 0).then(|| Limiter::new(per_minute));
        RateLimits {
            login_start: limiter(settings.login_per_minute),
            callback: limiter(settings.callback_per_minute),
            trusted_proxies: settings.trusted_proxies.clone(),
        }
    }

    /// Counts one `what` of the client of a request from `peer` (with
    /// `headers`), or refuses it when the client is over its limit. A
    /// request without a peer address (only in unit tests of the routes) is
    /// counted as one client.
    pub(crate) fn check(
        &self,
        what: Limited,
        peer: Option<PeerAddr>,
        headers: &HeaderMap,
    ) -> Result<(), RetryAfter> {
        let limiter = match what {
            Limited::LoginStart => &self.login_start,
            Limited::Callback => &self.callback,
        };
        let Some(limiter) = limiter else {
            return Ok(());
        };
        let peer = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.0.ip());
        let client = client::client_addr(peer, headers, &self.trusted_proxies);
        limiter
            .check(client::key(client), Instant::now())
            .map_err(RetryAfter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(addr: &str) -> Option<PeerAddr> {
        Some(PeerAddr(SocketAddr::new(addr.parse().unwrap(), 4711)))
    }

    #[test]
    fn each_route_has_its_own_limit_and_zero_turns_one_off() {
        let limits = RateLimits::new(&RateLimitSettings {
            login_per_minute: 2,
            callback_per_minute: 0,
            trusted_proxies: Vec::new(),
        });
        let none = HeaderMap::new();
        let check = |what, addr| limits.check(what, peer(addr), &none);
        assert!(check(Limited::LoginStart, "192.0.2.1").is_ok());
        assert!(check(Limited::LoginStart, "192.0.2.1").is_ok());
        let refused = check(Limited::LoginStart, "192.0.2.1").unwrap_err();
        assert!((50..=70).contains(&refused.seconds()), "{refused:?}");
        assert!(check(Limited::LoginStart, "192.0.2.2").is_ok());
        for _ in 0..1000 {
            assert!(check(Limited::Callback, "192.0.2.1").is_ok());
        }
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        let seconds = |ms| RetryAfter(Duration::from_millis(ms)).seconds();
        assert_eq!(seconds(0), 1);
        assert_eq!(seconds(1), 1);
        assert_eq!(seconds(1000), 1);
        assert_eq!(seconds(1001), 2);
        assert_eq!(seconds(69_500), 70);
    }
}
