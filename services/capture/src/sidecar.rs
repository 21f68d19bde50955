//! The life of one capture: start tcpdump writing `<model>.pcap.part`, report ready once tcpdump
//! says it is listening, wait for the "done" file the compose `done-<model>` service writes after
//! every client exited 0, stop tcpdump with SIGINT, and keep the file as `<model>.pcap` only if
//! tcpdump's closing counts prove it complete. A signal instead of "done" leaves only the `.part`.

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use common::Stop;

use crate::stats::Stats;

/// How often the wait loop looks at the done file and the signal flag.
const POLL: Duration = Duration::from_millis(50);
/// How long the capture must stay quiet before tcpdump is stopped, and the most it is waited for.
const QUIET: Duration = Duration::from_millis(300);
const SETTLE_LIMIT: Duration = Duration::from_secs(3);
/// How long tcpdump may take to flush and print its counts after SIGINT.
const STOP_LIMIT: Duration = Duration::from_secs(5);

/// Everything a capture needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    pub model: String,
    /// The pcap's name without `.pcap`: the model's, or a fault scenario's (`fault-tcp-lossy`).
    pub name: String,
    pub interface: String,
    pub filter: String,
    /// Where the pcap goes; its owner becomes the pcap's owner.
    pub dir: PathBuf,
    pub done_file: PathBuf,
    pub ready_file: PathBuf,
    pub tcpdump: PathBuf,
}

/// How a capture ended.
#[derive(Debug)]
pub enum Outcome {
    Complete {
        pcap: PathBuf,
        stats: Stats,
    },
    /// Stopped by a signal before the clients were done: only the `.part` file is left.
    Interrupted {
        part: PathBuf,
    },
}

impl Config {
    pub fn part_path(&self) -> PathBuf {
        self.dir.join(format!("{}.pcap.part", self.name))
    }
    pub fn pcap_path(&self) -> PathBuf {
        self.dir.join(format!("{}.pcap", self.name))
    }
}

/// Runs one capture from start to finish; see the module doc.
pub fn run(config: &Config, stop: &Stop) -> anyhow::Result<Outcome> {
    // A container restarted by a second `docker compose up` still holds last run's files.
    for stale in [&config.ready_file, &config.done_file] {
        remove_if_present(stale)?;
    }
    let owner = fs::metadata(&config.dir)
        .with_context(|| format!("reading the owner of {}", config.dir.display()))?;
    crate::privs::become_owner(owner.uid(), owner.gid())?;
    let part = config.part_path();

    let (mut child, lines) = spawn_tcpdump(config, &part)?;
    let mut stderr = Vec::new();
    let done = wait_for_done(config, stop, &lines, &mut stderr);
    let quiet = matches!(done, Ok(true)) && settle(&part);
    interrupt(&child);
    let exited = drain_until_exit(&mut child, &lines, &mut stderr);
    let done = done?;
    let status = exited?;
    if !done {
        log::warn!(
            "interrupted before the clients were done: left {} and no pcap",
            part.display()
        );
        return Ok(Outcome::Interrupted { part });
    }
    anyhow::ensure!(
        status.success(),
        "tcpdump exited with {status}: {}",
        last_lines(&stderr)
    );
    let stats = Stats::parse(stderr.iter().map(String::as_str))
        .and_then(|s| {
            let checked = if quiet {
                s.check_after_quiet()
            } else {
                s.check()
            };
            checked.map(|()| s)
        })
        .with_context(|| format!("capture of {} (left {})", config.model, part.display()))?;
    if stats.unwritten() > 0 {
        log::warn!(
            "{} packet(s) reached tcpdump as it stopped, after {} ms of quiet; not in the pcap",
            stats.unwritten(),
            QUIET.as_millis()
        );
    }
    File::open(&part)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("flushing {}", part.display()))?;
    let pcap = config.pcap_path();
    fs::rename(&part, &pcap)
        .with_context(|| format!("renaming {} to {}", part.display(), pcap.display()))?;
    Ok(Outcome::Complete { pcap, stats })
}

/// Starts tcpdump; its stderr lines arrive on the returned channel, which closes when it exits.
fn spawn_tcpdump(config: &Config, part: &Path) -> anyhow::Result<(Child, Receiver<String>)> {
    // --immediate-mode with -U: every packet reaches the file as it arrives, so none is still in
    // the kernel's buffer when we stop (the "18 received, 0 captured" trap). Immediate mode makes
    // libpcap use a ring of fixed slots sized by the snapshot length: tcpdump's default 256 KiB
    // snaplen in its default 2 MiB buffer gave 8 slots, and a burst of 104 packets lost 72.
    // A 64 KiB snaplen (the largest IP packet, so nothing is cut) in 128 MiB gives ~2,000
    // slots: 32 MiB (~500) lost 819 packets of the burst an MQTT broker sends when its clients
    // come back after a restart. `-Z root` matters only when we are still root (a root-owned captures folder): Debian's tcpdump would switch to a
    // user "tcpdump" that a scratch image does not have (staying root costs it CAP_SETGID).
    let mut child = Command::new(&config.tcpdump)
        .args([
            "-i",
            &config.interface,
            "-Z",
            "root",
            "-n",
            "--immediate-mode",
            "-U",
            "-s",
            "65535",
            "-B",
            "131072",
            "-w",
        ])
        .arg(part)
        .arg(&config.filter)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", config.tcpdump.display()))?;
    let stderr = child.stderr.take().context("tcpdump's stderr")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Ok((child, rx))
}

/// Waits for the done file (true) or a signal (false); marks ready when tcpdump is listening.
fn wait_for_done(
    config: &Config,
    stop: &Stop,
    lines: &Receiver<String>,
    stderr: &mut Vec<String>,
) -> anyhow::Result<bool> {
    loop {
        match lines.recv_timeout(POLL) {
            Ok(line) => {
                log::info!("tcpdump: {line}");
                // tcpdump prints this once the socket is bound and the filter attached: from
                // here on every packet of the model is in the file.
                if line.contains("listening on") {
                    common::probe::mark_ready(Some(&config.ready_file))?;
                }
                stderr.push(line);
                continue;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                let listening = config.ready_file.exists();
                bail!(
                    "tcpdump {} on {}: {}",
                    if listening {
                        "stopped before the clients were done"
                    } else {
                        "could not capture"
                    },
                    config.interface,
                    last_lines(stderr)
                )
            }
        }
        if stop.is_set() {
            return Ok(false);
        }
        if config.done_file.exists() {
            log::info!(
                "{} exists: every client is done, stopping tcpdump",
                config.done_file.display()
            );
            return Ok(true);
        }
    }
}

/// Waits until the capture file has stopped growing for [`QUIET`] (at most [`SETTLE_LIMIT`]):
/// the last segments of the run (the server's FIN to a client that just exited) are then written,
/// not in flight when tcpdump stops, where the kernel counts a packet tcpdump never writes.
/// True if the quiet came.
fn settle(part: &Path) -> bool {
    let size = || fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let (start, mut last, mut since) = (Instant::now(), size(), Instant::now());
    while start.elapsed() < SETTLE_LIMIT && since.elapsed() < QUIET {
        std::thread::sleep(POLL);
        let now = size();
        if now != last {
            (last, since) = (now, Instant::now());
        }
    }
    since.elapsed() >= QUIET
}

/// Asks tcpdump to stop the way Ctrl-C does, so it flushes the file and prints its counts.
fn interrupt(child: &Child) {
    // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
}

/// Collects tcpdump's last stderr lines until it exits; kills it if it hangs.
fn drain_until_exit(
    child: &mut Child,
    lines: &Receiver<String>,
    stderr: &mut Vec<String>,
) -> anyhow::Result<std::process::ExitStatus> {
    let deadline = Instant::now() + STOP_LIMIT;
    loop {
        match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                log::info!("tcpdump: {line}");
                stderr.push(line);
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "tcpdump did not stop within {} s of SIGINT",
                    STOP_LIMIT.as_secs()
                );
            }
        }
    }
    child.wait().context("waiting for tcpdump to exit")
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

fn last_lines(stderr: &[String]) -> String {
    let tail = &stderr[stderr.len().saturating_sub(3)..];
    if tail.is_empty() {
        "no output".into()
    } else {
        tail.join(" | ")
    }
}
