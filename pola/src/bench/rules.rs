//! The comparisons a bench run reports: each figure of ours against its floor, its peer or its
//! plain twin, as a ratio, with the goal it is judged by where it has one.

use serde::Serialize;

use super::stats::Metric::*;
use super::stats::Model::*;
use super::stats::{Figure, Key, Metric, Side};

/// One figure of ours set against a reference figure, with the goal it is judged by, if any.
#[derive(Debug, Serialize)]
pub struct Comparison {
    pub what: String,
    pub ours: f64,
    pub reference: f64,
    pub unit: String,
    pub ratio: f64,
    /// `<= 1.2` or `>= 0.8`; empty for a ratio reported for information.
    pub goal: String,
    pub met: Option<bool>,
}

/// The figure `key` names at `size`, if it was produced.
pub fn get<'a>(figs: &'a [Figure], key: &Key, size: usize) -> Option<&'a Figure> {
    figs.iter().find(|f| f.is(key, size))
}

/// How a ratio is judged against its bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    AtLeast,
    AtMost,
}

/// The bound a ratio should meet.
#[derive(Debug, Clone, Copy)]
pub struct Goal {
    pub cmp: Cmp,
    pub bound: f64,
}

impl Goal {
    pub fn met(self, ratio: f64) -> bool {
        match self.cmp {
            Cmp::AtLeast => ratio >= self.bound,
            Cmp::AtMost => ratio <= self.bound,
        }
    }
}

/// As results.json writes it: `<= 1.2`, `>= 0.8`, `>= 0.769` (at most three decimals).
impl std::fmt::Display for Goal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.cmp {
            Cmp::AtLeast => ">=",
            Cmp::AtMost => "<=",
        };
        let bound = format!("{:.3}", self.bound);
        write!(
            f,
            "{op} {}",
            bound.trim_end_matches('0').trim_end_matches('.')
        )
    }
}

/// A comparison row: the figure of ours against the reference figure of the same size.
#[derive(Clone, Copy)]
pub struct Rule {
    pub what: &'static str,
    pub ours: Key,
    pub reference: Key,
    /// The bound the ratio should meet; None for information only.
    pub goal: Option<Goal>,
}

impl Rule {
    pub const fn new(what: &'static str, ours: Key, reference: Key) -> Rule {
        Rule {
            what,
            ours,
            reference,
            goal: None,
        }
    }

    pub const fn at_most(self, bound: f64) -> Rule {
        self.goal(Cmp::AtMost, bound)
    }

    pub const fn at_least(self, bound: f64) -> Rule {
        self.goal(Cmp::AtLeast, bound)
    }

    const fn goal(self, cmp: Cmp, bound: f64) -> Rule {
        let goal = Some(Goal { cmp, bound });
        Rule { goal, ..self }
    }
}

/// Applies every rule at every size where both figures exist.
pub fn compare(figs: &[Figure], rules: &[Rule], sizes: &[usize]) -> Vec<Comparison> {
    let mut rows = Vec::new();
    for rule in rules {
        for &size in sizes {
            // Sizeless figures (RSS) are stored with size 0.
            let find = |key: &Key| get(figs, key, size).or_else(|| get(figs, key, 0));
            let (Some(ours), Some(reference)) = (find(&rule.ours), find(&rule.reference)) else {
                continue;
            };
            if ours.size == 0 && size != sizes[0] {
                continue;
            }
            let ratio = ours.value / reference.value;
            let at = if ours.size == 0 {
                String::new()
            } else {
                format!(" {size} B")
            };
            rows.push(Comparison {
                what: format!("{}{at}", rule.what),
                ours: ours.value,
                reference: reference.value,
                unit: ours.unit.to_string(),
                ratio,
                goal: rule.goal.map(|g| g.to_string()).unwrap_or_default(),
                met: rule.goal.map(|g| g.met(ratio)),
            });
        }
    }
    // The capture goal is absolute, not a ratio: no packet dropped by the kernel.
    for f in figs.iter().filter(|f| f.metric == Metric::KernelDrops) {
        rows.push(Comparison {
            what: format!("tcpdump kernel drops, {} {} B", f.variant, f.size),
            ours: f.value,
            reference: 0.0,
            unit: f.unit.to_string(),
            ratio: f64::NAN,
            goal: "= 0".into(),
            met: Some(f.value == 0.0),
        });
    }
    rows
}

const OURS: Side = Side::Ours;
const FLOOR: Side = Side::Floor;
const BASELINE: Side = Side::Baseline;
const PLAIN: Side = Side::Plain;

/// An encrypted twin (TLS or CURVE) may cost at most this much of its plain model's latency, and lose at most
/// this much of its rate (its msgs/s at least 1 / 1.3 of plain).
const TWIN_COST: f64 = 1.3;

/// The comparisons a bench run reports, each with its goal where it has one.
pub const RULES: &[Rule] = &[
    Rule::new(
        "floor p50 vs sockperf pp",
        Key::of(Floor, P50, FLOOR),
        Key::of(Floor, P50, Side::peer("sockperf")),
    ),
    Rule::new(
        "floor msgs/s vs sockperf tp",
        Key::of(Floor, MsgsPerS, FLOOR),
        Key::of(Floor, MsgsPerS, Side::peer("sockperf")),
    ),
    Rule::new(
        "TCP echo p50 vs floor",
        Key::of(Tcp, P50, OURS),
        Key::of(Tcp, P50, FLOOR),
    )
    .at_most(1.2),
    Rule::new(
        "TCP echo p99 vs floor",
        Key::of(Tcp, P99, OURS),
        Key::of(Tcp, P99, FLOOR),
    ),
    Rule::new(
        "TCP echo msgs/s vs floor stream",
        Key::of(Tcp, MsgsPerS, OURS),
        Key::of(Floor, MsgsPerS, FLOOR),
    ),
    Rule::new(
        "REST p50 vs floor",
        Key::of(Rest, P50, OURS),
        Key::of(Rest, P50, FLOOR),
    )
    .at_most(1.6),
    Rule::new(
        "REST p50 vs wrk c=1",
        Key::of(Rest, P50, OURS),
        Key::of(Rest, P50, Side::peer("wrk")).variant("c=1"),
    )
    .at_most(1.3),
    Rule::new(
        "REST req/s c=1 vs wrk",
        Key::of(Rest, MsgsPerS, OURS).variant("c=1"),
        Key::of(Rest, MsgsPerS, Side::peer("wrk")).variant("c=1"),
    ),
    Rule::new(
        "REST req/s c=4 vs wrk",
        Key::of(Rest, MsgsPerS, OURS).variant("c=4"),
        Key::of(Rest, MsgsPerS, Side::peer("wrk")).variant("c=4"),
    ),
    Rule::new(
        "REST req/s c=16 vs wrk",
        Key::of(Rest, MsgsPerS, OURS).variant("c=16"),
        Key::of(Rest, MsgsPerS, Side::peer("wrk")).variant("c=16"),
    )
    .at_least(0.9),
    Rule::new(
        "REQ/REP p50 vs remote_lat avg",
        Key::of(Reqrep, P50, OURS),
        Key::of(Reqrep, AvgRtt, Side::peer("remote_lat")),
    )
    .at_most(1.1),
    Rule::new(
        "REQ/REP avg vs remote_lat avg",
        Key::of(Reqrep, AvgRtt, OURS),
        Key::of(Reqrep, AvgRtt, Side::peer("remote_lat")),
    ),
    Rule::new(
        "REQ/REP p50 vs floor",
        Key::of(Reqrep, P50, OURS),
        Key::of(Reqrep, P50, FLOOR),
    ),
    Rule::new(
        "PUSH/PULL msgs/s vs the same pipeline in C",
        Key::of(Pushpull, MsgsPerS, OURS),
        Key::of(Pushpull, MsgsPerS, Side::peer("c")),
    )
    .at_least(1.0),
    Rule::new(
        "PUSH/PULL msgs/s vs baseline build",
        Key::of(Pushpull, MsgsPerS, OURS),
        Key::of(Pushpull, MsgsPerS, BASELINE),
    ),
    Rule::new(
        "PUSH/PULL msgs/s vs local_thr",
        Key::of(Pushpull, MsgsPerS, OURS),
        Key::of(Pushpull, MsgsPerS, Side::peer("local_thr")),
    )
    .at_least(0.5),
    Rule::new(
        "PUSH/PULL msgs/s vs floor",
        Key::of(Pushpull, MsgsPerS, OURS),
        Key::of(Floor, MsgsPerS, FLOOR),
    ),
    Rule::new(
        "PUB/SUB 1 sub msgs/s vs the same in C",
        Key::of(Pubsub, MsgsPerS, OURS).variant("subs=1"),
        Key::of(Pubsub, MsgsPerS, Side::peer("c")).variant("subs=1"),
    )
    .at_least(1.0),
    Rule::new(
        "PUB/SUB 1 sub msgs/s vs baseline build",
        Key::of(Pubsub, MsgsPerS, OURS).variant("subs=1"),
        Key::of(Pubsub, MsgsPerS, BASELINE).variant("subs=1"),
    ),
    Rule::new(
        "PUB/SUB 1 sub msgs/s vs local_thr",
        Key::of(Pubsub, MsgsPerS, OURS).variant("subs=1"),
        Key::of(Pubsub, MsgsPerS, Side::peer("local_thr")),
    )
    .at_least(0.5),
    Rule::new(
        "PUB/SUB 4 subs msgs/s vs the same in C",
        Key::of(Pubsub, MsgsPerS, OURS).variant("subs=4"),
        Key::of(Pubsub, MsgsPerS, Side::peer("c")).variant("subs=4"),
    )
    .at_least(1.0),
    Rule::new(
        "PUB/SUB 4 subs msgs/s vs baseline build",
        Key::of(Pubsub, MsgsPerS, OURS).variant("subs=4"),
        Key::of(Pubsub, MsgsPerS, BASELINE).variant("subs=4"),
    ),
    Rule::new(
        "PUB/SUB 4 subs msgs/s vs local_thr",
        Key::of(Pubsub, MsgsPerS, OURS).variant("subs=4"),
        Key::of(Pubsub, MsgsPerS, Side::peer("local_thr")),
    )
    .at_least(0.5),
    Rule::new(
        "PUB/SUB p50 vs floor",
        Key::of(Pubsub, P50, Side::peer("zmq crate")),
        Key::of(Pubsub, P50, FLOOR),
    ),
    Rule::new(
        "MQTT QoS0 msgs/s vs Mosquitto",
        Key::of(Mqtt, MsgsPerS, OURS).variant("qos0"),
        Key::of(Mqtt, MsgsPerS, Side::peer("mosquitto")).variant("qos0"),
    )
    .at_least(1.0),
    Rule::new(
        "MQTT QoS1 msgs/s vs Mosquitto",
        Key::of(Mqtt, MsgsPerS, OURS).variant("qos1"),
        Key::of(Mqtt, MsgsPerS, Side::peer("mosquitto")).variant("qos1"),
    )
    .at_least(1.0),
    Rule::new(
        "MQTT QoS2 msgs/s vs Mosquitto",
        Key::of(Mqtt, MsgsPerS, OURS).variant("qos2"),
        Key::of(Mqtt, MsgsPerS, Side::peer("mosquitto")).variant("qos2"),
    )
    .at_least(1.0),
    Rule::new(
        "MQTT QoS0 p50 vs Mosquitto",
        Key::of(Mqtt, P50, OURS).variant("qos0"),
        Key::of(Mqtt, P50, Side::peer("mosquitto")).variant("qos0"),
    )
    .at_most(1.2),
    Rule::new(
        "MQTT QoS1 p50 vs Mosquitto",
        Key::of(Mqtt, P50, OURS).variant("qos1"),
        Key::of(Mqtt, P50, Side::peer("mosquitto")).variant("qos1"),
    )
    .at_most(1.2),
    Rule::new(
        "MQTT QoS2 p50 vs Mosquitto",
        Key::of(Mqtt, P50, OURS).variant("qos2"),
        Key::of(Mqtt, P50, Side::peer("mosquitto")).variant("qos2"),
    )
    .at_most(1.2),
    Rule::new(
        "MQTT QoS0 p50 vs floor",
        Key::of(Mqtt, P50, OURS).variant("qos0"),
        Key::of(Mqtt, P50, FLOOR),
    ),
    Rule::new(
        "MQTT broker RSS vs Mosquitto",
        Key::of(Mqtt, Rss, OURS),
        Key::of(Mqtt, Rss, Side::peer("mosquitto")),
    )
    .at_most(2.0),
    Rule::new(
        "MQTT broker RSS steady vs warm",
        Key::of(Mqtt, Rss, OURS).variant("steady"),
        Key::of(Mqtt, Rss, OURS).variant("warm"),
    )
    .at_most(1.2),
    Rule::new(
        "HTTPS p50 vs plain HTTP",
        Key::of(RestTls, P50, OURS),
        Key::of(RestTls, P50, PLAIN),
    )
    .at_most(TWIN_COST),
    Rule::new(
        "HTTPS req/s c=16 vs plain HTTP",
        Key::of(RestTls, MsgsPerS, OURS).variant("c=16"),
        Key::of(RestTls, MsgsPerS, PLAIN).variant("c=16"),
    )
    .at_least(1.0 / TWIN_COST),
    Rule::new(
        "HTTPS handshake to 1st byte vs HTTP",
        Key::of(RestTls, FirstByteP50, OURS),
        Key::of(RestTls, FirstByteP50, PLAIN),
    ),
    Rule::new(
        "MQTT/TLS QoS1 p50 vs plain",
        Key::of(MqttTls, P50, OURS).variant("qos1"),
        Key::of(MqttTls, P50, PLAIN).variant("qos1"),
    )
    .at_most(TWIN_COST),
    Rule::new(
        "MQTT/TLS QoS1 msgs/s vs plain",
        Key::of(MqttTls, MsgsPerS, OURS).variant("qos1"),
        Key::of(MqttTls, MsgsPerS, PLAIN).variant("qos1"),
    )
    .at_least(1.0 / TWIN_COST),
    Rule::new(
        "MQTT/TLS handshake to 1st byte vs plain",
        Key::of(MqttTls, FirstByteP50, OURS),
        Key::of(MqttTls, FirstByteP50, PLAIN),
    ),
    Rule::new(
        "REQ/REP CURVE p50 vs plain",
        Key::of(ReqrepCurve, P50, OURS),
        Key::of(ReqrepCurve, P50, PLAIN),
    )
    .at_most(TWIN_COST),
    Rule::new(
        "REQ/REP CURVE msgs/s vs plain",
        Key::of(ReqrepCurve, MsgsPerS, OURS),
        Key::of(ReqrepCurve, MsgsPerS, PLAIN),
    )
    .at_least(1.0 / TWIN_COST),
    Rule::new(
        "REQ/REP CURVE handshake to reply vs plain",
        Key::of(ReqrepCurve, FirstByteP50, OURS),
        Key::of(ReqrepCurve, FirstByteP50, PLAIN),
    ),
    Rule::new(
        "pola inspect pkts/s vs tshark -r",
        Key::of(Capture, PktsPerS, Side::peer("pola inspect")),
        Key::of(Capture, PktsPerS, Side::peer("tshark")),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::stats::Series;

    #[test]
    fn goals_judge_ratios_at_each_size_and_sizeless_figures_once() {
        let figs = vec![
            Series::new(Tcp, 64, OURS).figure(P50, 12.0, ""),
            Series::new(Tcp, 64, FLOOR).figure(P50, 10.0, ""),
            Series::new(Tcp, 1024, OURS).figure(P50, 13.0, ""),
            Series::new(Tcp, 1024, FLOOR).figure(P50, 10.0, ""),
            Series::new(Mqtt, 0, OURS).figure(Rss, 30.0, ""),
            Series::new(Mqtt, 0, Side::peer("mosquitto")).figure(Rss, 10.0, ""),
            Series::new(Capture, 64, Side::peer("tcpdump"))
                .variant("tcp")
                .figure(KernelDrops, 0.0, ""),
        ];
        let rows = compare(&figs, RULES, &[64, 1024]);
        let row = |what: &str| rows.iter().find(|r| r.what == what).unwrap();
        assert_eq!(row("TCP echo p50 vs floor 64 B").met, Some(true));
        assert_eq!(row("TCP echo p50 vs floor 64 B").goal, "<= 1.2");
        assert_eq!(row("TCP echo p50 vs floor 1024 B").met, Some(false));
        let rss = row("MQTT broker RSS vs Mosquitto");
        assert_eq!(
            (rss.ratio, rss.met, rss.goal.as_str()),
            (3.0, Some(false), "<= 2")
        );
        assert_eq!(
            rows.iter()
                .filter(|r| r.what.starts_with("MQTT broker RSS"))
                .count(),
            1
        );
        assert_eq!(row("tcpdump kernel drops, tcp 64 B").met, Some(true));
        // Nothing else was measured, so no other rule produced a row.
        assert_eq!(rows.len(), 4);
    }

    #[test]
    fn at_least_goals_are_met_from_the_bound_up() {
        let goal = Goal {
            cmp: Cmp::AtLeast,
            bound: 0.9,
        };
        assert!(goal.met(0.9) && goal.met(2.0) && !goal.met(0.89));
        assert_eq!(goal.to_string(), ">= 0.9");
        let tls = Goal {
            cmp: Cmp::AtLeast,
            bound: 1.0 / TWIN_COST,
        };
        assert_eq!(tls.to_string(), ">= 0.769");
        for (bound, shown) in [
            (1.0, "<= 1"),
            (1.2, "<= 1.2"),
            (2.0, "<= 2"),
            (0.5, "<= 0.5"),
        ] {
            let goal = Goal {
                cmp: Cmp::AtMost,
                bound,
            };
            assert_eq!(goal.to_string(), shown);
        }
    }
}
