//! The sidecar binary on the host, with Debian's tcpdump on loopback (needs root, as the sidecar
//! does in its container): readiness, the done marker, an interrupted capture that must never
//! leave a file under the final name, and fatal misconfiguration. The complete path, with its
//! counts, is proved in compose by tests/captures.rs.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn sidecar(dir: &Path, extra: &[&str]) -> Command {
    sidecar_of("tcp", "lo", dir, extra)
}

fn sidecar_of(model: &str, interface: &str, dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pola-capture"));
    cmd.args([
        "--model",
        model,
        "--interface",
        interface,
        "--tcpdump",
        "/usr/bin/tcpdump",
    ])
    .arg("--captures-dir")
    .arg(dir)
    .arg("--done-file")
    .arg(dir.join("tcp.done"))
    .arg("--ready-file")
    .arg(dir.join("ready"))
    .args(extra);
    cmd
}

/// Waits for the sidecar's healthcheck to pass, as compose does; fails if the sidecar exits.
fn wait_ready(dir: &Path, child: &mut Child) {
    let start = Instant::now();
    while !sidecar(dir, &["--probe"])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
    {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sidecar exited before it was ready"
        );
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the sidecar never became ready"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs the sidecar for `model` on `interface` with its log off, which must fail; its stderr.
fn refused_stderr(model: &str, interface: &str, dir: &Path) -> String {
    let out = sidecar_of(model, interface, dir, &[])
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert!(!out.status.success());
    stderr(&out)
}

#[test]
fn sigterm_before_done_leaves_only_the_part_file_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        !sidecar(dir.path(), &["--probe"])
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success(),
        "ready before it started"
    );
    let mut child = sidecar(dir.path(), &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_ready(dir.path(), &mut child);
    // SAFETY: signalling our own child, not yet reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        stderr(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("interrupted"),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        dir.path().join("tcp.pcap.part").exists(),
        "the partial file should stay as .part"
    );
    assert!(
        !dir.path().join("tcp.pcap").exists(),
        "an interrupted capture left a file under the final name"
    );
}

#[test]
fn mark_done_writes_the_file_the_sidecar_waits_for() {
    let dir = tempfile::tempdir().unwrap();
    let out = sidecar(dir.path(), &["--mark-done"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("tcp.done").exists());
}

#[test]
fn a_missing_interface_is_one_line_naming_it_and_no_pcap() {
    let dir = tempfile::tempdir().unwrap();
    let text = refused_stderr("tcp", "nosuch0", dir.path());
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.starts_with("error: ") && text.contains("nosuch0"),
        "{text}"
    );
    assert!(!dir.path().join("tcp.pcap").exists());
}

#[test]
fn an_unknown_model_lists_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let text = refused_stderr("amqp", "lo", dir.path());
    assert!(
        text.contains("amqp") && text.contains("mqtt, tcp, rest, reqrep, pushpull, pubsub"),
        "{text}"
    );
}
