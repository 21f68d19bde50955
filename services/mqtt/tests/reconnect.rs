//! Clients that survive a broker restart: Mosquitto with `persistence true`, or our broker, is
//! stopped (SIGTERM, which saves its sessions) and started again mid-stream, while the subscriber
//! is stopped with readings in flight to it; a persistent publisher and subscriber reconnect on
//! their own, with a log line per attempt. QoS 1 loses nothing and counts its duplicates, QoS 2
//! loses nothing and delivers nothing twice, QoS 0 counts its loss. A publisher killed without
//! DISCONNECT leaves its Last Will.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use support::*;

/// The broker a restart test stops and starts again on the same port and state.
#[derive(Clone, Copy)]
enum Broker {
    Mosquitto,
    Ours,
}

impl Broker {
    fn start(self, dir: &tempfile::TempDir, port: u16) -> Proc {
        match self {
            Broker::Mosquitto => mosquitto_broker(dir, port),
            Broker::Ours => broker_on(&format!("127.0.0.1:{port}"), dir.path()),
        }
    }

    /// What the broker logs once its state is saved on SIGTERM.
    fn saved(self) -> &'static str {
        match self {
            Broker::Mosquitto => "Saving in-memory database",
            Broker::Ours => "MQTT broker: stopped",
        }
    }
}

/// A publisher of 3000 readings at 1000/s and two persistent subscribers through `broker`, which
/// is restarted (SIGTERM) one second in. The first subscriber is stopped (SIGSTOP) across the
/// restart, so that readings are in flight to it; the second reconnects at once, while the
/// publisher resends what was in flight. Returns the finished publisher and subscribers (each
/// subscriber gives up after `timeout_secs` if readings are missing).
fn across_a_restart(broker: Broker, qos: &str, timeout_secs: &str) -> [Finished; 3] {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let running = broker.start(&dir, port);
    let session = ["--qos", qos, "--persistent", "--retries", "10"];
    let pid = std::process::id();
    let subscribers = ["stopped", "live"].map(|name| {
        let id = format!("sub-{name}-{pid}");
        let topics = [
            "--topics",
            "sensors/#",
            "--count",
            "3000",
            "--client-id",
            &id,
        ];
        let timeout = ["--timeout-secs", timeout_secs];
        subscriber(&addr, &[&topics[..], &timeout, &session].concat())
    });
    let pub_id = format!("pub-{pid}");
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
    std::thread::sleep(Duration::from_millis(800));
    let [stopped, live] = subscribers;
    stopped.signal("STOP");
    std::thread::sleep(Duration::from_millis(200));
    running.signal("TERM");
    let ended = running.finish();
    ended.assert_logged(broker.saved());
    std::thread::sleep(Duration::from_millis(300));
    let _again = broker.start(&dir, port);
    stopped.signal("CONT");
    [publisher.finish(), stopped.finish(), live.finish()]
}

/// At QoS 1 or 2: nothing lost on any side, every client reconnected, one line per distinct
/// reading; returns the stopped subscriber's and the live one's summaries.
fn nothing_lost(finished: &[Finished; 3]) -> [BTreeMap<String, String>; 2] {
    let [p, stopped, live] = finished;
    let ps = p.assert_success().summary();
    assert_eq!((field(&ps, "received"), field(&ps, "lost")), (3000, 0));
    assert!(field(&ps, "retries") >= 1, "{ps:?}");
    p.assert_logged("retry 1/10: reconnecting to");
    [stopped, live].map(|s| {
        let ss = s.assert_success().summary();
        assert_eq!((field(&ss, "received"), field(&ss, "lost")), (3000, 0));
        assert!(field(&ss, "retries") >= 1, "{ss:?}");
        // Duplicates are redeliveries of readings already counted, never counted as received.
        let lines = s.stderr.lines().filter(|l| l.contains(" sensors/")).count() as u64;
        assert_eq!(lines, 3000, "one info line per distinct reading");
        ss
    })
}

#[test]
fn at_qos_1_a_broker_restart_loses_nothing_and_duplicates_are_counted() {
    nothing_lost(&across_a_restart(Broker::Mosquitto, "1", "30"));
}

#[test]
fn at_qos_1_our_brokers_restart_loses_nothing_and_redelivers_what_was_in_flight() {
    let [stopped, _] = nothing_lost(&across_a_restart(Broker::Ours, "1", "30"));
    // The stopped subscriber had readings in flight: the broker stored them and sent them again.
    assert!(field(&stopped, "duplicates") >= 1, "{stopped:?}");
}

#[test]
fn at_qos_2_our_brokers_restart_loses_nothing_and_delivers_nothing_twice() {
    for s in nothing_lost(&across_a_restart(Broker::Ours, "2", "30")) {
        assert_eq!(field(&s, "duplicates"), 0, "{s:?}");
    }
}

#[test]
fn at_qos_0_a_broker_restart_loses_readings_and_the_loss_is_counted() {
    let [p, subscribers @ ..] = across_a_restart(Broker::Mosquitto, "0", "8");
    let ps = p.assert_success().summary();
    assert_eq!(field(&ps, "sent"), 3000, "{ps:?}");
    for s in subscribers {
        let ss = s.summary();
        let (received, lost) = (field(&ss, "received"), field(&ss, "lost"));
        assert_eq!(received + lost, 3000, "{ss:?}");
        assert_eq!(field(&ss, "duplicates"), 0, "{ss:?}");
        assert_eq!(s.status.success(), lost == 0, "{}", s.stderr);
    }
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
    publisher.signal("KILL");
    let done = watcher.finish();
    let s = done.assert_success().summary();
    assert_eq!(field(&s, "received"), 1, "{s:?}");
    done.assert_logged("status/publisher gone");
}

#[test]
fn a_killed_publishers_will_reaches_a_watching_subscriber_through_mosquitto() {
    let dir = tempfile::tempdir().unwrap();
    let (_broker, addr) = mosquitto_broker_anywhere(&dir);
    will_reaches_a_watcher(&addr);
}

#[test]
fn a_killed_publishers_will_reaches_a_watching_subscriber_through_our_broker() {
    let (_broker, addr) = broker(&[]);
    will_reaches_a_watcher(&addr);
}
