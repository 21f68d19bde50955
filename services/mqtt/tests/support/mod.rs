//! What the MQTT tests share beyond the workspace's harness (testkit): our three binaries, a
//! broker on a free port, a subscriber that has its SUBACK, a publisher run to the end, and
//! Mosquitto's command-line clients as peers.
#![allow(dead_code)] // each test file uses a different subset

use std::process::{Command, Output};

#[allow(unused_imports)]
pub use testkit::{field, free_port, Finished, Proc, HANG};

pub const BROKER: &str = env!("CARGO_BIN_EXE_mqtt-broker");
pub const PUBLISHER: &str = env!("CARGO_BIN_EXE_mqtt-publisher");
pub const SUBSCRIBER: &str = env!("CARGO_BIN_EXE_mqtt-subscriber");

/// Runs a mosquitto client (`mosquitto_pub`, `mosquitto_sub`) to the end with `-h`/`-p` set
/// from `addr`.
pub fn mosquitto_run(program: &str, addr: &str, args: &[&str]) -> Output {
    let (host, port) = addr.split_once(':').unwrap();
    Command::new(program)
        .args(["-h", host, "-p", port])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("starting {program}: {e}"))
}

/// Like [`mosquitto_run`], but it must exit 0; returns stdout.
pub fn mosquitto_ok(program: &str, addr: &str, args: &[&str]) -> String {
    let out = mosquitto_run(program, addr, args);
    assert!(
        out.status.success(),
        "{program} {args:?}: {:?}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `mosquitto_sub -d` started in the background, returned once its SUBACK is in: with `-d` it
/// prints its protocol exchange on stdout, line-buffered by stdbuf as it would be on a terminal.
pub fn mosquitto_sub(addr: &str, args: &[&str]) -> Proc {
    let (host, port) = addr.split_once(':').unwrap();
    let mut cmd = Command::new("stdbuf");
    cmd.args(["-oL", "mosquitto_sub", "-h", host, "-p", port, "-d"])
        .args(args);
    let proc = Proc::spawn_watching_stdout(&mut cmd);
    proc.wait_for("received SUBACK");
    proc
}

/// A real Mosquitto broker on `port` of 127.0.0.1, keeping its sessions in `dir` across restarts
/// (Mosquitto 2 needs a config file to listen on a chosen port), returned once it runs.
pub fn mosquitto_broker(dir: &tempfile::TempDir, port: u16) -> Proc {
    // Started as root, Mosquitto drops to its own user, which must be able to write the database.
    std::fs::set_permissions(
        dir.path(),
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o777),
    )
    .unwrap();
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
    // Debian installs the broker in /usr/sbin, which is not on every PATH.
    let program = if std::path::Path::new("/usr/sbin/mosquitto").exists() {
        "/usr/sbin/mosquitto"
    } else {
        "mosquitto"
    };
    let proc = Proc::spawn(program, &["-c", conf.to_str().unwrap()]);
    proc.wait_for(" running");
    proc
}

/// [`mosquitto_broker`] on a free port, with its `127.0.0.1:port` address.
pub fn mosquitto_broker_anywhere(dir: &tempfile::TempDir) -> (Proc, String) {
    let port = free_port();
    (mosquitto_broker(dir, port), format!("127.0.0.1:{port}"))
}

/// Our broker on a free loopback port, returned once it says it is listening.
pub fn broker(extra: &[&str]) -> (Proc, String) {
    let addr = testkit::free_addr();
    let mut args = vec!["--listen", addr.as_str()];
    args.extend_from_slice(extra);
    let proc = Proc::spawn(BROKER, &args);
    proc.wait_for("MQTT broker: 3.1.1 and 5.0 on");
    (proc, addr)
}

/// Our broker on `addr` with its state in `data` (kept across restarts), returned once it listens.
pub fn broker_on(addr: &str, data: &std::path::Path) -> Proc {
    let proc = Proc::spawn(
        BROKER,
        &["--listen", addr, "--data-dir", data.to_str().unwrap()],
    );
    proc.wait_for("MQTT broker: 3.1.1 and 5.0 on");
    proc
}

/// Our subscriber, returned once its SUBACK is in (it logs "subscribed to").
pub fn subscriber(addr: &str, args: &[&str]) -> Proc {
    let mut all = vec!["--connect", addr, "--retry-secs", "5"];
    if !args.contains(&"--timeout-secs") {
        all.extend_from_slice(&["--timeout-secs", "30"]);
    }
    all.extend_from_slice(args);
    let proc = Proc::spawn(SUBSCRIBER, &all);
    proc.wait_for("subscribed to");
    proc
}

/// Runs our publisher to the end.
pub fn publish(addr: &str, args: &[&str]) -> Finished {
    let mut all = vec!["--connect", addr, "--retry-secs", "5"];
    all.extend_from_slice(args);
    Proc::spawn(PUBLISHER, &all).finish()
}

/// A subscriber's run that ended complete: exit 0, `received` messages, none lost, none on a
/// topic it did not subscribe to. Returns its summary.
pub fn delivered(out: &Finished, received: u64) -> std::collections::BTreeMap<String, String> {
    let s = out.assert_success().summary();
    assert_eq!(
        (
            field(&s, "received"),
            field(&s, "lost"),
            field(&s, "unexpected")
        ),
        (received, 0, 0),
        "{s:?}"
    );
    s
}

/// Eight readings through the broker at `addr` cycle over lab/office x temp/humidity: `sensors/#` must get all eight and
/// `sensors/lab/+` exactly the four lab ones, nothing outside its filter.
pub fn wildcard_delivery(addr: &str, qos: &str) {
    let all = subscriber(
        addr,
        &["--topics", "sensors/#", "--qos", qos, "--count", "8"],
    );
    let lab = subscriber(
        addr,
        &["--topics", "sensors/lab/+", "--qos", qos, "--count", "4"],
    );
    // A third filter that matches nothing published: it must receive nothing.
    let none = subscriber(
        addr,
        &["--topics", "actuators/#", "--qos", qos, "--count", "0"],
    );

    let published = publish(addr, &["--count", "8", "--qos", qos]);
    let p = published.assert_success().summary();
    assert_eq!(
        (field(&p, "sent"), field(&p, "received"), field(&p, "lost")),
        (8, 8, 0),
        "{p:?}"
    );
    assert_eq!(p["qos"], qos);

    let all = all.finish();
    delivered(&all, 8);
    assert_eq!(
        all.stderr.matches("sensors/office/").count(),
        4,
        "{}",
        all.stderr
    );

    let lab = lab.finish();
    delivered(&lab, 4);
    assert!(!lab.stderr.contains("sensors/office/"), "{}", lab.stderr);

    let s = none.finish().assert_success().summary();
    assert_eq!(field(&s, "received"), 0, "{s:?}");
}
