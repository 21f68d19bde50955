//! Every model runs in compose (`scripts/capture.sh <model>`, images from
//! `make images`) and its pcap is judged with Debian's tshark 4.0. Ignored by plain `cargo test`
//! because they need Docker and the images; scripts/test-captures.sh runs them with
//! `-- --ignored`, several models at once (`support::turn`). Every failure names the model and
//! what was missing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use pola::decode::mqtt::KINDS;
use pola::decode::walk::{walk, What};
use pola::decode::zmtp::{Part, Zmtp};
use pola::decode::Message;
use pola::report::proof::plain;

mod support;
use support::{complete_pcap, tshark, turn, Turn};

/// Runs one model through scripts/capture.sh, in its turn, and checks the sidecar's verdict:
/// captured equals received by filter, 0 dropped. Returns the pcap, already checked for what every
/// pcap needs, and the turn: no other run of the model replaces the pcap while the test holds it.
fn capture(model: &str, env: &[(&str, &str)]) -> (PathBuf, Turn) {
    let turn = turn(model);
    let stdout = support::script_ok("scripts/capture.sh", &[model], env, 900);
    let pcap = complete_pcap(model, &stdout);
    every_connection_opens_and_closes(model, &pcap);
    (pcap, turn)
}

/// The first packet of every connection is its SYN (the sidecar was capturing before the client
/// started) and every connection's FIN is in the file (it was stopped after the clients).
fn every_connection_opens_and_closes(model: &str, pcap: &Path) {
    let rows = tshark(
        model,
        pcap,
        &[
            "-e",
            "tcp.stream",
            "-e",
            "tcp.flags.syn",
            "-e",
            "tcp.flags.ack",
            "-e",
            "tcp.flags.fin",
        ],
    );
    let mut streams: BTreeMap<&str, Vec<(&str, &str, &str)>> = BTreeMap::new();
    for r in &rows {
        streams
            .entry(&r[0])
            .or_default()
            .push((&r[1], &r[2], &r[3]));
    }
    assert!(
        !streams.is_empty(),
        "{model}: no TCP connection in the pcap"
    );
    for (stream, packets) in &streams {
        assert_eq!(
            (packets[0].0, packets[0].1),
            ("1", "0"),
            "{model}: connection {stream} does not start with its SYN"
        );
        assert!(
            packets.iter().any(|p| p.2 == "1"),
            "{model}: connection {stream} has no FIN"
        );
    }
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn mqtt_qos1_every_client_connects_subscribes_and_publishes_in_order() {
    check_mqtt(1);
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn mqtt_qos2_shows_pubrec_pubrel_pubcomp() {
    check_mqtt(2);
}

/// An MQTT packet of a connection: its type by name (pola's names, which are tshark's), its topic
/// (PUBLISH and SUBSCRIBE) and its QoS (PUBLISH).
type Packet = (&'static str, String, Option<u8>);

fn check_mqtt(qos: u8) {
    let model = &format!("mqtt (QoS {qos})");
    let count = 12;
    let (pcap, _turn) = capture(
        "mqtt",
        &[
            ("MQTT_QOS", &qos.to_string()),
            ("MQTT_COUNT", "12"),
            ("MQTT_LAB_COUNT", "6"),
        ],
    );
    // Several MQTT packets can share a frame: tshark joins their fields with ','. Topics belong to
    // PUBLISH and SUBSCRIBE packets, QoS values to PUBLISH packets, in order.
    let rows = tshark(
        model,
        &pcap,
        &[
            "-Y",
            "mqtt",
            "-e",
            "tcp.stream",
            "-e",
            "mqtt.msgtype",
            "-e",
            "mqtt.topic",
            "-e",
            "mqtt.qos",
        ],
    );
    let mut streams: BTreeMap<String, Vec<Packet>> = BTreeMap::new();
    for r in &rows {
        let mut topics = r[2].split(',').filter(|t| !t.is_empty());
        let mut qoses = r[3].split(',').filter(|q| !q.is_empty());
        for t in r[1].split(',') {
            let t = t
                .parse::<usize>()
                .ok()
                .and_then(|n| KINDS.get(n).copied())
                .unwrap_or_else(|| panic!("{model}: bad msgtype {r:?}"));
            let topic = if t == "PUBLISH" || t == "SUBSCRIBE" {
                topics.next().unwrap_or_default().to_string()
            } else {
                String::new()
            };
            let q = if t == "PUBLISH" {
                qoses.next().and_then(|q| q.parse().ok())
            } else {
                None
            };
            streams.entry(r[0].clone()).or_default().push((t, topic, q));
        }
    }
    assert_eq!(
        streams.len(),
        3,
        "{model}: expected 3 client connections (publisher, 2 subscribers), saw {}",
        streams.len()
    );
    let mut filters = BTreeMap::new();
    for (stream, packets) in &streams {
        let pos = |t: &str| packets.iter().position(|p| p.0 == t);
        let n = |t: &str| packets.iter().filter(|p| p.0 == t).count();
        let subscribes = pos("SUBSCRIBE").is_some();
        let order: &[&str] = if subscribes {
            &["CONNECT", "CONNACK", "SUBSCRIBE", "SUBACK", "PUBLISH"]
        } else {
            &["CONNECT", "CONNACK", "PUBLISH"]
        };
        let seen: Vec<Option<usize>> = order.iter().map(|&t| pos(t)).collect();
        assert!(
            seen.iter().all(Option::is_some) && seen.windows(2).all(|w| w[0] < w[1]),
            "{model}: connection {stream} lacks {order:?} in that order (first positions {seen:?})"
        );
        let publishes = n("PUBLISH");
        assert!(
            packets.iter().all(|p| p.0 != "PUBLISH" || p.2 == Some(qos)),
            "{model}: connection {stream} has a PUBLISH not at QoS {qos}"
        );
        let acks: &[&str] = if qos == 1 {
            &["PUBACK"]
        } else {
            &["PUBREC", "PUBREL", "PUBCOMP"]
        };
        for &ack in acks {
            assert_eq!(
                n(ack),
                publishes,
                "{model}: connection {stream}: {publishes} PUBLISH but {} {ack}",
                n(ack)
            );
        }
        if subscribes {
            let filter = packets[pos("SUBSCRIBE").unwrap()].1.clone();
            for p in packets.iter().filter(|p| p.0 == "PUBLISH") {
                assert!(
                    rumqttc::matches(&p.1, &filter),
                    "{model}: subscriber of {filter} got a PUBLISH on {}",
                    p.1
                );
            }
            filters.insert(filter, publishes);
        } else {
            assert_eq!(
                publishes, count,
                "{model}: the publisher's connection holds {publishes} PUBLISH, expected {count}"
            );
        }
    }
    let expected = BTreeMap::from([
        ("sensors/#".to_string(), count),
        ("sensors/lab/+".to_string(), count / 2),
    ]);
    assert_eq!(
        filters, expected,
        "{model}: subscriber filters and the PUBLISH count each received"
    );
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn tcp_every_data_segment_is_psh_ack_with_no_application_protocol() {
    let (count, size) = (20, 64);
    let (pcap, _turn) = capture("tcp", &[("TCP_COUNT", "20"), ("TCP_SIZE", "64")]);
    let rows = tshark(
        "tcp",
        &pcap,
        &[
            "-Y",
            "tcp.len > 0",
            "-e",
            "tcp.dstport",
            "-e",
            "tcp.len",
            "-e",
            "tcp.flags.push",
            "-e",
            "tcp.flags.ack",
            "-e",
            "frame.protocols",
        ],
    );
    let mut bytes = BTreeMap::new();
    for r in &rows {
        assert_eq!(
            (r[2].as_str(), r[3].as_str()),
            ("1", "1"),
            "tcp: a data segment without PSH, ACK: {r:?}"
        );
        assert_eq!(
            r[4], "eth:ethertype:ip:tcp",
            "tcp: an application protocol was dissected: {r:?}"
        );
        *bytes
            .entry(if r[0] == "7000" {
                "to server"
            } else {
                "to client"
            })
            .or_insert(0) += r[1].parse::<usize>().unwrap();
    }
    let expected = BTreeMap::from([("to client", count * size), ("to server", count * size)]);
    assert_eq!(
        bytes, expected,
        "tcp: payload bytes each way (every line echoed)"
    );
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn rest_every_verb_is_http_on_8080_and_answered() {
    let (pcap, _turn) = capture("rest", &[("REST_COUNT", "5")]);
    let rows = tshark(
        "rest",
        &pcap,
        &[
            "-Y",
            "http",
            "-e",
            "tcp.stream",
            "-e",
            "tcp.srcport",
            "-e",
            "tcp.dstport",
            "-e",
            "http.request.method",
            "-e",
            "http.response.code",
        ],
    );
    // Pair each request with the next response on its connection (HTTP/1.1 answers in order).
    let mut pending: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut codes: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
    for r in &rows {
        assert!(
            r[1] == "8080" || r[2] == "8080",
            "rest: HTTP off port 8080: {r:?}"
        );
        for method in r[3].split(',').filter(|m| !m.is_empty()) {
            pending
                .entry(r[0].clone())
                .or_default()
                .push(method.to_string());
        }
        for code in r[4].split(',').filter(|c| !c.is_empty()) {
            let queue = pending.entry(r[0].clone()).or_default();
            assert!(
                !queue.is_empty(),
                "rest: a response {code} with no request on connection {}",
                r[0]
            );
            codes
                .entry(queue.remove(0))
                .or_default()
                .insert(code.parse().unwrap());
        }
    }
    assert!(
        pending.values().all(Vec::is_empty),
        "rest: requests left unanswered: {pending:?}"
    );
    for verb in ["POST", "GET", "PUT", "DELETE"] {
        let got = codes.get(verb).cloned().unwrap_or_default();
        assert!(
            got.iter().any(|c| (200..300).contains(c)),
            "rest: no {verb} answered 2xx (codes {got:?})"
        );
    }
}

/// One side of a ZeroMQ connection as pola's decoder reads it.
#[derive(Debug, Default)]
struct Side {
    /// The ZMTP version its greeting announced.
    version: Option<String>,
    /// Commands by name, with the topic of SUBSCRIBE and CANCEL (3.0's subscription messages
    /// included).
    commands: Vec<(String, Option<String>)>,
    /// Messages: their frames, and the task number their first bytes carry.
    messages: Vec<(Vec<Part>, Option<u64>)>,
}

/// Both sides of one connection to a server port.
struct Conn {
    stream: u64,
    server_port: u16,
    up: Side,
    down: Side,
}

/// Every connection to `ports`, decoded by pola (the same decoder as `pola inspect`), each
/// checked for a ZMTP 3 greeting on both sides and for no malformed or missing bytes.
fn zmtp_connections(model: &str, pcap: &Path, ports: &[u16]) -> Vec<Conn> {
    let mut conns: BTreeMap<u64, Conn> = BTreeMap::new();
    walk(pcap, |packet| {
        let What::Tcp(t) = &packet.what else {
            return Ok(());
        };
        let server = if t.from_client { t.dst } else { t.src };
        if !ports.contains(&server.port()) {
            return Ok(());
        }
        let conn = conns.entry(t.stream).or_insert_with(|| Conn {
            stream: t.stream,
            server_port: server.port(),
            up: Side::default(),
            down: Side::default(),
        });
        let side = if t.from_client {
            &mut conn.up
        } else {
            &mut conn.down
        };
        for m in &t.messages {
            match m {
                Message::Zmtp(Zmtp::Greeting { version, .. }) => {
                    side.version = Some(version.clone())
                }
                Message::Zmtp(Zmtp::Command { name, topic, .. }) => {
                    side.commands.push((name.clone(), topic.clone()))
                }
                Message::Zmtp(Zmtp::Message { frames, task, .. }) => {
                    side.messages.push((frames.clone(), *task))
                }
                other => panic!("{model}: packet {}: not ZMTP: {other:?}", packet.no),
            }
        }
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{model}: pola cannot read {}: {e:#}", pcap.display()));
    assert!(!conns.is_empty(), "{model}: no ZeroMQ connection with data");
    for c in conns.values() {
        for (side, dir) in [(&c.up, "to the server"), (&c.down, "to the client")] {
            assert!(
                side.version.as_deref().is_some_and(|v| v.starts_with('3')),
                "{model}: connection {} {dir}: greeting version {:?}, not 3",
                c.stream,
                side.version
            );
        }
    }
    conns.into_values().collect()
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn reqrep_zmtp3_on_every_connection_and_one_reply_per_request() {
    let count = 20;
    let (pcap, _turn) = capture("reqrep", &[("REQREP_COUNT", "20")]);
    let conns = zmtp_connections("reqrep", &pcap, &[5555]);
    let requests: usize = conns.iter().map(|c| c.up.messages.len()).sum();
    let replies: usize = conns.iter().map(|c| c.down.messages.len()).sum();
    assert_eq!(
        (requests, replies),
        (count, count),
        "reqrep: (requests, replies) on the wire"
    );
    for c in &conns {
        // REQ puts an empty delimiter frame before the body.
        assert!(
            c.up.messages
                .iter()
                .all(|(frames, _)| frames.len() == 2 && frames[0].size == 0),
            "reqrep: connection {}: a request without REQ's envelope",
            c.stream
        );
    }
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn pushpull_tasks_go_to_each_worker_in_turn_and_every_result_reaches_the_sink() {
    let (count, workers) = (30u64, 3u64);
    let (pcap, _turn) = capture("pushpull", &[("PUSHPULL_COUNT", "30")]);
    let conns = zmtp_connections("pushpull", &pcap, &[5557, 5558]);
    let mut firsts = BTreeSet::new();
    let (mut tasks, mut results) = (0, 0);
    for c in &conns {
        if c.server_port == 5557 {
            // The pusher's tasks to this worker: round-robin gives it every third task.
            let ids: Vec<u64> = c
                .down
                .messages
                .iter()
                .filter_map(|(_, task)| *task)
                .collect();
            let ends = c.down.messages.len() - ids.len();
            assert_eq!(
                ends, 1,
                "pushpull: connection {} got {ends} end markers",
                c.stream
            );
            assert!(
                !ids.is_empty(),
                "pushpull: worker connection {} got no task",
                c.stream
            );
            assert!(
                ids.windows(2).all(|w| w[1] == w[0] + workers),
                "pushpull: connection {} tasks not in turn: {ids:?}",
                c.stream
            );
            firsts.insert(ids[0]);
            tasks += ids.len() as u64;
        } else {
            results += c.up.messages.len() as u64;
        }
    }
    assert_eq!(
        firsts,
        (0..workers).collect(),
        "pushpull: the {workers} worker connections did not start at tasks 0, 1, 2"
    );
    assert_eq!(
        (tasks, results),
        (count, count),
        "pushpull: (tasks to workers, results to the sink) on the wire"
    );
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn pubsub_each_subscription_reaches_the_publisher_and_no_foreign_topic_comes_back() {
    let count = 10;
    let (pcap, _turn) = capture("pubsub", &[("PUBSUB_COUNT", "10")]);
    let conns = zmtp_connections("pubsub", &pcap, &[5556]);
    let mut subscribed = BTreeSet::new();
    for c in &conns {
        // ZMTP 3.1's SUBSCRIBE command and 3.0's subscription message both decode as SUBSCRIBE.
        let topics: BTreeSet<String> =
            c.up.commands
                .iter()
                .filter(|(name, _)| name == "SUBSCRIBE")
                .filter_map(|(_, topic)| topic.clone())
                .collect();
        assert_eq!(
            topics.len(),
            1,
            "pubsub: connection {} subscribed to {topics:?}, expected one topic",
            c.stream
        );
        let mut per_topic: BTreeMap<String, usize> = BTreeMap::new();
        for (frames, _) in &c.down.messages {
            let topic = plain(&frames[0].preview);
            assert!(
                topics.iter().any(|t| topic.starts_with(t.as_str())),
                "pubsub: connection {} subscribed to {topics:?} got {topic}",
                c.stream
            );
            *per_topic.entry(topic).or_default() += 1;
        }
        let topic = topics.into_iter().next().unwrap();
        // Every message of the topic and its end marker.
        assert_eq!(
            per_topic,
            BTreeMap::from([(topic.clone(), count + 1)]),
            "pubsub: messages on connection {}",
            c.stream
        );
        subscribed.insert(topic);
    }
    assert_eq!(
        subscribed,
        BTreeSet::from(["news".into(), "weather".into()]),
        "pubsub: the subscribers' topics"
    );
}
