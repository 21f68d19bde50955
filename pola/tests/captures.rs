//! Real conversations captured on loopback with tcpdump and decoded by `pola inspect`: mosquitto
//! with its own clients, curl against python's http.server, and libzmq (pyzmq) REQ/REP,
//! PUSH/PULL and PUB/SUB, all on ports pola does not know, so recognition is by the bytes.
//! Each capture is also checked against tshark and the Lua ZMTP dissector (wireshark/check.sh).

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use support::*;

fn mosquitto_conversation(
    dir: &Path,
    name: &str,
    iface: &str,
    extra: &[&str],
) -> std::path::PathBuf {
    let port = free_port();
    let _broker = Peer::listening(
        Command::new("mosquitto").args(["-p", &port.to_string()]),
        port,
    );
    let cap = Tcpdump::start(dir, name, iface, extra, &[port]);
    let p = port.to_string();
    // The subscriber says (with -d) when its SUBACK arrived; only then do the publishers start.
    let mut sub = Peer(
        // stdbuf: mosquitto_sub's stdout is block-buffered in a pipe, and we wait on its lines.
        Command::new("stdbuf")
            .args([
                "-oL",
                "mosquitto_sub",
                "-p",
                &p,
                "-t",
                "sensors/#",
                "-q",
                "2",
                "-C",
                "4",
                "-d",
                "-i",
                "student-sub",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(sub.0.stdout.take().unwrap()).lines();
    assert!(
        lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.contains("SUBACK")),
        "no SUBACK"
    );
    for (qos, value) in [("0", "20.5"), ("1", "21.0"), ("2", "21.5"), ("1", "22.0")] {
        run_ok(Command::new("mosquitto_pub").args([
            "-p",
            &p,
            "-t",
            "sensors/lab/temp",
            "-q",
            qos,
            "-m",
            value,
        ]));
    }
    // QoS 2 takes more round trips, so deliveries may overtake each other: compare as a set.
    let mut received: Vec<String> = lines
        .map_while(Result::ok)
        .filter(|l| l.starts_with("2"))
        .collect();
    received.sort();
    assert_eq!(received, ["20.5", "21.0", "21.5", "22.0"]);
    assert!(sub.0.wait().unwrap().success());
    cap.stop()
}

#[test]
fn mosquitto_on_an_unusual_port_is_recognised_by_connect_and_agrees_with_tshark() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = mosquitto_conversation(dir.path(), "mqtt.pcap", "lo", &[]);
    let c = counts(&pcap);
    // One subscriber and four publishers connect; each PUBLISH goes in to the broker and out again.
    assert_eq!(c["mqtt"]["CONNECT"], 5, "{c}");
    assert_eq!(c["mqtt"]["PUBLISH"], 8, "{c}");
    assert_eq!(c["mqtt"]["SUBSCRIBE"], 1, "{c}");
    // QoS 2 in both legs: PUBREC, PUBREL, PUBCOMP twice each.
    assert_eq!(c["mqtt"]["PUBCOMP"], 2, "{c}");
    assert_eq!(c["malformed"], 0, "{c}");
    let text = inspect_text(&pcap);
    assert_contains(
        &text,
        &[
            "MQTT CONNECT client_id=student-sub",
            "MQTT PUBLISH topic=sensors/lab/temp qos=2 id=",
            "\"21.5\"",
        ],
    );
    tshark_agrees(&[&pcap]);
}

#[test]
fn linux_cooked_sll_sll2_and_pcapng_decode_like_ethernet() {
    let dir = tempfile::tempdir().unwrap();
    let eth = mosquitto_conversation(dir.path(), "eth.pcap", "lo", &[]);
    let sll2 = mosquitto_conversation(dir.path(), "sll2.pcap", "any", &["-y", "LINUX_SLL2"]);
    let sll = mosquitto_conversation(dir.path(), "sll.pcap", "any", &["-y", "LINUX_SLL"]);
    let ng = dir.path().join("eth.pcapng");
    run_ok(
        Command::new("editcap")
            .args(["-F", "pcapng"])
            .arg(&eth)
            .arg(&ng),
    );
    let reference = counts(&eth);
    for other in [&sll2, &sll, &ng] {
        let c = counts(other);
        assert_eq!(c["mqtt"], reference["mqtt"], "{}", other.display());
        assert_eq!(c["malformed"], 0, "{}", other.display());
    }
    // The link types really differ (tshark names them), so the test proves what it claims.
    let types = |p: &Path| {
        String::from_utf8(run_ok(Command::new("capinfos").arg("-E").arg(p)).stdout).unwrap()
    };
    assert!(
        types(&sll2).contains("Linux cooked-mode capture v2"),
        "{}",
        types(&sll2)
    );
    assert!(
        types(&sll).contains("Linux cooked-mode capture v1"),
        "{}",
        types(&sll)
    );
    tshark_agrees(&[&sll2, &sll, &ng]);
}

#[test]
fn curl_against_python_http_server_agrees_with_tshark() {
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    std::fs::create_dir(&www).unwrap();
    std::fs::write(
        www.join("reading.json"),
        br#"{"room":"lab","celsius":21.5}"#,
    )
    .unwrap();
    let port = free_port();
    let _server = Peer::listening(
        Command::new("/usr/bin/python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .current_dir(&www)
            .stdout(Stdio::null()),
        port,
    );
    let cap = Tcpdump::start(dir.path(), "rest.pcap", "lo", &[], &[port]);
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    run_ok(Command::new("curl").args(["-s", "-o", "/dev/null", &url("/reading.json"), &url("/")]));
    run_ok(Command::new("curl").args(["-s", "-I", "-o", "/dev/null", &url("/reading.json")]));
    run_ok(Command::new("curl").args(["-s", "-o", "/dev/null", &url("/missing")]));
    run_ok(Command::new("curl").args([
        "-s",
        "-o",
        "/dev/null",
        "-X",
        "POST",
        "-d",
        "x=1",
        &url("/reading.json"),
    ]));
    let pcap = cap.stop();
    let c = counts(&pcap);
    assert_eq!(
        c["http_methods"],
        json!({"GET": 3, "HEAD": 1, "POST": 1}),
        "{c}"
    );
    assert_eq!(
        c["http_status"],
        json!({"200": 3, "404": 1, "501": 1}),
        "{c}"
    );
    let text = inspect_text(&pcap);
    assert_contains(
        &text,
        &[
            "HTTP GET /reading.json",
            "HTTP 200 OK body=29 application/json",
        ],
    );
    tshark_agrees(&[&pcap]);
}

fn zmq_capture(dir: &Path, pattern: &str, count: usize) -> (std::path::PathBuf, Value) {
    let port = free_port();
    let cap = Tcpdump::start(dir, &format!("{pattern}.pcap"), "lo", &[], &[port]);
    let peers = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/zmq_peers.py");
    run_ok(
        Command::new("timeout")
            .args(["60", "/usr/bin/python3"])
            .arg(peers)
            .args([pattern, &port.to_string(), &count.to_string()]),
    );
    let pcap = cap.stop();
    let c = counts(&pcap);
    (pcap, c)
}

#[test]
fn zeromq_patterns_on_unusual_ports_are_recognised_by_greeting_and_agree_with_the_lua_dissector() {
    let dir = tempfile::tempdir().unwrap();
    let (reqrep, c) = zmq_capture(dir.path(), "reqrep", 5);
    assert_eq!(
        (c["zmtp_connections"].clone(), c["zmtp_greetings"].clone()),
        (json!(1), json!(2)),
        "{c}"
    );
    assert_eq!(c["zmtp_commands"], json!({"READY": 2}), "{c}");
    assert_eq!(c["zmtp_messages"], 10, "{c}");
    let text = inspect_text(&reqrep);
    assert_contains(
        &text,
        &["ZMTP greeting 3.1 NULL", "ZMTP READY Socket-Type=REQ"],
    );
    // REQ puts an empty delimiter frame before the body: two frames, the first with MORE.
    assert!(
        text.contains("ZMTP message 2 frames 9 bytes [0+ | 9 \"request 0\"]"),
        "{text}"
    );

    let (pushpull, c) = zmq_capture(dir.path(), "pushpull", 9);
    assert_eq!(c["zmtp_connections"], 3, "{c}");
    assert_eq!(c["zmtp_messages"], 9, "{c}");

    let (pubsub, c) = zmq_capture(dir.path(), "pubsub", 6);
    assert_eq!(c["zmtp_connections"], 2, "{c}");
    assert_eq!(c["zmtp_commands"]["SUBSCRIBE"], 2, "{c}");
    assert_eq!(c["zmtp_commands"]["CANCEL"], 1, "{c}");
    let text = inspect_text(&pubsub);
    assert!(text.contains("ZMTP SUBSCRIBE topic=\"weather\""), "{text}");
    assert!(
        !text.contains("news"),
        "a topic nobody subscribed to left the publisher: {text}"
    );
    tshark_agrees(&[&reqrep, &pushpull, &pubsub]);
}

#[test]
fn filters_and_json_follow_one_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let (pcap, _) = zmq_capture(dir.path(), "pushpull", 6);
    let lines = |args: &[&str]| -> Vec<String> {
        let out = run_ok(Command::new(POLA).arg("inspect").args(args).arg(&pcap));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let all = lines(&[]);
    let one = lines(&["--stream", "1"]);
    assert!(!one.is_empty() && one.len() < all.len());
    assert!(one.iter().all(|l| l.contains("stream=1")), "{one:?}");
    let tcp = all.iter().filter(|l| l.contains(" stream=")).count();
    assert_eq!(
        lines(&["--model", "pushpull"]).len(),
        tcp,
        "every TCP packet, none of the marker datagrams"
    );
    assert!(lines(&["--model", "pubsub"]).is_empty());
    let json: Vec<Value> = lines(&["--json"])
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(json.len(), all.len());
    assert!(json
        .iter()
        .any(|j| j["other"].as_str().is_some_and(|o| o.starts_with("UDP"))));
    let messages: usize = json
        .iter()
        .filter_map(|j| j["messages"].as_array())
        .flatten()
        .filter(|m| m["kind"] == "message")
        .count();
    assert_eq!(messages, 6);
    assert!(json
        .iter()
        .any(|j| j["messages"][0]["kind"] == "greeting" && j["messages"][0]["version"] == "3.1"));
}

#[test]
fn captures_of_real_peers_agree_with_tshark() {
    // Captures made here with real peers, so the test never depends on what captures/ holds (the
    // compose runs write it at the same time; `make test-captures` runs this check on them).
    let dir = tempfile::tempdir().unwrap();
    let pcaps = [
        mosquitto_conversation(dir.path(), "mqtt.pcap", "lo", &[]),
        peers_capture(dir.path(), "plain_peers.py", "rest", 2),
        peers_capture(dir.path(), "zmq_peers.py", "pubsub", 4),
    ];
    let paths: Vec<&Path> = pcaps.iter().map(|p| p.as_path()).collect();
    let out = tshark_agrees(&paths);
    assert!(!out.contains("FAIL"), "{out}");
    // Every capture judged (a TLS capture gets two lines: its handshakes, and what it decrypts).
    for pcap in &pcaps {
        let judged = format!("ok   {}", pcap.display());
        assert!(
            out.lines().any(|l| l.starts_with(&judged)),
            "{judged} missing: {out}"
        );
    }
}

#[test]
fn check_sh_with_no_capture_fails() {
    // A check that had nothing to judge must not pass.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wireshark/check.sh");
    let empty = tempfile::tempdir().unwrap();
    let copy = empty.path().join("wireshark");
    std::fs::create_dir(&copy).unwrap();
    std::fs::copy(&script, copy.join("check.sh")).unwrap();
    std::fs::create_dir(empty.path().join("captures")).unwrap();
    let out = Command::new("bash")
        .arg(copy.join("check.sh"))
        .env("POLA", POLA)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to check"));
}

#[test]
fn report_summarises_every_capture_and_proves_each_model_in_both_languages() {
    let dir = tempfile::tempdir().unwrap();
    let caps = dir.path().join("captures");
    std::fs::create_dir(&caps).unwrap();
    let mqtt = mosquitto_conversation(dir.path(), "mqtt-raw.pcap", "lo", &[]);
    std::fs::copy(mqtt, caps.join("mqtt.pcap")).unwrap();
    for (pattern, n) in [("reqrep", 4), ("pushpull", 9), ("pubsub", 4)] {
        let (pcap, _) = zmq_capture(dir.path(), pattern, n);
        std::fs::copy(pcap, caps.join(format!("{pattern}.pcap"))).unwrap();
    }
    std::fs::write(caps.join("broken.pcap"), b"not a capture").unwrap();
    for lang in ["en", "id"] {
        let out = dir.path().join(lang);
        run_ok(
            Command::new(POLA)
                .args(["report", "--lang", lang, "--captures"])
                .arg(&caps)
                .arg("--out")
                .arg(&out),
        );
        let html = std::fs::read_to_string(out.join("report.html")).unwrap();
        let md = std::fs::read_to_string(out.join("report.md")).unwrap();
        // Self-contained: the only URL is the SVG namespace.
        assert_eq!(
            html.matches("http").count(),
            html.matches("http://www.w3.org/2000/svg").count()
        );
        assert_eq!(
            html.matches("class=\"ladder\"").count(),
            4,
            "one ladder per readable capture"
        );
        assert!(
            html.contains("broken.pcap"),
            "the unreadable capture is listed"
        );
        let verdict = if lang == "en" {
            "**holds**"
        } else {
            "**terbukti**"
        };
        // mqtt, reqrep, pubsub: one proof each; pushpull: round robin out of its one PUSH.
        assert_eq!(md.matches(verdict).count(), 4, "{md}");
        assert!(!md.contains("NOT hold") && !md.contains("TIDAK"), "{md}");
    }
    let md = std::fs::read_to_string(dir.path().join("en/report.md")).unwrap();
    assert_contains(
        &md,
        &[
            "| mqtt | reqrep | pushpull | pubsub |",
            "4 request/reply pairs over 1 connection(s)",
            "9 tasks over 3 connections",
            "QPQPQPQP",
        ],
    );
    // Readiness probes make the counts vary; what matters is that each SUB got only its topic.
    assert!(
        md.contains("[weather]: weather×") && md.contains("[sport]: sport×"),
        "{md}"
    );
    let id = std::fs::read_to_string(dir.path().join("id/report.md")).unwrap();
    assert!(id.contains("| koneksi dibuka | 5 | 1 | 3 | 2 |"), "{id}");
}

/// `r` without its packet `i`, written to `path`: its counts, in which the decoder saw one gap and
/// nothing malformed.
fn without(mut r: Records, i: usize, path: &Path) -> (PathBuf, Value) {
    r.packets.remove(i);
    r.write(path);
    let after = counts(path);
    assert_eq!(after["gaps"], 1, "{after}");
    assert_eq!(after["malformed"], 0, "{after}");
    (path.to_path_buf(), after)
}

#[test]
fn a_lost_segment_is_reported_as_a_gap_and_decoding_resumes_after_it() {
    let dir = tempfile::tempdir().unwrap();
    // MQTT: the broker's delivery of "21.0" to the subscriber is lost; the two after it count.
    let mqtt = mosquitto_conversation(dir.path(), "mqtt.pcap", "lo", &[]);
    let before = counts(&mqtt);
    let r = Records::read(&mqtt);
    let delivery = r.find(b"21.0", 1);
    // The broker may have sent an earlier delivery in the same segment: all of them are lost.
    let topic = b"sensors/lab/temp";
    let lost = r.packets[delivery]
        .1
        .windows(topic.len())
        .filter(|w| w == topic)
        .count() as u64;
    let (cut, after) = without(r, delivery, &dir.path().join("mqtt-cut.pcap"));
    assert_eq!(
        after["mqtt"]["PUBLISH"].as_u64().unwrap(),
        before["mqtt"]["PUBLISH"].as_u64().unwrap() - lost,
        "{after}"
    );
    let text = inspect_text(&cut);
    assert_contains(&text, &["MQTT gap: ", "decoding resumes at the next frame"]);

    // ZMTP: the segment with one request is lost; the requests and replies after it count.
    let (reqrep, before) = zmq_capture(dir.path(), "reqrep", 10);
    let r = Records::read(&reqrep);
    let lost = r.find(b"request 3", 0);
    assert_eq!(
        r.packets[lost]
            .1
            .windows(7)
            .filter(|w| w == b"request")
            .count(),
        1
    );
    let (cut, after) = without(r, lost, &dir.path().join("reqrep-cut.pcap"));
    assert_eq!(
        after["zmtp_messages"].as_u64().unwrap(),
        before["zmtp_messages"].as_u64().unwrap() - 1,
        "{after}"
    );
    let text = inspect_text(&cut);
    assert!(text.contains("ZMTP gap: "), "{text}");
    assert!(
        text.contains("[0+ | 9 \"request 9\"]"),
        "the last request is decoded: {text}"
    );
}

#[test]
fn inspect_reads_a_pcap_stream_from_stdin_as_it_is_written() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let (pcap, _) = zmq_capture(dir.path(), "pushpull", 9);
    let listing =
        |args: &[&str]| run_ok(Command::new(POLA).arg("inspect").arg(&pcap).args(args)).stdout;
    // Through a pipe, with and without a filter: the same lines as from the file.
    for args in [&[][..], &["--model", "pushpull"], &["--json"]] {
        let piped = run_ok(
            Command::new("sh")
                .arg("-c")
                .arg(format!("cat \"$0\" | {POLA} inspect - {}", args.join(" ")))
                .arg(&pcap),
        )
        .stdout;
        assert_eq!(
            String::from_utf8_lossy(&piped),
            String::from_utf8_lossy(&listing(args)),
            "{args:?}"
        );
    }
    // Written progressively: the first packets are shown while the rest is still to come.
    let whole = String::from_utf8(listing(&[])).unwrap();
    let r = Records::read(&pcap);
    let half = r.packets.len() / 2;
    let mut child = Peer(
        Command::new(POLA)
            .args(["inspect", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdin = child.0.stdin.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    stdin.write_all(&r.header).unwrap();
    for (head, data) in &r.packets[..half] {
        stdin.write_all(head).unwrap();
        stdin.write_all(data).unwrap();
    }
    stdin.flush().unwrap();
    let mut seen = Vec::new();
    while seen.len() < half {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the first half was not shown while the pipe stayed open");
        seen.push(line);
    }
    for (head, data) in &r.packets[half..] {
        stdin.write_all(head).unwrap();
        stdin.write_all(data).unwrap();
    }
    drop(stdin);
    seen.extend(rx.iter());
    assert!(child.0.wait().unwrap().success());
    assert_eq!(seen.join("\n") + "\n", whole);
}

#[test]
fn generic_environment_variables_do_not_change_what_pola_prints() {
    let dir = tempfile::tempdir().unwrap();
    let (pcap, _) = zmq_capture(dir.path(), "pubsub", 4);
    let plain = run_ok(Command::new(POLA).arg("inspect").arg(&pcap)).stdout;
    let exported = run_ok(
        Command::new(POLA)
            .arg("inspect")
            .arg(&pcap)
            .envs([
                ("JSON", "1"),
                ("MODEL", "reqrep"),
                ("STREAM", "7"),
                ("COUNTS", "1"),
            ])
            .envs([("PCAP", "/nonexistent"), ("HOSTS", "/nonexistent")]),
    )
    .stdout;
    assert_eq!(
        String::from_utf8_lossy(&exported),
        String::from_utf8_lossy(&plain)
    );
    // The POLA_ names are the fallbacks.
    let json = run_ok(
        Command::new(POLA)
            .arg("inspect")
            .arg(&pcap)
            .env("POLA_JSON", "true"),
    )
    .stdout;
    assert!(String::from_utf8_lossy(&json).starts_with("{\"no\":1"));
}
