//! The figures a bench run produces and the arithmetic behind them: percentiles of round-trip
//! samples and rates. Every figure carries its unit and a sentence saying what measured it, so the
//! table, results.json and the chart never have to guess.

use std::time::Duration;

use serde::Serialize;

/// One measured number, e.g. the p50 round trip of TCP echo at 64 B.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// `floor`, `tcp`, `rest`, `reqrep`, `pushpull`, `pubsub`, `mqtt`, `capture`.
    pub model: String,
    /// What is measured: `p50`, `p99`, `msgs_per_s`, `rss`, ...
    pub metric: String,
    /// Message size in bytes (0 where it does not apply).
    pub size: usize,
    /// Which side of the comparison: `pola`, the floor, or the peer tool's name.
    pub by: String,
    /// A qualifier such as `qos1` or `c=4` (empty when there is none).
    pub variant: String,
    pub value: f64,
    pub unit: String,
    /// What produced the figure, in a sentence.
    pub how: String,
}

impl Figure {
    /// True if the value is a usable measurement: finite and above zero (counts of losses and
    /// drops may be zero, which is their goal).
    pub fn is_sane(&self) -> bool {
        let zero_ok = matches!(self.metric.as_str(), "kernel_drops" | "lost");
        self.value.is_finite() && (self.value > 0.0 || (zero_ok && self.value == 0.0))
    }
}

/// Round-trip samples in microseconds, sorted on demand.
#[derive(Debug, Default)]
pub struct Samples(Vec<f64>);

impl Samples {
    pub fn with_capacity(n: usize) -> Self {
        Samples(Vec::with_capacity(n))
    }

    pub fn push(&mut self, rtt: Duration) {
        self.0.push(rtt.as_secs_f64() * 1e6);
    }

    /// Adds another run's samples to these.
    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The arithmetic mean in microseconds (NaN when empty).
    pub fn mean(&self) -> f64 {
        self.0.iter().sum::<f64>() / self.0.len() as f64
    }

    /// The nearest-rank percentile (`q` in 0..=100); NaN when there are no samples, which the
    /// sanity check then rejects.
    pub fn percentile(&mut self, q: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        self.0.sort_by(f64::total_cmp);
        let rank = ((q / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }
}

/// Messages per second for `count` messages over `elapsed`.
pub fn rate(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut s = Samples::default();
        for us in 1..=100 {
            s.push(Duration::from_micros(us));
        }
        assert!((s.percentile(50.0) - 50.0).abs() < 1e-6);
        assert!((s.percentile(99.0) - 99.0).abs() < 1e-6);
        assert!((s.percentile(100.0) - 100.0).abs() < 1e-6);
        assert!(Samples::default().percentile(50.0).is_nan());
    }

    #[test]
    fn sanity_rejects_zero_and_nan() {
        let mut f = Figure {
            model: "floor".into(),
            metric: "p50".into(),
            size: 64,
            by: "floor".into(),
            variant: String::new(),
            value: 12.0,
            unit: "us".into(),
            how: String::new(),
        };
        assert!(f.is_sane());
        f.value = 0.0;
        assert!(!f.is_sane());
        f.value = f64::NAN;
        assert!(!f.is_sane());
    }
}
