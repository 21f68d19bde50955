//! The fault scenarios of scripts/faults.tsv, each run by scripts/fault.sh in compose and judged
//! twice: by the clients' summary lines and exit codes (captures/fault-<name>.events) and by tshark
//! on its pcap (retransmissions under loss, RSTs where injected, a second connection after a
//! restart, a dead worker's traffic stopping when it was killed). Ignored by plain `cargo test`
//! (they need Docker and `make images`); scripts/test-faults.sh runs several at once, each in its
//! own compose project and subnets, two runs of one scenario taking turns (`support::turn`). The
//! recovering runs (Lazy Pirate, reliable PUSH/PULL, PUB/SUB counts, REST retries, MQTT will) need
//! the clients' recovery flags in the images: without them their client ends with the wrong code.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, Output};

mod support;
use pola::decode::names::Names;
use support::{root, turn, Turn};

/// The scenario names in the table, in its order.
fn table() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("scripts/faults.tsv")).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split('|').next().unwrap().trim().to_string())
        .collect()
}

/// Every scenario the tests below judge; a row of the table missing here fails the build's tests.
const JUDGED: [&str; 14] = [
    "tcp-lossy",
    "tcp-reset",
    "mqtt-lossy",
    "reqrep-restart",
    "pushpull-worker-kill",
    "reqrep-lazy-pirate",
    "pushpull-reliable",
    "pubsub-slow",
    "pubsub-late",
    "rest-restart",
    "mqtt-will",
    "mqtt-restart-qos0",
    "mqtt-restart-qos1",
    "mqtt-restart-qos2",
];

#[test]
fn every_scenario_in_the_table_is_judged() {
    let names = table();
    assert!(!names.is_empty(), "scripts/faults.tsv has no scenario");
    for name in &names {
        assert!(
            JUDGED.contains(&name.as_str()),
            "scenario {name} has no judge in tests/faults.rs"
        );
    }
    for name in JUDGED {
        assert!(
            names.iter().any(|n| n == name),
            "{name} is judged but not in the table"
        );
    }
}

/// One finished scenario: each client's exit code and summary fields, the fault events, the pcap.
struct Run {
    name: String,
    clients: BTreeMap<String, (i32, BTreeMap<String, String>)>,
    /// (event, Unix time): `drop`, `reset`, `kill`, `back`, ...
    events: Vec<(String, f64)>,
    pcap: PathBuf,
    /// Each service's address on the run's network (captures/<capture>.hosts: the run's subnets
    /// are its own, 10.<POLA_NET>.x.0/24).
    hosts: Names,
    /// The scenario's turn, held while the test reads the run's files: another run of the same
    /// scenario (the bad-input tests below) starts by deleting its pcap.
    _turn: Turn,
}

impl Run {
    fn client(&self, svc: &str) -> &(i32, BTreeMap<String, String>) {
        self.clients.get(svc).unwrap_or_else(|| {
            panic!(
                "{}: no line for {svc} in {:?}",
                self.name,
                self.clients.keys()
            )
        })
    }

    fn field(&self, svc: &str, key: &str) -> u64 {
        let (_, fields) = self.client(svc);
        fields
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{}: {svc} has no numeric {key}= in {fields:?}", self.name))
    }

    /// The address of `svc` (or of an alias of the capture's namespace: broker, pusher, sink).
    fn ip(&self, svc: &str) -> IpAddr {
        self.hosts
            .address(svc)
            .unwrap_or_else(|| panic!("{}: no address for {svc} in its hosts file", self.name))
    }

    fn event(&self, what: &str) -> f64 {
        self.events
            .iter()
            .find(|(e, _)| e == what)
            .unwrap_or_else(|| panic!("{}: no fault={what} event in {:?}", self.name, self.events))
            .1
    }

    /// A client that ended complete: exit 0, everything sent came back, nothing lost.
    fn complete(&self, svc: &str, count: u64) {
        let (code, fields) = self.client(svc);
        assert_eq!(*code, 0, "{}: {svc} exited {code}: {fields:?}", self.name);
        assert_eq!(
            self.field(svc, "received"),
            count,
            "{}: {svc}: {fields:?}",
            self.name
        );
        assert_eq!(
            self.field(svc, "lost"),
            0,
            "{}: {svc}: {fields:?}",
            self.name
        );
    }

    /// tshark's field rows for `filter`; fails on any tshark error.
    fn tshark(&self, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
        let mut args = vec!["-Y", filter];
        for f in fields {
            args.extend(["-e", f]);
        }
        support::tshark(&self.name, &self.pcap, &args)
    }

    /// The times of the packets that match `filter`, in capture order.
    fn times(&self, filter: &str) -> Vec<f64> {
        self.tshark(filter, &["frame.time_epoch"])
            .iter()
            .map(|r| r[0].parse::<f64>().unwrap())
            .collect()
    }

    /// The time of the last packet that matches `filter` (0 if none does).
    fn last(&self, filter: &str) -> f64 {
        self.times(filter).into_iter().fold(0.0, f64::max)
    }

    /// How many packets that match `filter` came after `t`.
    fn after(&self, filter: &str, t: f64) -> usize {
        self.times(filter).into_iter().filter(|x| *x > t).count()
    }

    fn count(&self, filter: &str) -> usize {
        self.tshark(filter, &["frame.number"]).len()
    }

    /// How many times `field` has `value` in the frames that match `filter`, counting each
    /// protocol unit of a frame that holds several (a TCP segment with many MQTT packets).
    fn units(&self, filter: &str, field: &str, value: &str) -> usize {
        self.tshark(filter, &[field])
            .iter()
            .flat_map(|row| row[0].split(','))
            .filter(|v| *v == value)
            .count()
    }
}

/// Runs scripts/fault.sh under a deadline.
fn fault_sh(args: &[&str], env: &[(&str, &str)]) -> Output {
    support::script("scripts/fault.sh", args, env, 600)
}

/// Runs one scenario; it must succeed (every client ended as the table expects, pcap complete).
fn scenario(name: &str) -> Run {
    finished(name, &format!("fault-{name}"), &[name])
}

/// Runs scripts/fault.sh with `args`, which must succeed and leave the capture `capture`.
fn finished(name: &str, capture: &str, args: &[&str]) -> Run {
    // The scenario is the last argument (`NAME`, or `load SECS NAME`).
    let held = turn(args.last().unwrap());
    let stdout = support::script_ok("scripts/fault.sh", args, &[], 600);
    let pcap = support::complete_pcap(capture, &stdout);
    let dir = root().join("captures");

    let text = std::fs::read_to_string(dir.join(format!("{capture}.events"))).unwrap();
    let (mut clients, mut events) = (BTreeMap::new(), Vec::new());
    for line in text.lines() {
        let fields: BTreeMap<String, String> = line
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(svc) = fields.get("client") {
            let code = fields["exit"].parse().unwrap();
            clients.insert(svc.clone(), (code, fields));
        } else if let (Some(what), Some(at)) = (fields.get("fault"), fields.get("at")) {
            // `fault=reset end` is the end of a timed fault.
            let what = if line.contains(" end ") {
                format!("{what}-end")
            } else {
                what.clone()
            };
            events.push((what, at.parse().unwrap()));
        }
    }
    assert!(
        !clients.is_empty(),
        "{name}: no client line in the events file:\n{text}"
    );
    assert!(
        !events.is_empty(),
        "{name}: no fault event in the events file:\n{text}"
    );
    let hosts = Names::load(&dir.join(format!("{capture}.hosts"))).unwrap();
    Run {
        name: name.to_string(),
        clients,
        events,
        pcap,
        hosts,
        _turn: held,
    }
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn tcp_lossy_every_echo_arrives_and_the_pcap_shows_retransmissions() {
    let run = scenario("tcp-lossy");
    run.complete("echo-client", 300);
    assert_eq!(run.field("echo-client", "mismatched"), 0);
    run.event("drop");
    let retrans = run.count("tcp.analysis.retransmission");
    assert!(
        retrans > 0,
        "tcp-lossy: no TCP retransmission in the pcap under 10 % loss"
    );
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn tcp_reset_refused_connections_carry_a_rst_then_the_client_gets_through() {
    let run = scenario("tcp-reset");
    run.complete("echo-client", 20);
    let (start, end) = (run.event("reset"), run.event("reset-end"));
    let rsts = run.times("tcp.flags.reset == 1 && tcp.srcport == 7000");
    assert!(
        !rsts.is_empty(),
        "tcp-reset: no RST from the server in the pcap"
    );
    for t in rsts {
        assert!(
            t >= start - 0.5 && t <= end + 0.5,
            "tcp-reset: a RST at {t} outside the window {start}..{end}"
        );
    }
    // After the window, one handshake completes: the server's SYN/ACK.
    let synacks = run.times("tcp.flags.syn == 1 && tcp.flags.ack == 1");
    assert_eq!(
        synacks.len(),
        1,
        "tcp-reset: expected one accepted connection, saw {synacks:?}"
    );
    assert!(synacks[0] >= end - 0.5);
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn mqtt_lossy_qos1_loses_nothing_and_tcp_retransmits() {
    let run = scenario("mqtt-lossy");
    run.complete("publisher", 200);
    run.complete("subscriber-all", 200);
    run.complete("subscriber-lab", 100);
    assert!(
        run.count("tcp.analysis.retransmission") > 0,
        "mqtt-lossy: no TCP retransmission in the pcap under 10 % loss"
    );
}

/// The 10-byte signature that opens every ZMTP greeting (libzmq sends it alone, before the rest).
const GREETING: &str = "ff00000000000000017f";

#[test]
#[ignore = "needs Docker and `make images`"]
fn reqrep_restart_the_plain_client_loses_its_request_and_the_pcap_shows_the_reconnect() {
    let run = scenario("reqrep-restart");
    let (code, fields) = run.client("req-client");
    assert_eq!(
        *code, 1,
        "reqrep-restart: the plain client should fail: {fields:?}"
    );
    assert_eq!(run.field("req-client", "lost"), 1);
    assert_eq!(
        run.field("req-client", "sent"),
        run.field("req-client", "received") + 1
    );
    let (kill, back) = (run.event("kill"), run.event("back"));
    assert!(kill < back);
    // On the wire: the first server greeted, then after the kill libzmq keeps dialling (new SYNs),
    // but the plain REQ socket never resends the request the old server took.
    let greetings = run.tshark(
        "tcp.srcport == 5555 && tcp.len >= 10",
        &["frame.time_epoch", "tcp.payload"],
    );
    assert!(
        greetings
            .iter()
            .any(|r| r[1].starts_with(GREETING) && r[0].parse::<f64>().unwrap() < kill),
        "reqrep-restart: no ZMTP greeting from the first server"
    );
    let redials = run.after(
        "tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == 5555",
        kill,
    );
    assert!(
        redials > 0,
        "reqrep-restart: no SYN from the client after the kill"
    );
}

/// On the wire of a PUSH/PULL worker kill: worker-2 falls silent when it is killed, and worker-1
/// or worker-3 go on working after it.
fn worker_2_fell_silent(run: &Run) {
    let kill = run.event("kill");
    let sent = |worker: &str| run.last(&format!("ip.src == {} && tcp.len > 0", run.ip(worker)));
    let dead = sent("worker-2");
    assert!(
        dead > 0.0 && dead <= kill,
        "worker-2 sent data at {dead}, after its kill at {kill}"
    );
    assert!(
        sent("worker-1").max(sent("worker-3")) > kill,
        "no worker worked after the kill"
    );
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn pushpull_worker_kill_the_sink_counts_the_dead_workers_tasks_lost() {
    let run = scenario("pushpull-worker-kill");
    let count = run.field("pusher", "sent");
    assert_eq!(count, 40_000);
    let (code, _) = run.client("worker-2");
    assert_eq!(*code, 137, "worker-2 was killed");
    let (code, fields) = run.client("sink");
    assert_eq!(
        *code, 1,
        "pushpull-worker-kill: the sink should report loss: {fields:?}"
    );
    let (received, lost) = (run.field("sink", "received"), run.field("sink", "lost"));
    assert!(lost > 0, "pushpull-worker-kill: nothing lost: {fields:?}");
    assert_eq!(received + lost, count, "pushpull-worker-kill: {fields:?}");
    // Every result the survivors got reached the sink: the loss is the dead worker's alone.
    let survivors = run.field("worker-1", "sent") + run.field("worker-3", "sent");
    assert!(
        received >= survivors,
        "{received} results for {survivors} done by the survivors"
    );
    worker_2_fell_silent(&run);
    assert!(
        run.last(&format!(
            "ip.src == {} && (tcp.flags.fin == 1 || tcp.flags.reset == 1)",
            run.ip("worker-2")
        )) > 0.0,
        "worker-2's connections were not closed by its kernel"
    );
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn reqrep_lazy_pirate_loses_nothing_and_the_pcap_shows_a_new_connection_and_greeting() {
    let run = scenario("reqrep-lazy-pirate");
    run.complete("req-client", 3000);
    let retries = run.field("req-client", "retries");
    assert!(retries >= 1, "reqrep-lazy-pirate: the client never retried");
    let kill = run.event("kill");
    let greetings: Vec<(f64, String)> = run
        .tshark(
            "tcp.srcport == 5555 && tcp.len >= 10",
            &["frame.time_epoch", "tcp.stream", "tcp.payload"],
        )
        .into_iter()
        .filter(|r| r[2].starts_with(GREETING))
        .map(|r| (r[0].parse().unwrap(), r[1].clone()))
        .collect();
    let before: Vec<&String> = greetings
        .iter()
        .filter(|g| g.0 < kill)
        .map(|g| &g.1)
        .collect();
    let after: Vec<&String> = greetings
        .iter()
        .filter(|g| g.0 > kill)
        .map(|g| &g.1)
        .collect();
    assert!(
        !before.is_empty(),
        "reqrep-lazy-pirate: no greeting from the first server"
    );
    assert!(
        after.iter().any(|s| !before.contains(s)),
        "reqrep-lazy-pirate: no greeting from the restarted server on a new connection: {greetings:?}"
    );
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn pushpull_reliable_hands_the_dead_workers_tasks_out_again_and_loses_nothing() {
    let run = scenario("pushpull-reliable");
    assert_eq!(run.field("pusher", "sent"), 40_000);
    run.complete("sink", 40_000);
    assert_eq!(
        run.field("sink", "duplicates"),
        0,
        "duplicate results reached the count"
    );
    assert!(
        run.field("pusher", "reissued") >= 1,
        "nothing was handed out again"
    );
    assert_eq!(run.client("worker-2").0, 137, "worker-2 was killed");
    worker_2_fell_silent(&run);
}

/// The publisher's per-topic count (`per_topic=weather:8000,news:8000,...`).
fn published(run: &Run, topic: &str) -> u64 {
    let (_, fields) = run.client("zmq-publisher");
    fields["per_topic"]
        .split(',')
        .find_map(|kv| kv.strip_prefix(&format!("{topic}:")))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}: no {topic} count in {fields:?}", run.name))
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn pubsub_slow_the_paused_subscriber_counts_every_dropped_message() {
    let run = scenario("pubsub-slow");
    let weather = published(&run, "weather");
    let (received, missed) = (
        run.field("zmq-subscriber-weather", "received"),
        run.field("zmq-subscriber-weather", "missed"),
    );
    assert!(
        missed > 0,
        "pubsub-slow: nothing dropped while the subscriber was paused"
    );
    assert_eq!(
        received + missed,
        weather,
        "pubsub-slow: the count is not exact"
    );
    assert_eq!(
        run.client("zmq-subscriber-weather").0,
        0,
        "--expect-loss with an exact count exits 0"
    );
    run.complete("zmq-subscriber-news", published(&run, "news"));
    // On the wire: the paused subscriber's receive window closed (its kernel buffer filled).
    assert!(
        run.count(&format!(
            "tcp.analysis.zero_window && ip.src == {}",
            run.ip("zmq-subscriber-weather")
        )) > 0,
        "pubsub-slow: no zero window from the paused subscriber"
    );
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn pubsub_late_the_late_joiner_counts_what_was_published_before_it_joined() {
    let run = scenario("pubsub-late");
    let weather = published(&run, "weather");
    run.complete("zmq-subscriber-weather", weather);
    run.complete("zmq-subscriber-news", published(&run, "news"));
    let late = "zmq-subscriber-late";
    let (received, before, missed) = (
        run.field(late, "received"),
        run.field(late, "before_join"),
        run.field(late, "missed"),
    );
    assert!(
        before > 0,
        "pubsub-late: the late joiner saw the first message"
    );
    assert_eq!(
        received + before + missed,
        weather,
        "pubsub-late: the count is not exact"
    );
    assert_eq!(run.client(late).0, 0);
    // On the wire: before the late joiner's SYN, the publisher had already sent the weather
    // subscriber more than its greeting and READY (three segments): messages the late one missed.
    let join = run
        .times(&format!(
            "ip.src == {} && tcp.flags.syn == 1",
            run.ip("zmq-subscriber-late")
        ))
        .into_iter()
        .fold(f64::MAX, f64::min);
    assert!(join < f64::MAX, "pubsub-late: no SYN from the late joiner");
    let before_join = run
        .times(&format!(
            "tcp.srcport == 5556 && ip.dst == {} && tcp.len > 0",
            run.ip("zmq-subscriber-weather")
        ))
        .into_iter()
        .filter(|t| *t < join)
        .count();
    assert!(
        before_join > 3,
        "pubsub-late: only {before_join} segments to the weather subscriber before the late join"
    );
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn rest_restart_the_client_retries_and_accounts_for_every_request() {
    let run = scenario("rest-restart");
    let (sent, unknown) = (
        run.field("rest-client", "sent"),
        run.field("rest-client", "unknown"),
    );
    // A POST cut off by the kill has no answer and is not sent again: its outcome is unknown,
    // neither received nor lost, and finding it out walks the round again.
    run.complete("rest-client", sent - unknown);
    assert!(
        unknown <= run.field("rest-client", "redone"),
        "rest-restart: an unknown POST without its round walked again"
    );
    assert_eq!(run.field("rest-client", "rounds"), 100);
    assert!(
        run.field("rest-client", "retries") >= 1,
        "rest-restart: no retry"
    );
    // On the wire: the restarted API accepts new connections and answers HTTP again. Counted from
    // the kill, not from "back": the client reconnects as soon as the port opens, which can be
    // before the healthcheck reports the restarted server healthy.
    let back = run.event("kill");
    assert!(
        run.after(
            "tcp.srcport == 8080 && tcp.flags.syn == 1 && tcp.flags.ack == 1",
            back
        ) > 0,
        "rest-restart: no connection accepted after the restart"
    );
    assert!(
        run.after("http.response", back) > 0,
        "rest-restart: no HTTP answer after the restart"
    );
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn mqtt_will_reaches_the_watcher_after_the_publisher_vanishes() {
    let run = scenario("mqtt-will");
    assert_eq!(
        run.client("publisher-will").0,
        137,
        "publisher-will was killed"
    );
    run.complete("subscriber-will", 1);
    // On the wire: the publisher's CONNECT carried its will, it never sent DISCONNECT, and the
    // broker published the will to the watcher after the publisher fell silent.
    let (publisher, watcher) = (run.ip("publisher-will"), run.ip("subscriber-will"));
    let wills = run.tshark(
        &format!("mqtt.msgtype == 1 && ip.src == {publisher}"),
        &["mqtt.conflag.willflag", "mqtt.willtopic"],
    );
    assert_eq!(
        wills,
        vec![vec!["1".to_string(), "sensors/will".to_string()]],
        "mqtt-will: CONNECT {wills:?}"
    );
    assert_eq!(
        run.count(&format!("mqtt.msgtype == 14 && ip.src == {publisher}")),
        0,
        "mqtt-will: a DISCONNECT was sent"
    );
    let last = run.last(&format!("ip.src == {publisher} && tcp.len > 0"));
    let will = run.times(&format!(
        "mqtt.msgtype == 3 && ip.dst == {watcher} && mqtt.topic == \"sensors/will\""
    ));
    assert_eq!(
        will.len(),
        1,
        "mqtt-will: the watcher got {} will PUBLISHes",
        will.len()
    );
    assert!(
        will[0] > last,
        "the will came before the publisher fell silent"
    );
}

/// The MQTT restarts' subscribers and the readings each must count.
const SUBSCRIBERS: [(&str, u64); 2] = [("subscriber-all", 2000), ("subscriber-lab", 1000)];

/// A broker restart at `qos`: what every MQTT restart scenario shows, whatever its QoS. Every
/// client reconnected (a retry in its line, a second CONNECT on the wire, answered with the
/// session present), and each subscriber's count is exact: the PUBLISHes the broker sent it are
/// what it counted, plus what reached it twice (duplicates=) or arrived after it stopped reading.
fn mqtt_restart(qos: u8) -> Run {
    let run = scenario(&format!("mqtt-restart-qos{qos}"));
    let stop = run.event("stop");
    assert_eq!(run.field("publisher", "sent"), 2000);
    for svc in std::iter::once("publisher").chain(SUBSCRIBERS.map(|(svc, _)| svc)) {
        let ip = run.ip(svc);
        assert!(
            run.field(svc, "retries") >= 1,
            "{}: {svc} never reconnected",
            run.name
        );
        assert!(
            run.after(&format!("mqtt.msgtype == 1 && ip.src == {ip}"), stop) > 0,
            "{}: no CONNECT from {svc} after the broker stopped",
            run.name
        );
        let resumed = run.count(&format!(
            "mqtt.msgtype == 2 && mqtt.conack.flags.sp == 1 && ip.dst == {ip}"
        ));
        assert!(
            resumed >= 1,
            "{}: no CONNACK with the session present to {svc}",
            run.name
        );
    }
    for (svc, expected) in SUBSCRIBERS {
        let ip = run.ip(svc);
        let (received, lost) = (run.field(svc, "received"), run.field(svc, "lost"));
        assert_eq!(received + lost, expected, "{}: {svc}", run.name);
        let delivered = run.units(&format!("mqtt && ip.dst == {ip}"), "mqtt.msgtype", "3");
        assert!(
            delivered as u64 >= received + run.field(svc, "duplicates"),
            "{}: {svc} counted more than the {delivered} PUBLISHes sent to it",
            run.name
        );
    }
    run
}

/// The PUBLISHes to `svc` with the DUP flag set (the flag is dissected for PUBLISH alone).
fn redelivered(run: &Run, svc: &str) -> usize {
    run.units(
        &format!("mqtt && ip.dst == {}", run.ip(svc)),
        "mqtt.dupflag",
        "1",
    )
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn mqtt_restart_qos0_counts_what_the_restart_lost() {
    let run = mqtt_restart(0);
    for (svc, _) in SUBSCRIBERS {
        assert_eq!(
            run.client(svc).0,
            0,
            "--expect-loss with an exact count exits 0"
        );
        assert_eq!(
            run.field(svc, "duplicates"),
            0,
            "{svc}: QoS 0 is never sent twice"
        );
        assert_eq!(
            redelivered(&run, svc),
            0,
            "{svc}: a QoS 0 PUBLISH with DUP set"
        );
    }
}

/// A broker restart at QoS 1 or 2: every client complete, and the subscriber paused across the
/// restart had readings in flight that came again with DUP set.
fn mqtt_restart_lossless(qos: u8) -> Run {
    let run = mqtt_restart(qos);
    run.complete("publisher", 2000);
    for (svc, expected) in SUBSCRIBERS {
        run.complete(svc, expected);
    }
    assert!(
        redelivered(&run, SUBSCRIBERS[1].0) >= 1,
        "{}: no PUBLISH redelivered with DUP to the paused subscriber",
        run.name
    );
    run
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn mqtt_restart_qos1_loses_nothing_and_redelivers_with_the_dup_flag() {
    let run = mqtt_restart_lossless(1);
    // Every reading counted twice came again, DUP set, on the resumed session.
    for (svc, _) in SUBSCRIBERS {
        assert!(
            redelivered(&run, svc) as u64 >= run.field(svc, "duplicates"),
            "{svc}: more duplicates than redeliveries"
        );
    }
    assert!(
        run.field(SUBSCRIBERS[1].0, "duplicates") >= 1,
        "no duplicate counted"
    );
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn mqtt_restart_qos2_loses_nothing_and_delivers_nothing_twice() {
    // The paused subscriber's in-flight readings were sent again (DUP set), and rumqttc answered
    // them without delivering them a second time.
    let run = mqtt_restart_lossless(2);
    for (svc, _) in SUBSCRIBERS {
        assert_eq!(
            run.field(svc, "duplicates"),
            0,
            "{svc}: QoS 2 delivered twice"
        );
    }
}

/// Every container of a scenario's runs (its compose project) that is still there.
fn leftovers(scenario: &str) -> String {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label=com.docker.compose.project=pola-fault-{scenario}"),
            "--format",
            "{{.Names}}",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn an_unknown_scenario_a_fault_that_cannot_be_applied_and_a_service_that_does_not_come_back_fail_cleanly(
) {
    let out = fault_sh(&["tcp-lossless"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("'tcp-lossless'") && err.contains("tcp-lossy"),
        "{err}"
    );

    // nft missing from the sidecar: the drop cannot be applied.
    let tcp = turn("tcp-lossy");
    let out = fault_sh(&["tcp-lossy"], &[("POLA_NFT", "/nonexistent/nft")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("FAILED"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains("'drop 10' could not be applied") && line.contains("/nonexistent/nft"),
        "{line}"
    );
    assert_eq!(
        leftovers("tcp-lossy"),
        "",
        "containers left running after a fault that failed"
    );
    assert!(!root().join("captures/fault-tcp-lossy.pcap").exists());
    drop(tcp);

    // A restarted server that is not healthy within the limit is named: a limit no restart can
    // meet (10 ms) stands in for a server that never comes back.
    let _reqrep = turn("reqrep-restart");
    let out = fault_sh(&["reqrep-restart"], &[("FAULT_COMEBACK_SECS", "0.01")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rep-server did not come back within 0.01 s"),
        "{err}"
    );
    assert_eq!(
        leftovers("reqrep-restart"),
        "",
        "containers left running after a service did not come back"
    );
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn a_load_run_streams_through_its_fault_and_samples_every_servers_rss() {
    let run = finished(
        "load-tcp-lossy",
        "load-tcp-lossy",
        &["load", "10", "tcp-lossy"],
    );
    // The client streamed until the run stopped it: exit 0 with what it did so far, intact.
    let (code, fields) = run.client("echo-client");
    assert_eq!(*code, 0, "{fields:?}");
    assert!(run.field("echo-client", "received") > 100, "{fields:?}");
    assert_eq!(run.field("echo-client", "mismatched"), 0, "{fields:?}");
    // The fault landed in the middle: about 5 s of stream before the drop and 5 s after it.
    let (up, drop, stop) = (
        run.event("up"),
        run.event("drop"),
        run.event("stop-clients"),
    );
    assert!(drop - up >= 4.5 && stop - drop >= 4.5, "{:?}", run.events);
    let echoes_after = run.count(&format!(
        "tcp.srcport == 7000 && tcp.len > 0 && frame.time_epoch > {drop}"
    ));
    assert!(
        echoes_after > 0,
        "no echo after the drop began: {:?}",
        run.events
    );
    // The server's RSS once a second, recorded under the run's name.
    let figures: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("bench/faults.json")).unwrap())
            .unwrap();
    let series = figures["load-tcp-lossy"]["rss_series"]["echo-server"]
        .as_array()
        .unwrap_or_else(|| {
            panic!(
                "no RSS series for echo-server: {}",
                figures["load-tcp-lossy"]
            )
        });
    assert!(series.len() >= 8, "{series:?}");
    assert!(
        series.iter().all(|s| s[1].as_f64().unwrap() > 0.0),
        "{series:?}"
    );
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn a_broken_capture_is_not_mistaken_for_expected_loss() {
    // The plain reqrep-restart expects its client to fail; killing the sidecar as well must still
    // fail the run for the capture, not pass it as the expected loss.
    let _turn = turn("reqrep-restart");
    let table = tempfile::NamedTempFile::new().unwrap();
    let row = std::fs::read_to_string(root().join("scripts/faults.tsv"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("reqrep-restart"))
        .unwrap()
        .replace("start rep-server", "start rep-server; kill capture-reqrep");
    std::fs::write(table.path(), format!("{row}\n")).unwrap();
    let out = fault_sh(
        &["reqrep-restart"],
        &[("FAULT_TABLE", table.path().to_str().unwrap())],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken capture, no pcap"), "{err}");
    assert!(!root().join("captures/fault-reqrep-restart.pcap").exists());
    assert_eq!(leftovers("reqrep-restart"), "");
}
