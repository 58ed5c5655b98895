//! [`Bounded`]: the one map shape every cache and revocation set uses, at
//! most `cap` entries, dropping expired ones first, then arbitrary ones.

use std::{collections::HashMap, hash::Hash};

/// An entry that is useless after a time (seconds since the epoch).
pub(super) trait Expiring {
    fn expires_at(&self) -> i64;
}

/// A map of at most `cap` entries that drops expired ones first.
pub(super) struct Bounded<K, V> {
    pub(super) map: HashMap<K, V>,
    cap: usize,
}

impl<K: Eq + Hash, V: Expiring> Bounded<K, V> {
    pub(super) fn new(cap: usize) -> Self {
        Bounded {
            map: HashMap::new(),
            cap,
        }
    }

    /// Inserts; `true` if live entries had to be dropped to make room.
    pub(super) fn insert(&mut self, key: K, value: V, now: i64) -> bool {
        let mut dropped_live = false;
        if self.map.len() >= self.cap && !self.map.contains_key(&key) {
            self.map.retain(|_, v| v.expires_at() > now);
            if self.map.len() >= self.cap {
                // Arbitrary victims: HashMap's order is randomly seeded.
                let excess = self.map.len() + 1 - self.cap + self.cap / 16;
                let mut n = 0;
                self.map.retain(|_, _| {
                    n += 1;
                    n > excess
                });
                dropped_live = true;
            }
        }
        self.map.insert(key, value);
        dropped_live
    }

    pub(super) fn clear(&mut self) {
        self.map = HashMap::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    struct Until(i64);

    impl Expiring for Until {
        fn expires_at(&self) -> i64 {
            self.0
        }
    }

    #[test]
    fn the_caches_stay_within_their_bounds() {
        let mut map: Bounded<u32, Until> = Bounded::new(64);
        for i in 0..1000 {
            map.insert(i, Until(NOW + 1), NOW);
            assert!(map.map.len() <= 64);
        }
        let mut expired: Bounded<u32, Until> = Bounded::new(4);
        for i in 0..4 {
            expired.insert(i, Until(NOW - 1), NOW);
        }
        assert!(!expired.insert(9, Until(NOW + 1), NOW), "expired go first");
        assert_eq!(expired.map.len(), 1);
    }
}
