//! Which positions of the revocation log have been seen. On PostgreSQL a
//! transaction can commit a lower position after a higher one is visible,
//! so a reader that only asks for "after the highest seen" could skip it
//! forever. The tracker remembers the holes below the highest position and
//! asks for them again until they fill or [`HOLE_TTL`] passes (a rolled
//! back transaction leaves a hole that never fills).

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

/// How long a hole is waited for. Revoking transactions write their log row
/// last, just before committing, so a real hole fills within milliseconds.
pub const HOLE_TTL: Duration = Duration::from_secs(30);
/// Holes remembered at most (the oldest are given up first).
const MAX_HOLES: usize = 1024;

/// Seen positions: everything at or below `highest` except `holes`.
#[derive(Debug, Clone)]
pub struct SequenceTracker {
    highest: i64,
    holes: BTreeMap<i64, Instant>,
}

impl SequenceTracker {
    /// Everything at or below `position` counts as seen.
    pub fn starting_at(position: i64) -> Self {
        SequenceTracker {
            highest: position,
            holes: BTreeMap::new(),
        }
    }

    /// Records `seq` as seen; `true` when it had not been.
    pub fn observe(&mut self, seq: i64, now: Instant) -> bool {
        if seq > self.highest {
            let first_hole = (self.highest + 1).max(seq - MAX_HOLES as i64);
            for hole in first_hole..seq {
                self.holes.insert(hole, now);
            }
            self.highest = seq;
            self.trim();
            true
        } else {
            self.holes.remove(&seq).is_some()
        }
    }

    /// Gives up holes older than [`HOLE_TTL`].
    pub fn expire(&mut self, now: Instant) {
        self.holes
            .retain(|_, since| now.saturating_duration_since(*since) < HOLE_TTL);
    }

    fn trim(&mut self) {
        while self.holes.len() > MAX_HOLES {
            self.holes.pop_first();
        }
    }

    /// The highest position seen.
    pub fn highest(&self) -> i64 {
        self.highest
    }

    /// The positions still expected below [`Self::highest`].
    pub fn holes(&self) -> Vec<i64> {
        self.holes.keys().copied().collect()
    }

    /// The highest position at or below which everything was seen (or
    /// given up): a safe cursor to resume from.
    pub fn watermark(&self) -> i64 {
        self.holes
            .first_key_value()
            .map_or(self.highest, |(hole, _)| hole - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_position_is_seen_once_and_holds_the_watermark_until_then() {
        let now = Instant::now();
        let mut t = SequenceTracker::starting_at(10);
        assert!(t.observe(11, now));
        assert!(t.observe(13, now), "12 is not visible yet");
        assert_eq!((t.highest(), t.holes(), t.watermark()), (13, vec![12], 11));
        assert!(!t.observe(13, now), "seen already");
        assert!(!t.observe(9, now), "below the start");
        assert!(t.observe(12, now), "the hole filled");
        assert_eq!((t.holes(), t.watermark()), (vec![], 13));
    }

    #[test]
    fn a_hole_that_never_fills_is_given_up() {
        let now = Instant::now();
        let mut t = SequenceTracker::starting_at(0);
        t.observe(3, now);
        assert_eq!(t.watermark(), 0);
        t.expire(now + HOLE_TTL);
        assert_eq!((t.holes(), t.watermark()), (vec![], 3));
    }

    #[test]
    fn a_long_jump_remembers_only_the_newest_holes() {
        let now = Instant::now();
        let mut t = SequenceTracker::starting_at(0);
        t.observe(1_000_000, now);
        assert_eq!(t.holes().len(), MAX_HOLES);
        assert_eq!(t.watermark(), 1_000_000 - MAX_HOLES as i64 - 1);
    }
}
