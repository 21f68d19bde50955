//! State that must outlive the broker process: a persistent session's subscription and the
//! QoS 1/2 messages queued for it while it was offline, and retained messages. The broker is
//! stopped with SIGTERM and started again on the same data directory and port.

mod support;

use std::process::Command;

use support::*;

/// Our broker on `addr` with its state in `data`, returned once it listens.
fn broker_on(addr: &str, data: &std::path::Path) -> Proc {
    let proc = Proc::spawn(
        BROKER,
        &["--listen", addr, "--data-dir", data.to_str().unwrap()],
    );
    proc.wait_for("MQTT broker: 3.1.1 and 5.0 on");
    proc
}

/// Stops a broker with SIGTERM and waits for it to exit.
fn sigterm(broker: Proc) -> Finished {
    let pid = broker.pid().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    broker.finish()
}

/// Runs a mosquitto client to the end and returns its stdout; it must exit 0.
fn mosquitto(program: &str, addr: &str, args: &[&str]) -> String {
    let (host, port) = addr.split_once(':').unwrap();
    let out = Command::new(program)
        .args(["-h", host, "-p", port])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("starting {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// One protocol version and QoS: subscribe with a persistent session, go offline, publish five
/// messages and a retained one, restart the broker, reconnect: everything arrives, in order.
fn offline_messages_survive_a_restart(version: &str, qos: &str) {
    let data = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let id = format!("persistent-{version}-{qos}");
    let topic = format!("sensors/{version}/{qos}");
    // -c: clean session off (MQTT 5: session expiry "never"); -E: exit once subscribed.
    let mut session = vec!["-V", version, "-i", id.as_str(), "-c", "-q", qos];
    if version == "5" {
        session.extend(["-x", "3600"]);
    }
    let broker = broker_on(&addr, data.path());
    let mut args = session.clone();
    args.extend(["-t", "sensors/#", "-E"]);
    mosquitto("mosquitto_sub", &addr, &args);
    for i in 1..=5 {
        let m = format!("m{i}");
        mosquitto(
            "mosquitto_pub",
            &addr,
            &["-V", version, "-q", qos, "-t", &topic, "-m", &m],
        );
    }
    let retained = format!("retained/{version}/{qos}");
    mosquitto(
        "mosquitto_pub",
        &addr,
        &[
            "-V", version, "-q", qos, "-r", "-t", &retained, "-m", "kept",
        ],
    );
    let stopped = sigterm(broker);
    assert!(stopped.status.success(), "{}", stopped.stderr);

    let _broker = broker_on(&addr, data.path());
    let mut args = session.clone();
    args.extend(["-t", "sensors/#", "-v", "-C", "5", "-W", "10"]);
    let got = mosquitto("mosquitto_sub", &addr, &args);
    let expected: Vec<String> = (1..=5).map(|i| format!("{topic} m{i}")).collect();
    assert_eq!(got.lines().collect::<Vec<_>>(), expected, "{got}");
    let got = mosquitto(
        "mosquitto_sub",
        &addr,
        &["-V", version, "-t", &retained, "-v", "-C", "1", "-W", "10"],
    );
    assert_eq!(got.trim(), format!("{retained} kept"));
}

#[test]
fn mqtt_3_1_1_qos_1_messages_queued_offline_survive_a_restart() {
    offline_messages_survive_a_restart("311", "1");
}

#[test]
fn mqtt_3_1_1_qos_2_messages_queued_offline_survive_a_restart() {
    offline_messages_survive_a_restart("311", "2");
}

#[test]
fn mqtt_5_qos_1_messages_queued_offline_survive_a_restart() {
    offline_messages_survive_a_restart("5", "1");
}

#[test]
fn without_a_data_dir_nothing_is_left_behind() {
    let (broker, _addr) = broker(&[]);
    let dir = std::env::temp_dir().join(format!("mqtt-broker-{}", broker.pid()));
    assert!(dir.is_dir(), "{} should exist while it runs", dir.display());
    let stopped = sigterm(broker);
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert!(!dir.exists(), "{} is left behind", dir.display());
}

#[test]
fn a_broker_killed_with_a_client_connected_restarts_on_the_same_port_at_once() {
    let data = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let broker = broker_on(&addr, data.path());
    // A connected client keeps the killed broker's side of the connection in FIN_WAIT_2.
    let client = std::net::TcpStream::connect(&addr).unwrap();
    let pid = broker.pid().to_string();
    assert!(Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap()
        .success());
    broker.finish();
    let again = broker_on(&addr, data.path());
    drop(client);
    sigterm(again);
}
