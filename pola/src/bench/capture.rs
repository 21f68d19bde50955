//! The cost of capturing: tcpdump on loopback while a model runs at its benchmark rate (the kernel
//! drops it reports, goal 0), and `pola inspect` against `tshark -r` on the same large capture, in
//! packets per second. tcpdump is run directly with the sidecar's options (`-U --immediate-mode
//! -n`) and a ring sized for loopback (see [`with_capture`]), not in a container.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::procs::run_ok;

/// What tcpdump reported when it stopped.
#[derive(Debug, Clone)]
pub struct Captured {
    pub pcap: PathBuf,
    pub packets: u64,
    pub dropped: u64,
}

/// The number before `label` in tcpdump's closing lines (`12 packets dropped by kernel`).
pub fn count_before(text: &str, label: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_suffix(label)?.trim().parse().ok())
}

/// Runs `work` while tcpdump writes the loopback packets matching `filter` to `pcap`.
pub fn with_capture<T>(
    pcap: &Path,
    filter: &str,
    work: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<(T, Captured)> {
    // --immediate-mode: without it, packets still in the kernel ring's open block when tcpdump
    // stops are neither written nor counted as drops, and a short run's pcap comes out empty.
    // -B: libpcap sizes each ring frame by the interface's MTU, 64 KiB on lo, so the default
    // 2 MiB ring holds ~30 packets and drops any burst. The sidecar's 128 MiB (~2000 frames) is
    // not enough here: at REST's 60 000-90 000 requests/s over 16 connections the client and the
    // server keep both cores busy, tcpdump falls behind, and it dropped 974-17 720 packets of
    // ~400 000 in 3 s runs with wrk (0 in 3 of 3 with 512 MiB, 1 of 2 with 256 MiB). The sidecar
    // keeps 128 MiB: a compose model sends tens of packets, and six captures at once would hold
    // 3 GiB of kernel memory with 512 MiB each.
    let mut child = Command::new("tcpdump")
        .args([
            "-i",
            "lo",
            "-n",
            "-U",
            "--immediate-mode",
            "-B",
            "524288",
            "-Z",
            "root",
            "-w",
        ])
        .arg(pcap)
        .arg(filter)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting tcpdump on lo")?;
    let stderr = child.stderr.take().context("tcpdump's stderr")?;
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    // tcpdump says "listening on lo" once the capture is armed: only then does the work start.
    let armed = rx
        .recv_timeout(Duration::from_secs(10))
        .map(|l| l.contains("listening on"))
        .unwrap_or(false);
    if !armed {
        let _ = child.kill();
        let _ = child.wait();
        bail!("tcpdump on lo did not start listening (filter {filter})");
    }
    let result = work();
    settle(pcap);
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    let closing = reader.join().unwrap_or_default();
    let value = result?;
    let packets = count_before(&closing, "packets captured")
        .context("tcpdump printed no packets captured")?;
    let dropped = count_before(&closing, "packets dropped by kernel")
        .context("tcpdump printed no kernel drops")?;
    Ok((
        value,
        Captured {
            pcap: pcap.to_path_buf(),
            packets,
            dropped,
        },
    ))
}

/// Waits until tcpdump has written what the kernel handed it: a busy machine can leave it behind
/// the traffic, and packets still in its ring when it is stopped are neither written nor counted
/// as drops. The file (written packet by packet, `-U`) must stop growing for 100 ms; 3 s at most.
fn settle(pcap: &Path) {
    let size = || std::fs::metadata(pcap).map(|m| m.len()).unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut last = size();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        let now = size();
        if now == last {
            return;
        }
        last = now;
    }
}

/// Packets per second of a program reading `pcap`: `tshark -r` or `pola inspect`.
pub fn read_rate(program: &Path, args: &[&str], pcap: &Path, packets: u64) -> anyhow::Result<f64> {
    let start = Instant::now();
    run_ok(
        Command::new(program).args(args).arg(pcap),
        &format!(
            "{} {} {}",
            program.display(),
            args.join(" "),
            pcap.display()
        ),
        Duration::from_secs(300),
    )?;
    Ok(packets as f64 / start.elapsed().as_secs_f64())
}

/// [`with_capture`] when `pcap` is given, otherwise just `work`.
pub fn maybe<T>(
    pcap: Option<&Path>,
    filter: &str,
    work: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<(T, Option<Captured>)> {
    match pcap {
        Some(pcap) => with_capture(pcap, filter, work).map(|(v, c)| (v, Some(c))),
        None => work().map(|v| (v, None)),
    }
}
