//! The figures a bench run produces and the arithmetic behind them: percentiles of round-trip
//! samples and rates. Every figure carries its unit and a sentence saying what measured it, so the
//! table, results.json and the chart never have to guess.

use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};

/// What a figure is about: a model, an encrypted twin of one, the floor, or the capture tools.
/// Written in results.json by [`Model::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    Floor,
    Tcp,
    Rest,
    Reqrep,
    Pushpull,
    Pubsub,
    Mqtt,
    /// MQTT over TLS (the `mqtt-tls` capture's twin).
    MqttTls,
    /// REST over HTTPS (the `rest-tls` capture's twin).
    RestTls,
    /// ZeroMQ REQ/REP over CURVE (the `reqrep-curve` capture's twin).
    ReqrepCurve,
    Capture,
}

impl Model {
    pub fn name(self) -> &'static str {
        match self {
            Model::Floor => "floor",
            Model::Tcp => "tcp",
            Model::Rest => "rest",
            Model::Reqrep => "reqrep",
            Model::Pushpull => "pushpull",
            Model::Pubsub => "pubsub",
            Model::Mqtt => "mqtt",
            Model::MqttTls => "mqtt-tls",
            Model::RestTls => "rest-tls",
            Model::ReqrepCurve => "reqrep-curve",
            Model::Capture => "capture",
        }
    }
}

/// What is measured. The unit follows from it (and, for rates, from the model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Median round trip.
    P50,
    P99,
    /// Mean round trip.
    AvgRtt,
    /// Messages (requests, for REST) per second.
    MsgsPerS,
    /// A process's resident set size.
    Rss,
    /// Messages that never arrived.
    Lost,
    /// Packets tcpdump's ring could not hold.
    KernelDrops,
    /// Messages per second while tcpdump captured them.
    CapturedMsgsPerS,
    /// Packets a capture reader got through per second.
    PktsPerS,
    /// Median time from the TCP connect to the first byte of the server's first answer.
    FirstByteP50,
    /// A process's CPU time over a run's wall time, in percent of one core.
    Cpu,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::P50 => "p50",
            Metric::P99 => "p99",
            Metric::AvgRtt => "avg_rtt",
            Metric::MsgsPerS => "msgs_per_s",
            Metric::Rss => "rss",
            Metric::Lost => "lost",
            Metric::KernelDrops => "kernel_drops",
            Metric::CapturedMsgsPerS => "captured_msgs_per_s",
            Metric::PktsPerS => "pkts_per_s",
            Metric::FirstByteP50 => "first_byte_p50",
            Metric::Cpu => "cpu",
        }
    }

    fn unit(self, model: Model) -> &'static str {
        match self {
            Metric::P50 | Metric::P99 | Metric::AvgRtt | Metric::FirstByteP50 => "us",
            Metric::MsgsPerS if matches!(model, Model::Rest | Model::RestTls) => "req/s",
            Metric::MsgsPerS | Metric::CapturedMsgsPerS => "msgs/s",
            Metric::Rss => "KiB",
            Metric::Lost => "msgs",
            Metric::KernelDrops => "packets",
            Metric::PktsPerS => "pkts/s",
            Metric::Cpu => "%",
        }
    }

    /// Counts of losses and drops may be zero, which is their goal, and a CPU share may round to
    /// zero clock ticks in a short run; every other figure must be above zero to be a measurement.
    fn zero_ok(self) -> bool {
        matches!(self, Metric::Lost | Metric::KernelDrops | Metric::Cpu)
    }
}

/// Which side of a comparison measured a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Our binaries (or our load generator against them): `pola` in results.json.
    Ours,
    /// Raw loopback TCP written in the bench.
    Floor,
    /// Our pipeline binaries of another build (`--baseline-bin-dir`).
    Baseline,
    /// The same model without encryption, measured in turns with its encrypted twin.
    Plain,
    /// A tool or build of someone else's, by name: `sockperf`, `wrk`, `mosquitto`, `c`, ...
    Peer(&'static str),
}

impl Side {
    pub const fn peer(name: &'static str) -> Side {
        Side::Peer(name)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Side::Ours => "pola",
            Side::Floor => "floor",
            Side::Baseline => "baseline",
            Side::Plain => "plain",
            Side::Peer(name) => name,
        }
    }
}

macro_rules! named {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }
    )*};
}
named!(Model, Metric, Side);

/// One measured number, e.g. the p50 round trip of TCP echo at 64 B.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub model: Model,
    pub metric: Metric,
    /// Message size in bytes (0 where it does not apply).
    pub size: usize,
    pub by: Side,
    /// A qualifier such as `qos1` or `c=4` (empty when there is none).
    pub variant: String,
    pub value: f64,
    pub unit: &'static str,
    /// What produced the figure, in a sentence.
    pub how: String,
}

impl Figure {
    /// True if the value is a usable measurement: finite and above zero (or zero, where zero is
    /// the goal).
    pub fn is_sane(&self) -> bool {
        self.value.is_finite() && (self.value > 0.0 || (self.metric.zero_ok() && self.value == 0.0))
    }

    /// True if this figure is the one `key` names.
    pub fn is(&self, key: &Key, size: usize) -> bool {
        self.model == key.model
            && self.metric == key.metric
            && self.size == size
            && self.by == key.by
            && self.variant == key.variant
    }
}

/// A figure's name without its size: what the comparison rules look figures up by.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub model: Model,
    pub metric: Metric,
    pub by: Side,
    pub variant: &'static str,
}

impl Key {
    pub const fn of(model: Model, metric: Metric, by: Side) -> Key {
        Key {
            model,
            metric,
            by,
            variant: "",
        }
    }

    pub const fn variant(self, variant: &'static str) -> Key {
        Key { variant, ..self }
    }
}

/// Who measured what, at which size and in which variant: every part of a figure's name but the
/// metric, so one series gives a run's p50, p99 and rate alike.
#[derive(Debug, Clone)]
pub struct Series {
    pub model: Model,
    pub size: usize,
    pub by: Side,
    pub variant: String,
}

impl Series {
    pub fn new(model: Model, size: usize, by: Side) -> Series {
        Series {
            model,
            size,
            by,
            variant: String::new(),
        }
    }

    pub fn variant(self, variant: impl Into<String>) -> Series {
        Series {
            variant: variant.into(),
            ..self
        }
    }

    /// The same series measured by `by`.
    pub fn by(&self, by: Side) -> Series {
        Series { by, ..self.clone() }
    }

    /// The figure of `metric` in this series; `how` says what measured it.
    pub fn figure(&self, metric: Metric, value: f64, how: &str) -> Figure {
        Figure {
            model: self.model,
            metric,
            size: self.size,
            by: self.by,
            variant: self.variant.clone(),
            value,
            unit: metric.unit(self.model),
            how: how.into(),
        }
    }

    /// The p50, p99 and mean figures of a latency sample.
    pub fn latency(&self, mut s: Samples, how: &str) -> Vec<Figure> {
        vec![
            self.figure(Metric::P50, s.percentile(50.0), how),
            self.figure(Metric::P99, s.percentile(99.0), how),
            self.figure(Metric::AvgRtt, s.mean(), how),
        ]
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
    fn sanity_rejects_zero_and_nan_but_not_zero_drops() {
        let series = Series::new(Model::Floor, 64, Side::Floor);
        assert!(series.figure(Metric::P50, 12.0, "").is_sane());
        assert!(!series.figure(Metric::P50, 0.0, "").is_sane());
        assert!(!series.figure(Metric::P50, f64::NAN, "").is_sane());
        assert!(series.figure(Metric::KernelDrops, 0.0, "").is_sane());
        assert!(!series
            .figure(Metric::KernelDrops, f64::INFINITY, "")
            .is_sane());
    }

    #[test]
    fn figures_serialize_with_the_names_and_units_results_json_always_had() {
        let f = Series::new(Model::Rest, 64, Side::peer("wrk"))
            .variant("c=1")
            .figure(Metric::MsgsPerS, 5.0, "wrk");
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"model": "rest", "metric": "msgs_per_s", "size": 64, "by": "wrk",
                "variant": "c=1", "value": 5.0, "unit": "req/s", "how": "wrk"})
        );
        let ours = Series::new(Model::Pubsub, 0, Side::Ours).figure(Metric::AvgRtt, 1.0, "");
        assert_eq!(serde_json::to_value(&ours).unwrap()["by"], "pola");
        assert_eq!(serde_json::to_value(&ours).unwrap()["metric"], "avg_rtt");
        assert_eq!(ours.unit, "us");
        let key = Key::of(Model::Pubsub, Metric::AvgRtt, Side::Ours);
        assert!(ours.is(&key, 0) && !ours.is(&key, 64) && !ours.is(&key.variant("x"), 0));
    }
}
