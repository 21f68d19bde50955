//! What a bench run leaves behind: the terminal table of figures and comparisons (from
//! [`super::rules`]), bench/results.json and the SVG chart bench/latest.svg.

use std::fmt::Write as _;

use serde::Serialize;

use super::rules::{compare, Comparison, RULES};
use super::stats::{Figure, Metric, Side};
use crate::html::Svg;

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

/// A horizontal bar chart on a log scale, one panel for round-trip p50 and one for msgs/s, each
/// model's bars beside its floor and peer bars.
pub fn svg(figs: &[Figure], title: &str) -> String {
    type Pick = fn(&Figure) -> bool;
    let panels: [(&str, Pick); 2] = [
        (
            "round trip p50 (µs, log scale, shorter is better)",
            |f: &Figure| {
                f.metric == Metric::P50
                    || (f.metric == Metric::AvgRtt && f.by == Side::peer("remote_lat"))
            },
        ),
        (
            "throughput (msgs/s, log scale, longer is better)",
            |f: &Figure| f.metric == Metric::MsgsPerS,
        ),
    ];
    let mut svg = Svg::new();
    svg.raw(r#"<rect width="100%" height="100%" fill="white"/>"#);
    svg.text(10.0, 20.0, r#"font-size="14""#, title);
    let mut y = 40.0;
    for (heading, pick) in panels {
        let chosen: Vec<&Figure> = figs.iter().filter(|f| pick(f) && f.is_sane()).collect();
        y = panel(&mut svg, y, heading, &chosen);
    }
    let legend = "blue: pola, grey: floor or plain twin, orange: peer tool";
    svg.text(10.0, y - 10.0, r#"font-size="10""#, legend);
    svg.finish(LEFT + WIDTH + 80.0, y, r#"font-family="sans-serif""#) + "\n"
}

/// Where the bars start (labels end), and the width of the longest bar.
const LEFT: f64 = 330.0;
const WIDTH: f64 = 520.0;

/// One panel of the chart from `y` down: its heading, a bar per figure on a log scale with
/// gridlines at each power of ten. Returns where the next panel starts.
fn panel(svg: &mut Svg, mut y: f64, heading: &str, chosen: &[&Figure]) -> f64 {
    let bar_h = 16.0;
    svg.text(10.0, y, r#"font-weight="bold""#, heading);
    y += 10.0;
    if chosen.is_empty() {
        return y + 20.0;
    }
    let values = chosen.iter().map(|f| f.value);
    let lo = values.clone().fold(f64::INFINITY, f64::min).log10().floor();
    let hi = values.fold(0.0, f64::max).log10().ceil().max(lo + 1.0);
    let scale = |v: f64| (v.log10() - lo) / (hi - lo) * WIDTH;
    let top = y;
    for f in chosen {
        let colour = match f.by {
            Side::Ours => "#2b6cb0",
            Side::Floor | Side::Plain => "#718096",
            _ => "#dd6b20",
        };
        let bar = scale(f.value).max(1.0);
        let label_attrs = r#"text-anchor="end" font-size="11""#;
        svg.text(LEFT - 6.0, y + 12.0, label_attrs, &label(f));
        svg.rect(
            (LEFT, y),
            (bar, bar_h - 3.0),
            &format!(r#"fill="{colour}""#),
        );
        let value = format!("{:.1}", f.value);
        svg.text(LEFT + bar + 4.0, y + 11.0, r#"font-size="10""#, &value);
        y += bar_h;
    }
    for decade in lo as i32..=hi as i32 {
        let x = LEFT + scale(10f64.powi(decade));
        svg.line((x, top), (x, y), r##"stroke="#ccc""##);
        let tick = r#"font-size="10" text-anchor="middle""#;
        svg.text(x, y + 12.0, tick, &format!("1e{decade}"));
    }
    y + 40.0
}

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

/// UTC now to the second, as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_now() -> String {
    utc(jiff::Timestamp::now())
}

fn utc(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_are_iso_8601_to_the_second() {
        assert_eq!(utc(jiff::Timestamp::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        // A leap day, and the last second of a century year that is a leap year.
        let t = jiff::Timestamp::from_second(951_868_799).unwrap();
        assert_eq!(utc(t), "2000-02-29T23:59:59Z");
        let t = jiff::Timestamp::from_second(4_107_542_400).unwrap();
        assert_eq!(utc(t), "2100-03-01T00:00:00Z");
        assert_eq!(utc_now().len(), "2026-01-01T00:00:00Z".len());
    }
}
