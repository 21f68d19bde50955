//! What the compose suites (captures, faults) share: the repository root, a model's turn to run, a
//! script run under a deadline, the sidecar's verdict line checked for a complete pcap, tshark's
//! field rows and `pola inspect`'s output.
#![allow(dead_code)] // each suite uses a different subset

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Condvar, Mutex, MutexGuard};

use pola_capture::stats::LATE_AT_STOP;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// How many compose runs a suite lets go at once (COMPOSE_RUNS, 3 unless set). The scripts run
/// each model, and each fault scenario, in a compose project of its own (pola-<model>,
/// pola-fault-<scenario>), so they can go side by side; the suites start every test at once and
/// `turn` decides.
fn runs_at_once() -> usize {
    std::env::var("COMPOSE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(3)
}

/// A compose run's turn, held until dropped: no other run with the same key (a model, or a fault
/// scenario: the project and the capture's name), and at most `runs_at_once()` runs in all.
pub struct Turn {
    _key: MutexGuard<'static, ()>,
}

/// How many runs are going.
static RUNNING: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

/// Waits until no other run holds `key`, then for a free place among the running ones.
pub fn turn(key: &str) -> Turn {
    static KEYS: Mutex<BTreeMap<String, &'static Mutex<()>>> = Mutex::new(BTreeMap::new());
    let lock: &'static Mutex<()> = KEYS
        .lock()
        .unwrap()
        .entry(key.to_string())
        .or_insert_with(|| Box::leak(Box::new(Mutex::new(()))));
    // A test that failed while it held the turn leaves nothing behind that the next one needs.
    let guard = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let (count, freed) = &RUNNING;
    let mut running = count
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    while *running >= runs_at_once() {
        running = freed
            .wait(running)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
    }
    *running += 1;
    Turn { _key: guard }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let (count, freed) = &RUNNING;
        *count
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) -= 1;
        freed.notify_one();
    }
}

/// Runs `bash <script> <args>` from the root with `env` under a deadline: a run that hangs (a
/// daemon or container that stops answering) is killed with everything it started, and the test
/// fails with what it printed so far instead of hanging the suite.
pub fn script(script: &str, args: &[&str], env: &[(&str, &str)], deadline_secs: u32) -> Output {
    let out = Command::new("timeout")
        .args(["-k", "10", &deadline_secs.to_string(), "bash", script])
        .args(args)
        .current_dir(root())
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("running {script}: {e}"));
    assert!(
        !matches!(out.status.code(), Some(124) | Some(137)),
        "{script} {args:?} still running after {deadline_secs} s, killed; it printed\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Like [`script`] for a run that must succeed; returns its stdout.
pub fn script_ok(script: &str, args: &[&str], env: &[(&str, &str)], deadline_secs: u32) -> String {
    let out = self::script(script, args, env, deadline_secs);
    testkit::stdout_of_success(&format!("{script} {args:?}"), &out)
}

/// Finds the sidecar's verdict `<name>: captures/<name>.pcap captured=N received=N dropped=N
/// late=N` in a script's stdout and checks it: something captured, everything the filter received
/// written but for the few packets the sidecar lets come as tcpdump stopped (`late`, at most
/// `LATE_AT_STOP`), no kernel drops, no `.part` file left. Returns the pcap (or pcapng) it names.
pub fn complete_pcap(name: &str, stdout: &str) -> PathBuf {
    let verdict = stdout
        .lines()
        .find(|l| l.starts_with(&format!("{name}: captures/{name}.pcap")))
        .unwrap_or_else(|| panic!("{name}: no verdict line from the sidecar in\n{stdout}"));
    let counts: BTreeMap<&str, u64> = verdict
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
        .collect();
    assert_eq!(
        counts.get("dropped"),
        Some(&0),
        "{name}: kernel drops in {verdict}"
    );
    assert!(
        counts["captured"] > 0,
        "{name}: nothing captured: {verdict}"
    );
    assert!(
        counts["late"] <= LATE_AT_STOP && counts["captured"] + counts["late"] == counts["received"],
        "{name}: captured != received by filter: {verdict}"
    );
    assert!(
        !root().join(format!("captures/{name}.pcap.part")).exists(),
        "{name}: a .part file was left"
    );
    // The file the verdict names: `.pcap`, or `.pcapng` for a capture with TLS secrets inside.
    root().join(verdict.split_whitespace().nth(1).unwrap())
}

/// `target/release/pola <args> <pcap>` (an `inspect` of the capture), which must succeed: its
/// stdout.
pub fn pola(args: &[&str], pcap: &Path) -> String {
    let out = Command::new(root().join("target/release/pola"))
        .args(args)
        .arg(pcap)
        .output()
        .expect("running target/release/pola");
    testkit::stdout_of_success(&format!("pola {args:?} {}", pcap.display()), &out)
}

/// tshark's `-T fields` rows for `args` on `pcap`; fails on any tshark error (a truncated or
/// unreadable pcap). tshark run as root warns about it; anything else on stderr is a problem.
pub fn tshark(what: &str, pcap: &Path, args: &[&str]) -> Vec<Vec<String>> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-T", "fields"])
        .args(args)
        .output()
        .expect("running tshark");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let problems: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains("Running as user") && !l.trim().is_empty())
        .collect();
    assert!(
        out.status.success() && problems.is_empty(),
        "{what}: tshark cannot read {}: {problems:?}",
        pcap.display()
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}
