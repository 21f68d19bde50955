//! What a bench run leaves behind: the comparisons against the floor and the peers (with their
//! goals), the terminal table, bench/results.json and the SVG chart bench/latest.svg.

use std::fmt::Write as _;

use serde::Serialize;

use super::stats::Figure;

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

/// The value of the figure with this identity, if it was produced.
pub fn get<'a>(
    figs: &'a [Figure],
    model: &str,
    metric: &str,
    size: usize,
    by: &str,
    variant: &str,
) -> Option<&'a Figure> {
    figs.iter().find(|f| {
        f.model == model
            && f.metric == metric
            && f.size == size
            && f.by == by
            && f.variant == variant
    })
}

/// A comparison row: `(model, metric, by, variant)` of ours against the reference's, same size.
pub struct Rule {
    pub what: &'static str,
    pub ours: (&'static str, &'static str, &'static str, &'static str),
    pub reference: (&'static str, &'static str, &'static str, &'static str),
    /// (`<=` or `>=`, bound) that the figure should meet; None for information only.
    pub goal: Option<(&'static str, f64)>,
}

/// Applies every rule at every size where both figures exist.
pub fn compare(figs: &[Figure], rules: &[Rule], sizes: &[usize]) -> Vec<Comparison> {
    let mut rows = Vec::new();
    for rule in rules {
        for &size in sizes {
            let (m, k, b, v) = rule.ours;
            let (rm, rk, rb, rv) = rule.reference;
            // Sizeless figures (RSS) are stored with size 0.
            let ours = get(figs, m, k, size, b, v).or_else(|| get(figs, m, k, 0, b, v));
            let reference =
                get(figs, rm, rk, size, rb, rv).or_else(|| get(figs, rm, rk, 0, rb, rv));
            let (Some(ours), Some(reference)) = (ours, reference) else {
                continue;
            };
            if ours.size == 0 && size != sizes[0] {
                continue;
            }
            let ratio = ours.value / reference.value;
            let met = rule.goal.map(|(op, bound)| {
                if op == "<=" {
                    ratio <= bound
                } else {
                    ratio >= bound
                }
            });
            let at = if ours.size == 0 {
                String::new()
            } else {
                format!(" {size} B")
            };
            rows.push(Comparison {
                what: format!("{}{at}", rule.what),
                ours: ours.value,
                reference: reference.value,
                unit: ours.unit.clone(),
                ratio,
                goal: rule
                    .goal
                    .map(|(op, b)| format!("{op} {b}"))
                    .unwrap_or_default(),
                met,
            });
        }
    }
    // The capture goal is absolute, not a ratio: no packet dropped by the kernel.
    for f in figs.iter().filter(|f| f.metric == "kernel_drops") {
        rows.push(Comparison {
            what: format!("tcpdump kernel drops, {} {} B", f.variant, f.size),
            ours: f.value,
            reference: 0.0,
            unit: f.unit.clone(),
            ratio: f64::NAN,
            goal: "= 0".into(),
            met: Some(f.value == 0.0),
        });
    }
    rows
}

fn label(f: &Figure) -> String {
    let size = if f.size == 0 {
        String::new()
    } else {
        format!(" {} B", f.size)
    };
    let variant = if f.variant.is_empty() {
        String::new()
    } else {
        format!(" {}", f.variant)
    };
    format!("{} {}{size}{variant} [{}]", f.model, f.metric, f.by)
}

/// The terminal table: every figure, then every comparison with its goal.
pub fn table(figs: &[Figure], rows: &[Comparison], missing: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<48} {:>14}  {:<6} measured by",
        "figure", "value", "unit"
    );
    for f in figs {
        let _ = writeln!(
            out,
            "{:<48} {:>14.2}  {:<6} {}",
            label(f),
            f.value,
            f.unit,
            f.how
        );
    }
    let _ = writeln!(
        out,
        "\n{:<44} {:>12} {:>12} {:>8}  goal",
        "comparison", "ours", "reference", "ratio"
    );
    for r in rows {
        let verdict = match r.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "",
        };
        let _ = writeln!(
            out,
            "{:<44} {:>12.2} {:>12.2} {:>8.3}  {:<8} {verdict}",
            r.what, r.ours, r.reference, r.ratio, r.goal
        );
    }
    for m in missing {
        let _ = writeln!(out, "MISSING: {m}");
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A horizontal bar chart on a log scale, one panel for round-trip p50 and one for msgs/s, each
/// model's bars beside its floor and peer bars.
pub fn svg(figs: &[Figure], title: &str) -> String {
    type Pick = fn(&Figure) -> bool;
    let panels: [(&str, Pick); 2] = [
        (
            "round trip p50 (µs, log scale, shorter is better)",
            |f: &Figure| f.metric == "p50" || (f.metric == "avg_rtt" && f.by == "remote_lat"),
        ),
        (
            "throughput (msgs/s, log scale, longer is better)",
            |f: &Figure| f.metric == "msgs_per_s",
        ),
    ];
    let (bar_h, left, width) = (16.0, 330.0, 520.0);
    let mut body = String::new();
    let mut y = 40.0;
    for (heading, pick) in panels {
        let chosen: Vec<&Figure> = figs.iter().filter(|f| pick(f) && f.is_sane()).collect();
        let _ = writeln!(
            body,
            r#"<text x="10" y="{y}" font-weight="bold">{}</text>"#,
            escape(heading)
        );
        y += 10.0;
        if chosen.is_empty() {
            y += 20.0;
            continue;
        }
        let lo = chosen
            .iter()
            .map(|f| f.value)
            .fold(f64::INFINITY, f64::min)
            .log10()
            .floor();
        let hi = chosen
            .iter()
            .map(|f| f.value)
            .fold(0.0, f64::max)
            .log10()
            .ceil()
            .max(lo + 1.0);
        let scale = |v: f64| (v.log10() - lo) / (hi - lo) * width;
        let top = y;
        for f in &chosen {
            let colour = match f.by.as_str() {
                "pola" => "#2b6cb0",
                "floor" => "#718096",
                _ => "#dd6b20",
            };
            let _ = writeln!(
                body,
                r#"<text x="{}" y="{}" text-anchor="end" font-size="11">{}</text><rect x="{left}" y="{y}" width="{:.1}" height="{}" fill="{colour}"/><text x="{:.1}" y="{}" font-size="10">{:.1}</text>"#,
                left - 6.0,
                y + 12.0,
                escape(&label(f)),
                scale(f.value).max(1.0),
                bar_h - 3.0,
                left + scale(f.value).max(1.0) + 4.0,
                y + 11.0,
                f.value
            );
            y += bar_h;
        }
        for decade in lo as i32..=hi as i32 {
            let x = left + scale(10f64.powi(decade));
            let _ = writeln!(
                body,
                r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{y}" stroke="#ccc"/><text x="{x:.1}" y="{}" font-size="10" text-anchor="middle">1e{decade}</text>"##,
                y + 12.0
            );
        }
        y += 40.0;
    }
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{y}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/><text x="10" y="20" font-size="14">{}</text>
<text x="10" y="{}" font-size="10">blue: pola, grey: floor, orange: peer tool</text>
{body}</svg>
"#,
        left + width + 80.0,
        escape(title),
        y - 10.0
    )
}

/// The comparisons a bench run reports, each with its goal where it has one.
pub const RULES: &[Rule] = &[
    Rule {
        what: "floor p50 vs sockperf pp",
        ours: ("floor", "p50", "floor", ""),
        reference: ("floor", "p50", "sockperf", ""),
        goal: None,
    },
    Rule {
        what: "floor msgs/s vs sockperf tp",
        ours: ("floor", "msgs_per_s", "floor", ""),
        reference: ("floor", "msgs_per_s", "sockperf", ""),
        goal: None,
    },
    Rule {
        what: "TCP echo p50 vs floor",
        ours: ("tcp", "p50", "pola", ""),
        reference: ("tcp", "p50", "floor", ""),
        goal: Some(("<=", 1.2)),
    },
    Rule {
        what: "TCP echo p99 vs floor",
        ours: ("tcp", "p99", "pola", ""),
        reference: ("tcp", "p99", "floor", ""),
        goal: None,
    },
    Rule {
        what: "TCP echo msgs/s vs floor stream",
        ours: ("tcp", "msgs_per_s", "pola", ""),
        reference: ("floor", "msgs_per_s", "floor", ""),
        goal: None,
    },
    Rule {
        what: "REST p50 vs floor",
        ours: ("rest", "p50", "pola", ""),
        reference: ("rest", "p50", "floor", ""),
        goal: Some(("<=", 1.6)),
    },
    Rule {
        what: "REST p50 vs wrk c=1",
        ours: ("rest", "p50", "pola", ""),
        reference: ("rest", "p50", "wrk", "c=1"),
        goal: Some(("<=", 1.3)),
    },
    Rule {
        what: "REST req/s c=1 vs wrk",
        ours: ("rest", "msgs_per_s", "pola", "c=1"),
        reference: ("rest", "msgs_per_s", "wrk", "c=1"),
        goal: None,
    },
    Rule {
        what: "REST req/s c=4 vs wrk",
        ours: ("rest", "msgs_per_s", "pola", "c=4"),
        reference: ("rest", "msgs_per_s", "wrk", "c=4"),
        goal: None,
    },
    Rule {
        what: "REST req/s c=16 vs wrk",
        ours: ("rest", "msgs_per_s", "pola", "c=16"),
        reference: ("rest", "msgs_per_s", "wrk", "c=16"),
        goal: Some((">=", 0.9)),
    },
    Rule {
        what: "REQ/REP p50 vs remote_lat avg",
        ours: ("reqrep", "p50", "pola", ""),
        reference: ("reqrep", "avg_rtt", "remote_lat", ""),
        goal: Some(("<=", 1.1)),
    },
    Rule {
        what: "REQ/REP avg vs remote_lat avg",
        ours: ("reqrep", "avg_rtt", "pola", ""),
        reference: ("reqrep", "avg_rtt", "remote_lat", ""),
        goal: None,
    },
    Rule {
        what: "REQ/REP p50 vs floor",
        ours: ("reqrep", "p50", "pola", ""),
        reference: ("reqrep", "p50", "floor", ""),
        goal: None,
    },
    Rule {
        what: "PUSH/PULL msgs/s vs the same pipeline in C",
        ours: ("pushpull", "msgs_per_s", "pola", ""),
        reference: ("pushpull", "msgs_per_s", "c", ""),
        goal: Some((">=", 1.0)),
    },
    Rule {
        what: "PUSH/PULL msgs/s vs baseline build",
        ours: ("pushpull", "msgs_per_s", "pola", ""),
        reference: ("pushpull", "msgs_per_s", "baseline", ""),
        goal: None,
    },
    Rule {
        what: "PUSH/PULL msgs/s vs local_thr",
        ours: ("pushpull", "msgs_per_s", "pola", ""),
        reference: ("pushpull", "msgs_per_s", "local_thr", ""),
        goal: Some((">=", 0.5)),
    },
    Rule {
        what: "PUSH/PULL msgs/s vs floor",
        ours: ("pushpull", "msgs_per_s", "pola", ""),
        reference: ("floor", "msgs_per_s", "floor", ""),
        goal: None,
    },
    Rule {
        what: "PUB/SUB 1 sub msgs/s vs the same in C",
        ours: ("pubsub", "msgs_per_s", "pola", "subs=1"),
        reference: ("pubsub", "msgs_per_s", "c", "subs=1"),
        goal: Some((">=", 1.0)),
    },
    Rule {
        what: "PUB/SUB 1 sub msgs/s vs baseline build",
        ours: ("pubsub", "msgs_per_s", "pola", "subs=1"),
        reference: ("pubsub", "msgs_per_s", "baseline", "subs=1"),
        goal: None,
    },
    Rule {
        what: "PUB/SUB 1 sub msgs/s vs local_thr",
        ours: ("pubsub", "msgs_per_s", "pola", "subs=1"),
        reference: ("pubsub", "msgs_per_s", "local_thr", ""),
        goal: Some((">=", 0.5)),
    },
    Rule {
        what: "PUB/SUB 4 subs msgs/s vs the same in C",
        ours: ("pubsub", "msgs_per_s", "pola", "subs=4"),
        reference: ("pubsub", "msgs_per_s", "c", "subs=4"),
        goal: Some((">=", 1.0)),
    },
    Rule {
        what: "PUB/SUB 4 subs msgs/s vs baseline build",
        ours: ("pubsub", "msgs_per_s", "pola", "subs=4"),
        reference: ("pubsub", "msgs_per_s", "baseline", "subs=4"),
        goal: None,
    },
    Rule {
        what: "PUB/SUB 4 subs msgs/s vs local_thr",
        ours: ("pubsub", "msgs_per_s", "pola", "subs=4"),
        reference: ("pubsub", "msgs_per_s", "local_thr", ""),
        goal: Some((">=", 0.5)),
    },
    Rule {
        what: "PUB/SUB p50 vs floor",
        ours: ("pubsub", "p50", "zmq crate", ""),
        reference: ("pubsub", "p50", "floor", ""),
        goal: None,
    },
    Rule {
        what: "MQTT QoS0 msgs/s vs Mosquitto",
        ours: ("mqtt", "msgs_per_s", "pola", "qos0"),
        reference: ("mqtt", "msgs_per_s", "mosquitto", "qos0"),
        goal: Some((">=", 1.0)),
    },
    Rule {
        what: "MQTT QoS1 msgs/s vs Mosquitto",
        ours: ("mqtt", "msgs_per_s", "pola", "qos1"),
        reference: ("mqtt", "msgs_per_s", "mosquitto", "qos1"),
        goal: Some((">=", 1.0)),
    },
    Rule {
        what: "MQTT QoS2 msgs/s vs Mosquitto",
        ours: ("mqtt", "msgs_per_s", "pola", "qos2"),
        reference: ("mqtt", "msgs_per_s", "mosquitto", "qos2"),
        goal: Some((">=", 1.0)),
    },
    Rule {
        what: "MQTT QoS0 p50 vs Mosquitto",
        ours: ("mqtt", "p50", "pola", "qos0"),
        reference: ("mqtt", "p50", "mosquitto", "qos0"),
        goal: Some(("<=", 1.2)),
    },
    Rule {
        what: "MQTT QoS1 p50 vs Mosquitto",
        ours: ("mqtt", "p50", "pola", "qos1"),
        reference: ("mqtt", "p50", "mosquitto", "qos1"),
        goal: Some(("<=", 1.2)),
    },
    Rule {
        what: "MQTT QoS2 p50 vs Mosquitto",
        ours: ("mqtt", "p50", "pola", "qos2"),
        reference: ("mqtt", "p50", "mosquitto", "qos2"),
        goal: Some(("<=", 1.2)),
    },
    Rule {
        what: "MQTT QoS0 p50 vs floor",
        ours: ("mqtt", "p50", "pola", "qos0"),
        reference: ("mqtt", "p50", "floor", ""),
        goal: None,
    },
    Rule {
        what: "MQTT broker RSS vs Mosquitto",
        ours: ("mqtt", "rss", "pola", ""),
        reference: ("mqtt", "rss", "mosquitto", ""),
        goal: Some(("<=", 2.0)),
    },
    Rule {
        what: "MQTT broker RSS steady vs warm",
        ours: ("mqtt", "rss", "pola", "steady"),
        reference: ("mqtt", "rss", "pola", "warm"),
        goal: Some(("<=", 1.2)),
    },
    Rule {
        what: "pola inspect pkts/s vs tshark -r",
        ours: ("capture", "pkts_per_s", "pola inspect", ""),
        reference: ("capture", "pkts_per_s", "tshark", ""),
        goal: None,
    },
];

/// Everything one run produced, with where and when.
#[derive(Serialize)]
pub struct Report {
    pub date: String,
    pub machine: serde_json::Value,
    pub versions: serde_json::Value,
    pub quick: bool,
    pub plan: String,
    pub figures: Vec<Figure>,
    pub comparisons: Vec<Comparison>,
    pub missing: Vec<String>,
}

/// UTC now as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, so no date crate is needed).
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn machine() -> serde_json::Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let mem_kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .next()
            .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string())
    });
    serde_json::json!({
        "cpu": model,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "kernel": kernel,
        "mem_kib": mem_kib,
        // Other work on the machine moves every figure: the load says how much there was.
        "loadavg_at_end": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
    })
}

impl Report {
    pub fn new(plan: &super::Plan, outcome: &super::Outcome) -> Self {
        use super::peers::version;
        let mut missing = outcome.missing.clone();
        for f in outcome.figures.iter().filter(|f| !f.is_sane()) {
            missing.push(format!("{}: value {} is not sane", label(f), f.value));
        }
        Report {
            date: utc_now(),
            machine: machine(),
            versions: serde_json::json!({
                "pola": env!("CARGO_PKG_VERSION"),
                "libzmq (zmq crate)": format!("{:?}", zmq::version()),
                "sockperf": version("sockperf", "--version"),
                "wrk": version("wrk", "--version"),
                "mosquitto": version("mosquitto", "-h"),
                "tcpdump": version("tcpdump", "--version"),
                "tshark": version("tshark", "--version"),
            }),
            quick: plan.quick,
            plan: format!("{plan:?}"),
            comparisons: compare(&outcome.figures, RULES, &plan.sizes),
            figures: outcome.figures.clone(),
            missing,
        }
    }

    pub fn table(&self) -> String {
        table(&self.figures, &self.comparisons, &self.missing)
    }

    /// Writes results.json and latest.svg into `dir`.
    pub fn write(&self, dir: &std::path::Path) -> anyhow::Result<()> {
        use anyhow::Context;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let json = dir.join("results.json");
        let text = serde_json::to_string_pretty(self).context("encoding results.json")?;
        std::fs::write(&json, text + "\n")
            .with_context(|| format!("writing {}", json.display()))?;
        let chart = dir.join("latest.svg");
        let title = format!(
            "pola bench {} ({} cores){}",
            self.date,
            self.machine["cores"],
            if self.quick { ", --quick" } else { "" }
        );
        std::fs::write(&chart, svg(&self.figures, &title))
            .with_context(|| format!("writing {}", chart.display()))?;
        Ok(())
    }

    /// Fails unless every figure was produced and is sane.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.missing.is_empty(),
            "{} figure(s) missing or not sane; first: {}",
            self.missing.len(),
            self.missing[0]
        );
        anyhow::ensure!(!self.figures.is_empty(), "no figure was produced");
        Ok(())
    }
}
