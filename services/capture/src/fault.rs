//! Network faults injected from inside the hub's network namespace, which the sidecar already owns
//! with NET_ADMIN: random packet loss, a black-holed link and TCP resets (nftables), a bandwidth cap
//! (tc tbf) and delay (tc netem, absent from some kernels). Every fault prints one `fault=` line with
//! the Unix time it took effect, so a report can place it among the packets of the capture.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::Subcommand;
use common::Stop;

/// The faults `pola-capture fault ...` applies, on the capture interface only (never loopback,
/// where the healthchecks talk), to TCP only.
#[derive(Subcommand, Debug, Clone, PartialEq)]
pub enum Fault {
    /// Drop PERCENT % of TCP packets at random, in both directions, until `clear`.
    Drop {
        #[arg(value_parser = clap::value_parser!(u8).range(1..=100))]
        percent: u8,
    },
    /// Drop every TCP packet for SECS seconds, then restore the link.
    Blackhole { secs: f64 },
    /// Answer every TCP packet that arrives with a RST for SECS seconds (REJECT with tcp-reset).
    Reset { secs: f64 },
    /// Cap the hub's outgoing bandwidth at KBIT kbit/s (tc tbf) until `clear`.
    Rate {
        #[arg(value_parser = clap::value_parser!(u32).range(8..))]
        kbit: u32,
    },
    /// Delay the hub's outgoing packets by MS ms, +/- JITTER ms (tc netem) until `clear`.
    Delay {
        ms: u32,
        #[arg(default_value_t = 0)]
        jitter: u32,
    },
    /// Remove every fault this command added.
    Clear,
}

/// Where the tools are (the capture image stages Debian's at these paths).
#[derive(Debug, Clone)]
pub struct Tools {
    pub nft: PathBuf,
    pub tc: PathBuf,
    pub interface: String,
}

/// Each nft fault lives in its own table, so one can be removed without touching another or the
/// rules Docker keeps in the same namespace (its DNS redirect).
const TABLES: [&str; 3] = ["pola_drop", "pola_blackhole", "pola_reset"];

/// Applies `fault`; a timed one (blackhole, reset) returns once it is over, or early on a signal.
pub fn apply(fault: &Fault, tools: &Tools, stop: &Stop) -> anyhow::Result<()> {
    let dev = &tools.interface;
    match fault {
        Fault::Drop { percent } => {
            let rule = match percent {
                100 => "meta l4proto tcp drop".to_string(),
                p => format!("meta l4proto tcp numgen random mod 100 < {p} drop"),
            };
            nft(tools, &table("pola_drop", dev, &rule, &rule))?;
            event(&format!("fault=drop percent={percent} interface={dev}"));
        }
        Fault::Blackhole { secs } => {
            let rule = "meta l4proto tcp drop";
            timed(
                tools,
                stop,
                "blackhole",
                *secs,
                "pola_blackhole",
                &table("pola_blackhole", dev, rule, rule),
            )?;
        }
        Fault::Reset { secs } => {
            // On input only: the RST leaves through the interface, so it is in the capture. A RST
            // is let through, or on loopback our own RST would come back in and be eaten.
            let rule = "tcp flags & rst == 0 reject with tcp reset";
            timed(
                tools,
                stop,
                "reset",
                *secs,
                "pola_reset",
                &table("pola_reset", dev, rule, "accept"),
            )?;
        }
        Fault::Rate { kbit } => {
            // A burst of 16 KB and at most 500 ms of queue: a slow link, not a lossy one.
            let rate = format!("{kbit}kbit");
            tc(
                tools,
                &[
                    "qdisc", "replace", "dev", dev, "root", "tbf", "rate", &rate, "burst", "16kb",
                    "latency", "500ms",
                ],
            )?;
            event(&format!("fault=rate kbit={kbit} interface={dev}"));
        }
        Fault::Delay { ms, jitter } => {
            let (delay, jit) = (format!("{ms}ms"), format!("{jitter}ms"));
            tc(tools, &["qdisc", "replace", "dev", dev, "root", "netem", "delay", &delay, &jit])
                .map_err(|e| {
                    if e.to_string().contains("qdisc kind is unknown") {
                        anyhow::anyhow!("netem is not in this kernel (tc: Specified qdisc kind is unknown): no delay or jitter here")
                    } else {
                        e
                    }
                })?;
            event(&format!(
                "fault=delay ms={ms} jitter_ms={jitter} interface={dev}"
            ));
        }
        Fault::Clear => {
            let script: String = TABLES
                .iter()
                .map(|t| format!("add table inet {t}\ndelete table inet {t}\n"))
                .collect();
            nft(tools, &script)?;
            // A device with no root qdisc answers "Cannot delete qdisc with handle of zero".
            if let Err(e) = tc(tools, &["qdisc", "del", "dev", dev, "root"]) {
                if !e.to_string().contains("handle of zero") {
                    return Err(e);
                }
            }
            event(&format!("fault=clear interface={dev}"));
        }
    }
    Ok(())
}

/// The nft script of one fault's table: `input` filters what arrives on `dev`, `output` what leaves.
/// Priority -10 runs it before Docker's own filter chains.
pub fn table(name: &str, dev: &str, input: &str, output: &str) -> String {
    format!(
        "table inet {name} {{\n\
         \tchain input {{ type filter hook input priority -10; policy accept; iifname \"{dev}\" {input}; }}\n\
         \tchain output {{ type filter hook output priority -10; policy accept; oifname \"{dev}\" {output}; }}\n\
         }}\n"
    )
}

/// Adds `script`'s table `name`, waits `secs` (cut short by SIGTERM/SIGINT), then deletes the table.
fn timed(
    tools: &Tools,
    stop: &Stop,
    kind: &str,
    secs: f64,
    name: &str,
    script: &str,
) -> anyhow::Result<()> {
    if !(secs > 0.0 && secs <= 3600.0) {
        bail!("{kind}: the duration must be between 0 and 3600 seconds, got {secs}");
    }
    nft(tools, script)?;
    event(&format!(
        "fault={kind} secs={secs} interface={}",
        tools.interface
    ));
    let end = Instant::now() + Duration::from_secs_f64(secs);
    while Instant::now() < end && !stop.is_set() {
        std::thread::sleep(
            Duration::from_millis(10).min(end.saturating_duration_since(Instant::now())),
        );
    }
    nft(tools, &format!("delete table inet {name}\n"))?;
    event(&format!("fault={kind} end interface={}", tools.interface));
    Ok(())
}

/// Prints one event line on stdout, where scripts collect it, stamped with the Unix time in ms
/// (the clock of the pcap's timestamps on this host).
fn event(what: &str) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    println!("{what} at={}.{:03}", now.as_secs(), now.subsec_millis());
    log::info!("{what}");
}

/// Runs `nft -f -` with `script`; nft's first error line becomes the error.
fn nft(tools: &Tools, script: &str) -> anyhow::Result<()> {
    let mut child = Command::new(&tools.nft)
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {} (nftables)", tools.nft.display()))?;
    child
        .stdin
        .take()
        .context("nft's stdin")?
        .write_all(script.as_bytes())
        .context("writing the nft script")?;
    let out = child.wait_with_output().context("waiting for nft")?;
    check("nft", out)
}

fn tc(tools: &Tools, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(&tools.tc)
        .args(args)
        .output()
        .with_context(|| format!("starting {} (tc)", tools.tc.display()))?;
    check("tc", out)
}

/// Turns a failed tool run into one line; a permission error names the missing capability.
fn check(tool: &str, out: std::process::Output) -> anyhow::Result<()> {
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stderr);
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("Error") || l.contains("RTNETLINK") || l.contains("rror"))
        .or_else(|| text.lines().map(str::trim).find(|l| !l.is_empty()))
        .unwrap_or("no output")
        .to_string();
    if first.contains("Operation not permitted") {
        bail!("{tool}: {first} (the fault needs NET_ADMIN in the hub's network namespace)");
    }
    bail!("{tool} exited with {}: {first}", out.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_filters_only_the_capture_interface_both_ways() {
        let t = table("pola_drop", "eth0", "meta l4proto tcp drop", "accept");
        assert!(t.starts_with("table inet pola_drop {"), "{t}");
        assert!(
            t.contains(
                "hook input priority -10; policy accept; iifname \"eth0\" meta l4proto tcp drop;"
            ),
            "{t}"
        );
        assert!(
            t.contains("hook output priority -10; policy accept; oifname \"eth0\" accept;"),
            "{t}"
        );
    }
}
