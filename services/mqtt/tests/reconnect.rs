//! Clients that survive a broker restart: Mosquitto with `persistence true` is stopped (SIGTERM,
//! which saves its sessions) and started again mid-stream; a persistent publisher and subscriber
//! reconnect on their own, with a log line per attempt. QoS 1 loses nothing and counts its
//! duplicates, QoS 0 counts its loss. A publisher killed without DISCONNECT leaves its Last Will.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use support::*;

/// Mosquitto on `port` keeping its sessions in `dir` across restarts.
fn mosquitto(dir: &tempfile::TempDir, port: u16) -> Proc {
    // Started as root, Mosquitto drops to its own user, which must be able to write the database.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\nlog_dest stderr\n\
             persistence true\npersistence_location {}/\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let program = if std::path::Path::new("/usr/sbin/mosquitto").exists() {
        "/usr/sbin/mosquitto"
    } else {
        "mosquitto"
    };
    let proc = Proc::spawn(program, &["-c", conf.to_str().unwrap()]);
    proc.wait_for(" running");
    proc
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success(), "kill {sig} {pid}");
}

/// A persistent subscriber and publisher of 3000 readings at 1000/s through Mosquitto, which is
/// restarted one second in; returns both finished clients (the subscriber gives up after
/// `timeout_secs` if readings are missing).
fn across_a_restart(qos: &str, timeout_secs: &str) -> (Finished, Finished) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let broker = mosquitto(&dir, port);
    let session = ["--qos", qos, "--persistent", "--retries", "10"];
    let sub_id = format!("sub-{}", std::process::id());
    let sub = subscriber(
        &addr,
        &[
            &[
                "--topics",
                "sensors/#",
                "--count",
                "3000",
                "--client-id",
                &sub_id,
            ][..],
            &["--timeout-secs", timeout_secs],
            &session,
        ]
        .concat(),
    );
    let pub_id = format!("pub-{}", std::process::id());
    let publisher = Proc::spawn(
        PUBLISHER,
        &[
            &["--connect", &addr, "--count", "3000", "--rate", "1000"][..],
            &["--client-id", &pub_id],
            &session,
        ]
        .concat(),
    );
    publisher.wait_for("connected to");
    std::thread::sleep(Duration::from_secs(1));
    signal(broker.pid(), "-TERM");
    let stopped = broker.finish();
    assert!(
        stopped.stderr.contains("Saving in-memory database"),
        "{}",
        stopped.stderr
    );
    std::thread::sleep(Duration::from_millis(300));
    let _again = mosquitto(&dir, port);
    (publisher.finish(), sub.finish())
}

#[test]
fn at_qos_1_a_broker_restart_loses_nothing_and_duplicates_are_counted() {
    let (p, s) = across_a_restart("1", "30");
    let (ps, ss) = (p.assert_success().summary(), s.assert_success().summary());
    assert_eq!((field(&ps, "received"), field(&ps, "lost")), (3000, 0));
    assert!(field(&ps, "retries") >= 1, "{ps:?}");
    assert!(
        p.stderr.contains("retry 1/10: reconnecting to"),
        "{}",
        p.stderr
    );
    assert_eq!((field(&ss, "received"), field(&ss, "lost")), (3000, 0));
    assert!(field(&ss, "retries") >= 1, "{ss:?}");
    // Duplicates are redeliveries of readings already counted, never counted as received.
    let lines = s.stderr.lines().filter(|l| l.contains(" sensors/")).count() as u64;
    assert_eq!(lines, 3000, "one info line per distinct reading");
}

#[test]
fn at_qos_0_a_broker_restart_loses_readings_and_the_loss_is_counted() {
    let (p, s) = across_a_restart("0", "8");
    let ps = p.assert_success().summary();
    assert_eq!(field(&ps, "sent"), 3000, "{ps:?}");
    let ss = s.summary();
    let (received, lost) = (field(&ss, "received"), field(&ss, "lost"));
    assert_eq!(received + lost, 3000, "{ss:?}");
    assert_eq!(field(&ss, "duplicates"), 0, "{ss:?}");
    assert_eq!(s.status.success(), lost == 0, "{}", s.stderr);
}

/// A subscriber on `status/#` and a publisher with a Last Will and a 2 s keep-alive, killed with
/// SIGKILL mid-stream: the subscriber gets the will.
fn will_reaches_a_watcher(addr: &str) {
    let watcher = subscriber(
        addr,
        &["--topics", "status/#", "--count", "1", "--qos", "1"],
    );
    let publisher = Proc::spawn(
        PUBLISHER,
        &[
            "--connect",
            addr,
            "--count",
            "100000",
            "--rate",
            "50",
            "--keep-alive-secs",
            "2",
            "--will-topic",
            "status/publisher",
            "--will-payload",
            "gone",
        ],
    );
    publisher.wait_for("connected to");
    signal(publisher.pid(), "-KILL");
    let done = watcher.finish();
    let s = done.assert_success().summary();
    assert_eq!(field(&s, "received"), 1, "{s:?}");
    assert!(
        done.stderr.contains("status/publisher gone"),
        "{}",
        done.stderr
    );
}

#[test]
fn a_killed_publishers_will_reaches_a_watching_subscriber_through_mosquitto() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _broker = mosquitto(&dir, port);
    will_reaches_a_watcher(&format!("127.0.0.1:{port}"));
}

#[test]
fn a_killed_publishers_will_reaches_a_watching_subscriber_through_our_broker() {
    let (_broker, addr) = broker(&[]);
    will_reaches_a_watcher(&addr);
}
