//! What a client that recovers from a fault needs: bounded reconnect attempts, each logged at
//! INFO as `retry 2/5: reconnecting to X: why` with a growing pause, and a count of duplicates
//! for a receiver that may see a message twice (at-least-once delivery).

use std::collections::HashSet;
use std::fmt::Display;
use std::time::Duration;

/// Bounded attempts after failures. The bound is per outage: a success resets the streak, while
/// [`Backoff::retries`] keeps the total for the summary line.
#[derive(Debug)]
pub struct Backoff {
    what: String,
    max: u32,
    streak: u32,
    retries: u64,
    first: Duration,
    cap: Duration,
}

impl Backoff {
    /// At most `max` attempts per outage of `what` (`reconnecting to 127.0.0.1:1883`), pausing
    /// 100 ms before the first and doubling up to 2 s.
    pub fn new(what: impl Into<String>, max: u32) -> Self {
        Backoff {
            what: what.into(),
            max,
            streak: 0,
            retries: 0,
            first: Duration::from_millis(100),
            cap: Duration::from_secs(2),
        }
    }

    /// The same with other pauses; `first` zero means no pause (a timeout already waited).
    pub fn pauses(mut self, first: Duration, cap: Duration) -> Self {
        self.first = first;
        self.cap = cap;
        self
    }

    /// After a failure: logs the attempt about to be made and returns the pause before it, or
    /// `None` once `max` attempts in a row have failed.
    pub fn failed(&mut self, why: &dyn Display) -> Option<Duration> {
        if self.streak >= self.max {
            return None;
        }
        self.streak += 1;
        self.retries += 1;
        log::info!("retry {}/{}: {}: {why}", self.streak, self.max, self.what);
        let pause = self.first.saturating_mul(1 << (self.streak - 1).min(16));
        Some(pause.min(self.cap))
    }

    /// After a success: the next outage gets `max` attempts again.
    pub fn succeeded(&mut self) {
        self.streak = 0;
    }

    /// Attempts made in all, for `retries=` in the summary.
    pub fn retries(&self) -> u64 {
        self.retries
    }

    /// How many attempts the bound allows per outage.
    pub fn max(&self) -> u32 {
        self.max
    }
}

/// Sequence numbers seen so far; a number seen again is counted as a duplicate, not received.
#[derive(Debug, Default)]
pub struct Seen {
    seen: HashSet<u64>,
    duplicates: u64,
}

impl Seen {
    /// True the first time `seq` arrives; false (and one more duplicate) after that.
    pub fn first_time(&mut self, seq: u64) -> bool {
        let new = self.seen.insert(seq);
        if !new {
            self.duplicates += 1;
        }
        new
    }

    /// Distinct sequence numbers seen.
    pub fn distinct(&self) -> u64 {
        self.seen.len() as u64
    }

    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    pub fn contains(&self, seq: u64) -> bool {
        self.seen.contains(&seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_are_bounded_per_outage_and_counted_in_all() {
        let mut b = Backoff::new("reconnecting to x", 3);
        let pauses: Vec<_> = (0..4).map(|_| b.failed(&"refused")).collect();
        assert_eq!(
            pauses,
            [
                Some(Duration::from_millis(100)),
                Some(Duration::from_millis(200)),
                Some(Duration::from_millis(400)),
                None
            ]
        );
        b.succeeded();
        assert!(b.failed(&"refused").is_some());
        assert_eq!(b.retries(), 4);
        let mut none = Backoff::new("x", 0);
        assert_eq!(none.failed(&"why"), None);
        assert_eq!(none.retries(), 0);
    }

    #[test]
    fn pauses_are_capped() {
        let mut b = Backoff::new("x", 40).pauses(Duration::from_secs(1), Duration::from_secs(3));
        let last = (0..40).filter_map(|_| b.failed(&"e")).last().unwrap();
        assert_eq!(last, Duration::from_secs(3));
    }

    #[test]
    fn a_sequence_number_seen_twice_is_a_duplicate() {
        let mut seen = Seen::default();
        assert!(seen.first_time(1));
        assert!(seen.first_time(2));
        assert!(!seen.first_time(1));
        assert_eq!((seen.distinct(), seen.duplicates()), (2, 1));
    }
}
