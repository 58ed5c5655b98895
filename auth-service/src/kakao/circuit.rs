//! The circuit breaker in front of Kakao. After [`FAILURES_TO_OPEN`]
//! outages in a row (a timeout, a connection failure, a 5xx), the circuit
//! opens for `KAKAO_CIRCUIT_OPEN` (default 15 s): every Kakao call is
//! refused at once as unavailable, so callbacks land on `unavailable`
//! instead of each waiting out `KAKAO_TIMEOUT` while Kakao is down. Then one
//! call (the probe) is let through; its success closes the circuit, its
//! outage opens it again. Any answer that is not an outage (a refused code,
//! a quota error) shows that Kakao is up and resets the count.
//!
//! Lock-free: a Kakao call reads one atomic while the circuit is closed.

use std::{
    sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
    time::{Duration, Instant},
};

/// Outages in a row that open the circuit.
pub const FAILURES_TO_OPEN: u32 = 5;

/// The breaker; one per provider client (Kakao's, Naver's, Google's).
#[derive(Debug)]
pub struct Circuit {
    /// The provider's name, for the log lines.
    name: &'static str,
    open_for: Duration,
    epoch: Instant,
    /// Outages in a row.
    failures: AtomicU32,
    /// While open: until when, in milliseconds since `epoch` (at least 1);
    /// 0 while closed.
    open_until: AtomicU64,
    /// Whether the probe of a half-open circuit is in flight.
    probing: AtomicBool,
}

/// Leave to make one Kakao call; say how it went with [`Permit::finish`].
/// Dropped unfinished (the call was cancelled), it frees the probe slot.
#[derive(Debug)]
pub struct Permit<'a> {
    circuit: &'a Circuit,
    probe: bool,
}

/// The circuit is open: Kakao is not called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open;

impl Circuit {
    /// A closed circuit for Kakao that stays open `open_for` once opened.
    pub fn new(open_for: Duration) -> Circuit {
        Circuit::named("kakao", open_for)
    }

    /// A closed circuit for the provider `name` (`naver`, `google`).
    pub fn named(name: &'static str, open_for: Duration) -> Circuit {
        Circuit {
            name,
            open_for,
            epoch: Instant::now(),
            failures: AtomicU32::new(0),
            open_until: AtomicU64::new(0),
            probing: AtomicBool::new(false),
        }
    }

    /// Leave to call Kakao at `now`, unless the circuit is open (or half
    /// open with its probe already in flight).
    pub fn permit(&self, now: Instant) -> Result<Permit<'_>, Open> {
        let open_until = self.open_until.load(Ordering::Acquire);
        if open_until == 0 {
            return Ok(Permit {
                circuit: self,
                probe: false,
            });
        }
        if self.millis(now) < open_until {
            return Err(Open);
        }
        self.probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| Permit {
                circuit: self,
                probe: true,
            })
            .map_err(|_| Open)
    }

    /// Whether the circuit refuses calls at `now`.
    pub fn is_open(&self, now: Instant) -> bool {
        self.permit(now).is_err()
    }

    fn millis(&self, now: Instant) -> u64 {
        let millis = now.saturating_duration_since(self.epoch).as_millis();
        u64::try_from(millis).unwrap_or(u64::MAX).max(1)
    }

    fn open(&self, now: Instant) {
        let until = self.millis(now + self.open_for);
        if self.open_until.swap(until, Ordering::AcqRel) == 0 {
            tracing::warn!(
                provider = self.name,
                open_for = ?self.open_for,
                "provider keeps failing: calls are refused at once for a while"
            );
        }
    }

    fn close(&self) {
        if self.open_until.swap(0, Ordering::AcqRel) != 0 {
            tracing::info!(
                provider = self.name,
                "provider answers again: calls go through"
            );
        }
    }
}

impl Permit<'_> {
    /// Records how the call went at `now`: `outage` for a timeout, a
    /// connection failure or a 5xx; any other answer shows Kakao is up.
    pub fn finish(self, outage: bool, now: Instant) {
        let circuit = self.circuit;
        if outage {
            let failures = circuit.failures.fetch_add(1, Ordering::AcqRel) + 1;
            if self.probe || failures >= FAILURES_TO_OPEN {
                circuit.open(now);
            }
        } else {
            circuit.failures.store(0, Ordering::Release);
            if self.probe {
                circuit.close();
            }
        }
        // `self` drops here and frees the probe slot.
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.probe {
            self.circuit.probing.store(false, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN_FOR: Duration = Duration::from_secs(15);

    fn after(circuit: &Circuit, seconds: u64) -> Instant {
        circuit.epoch + Duration::from_secs(seconds)
    }

    fn call(circuit: &Circuit, seconds: u64, outage: bool) -> Result<(), Open> {
        let now = after(circuit, seconds);
        circuit.permit(now).map(|permit| permit.finish(outage, now))
    }

    #[test]
    fn outages_in_a_row_open_the_circuit_for_a_while() {
        let circuit = Circuit::new(OPEN_FOR);
        for _ in 0..FAILURES_TO_OPEN - 1 {
            assert_eq!(call(&circuit, 1, true), Ok(()));
        }
        assert!(!circuit.is_open(after(&circuit, 1)));
        assert_eq!(call(&circuit, 1, true), Ok(()));
        assert!(circuit.is_open(after(&circuit, 1)));
        assert_eq!(call(&circuit, 15, false), Err(Open));
        assert!(!circuit.is_open(after(&circuit, 16)), "half open at 16 s");
    }

    #[test]
    fn an_answer_between_outages_resets_the_count() {
        let circuit = Circuit::new(OPEN_FOR);
        for _ in 0..3 {
            for _ in 0..FAILURES_TO_OPEN - 1 {
                assert_eq!(call(&circuit, 1, true), Ok(()));
            }
            assert_eq!(call(&circuit, 1, false), Ok(()));
        }
        assert!(!circuit.is_open(after(&circuit, 1)));
    }

    #[test]
    fn a_half_open_circuit_lets_one_probe_through() {
        let circuit = Circuit::new(OPEN_FOR);
        for _ in 0..FAILURES_TO_OPEN {
            call(&circuit, 0, true).unwrap();
        }
        let now = after(&circuit, 20);
        let probe = circuit.permit(now).unwrap();
        assert_eq!(
            circuit.permit(now).unwrap_err(),
            Open,
            "one probe at a time"
        );
        // The probe fails: open again for the whole period.
        probe.finish(true, now);
        assert_eq!(call(&circuit, 34, false), Err(Open));
        // The next probe succeeds: closed, every call goes through.
        assert_eq!(call(&circuit, 36, false), Ok(()));
        for _ in 0..10 {
            assert_eq!(call(&circuit, 36, false), Ok(()));
        }
        // And it takes five outages in a row again to open.
        for _ in 0..FAILURES_TO_OPEN - 1 {
            call(&circuit, 37, true).unwrap();
        }
        assert!(!circuit.is_open(after(&circuit, 37)));
    }

    #[test]
    fn a_cancelled_probe_frees_its_slot() {
        let circuit = Circuit::new(OPEN_FOR);
        for _ in 0..FAILURES_TO_OPEN {
            call(&circuit, 0, true).unwrap();
        }
        let now = after(&circuit, 20);
        drop(circuit.permit(now).unwrap());
        assert!(circuit.permit(now).is_ok());
    }
}
