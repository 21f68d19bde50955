//! Real peers: Mosquitto's command-line clients against our broker, and our publisher and
//! subscriber against a real Mosquitto broker. Each side only has to speak MQTT correctly.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::*;

/// `mosquitto_sub` at QoS 1 on `filter` for `count` messages (`topic payload` lines), returned
/// once subscribed.
fn mosquitto_sub_count(addr: &str, filter: &str, count: &str, extra: &[&str]) -> Proc {
    let args = ["-t", filter, "-q", "1", "-C", count, "-v", "-W", "30"];
    let all: Vec<&str> = args.iter().chain(extra).copied().collect();
    mosquitto_sub(addr, &all)
}

/// The message lines of `mosquitto_sub -v` output (`topic payload`), without the -d chatter.
fn messages(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| l.starts_with("sensors/"))
        .collect()
}

#[test]
fn mosquitto_sub_receives_our_publisher_through_our_broker() {
    let (_broker, addr) = broker(&[]);
    let lab = mosquitto_sub_count(&addr, "sensors/lab/+", "4", &[]);
    publish(&addr, &["--count", "8", "--qos", "1"]).assert_success();
    let out = lab.finish();
    out.assert_success();
    let got = messages(&out.stdout);
    assert_eq!(got.len(), 4, "{}", out.stdout);
    assert!(
        got.iter()
            .all(|l| l.starts_with("sensors/lab/") && l.contains("\"room\":\"lab\"")),
        "{got:?}"
    );
}

#[test]
fn mosquitto_pub_reaches_our_subscriber_through_our_broker() {
    let (_broker, addr) = broker(&[]);
    let (host, port) = addr.split_once(':').unwrap();
    let sub = subscriber(
        &addr,
        &["--topics", "sensors/#", "--qos", "2", "--count", "3"],
    );
    // -l publishes one message per stdin line over one connection, here at QoS 2.
    let mut pubber = Command::new("mosquitto_pub")
        .args([
            "-h",
            host,
            "-p",
            port,
            "-t",
            "sensors/office/temp",
            "-q",
            "2",
            "-l",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .expect("starting mosquitto_pub");
    pubber
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"value\":1}\n{\"value\":2}\n{\"value\":3}\n")
        .unwrap();
    assert!(pubber.wait().unwrap().success());
    let out = sub.finish();
    delivered(&out, 3);
    out.assert_logged("sensors/office/temp {\"value\":3}");
}

#[test]
fn mqtt5_client_on_the_v5_listener_reaches_a_3_1_1_subscriber() {
    let v5 = format!("127.0.0.1:{}", free_port());
    let (_broker, addr) = broker(&["--listen-v5", &v5]);
    let sub = subscriber(&addr, &["--topics", "sensors/lab/+", "--count", "1"]);
    let (host, port) = v5.split_once(':').unwrap();
    let status = Command::new("mosquitto_pub")
        .args([
            "-V",
            "mqttv5",
            "-h",
            host,
            "-p",
            port,
            "-t",
            "sensors/lab/temp",
            "-q",
            "1",
            "-m",
            "v5",
        ])
        .status()
        .expect("starting mosquitto_pub");
    assert!(status.success());
    let out = sub.finish();
    assert_eq!(field(&out.assert_success().summary(), "received"), 1);
    out.assert_logged("sensors/lab/temp v5");
}

#[test]
fn our_clients_work_through_a_mosquitto_broker() {
    let dir = tempfile::tempdir().unwrap();
    let (_mosquitto, addr) = mosquitto_broker_anywhere(&dir);
    for qos in ["0", "1", "2"] {
        wildcard_delivery(&addr, qos);
    }
    // Retained readings are kept by Mosquitto too and marked as retained on delivery.
    publish(
        &addr,
        &[
            "--count",
            "2",
            "--retain",
            "--rooms",
            "lab",
            "--kinds",
            "temp,humidity",
        ],
    )
    .assert_success();
    let s = subscriber(&addr, &["--topics", "sensors/lab/+", "--count", "2"])
        .finish()
        .assert_success()
        .summary();
    assert_eq!(field(&s, "retained"), 2, "{s:?}");
}
