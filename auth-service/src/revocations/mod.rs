//! The revocation feed: how every replica learns, within a second, of a
//! revocation made on any replica (logout, refresh-token reuse, Kakao
//! unlink, key retirement), so that it can answer from memory.
//!
//! Every revocation appends a row to the revocation log
//! ([`crate::persistence::revocations`]) in the transaction that makes it.
//! The replica that made it applies it at once ([`RevocationFeed::publish`]);
//! the others read the log every ~200 ms ([`follow`]). Applying one updates
//! the [`state::RevocationState`] (what is revoked, for as long as a token
//! it could have signed lives), evicts the verified-token and live-session
//! caches, and forwards it to `WatchRevocations` subscribers ([`watch`]).
//!
//! The feed vouches for cached answers only while it is healthy: the last
//! read of the log succeeded less than [`HEALTHY_WITHIN`] ago. Otherwise
//! every check goes to the database, as if there were no cache.

mod poller;
pub mod state;
pub mod tracker;
pub mod watch;

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    time::{Duration, Instant},
};

use auth_proto::claims::ACCESS_TOKEN_LEEWAY_SECS;
use tokio::sync::broadcast;

pub use poller::follow;

use crate::{
    access_tokens::VerifyError,
    live_sessions::LiveSessions,
    persistence::{ms, revocations::Kind, revocations::Model},
    token_cache::{TokenCache, VerifiedToken},
};
use state::RevocationState;
use tracker::SequenceTracker;

/// The feed vouches for cached answers while its last successful read of
/// the log is younger than this.
pub const HEALTHY_WITHIN: Duration = Duration::from_secs(1);
/// Revocations are kept (in memory and in the log) this long past the
/// access-token lifetime and leeway, for clock skew between replicas.
const KEEP_MARGIN: Duration = Duration::from_secs(5 * 60);
/// Events buffered per subscriber before it counts as lagging.
const SUBSCRIBER_BUFFER: usize = 1024;

/// One revocation from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// Its position in the log.
    pub seq: i64,
    /// What it revokes.
    pub kind: Kind,
    /// The session family ([`Kind::Session`]).
    pub session_id: Option<String>,
    /// The user ([`Kind::User`], and [`Kind::Session`] when known).
    pub user_id: Option<String>,
    /// The signing key ([`Kind::Key`]).
    pub kid: Option<String>,
    /// When it took effect (Unix ms).
    pub at_ms: i64,
}

impl Revocation {
    /// A stored row; `None` (logged) for a kind this version does not know.
    pub fn from_row(row: Model) -> Option<Self> {
        let Some(kind) = Kind::parse(&row.kind) else {
            tracing::warn!(seq = row.seq, "revocation of an unknown kind skipped");
            return None;
        };
        Some(Revocation {
            seq: row.seq,
            kind,
            session_id: row.session_id,
            user_id: row.user_id,
            kid: row.kid,
            at_ms: row.created_at,
        })
    }
}

/// See the module docs.
pub struct RevocationFeed {
    state: RwLock<RevocationState>,
    tracker: Mutex<SequenceTracker>,
    events: broadcast::Sender<Arc<Revocation>>,
    started: Instant,
    /// Milliseconds after `started` of the last successful read; -1: none.
    last_read_ms: AtomicI64,
    suspended: AtomicBool,
    /// [`RevocationState::overflowed`], kept up to date under the state's
    /// write lock, so that [`Self::healthy`] (asked on every verification)
    /// does not take the read lock for it.
    overflowed: AtomicBool,
    keep_ms: i64,
    /// Access tokens verified recently.
    pub tokens: TokenCache,
    /// Session families confirmed live.
    pub sessions: LiveSessions,
}

impl RevocationFeed {
    /// A feed for access tokens that live `access_token_ttl`; unhealthy
    /// until [`follow`] has read the log once.
    pub fn new(access_token_ttl: Duration) -> Self {
        let keep = access_token_ttl
            .saturating_add(Duration::from_secs(ACCESS_TOKEN_LEEWAY_SECS))
            .saturating_add(KEEP_MARGIN);
        RevocationFeed {
            state: RwLock::new(RevocationState::new(ms(keep))),
            tracker: Mutex::new(SequenceTracker::starting_at(0)),
            events: broadcast::channel(SUBSCRIBER_BUFFER).0,
            started: Instant::now(),
            last_read_ms: AtomicI64::new(-1),
            suspended: AtomicBool::new(false),
            overflowed: AtomicBool::new(false),
            keep_ms: ms(keep),
            tokens: TokenCache::default(),
            sessions: LiveSessions::default(),
        }
    }

    /// How long a revocation matters (ms): the access-token lifetime, the
    /// leeway and a margin. Older log rows are purged.
    pub fn keep_ms(&self) -> i64 {
        self.keep_ms
    }

    fn since_start_ms(&self) -> i64 {
        i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    /// Whether cached answers may be served: the log was read less than
    /// [`HEALTHY_WITHIN`] ago and the state holds everything it should.
    pub fn healthy(&self) -> bool {
        let last = self.last_read_ms.load(Ordering::Acquire);
        last >= 0
            && self.since_start_ms().saturating_sub(last) < ms(HEALTHY_WITHIN)
            && !self.suspended.load(Ordering::Acquire)
            && !self.overflowed.load(Ordering::Acquire)
    }

    /// Records a successful read of the log; returns how long ago the
    /// previous one was (`None` for the first).
    fn mark_read(&self) -> Option<Duration> {
        let now = self.since_start_ms();
        let previous = self.last_read_ms.swap(now, Ordering::AcqRel);
        (previous >= 0).then(|| Duration::from_millis(now.saturating_sub(previous).unsigned_abs()))
    }

    /// Test hook: while suspended, the log is not read and the feed is
    /// unhealthy (as when the database is down), so every check goes to
    /// the database; once resumed, it is healthy again after its next read.
    #[doc(hidden)]
    pub fn suspend_for_tests(&self, suspended: bool) {
        if suspended {
            self.last_read_ms.store(-1, Ordering::Release);
        }
        self.suspended.store(suspended, Ordering::Release);
    }

    fn suspended(&self) -> bool {
        self.suspended.load(Ordering::Acquire)
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, RevocationState> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_tracker(&self) -> std::sync::MutexGuard<'_, SequenceTracker> {
        self.tracker.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Live revocations from now on (this process's and, once read from the
    /// log, every other replica's).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Revocation>> {
        self.events.subscribe()
    }

    /// A position at or below which this process has applied every
    /// revocation (or given up waiting for it).
    pub fn watermark(&self) -> i64 {
        self.lock_tracker().watermark()
    }

    /// Applies a revocation this process just committed, at once (the
    /// poller will skip it when it reads it back).
    pub fn publish(&self, revocation: Revocation) {
        self.accept(vec![revocation]);
    }

    /// Applies the revocations not seen yet, evicts what they name from the
    /// caches and forwards them to subscribers. Returns those.
    fn accept(&self, batch: Vec<Revocation>) -> Vec<Arc<Revocation>> {
        let now = Instant::now();
        let fresh: Vec<Arc<Revocation>> = {
            let mut tracker = self.lock_tracker();
            batch
                .into_iter()
                .filter(|r| tracker.observe(r.seq, now))
                .map(Arc::new)
                .collect()
        };
        if fresh.is_empty() {
            return fresh;
        }
        {
            let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
            for r in &fresh {
                state.apply(r);
            }
            self.overflowed.store(state.overflowed(), Ordering::Release);
        }
        let (mut sessions, mut users, mut kids) = (HashSet::new(), HashSet::new(), HashSet::new());
        for r in &fresh {
            match r.kind {
                Kind::Session => sessions.extend(r.session_id.as_deref()),
                Kind::User => users.extend(r.user_id.as_deref()),
                Kind::Key => kids.extend(r.kid.as_deref()),
            }
        }
        self.tokens.evict(|t| {
            sessions.contains(&*t.session_id)
                || users.contains(&*t.user_id)
                || kids.contains(&*t.kid)
        });
        if !sessions.is_empty() || !users.is_empty() {
            self.sessions
                .evict(|sid, user| sessions.contains(sid) || users.contains(user));
        }
        for r in &fresh {
            // No subscriber is not an error.
            let _ = self.events.send(r.clone());
        }
        fresh
    }

    /// Starts following the log after `position`, with `recent` (rows still
    /// within [`Self::keep_ms`]) applied.
    fn start_at(&self, position: i64, recent: Vec<Revocation>) {
        *self.lock_tracker() = SequenceTracker::starting_at(position);
        self.accept(recent);
    }

    /// The positions to read next: after the highest seen, and the holes.
    fn cursor(&self) -> (i64, Vec<i64>) {
        let mut tracker = self.lock_tracker();
        tracker.expire(Instant::now());
        (tracker.highest(), tracker.holes())
    }

    /// Forgets revocations whose tokens have all expired.
    fn expire(&self, now_ms: i64) {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.expire(now_ms);
        self.overflowed.store(state.overflowed(), Ordering::Release);
    }

    /// Drops both caches (after the feed was down for long).
    fn clear_caches(&self) {
        self.tokens.clear();
        self.sessions.clear();
    }

    /// Why a (cached) verified token must be refused now, if it must.
    pub fn refuses_token(&self, t: &VerifiedToken) -> Option<VerifyError> {
        self.read_state()
            .refuses_token(&t.user_id, &t.session_id, t.issued_at, &t.kid)
    }

    /// Whether a session (known live from cache or database) is revoked.
    pub fn refuses_session(&self, sid: &str, user_id: &str, created_at_ms: i64) -> bool {
        self.read_state()
            .refuses_session(sid, user_id, created_at_ms)
    }
}
