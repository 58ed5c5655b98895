//! [`Limiter`]: at most `per_minute` events per client in any minute, in
//! bounded memory.
//!
//! Each client has a sliding window of [`SLOTS`] counters of [`SLOT`] each
//! (one minute plus the slot in progress). An event is allowed while the
//! counters sum to less than the limit, so no sixty seconds ever hold more
//! than `per_minute` allowed events (a token bucket of the same rate would
//! allow up to twice that in the minute after a quiet one); the price is
//! that a refused client may wait up to one slot longer than a perfectly
//! sliding window would make it.
//!
//! The clients are spread over [`SHARDS`] independently locked maps, so
//! concurrent requests rarely wait for one another; each map holds at most
//! [`SHARD_CAPACITY`] clients. A full map first drops the clients whose
//! counters have all expired (at most once per slot, so a flood cannot make
//! every request sweep); a client that still finds no room is let through
//! uncounted. Memory stays bounded under a flood from any number of
//! addresses; such a flood is beyond what a per-address limit can stop.

use std::{
    collections::HashMap,
    hash::BuildHasher,
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

/// The length of one counter.
const SLOT: Duration = Duration::from_secs(10);
/// Counters per client: a minute's worth plus the one in progress, so that
/// every event of the last sixty seconds is counted.
const SLOTS: usize = 7;
/// Independently locked maps.
const SHARDS: usize = 32;
/// Clients one map holds at most.
const SHARD_CAPACITY: usize = 1024;

/// One client's counters: `counts[s % SLOTS]` counts slot `s`, for the
/// slots `last - SLOTS + 1 ..= last`.
#[derive(Debug, Clone, Copy)]
struct Window {
    last: u64,
    counts: [u16; SLOTS],
}

impl Window {
    /// Moves the window to slot `now`, forgetting the slots that left it.
    fn advance(&mut self, now: u64) {
        let gone = now.saturating_sub(self.last).min(SLOTS as u64);
        for slot in self.last + 1..=self.last + gone {
            self.counts[slot as usize % SLOTS] = 0;
        }
        self.last = self.last.max(now);
    }

    /// Whether every counter has expired by slot `now`.
    fn is_stale(&self, now: u64) -> bool {
        now.saturating_sub(self.last) >= SLOTS as u64
    }
}

#[derive(Default)]
struct Shard {
    clients: HashMap<u128, Window>,
    /// The first slot in which a full shard may be swept again.
    next_sweep: u64,
}

/// At most `per_minute` events per key in any minute (see the module doc).
pub(crate) struct Limiter {
    per_minute: u16,
    epoch: Instant,
    hasher: std::hash::RandomState,
    shards: Box<[Mutex<Shard>]>,
}

impl Limiter {
    /// A limiter of `per_minute` events (at least 1) per key.
    pub(crate) fn new(per_minute: u16) -> Limiter {
        Limiter {
            per_minute: per_minute.max(1),
            epoch: Instant::now(),
            hasher: std::hash::RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    /// Counts an event of `key` at `now` if the key is under its limit;
    /// otherwise refuses it with how long until it would be allowed.
    pub(crate) fn check(&self, key: u128, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.epoch);
        let slot = (elapsed.as_millis() / SLOT.as_millis()) as u64;
        let shard = self.hasher.hash_one(key) as usize % SHARDS;
        let mut shard = self.shards[shard]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(window) = window_of(&mut shard, key, slot) else {
            return Ok(());
        };
        window.advance(slot);
        let total: u32 = window.counts.iter().map(|&c| u32::from(c)).sum();
        if total < u32::from(self.per_minute) {
            let count = &mut window.counts[slot as usize % SLOTS];
            *count = count.saturating_add(1);
            return Ok(());
        }
        Err(self.wait(window, slot, elapsed))
    }

    /// How long from `elapsed` until enough of `window`'s oldest slots have
    /// left it for one more event to fit. The slot that leaves when slot
    /// `slot + 1 + step` begins has the ring index of that slot.
    fn wait(&self, window: &Window, slot: u64, elapsed: Duration) -> Duration {
        let mut total: u32 = window.counts.iter().map(|&c| u32::from(c)).sum();
        for step in 0..SLOTS as u64 {
            let next = slot + 1 + step;
            total -= u32::from(window.counts[next as usize % SLOTS]);
            if total < u32::from(self.per_minute) {
                let free_at = SLOT.saturating_mul(u32::try_from(next).unwrap_or(u32::MAX));
                return free_at.saturating_sub(elapsed);
            }
        }
        SLOT * SLOTS as u32
    }
}

/// `key`'s window in `shard`, made if there is room (see the module doc).
fn window_of(shard: &mut Shard, key: u128, slot: u64) -> Option<&mut Window> {
    if shard.clients.len() >= SHARD_CAPACITY
        && !shard.clients.contains_key(&key)
        && slot >= shard.next_sweep
    {
        shard.clients.retain(|_, window| !window.is_stale(slot));
        shard.next_sweep = slot + 1;
    }
    if shard.clients.len() >= SHARD_CAPACITY && !shard.clients.contains_key(&key) {
        return None;
    }
    Some(shard.clients.entry(key).or_insert(Window {
        last: slot,
        counts: [0; SLOTS],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(limiter: &Limiter, seconds: f64) -> Instant {
        limiter.epoch + Duration::from_secs_f64(seconds)
    }

    /// How many of `n` events of `key` at `seconds` are allowed.
    fn allowed(limiter: &Limiter, key: u128, seconds: f64, n: usize) -> usize {
        let now = at(limiter, seconds);
        (0..n).filter(|_| limiter.check(key, now).is_ok()).count()
    }

    #[test]
    fn a_burst_is_allowed_up_to_the_limit_then_refused_until_a_slot_expires() {
        let limiter = Limiter::new(60);
        assert_eq!(allowed(&limiter, 1, 0.5, 60), 60);
        assert_eq!(
            limiter.check(1, at(&limiter, 0.5)),
            Err(Duration::from_secs_f64(69.5)),
            "the slot of t=0.5 s is counted until t=70 s"
        );
        assert_eq!(allowed(&limiter, 1, 69.9, 1), 0);
        assert_eq!(allowed(&limiter, 1, 70.0, 61), 60);
    }

    #[test]
    fn no_sixty_seconds_hold_more_events_than_the_limit() {
        let limiter = Limiter::new(120);
        // One event a second for five minutes, then bursts: every window of
        // 60 s sees at most 120 allowed events.
        let mut allowed_at = Vec::new();
        for tenth in 0..3000 {
            let seconds = f64::from(tenth) / 10.0;
            let n = if tenth % 50 == 0 { 100 } else { 1 };
            for _ in 0..allowed(&limiter, 7, seconds, n) {
                allowed_at.push(seconds);
            }
        }
        for (i, start) in allowed_at.iter().enumerate() {
            let within = allowed_at[i..]
                .iter()
                .take_while(|&&t| t < start + 60.0)
                .count();
            assert!(within <= 120, "{within} events in the minute from {start}");
        }
        assert!(allowed_at.len() >= 120 * 4, "{}", allowed_at.len());
    }

    #[test]
    fn the_wait_is_until_enough_old_slots_have_left() {
        let limiter = Limiter::new(3);
        assert_eq!(allowed(&limiter, 1, 5.0, 1), 1);
        assert_eq!(allowed(&limiter, 1, 25.0, 2), 2);
        // The event of slot 0 leaves at 70 s; one more then fits.
        assert_eq!(
            limiter.check(1, at(&limiter, 30.0)),
            Err(Duration::from_secs(40))
        );
        assert_eq!(allowed(&limiter, 1, 70.0, 2), 1);
    }

    #[test]
    fn clients_are_counted_apart() {
        let limiter = Limiter::new(2);
        assert_eq!(allowed(&limiter, 1, 0.0, 5), 2);
        assert_eq!(allowed(&limiter, 2, 0.0, 5), 2);
    }

    #[test]
    fn a_flood_of_addresses_keeps_memory_bounded_and_expired_clients_are_dropped() {
        let limiter = Limiter::new(1);
        let clients = |limiter: &Limiter| -> usize {
            limiter
                .shards
                .iter()
                .map(|s| s.lock().unwrap().clients.len())
                .sum()
        };
        for key in 0..(SHARDS * SHARD_CAPACITY * 2) as u128 {
            let _ = limiter.check(key, at(&limiter, 0.0));
        }
        assert!(clients(&limiter) <= SHARDS * SHARD_CAPACITY);
        // A client already counted stays limited while the table is full.
        let counted = (0..SHARDS as u128 * 4)
            .find(|&key| limiter.check(key, at(&limiter, 1.0)).is_err())
            .expect("some early client was counted");
        assert!(limiter.check(counted, at(&limiter, 1.0)).is_err());
        // Once their slots expire, new clients take the place of old ones.
        let later = (SLOT * SLOTS as u32).as_secs_f64();
        for key in 0..SHARDS as u128 * 64 {
            let fresh = u128::MAX - key;
            assert!(limiter.check(fresh, at(&limiter, later)).is_ok());
            assert!(limiter.check(fresh, at(&limiter, later)).is_err(), "{key}");
        }
        assert!(clients(&limiter) <= SHARDS * SHARD_CAPACITY);
    }
}
