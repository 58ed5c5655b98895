//! Joins concurrent calls with the same key into one: the first caller
//! starts the call, the others arriving while it runs wait for its result
//! and get a clone of it. Used by `POST /auth/refresh`, so that a browser
//! that fires several refreshes with one cookie (tabs, retries) makes one
//! rotation instead of one rotation and then a reuse that would revoke the
//! whole session family.
//!
//! Keys are SHA-256 digests (see [`key_of`]), so no secret is kept as a key.
//! The call runs in its own task, so a caller that goes away (a closed tab)
//! neither cancels it for the others nor leaves its entry behind; the entry
//! is removed as soon as the call finishes, so a later caller starts anew.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tracing::Instrument;

/// The key of a call: the SHA-256 of what identifies it.
pub(crate) type Key = [u8; 32];

/// The key of a call identified by `secret` (e.g. a refresh token).
pub(crate) fn key_of(secret: &str) -> Key {
    Sha256::digest(secret.as_bytes()).into()
}

type Flights<V> = Arc<Mutex<HashMap<Key, watch::Receiver<Option<V>>>>>;

/// The calls in flight, by key.
pub(crate) struct SingleFlight<V> {
    flights: Flights<V>,
}

impl<V: Clone + Send + Sync + 'static> SingleFlight<V> {
    pub(crate) fn new() -> Self {
        Self {
            flights: Arc::default(),
        }
    }

    /// The result of the call in flight for `key`, or of `call`, started now
    /// (in the current span) when none is. `None` only if the call panicked.
    pub(crate) async fn run<F>(&self, key: Key, call: F) -> Option<V>
    where
        F: Future<Output = V> + Send + 'static,
    {
        let mut result = {
            let mut flights = lock(&self.flights);
            match flights.get(&key) {
                Some(in_flight) => {
                    tracing::debug!("joined a call already in flight");
                    in_flight.clone()
                }
                None => {
                    let (sender, receiver) = watch::channel(None);
                    flights.insert(key, receiver.clone());
                    let landed = Landed {
                        flights: self.flights.clone(),
                        key,
                    };
                    let flight = async move {
                        let value = call.await;
                        drop(landed);
                        // Nobody left to tell is fine: the result is dropped.
                        let _ = sender.send(Some(value));
                    };
                    tokio::spawn(flight.in_current_span());
                    receiver
                }
            }
        };
        let value = result.wait_for(Option::is_some).await.ok()?;
        value.clone()
    }
}

/// Removes the entry of a call that finished, also when it panicked.
struct Landed<V> {
    flights: Flights<V>,
    key: Key,
}

impl<V> Drop for Landed<V> {
    fn drop(&mut self) {
        lock(&self.flights).remove(&self.key);
    }
}

/// The map is only ever left consistent, so a poisoned lock is still usable.
fn lock<V>(flights: &Flights<V>) -> MutexGuard<'_, HashMap<Key, watch::Receiver<Option<V>>>> {
    flights.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::{
        sync::atomic::{AtomicUsize, Ordering},
        time::Duration,
    };

    use super::*;

    /// A call that counts itself, waits a little, and answers `answer`.
    fn slow_call(calls: &Arc<AtomicUsize>, answer: u32) -> impl Future<Output = u32> + use<> {
        let calls = calls.clone();
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            answer
        }
    }

    #[tokio::test]
    async fn concurrent_calls_with_one_key_share_one_call() {
        let flights = SingleFlight::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let key = key_of("token-1");
        let answers = tokio::join!(
            flights.run(key, slow_call(&calls, 1)),
            flights.run(key, slow_call(&calls, 2)),
            flights.run(key, slow_call(&calls, 3)),
        );
        assert_eq!(answers, (Some(1), Some(1), Some(1)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(lock(&flights.flights).is_empty());
    }

    #[tokio::test]
    async fn different_keys_and_later_calls_are_not_joined() {
        let flights = SingleFlight::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let answers = tokio::join!(
            flights.run(key_of("token-1"), slow_call(&calls, 1)),
            flights.run(key_of("token-2"), slow_call(&calls, 2)),
        );
        assert_eq!(answers, (Some(1), Some(2)));
        let later = flights.run(key_of("token-1"), slow_call(&calls, 3)).await;
        assert_eq!(later, Some(3));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_caller_that_goes_away_does_not_cancel_the_call_for_the_others() {
        let flights = SingleFlight::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let key = key_of("token-1");
        let first = flights.run(key, slow_call(&calls, 1));
        let gone = tokio::time::timeout(Duration::from_millis(10), first).await;
        assert!(gone.is_err());
        assert_eq!(flights.run(key, slow_call(&calls, 2)).await, Some(1));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_call_that_panics_answers_none_and_leaves_no_entry() {
        let flights = SingleFlight::<u32>::new();
        let key = key_of("token-1");
        let answer = flights.run(key, async { panic!("boom") }).await;
        assert_eq!(answer, None);
        assert!(lock(&flights.flights).is_empty());
    }

    #[test]
    fn keys_are_sha256_digests() {
        assert_eq!(
            key_of("abc")[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "SHA-256(abc) starts with ba7816bf"
        );
    }
}
