//! `pola report`'s proofs on real conversations (a socket echo, an HTTP/1.1 keep-alive item
//! store, pyzmq PUSH/PULL) and on the same captures doctored so that each claim is false: an echo
//! that differs, a request with no response, a worker that gets two tasks in a row. Then the
//! report opened in headless Chromium: no ladder text may lie outside its SVG.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

/// Writes the report in `lang` of the single capture `pcap`, named `<model>.pcap`; returns its
/// Markdown.
fn report_in(pcap: &Path, model: &str, lang: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(pcap, dir.path().join(format!("{model}.pcap"))).unwrap();
    run_ok(
        Command::new(POLA)
            .args(["report", "--lang", lang, "--captures"])
            .arg(dir.path()),
    );
    std::fs::read_to_string(dir.path().join("report.md")).unwrap()
}

/// Every proof of `md` in Indonesian holds, and no English sentence is left in it.
fn indonesian_holds(md: &str, proofs: usize) {
    assert_eq!(md.matches("- **terbukti**").count(), proofs, "{md}");
    for english in [
        "Every ",
        "Each ",
        "Plain TCP",
        "PUSH at",
        "PULL at",
        "holds",
    ] {
        assert!(!md.contains(english), "{english:?} in\n{md}");
    }
}

/// The verdict of the proof whose sentence starts with `claim`: true for holds.
fn verdict(md: &str, claim: &str) -> bool {
    let line = md
        .lines()
        .find(|l| l.starts_with("- **") && l.contains(claim))
        .unwrap_or_else(|| panic!("no proof {claim:?} in\n{md}"));
    if line.starts_with("- **holds**") {
        true
    } else {
        assert!(line.starts_with("- **does NOT hold**"), "{line}");
        false
    }
}

fn doctored(dir: &Path, pcap: &Path, edit: impl FnOnce(&mut Records)) -> PathBuf {
    let mut r = Records::read(pcap);
    edit(&mut r);
    let out = dir.join(format!(
        "doctored-{}",
        pcap.file_name().unwrap().to_string_lossy()
    ));
    r.write(&out);
    out
}

/// A real conversation: the capture of a peer script's `pattern`, kept in a temporary directory
/// and reported as `model`.
struct Conversation {
    dir: tempfile::TempDir,
    pcap: PathBuf,
    model: &'static str,
}

impl Conversation {
    /// Runs `script`'s `pattern` `count` times under tcpdump.
    fn capture(script: &str, pattern: &str, count: usize, model: &'static str) -> Conversation {
        let dir = tempfile::tempdir().unwrap();
        let pcap = peers_capture(dir.path(), script, pattern, count);
        Conversation { dir, pcap, model }
    }

    /// The report of the capture in `lang`.
    fn report_in(&self, lang: &str) -> String {
        report_in(&self.pcap, self.model, lang)
    }

    /// The English report of the capture after `edit` doctored it.
    fn doctored_report(&self, edit: impl FnOnce(&mut Records)) -> String {
        report_in(
            &doctored(self.dir.path(), &self.pcap, edit),
            self.model,
            "en",
        )
    }
}

#[test]
fn tcp_echo_proof_holds_and_fails_when_one_echoed_byte_differs() {
    let echo = Conversation::capture("plain_peers.py", "echo", 12, "tcp");
    let md = echo.report_in("en");
    assert!(verdict(&md, "Every echo equals its request"), "{md}");
    assert!(
        md.contains("the client sent 768 bytes, 768 came back, 0 of them differ"),
        "{md}"
    );
    assert!(verdict(&md, "Plain TCP, no application protocol"), "{md}");
    assert!(md.contains("1 connection(s) carry data, 0 of them"), "{md}");
    indonesian_holds(&echo.report_in("id"), 2);
    // The request is captured first, its echo second: change one byte of the echo.
    let md = echo.doctored_report(|r| {
        let echo = r.find(b"echo-0005:", 1);
        r.replace(echo, b"echo-0005:", b"echo-0006:");
    });
    assert!(!verdict(&md, "Every echo equals its request"), "{md}");
    assert_contains(&md, &["1 of them differ", "first difference at byte 328"]);
}

#[test]
fn rest_proofs_hold_and_fail_when_a_response_is_missing() {
    let rest = Conversation::capture("plain_peers.py", "rest", 3, "rest");
    let md = rest.report_in("en");
    assert!(
        verdict(&md, "Each request is answered exactly once"),
        "{md}"
    );
    assert_contains(
        &md,
        &[
            "15 requests over 1 connection(s), 0 without a response",
            "busiest keep-alive connection carried 15 requests",
            "DELETE /items/{id} → 204 ×3",
        ],
    );
    assert!(verdict(&md, "Each item lives its whole life"), "{md}");
    assert_contains(
        &md,
        &[
            "3 of 3 deleted item(s)",
            "/items/2: POST 201 → GET 200 → PUT 200 → DELETE 204 → GET 404",
        ],
    );
    indonesian_holds(&rest.report_in("id"), 2);
    // The last response of the capture (the 404 after the third DELETE) never arrives.
    let md = rest.doctored_report(|r| {
        let last = r.find(b"HTTP/1.1 404", 2);
        r.packets.remove(last);
    });
    assert!(
        !verdict(&md, "Each request is answered exactly once"),
        "{md}"
    );
    assert_contains(
        &md,
        &["1 without a response", "no response to GET /items/3"],
    );
    assert!(!verdict(&md, "Each item lives its whole life"), "{md}");
}

#[test]
fn round_robin_holds_and_fails_when_a_worker_gets_two_tasks_in_a_row() {
    let pushpull = Conversation::capture("zmq_peers.py", "pushpull", 9, "pushpull");
    let md = pushpull.report_in("en");
    assert!(verdict(&md, "hands out its tasks round robin"), "{md}");
    assert_contains(&md, &["9 tasks over 3 connections", "0 went out of turn"]);
    indonesian_holds(&pushpull.report_in("id"), 1);
    // Swap tasks 1 and 3: the worker that had 0, 3, 6 now has 0, 1, 6.
    let md = pushpull.doctored_report(|r| {
        let one = r.find(b"task\x00\x011", 0);
        let three = r.find(b"task\x00\x013", 0);
        r.replace(one, b"task\x00\x011", b"task\x00\x013");
        r.replace(three, b"task\x00\x013", b"task\x00\x011");
    });
    assert!(!verdict(&md, "hands out its tasks round robin"), "{md}");
    assert!(md.contains("(3): 0, 1, 6"), "{md}");
}

#[test]
fn every_ladder_label_lies_inside_its_svg_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let caps = dir.path().join("captures");
    std::fs::create_dir(&caps).unwrap();
    // Many tasks batch several messages into one segment; the rest capture gets a host name far
    // wider than a column; 250 PUSH tasks make more arrows than one SVG page holds.
    let push = peers_capture(dir.path(), "zmq_peers.py", "pushpull", 250);
    std::fs::copy(push, caps.join("pushpull.pcap")).unwrap();
    let sub = peers_capture(dir.path(), "zmq_peers.py", "pubsub", 40);
    std::fs::copy(sub, caps.join("pubsub.pcap")).unwrap();
    let rest = peers_capture(dir.path(), "plain_peers.py", "rest", 4);
    std::fs::copy(rest, caps.join("rest.pcap")).unwrap();
    std::fs::write(
        caps.join("rest.hosts"),
        "127.0.0.1 a-service-name-much-longer-than-any-column-of-the-ladder-could-ever-hold\n",
    )
    .unwrap();
    run_ok(Command::new(POLA).args(["report", "--captures"]).arg(&caps));
    let html = caps.join("report.html");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.matches("<svg").count() > 3,
        "the pushpull ladder spans several pages"
    );
    assert!(!page.contains("not drawn"), "every packet is drawn");
    let (texts, bad) = texts_outside_their_svg(&html, ".ladder svg");
    assert!(texts > 300, "only {texts} texts measured");
    assert!(bad.is_empty(), "texts outside their SVG: {bad:#?}");
}

#[test]
fn a_ladder_past_its_last_row_counts_only_the_tcp_packets_left_out() {
    // 20,010 arrows of TCP (alternating directions, so none merge) and 5 UDP datagrams: the
    // ladder holds 20,000 arrows, and exactly 10 TCP packets are said not drawn.
    let dir = tempfile::tempdir().unwrap();
    let caps = dir.path().join("captures");
    std::fs::create_dir(&caps).unwrap();
    let mut w = PcapWriter::new(1);
    w.tcp(40000, 7000, 100, true, &[]);
    w.tcp(7000, 40000, 500, true, &[]);
    let (mut up, mut down) = (101u32, 501u32);
    for i in 0..10_004u32 {
        let byte = [b'a' + (i % 26) as u8];
        w.tcp(40000, 7000, up, false, &byte);
        w.tcp(7000, 40000, down, false, &byte);
        up += 1;
        down += 1;
    }
    for _ in 0..5 {
        w.udp_query();
    }
    w.write(&caps.join("tcp.pcap"));
    run_ok(Command::new(POLA).args(["report", "--captures"]).arg(&caps));
    let html = std::fs::read_to_string(caps.join("report.html")).unwrap();
    assert!(
        html.contains("<p>… 10 more TCP packets not drawn"),
        "{}",
        &html[html.len() - 600..]
    );
    assert_eq!(
        html.matches("<svg").count(),
        200,
        "20,000 arrows in pages of 100"
    );
    let md = std::fs::read_to_string(caps.join("report.md")).unwrap();
    assert!(verdict(&md, "Every echo equals its request"), "{md}");
    assert!(
        md.contains("the client sent 10004 bytes, 10004 came back"),
        "{md}"
    );
}

/// A real fault on loopback: an echo server that reads request COUNT/2 and resets its connection
/// instead of answering (SO_LINGER 0: an RST on the wire), and a client that reconnects and sends
/// the unanswered request again. Prints the fault and the client's summary as scripts/fault.sh
/// writes them to a `.events` file (Unix times, the clock of tcpdump's timestamps).
const RESET_PEERS: &str = r#"
import socket, struct, sys, threading, time
port, count = int(sys.argv[1]), int(sys.argv[2])
server = socket.create_server(("127.0.0.1", port))

def serve():
    crashed = False
    while True:
        conn, _ = server.accept()
        n = 0
        while data := conn.recv(64):
            n += 1
            if not crashed and n == count // 2:
                print(f"fault=reset service=echo-server at={time.time():.6f}", flush=True)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                crashed = True
                break
            conn.sendall(data)
        conn.close()

threading.Thread(target=serve, daemon=True).start()
client = socket.create_connection(("127.0.0.1", port))
i = received = retries = 0
while i < count:
    msg = f"echo-{i:04d}:".encode().ljust(64, b".")
    try:
        client.sendall(msg)
        back = b""
        while len(back) < len(msg):
            chunk = client.recv(len(msg) - len(back))
            if not chunk:
                raise ConnectionResetError("closed by the server")
            back += chunk
    except OSError as e:
        retries += 1
        print(f"retry {retries}: {e}", file=sys.stderr)
        if retries > 3:
            break
        client.close()
        client = socket.create_connection(("127.0.0.1", port))
        continue
    assert back == msg, (back, msg)
    received += 1
    i += 1
client.close()
print(f"client=echo-client exit=0 sent={count} received={received} lost={count - received} retries={retries}")
"#;

/// The fault section's table row whose step starts with `step`, as numbers: retransmissions,
/// redelivered, connections, greetings, RSTs.
fn fault_row(md: &str, step: &str) -> [u64; 5] {
    let line = md
        .lines()
        .find(|l| {
            l.split('|')
                .nth(2)
                .is_some_and(|s| s.trim().starts_with(step))
        })
        .unwrap_or_else(|| panic!("no fault row {step:?} in\n{md}"));
    let cells: Vec<u64> = line
        .split('|')
        .skip(3)
        .filter(|c| !c.trim().is_empty())
        .map(|c| c.trim().parse().unwrap())
        .collect();
    cells.try_into().unwrap()
}

#[test]
fn a_fault_capture_shows_the_reset_the_new_connection_and_what_was_lost() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cap = Tcpdump::start(dir.path(), "fault-echo.pcap", "lo", &[], &[port]);
    let out = run_ok(
        Command::new("timeout")
            .args(["60", "/usr/bin/python3", "-c", RESET_PEERS])
            .args([&port.to_string(), "20"]),
    );
    let pcap = cap.stop();
    let events = String::from_utf8(out.stdout).unwrap();
    assert!(events.contains("retries=1"), "{events}");
    let report = |events: &str, pcap: &Path, lang: &str| {
        let caps = dir.path().join(format!("captures-{lang}"));
        let _ = std::fs::remove_dir_all(&caps);
        std::fs::create_dir(&caps).unwrap();
        std::fs::copy(pcap, caps.join("fault-echo.pcap")).unwrap();
        std::fs::write(caps.join("fault-echo.events"), events).unwrap();
        run_ok(
            Command::new(POLA)
                .args(["report", "--lang", lang, "--captures"])
                .arg(&caps),
        );
        std::fs::read_to_string(caps.join("report.md")).unwrap()
    };
    let md = report(&events, &pcap, "en");
    // Before the fault: the first connection, no RST; after it: the RST and one new connection.
    assert_eq!(fault_row(&md, "capture start"), [0, 0, 1, 0, 0], "{md}");
    let [retrans, _, conns, _, resets] = fault_row(&md, "reset service=echo-server");
    assert_eq!((retrans, conns), (0, 1), "{md}");
    assert!(resets >= 1, "{md}");
    assert!(verdict(&md, "Nothing was lost across the fault"), "{md}");
    assert!(
        md.contains("1 of 1 client(s) printed a summary line, and together they count 0 lost, after 1 retries"),
        "{md}"
    );
    assert!(verdict(&md, "Nothing reached an application twice"), "{md}");
    let id = report(&events, &pcap, "id");
    assert_contains(
        &id,
        &[
            "| sejak (s) | langkah |",
            "- **terbukti**: Tidak ada yang hilang selama gangguan",
        ],
    );
    assert!(!id.contains("Nothing "), "{id}");
    // A data segment sent twice after the fault is a retransmission; a client that counts lost
    // requests breaks the guarantee.
    let resent = doctored(dir.path(), &pcap, |r| {
        let again = r.find(b"echo-0015:", 0);
        let copy = r.packets[again].clone();
        r.packets.insert(again + 1, copy);
    });
    let md = report(&events.replace("lost=0", "lost=3"), &resent, "en");
    assert_eq!(fault_row(&md, "reset service=echo-server")[0], 1, "{md}");
    assert!(!verdict(&md, "Nothing was lost across the fault"), "{md}");
    assert!(md.contains("together they count 3 lost"), "{md}");
}
