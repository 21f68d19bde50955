//! The bad-input table of `pola inspect`: a truncated pcap, a non-pcap file, an empty file, a
//! capture with no TCP, an unknown link type, and garbage on pola's ports each get one clear
//! line or a decoded "malformed" line, never a panic. Then the parsers are fuzzed with proptest.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use pola::decode::{http, link, mqtt, stream::Tracker, zmtp, Message};
use proptest::prelude::*;
use support::*;

fn inspect(path: &Path) -> Output {
    Command::new(POLA)
        .arg("inspect")
        .arg(path)
        .output()
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn good_capture() -> PcapWriter {
    let mut w = PcapWriter::new(1);
    w.conversation(
        1883,
        &[
            b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04abcd",
            b"\xe0\x00",
        ],
    );
    w
}

#[test]
fn truncated_pcap_shows_every_complete_packet_then_says_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = good_capture().bytes;
    bytes.truncate(bytes.len() - 5);
    let path = dir.path().join("cut.pcap");
    std::fs::write(&path, bytes).unwrap();
    let out = inspect(&path);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(stdout.contains("MQTT CONNECT client_id=abcd"), "{stdout}");
    assert!(stderr.contains("cut.pcap is truncated"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn files_that_are_not_captures_get_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes, want) in [
        (
            "notes.txt",
            &b"hello, this is not a capture at all\n"[..],
            "not a pcap or pcapng capture",
        ),
        ("empty.pcap", &b""[..], "is empty"),
        ("short.pcap", &b"\xd4\xc3\xb2\xa1\x02"[..], "short.pcap"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = inspect(&path);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(stdout.is_empty(), "{name}: {stdout}");
        assert!(stderr.contains(want), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
    }
    let out = inspect(&dir.path().join("absent.pcap"));
    assert!(text(&out).1.contains("opening") && text(&out).1.contains("absent.pcap"));
}

#[test]
fn no_tcp_and_unknown_link_types_are_described_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let mut udp = PcapWriter::new(1);
    udp.udp_query();
    udp.write(&dir.path().join("udp.pcap"));
    let out = inspect(&dir.path().join("udp.pcap"));
    assert!(out.status.success());
    assert!(
        text(&out)
            .0
            .contains("UDP 10.0.0.1:5353 → 10.0.0.2:53 len=5"),
        "{}",
        text(&out).0
    );

    let mut odd = PcapWriter::new(147);
    odd.frame(b"private link layer");
    odd.write(&dir.path().join("odd.pcap"));
    let out = inspect(&dir.path().join("odd.pcap"));
    assert!(out.status.success());
    assert!(
        text(&out).0.contains("unknown link type 147"),
        "{}",
        text(&out).0
    );

    // Known link types whose frame is shorter than their header: said as such, not "unknown".
    for (linktype, header) in [(113u32, 16usize), (276, 20), (0, 4)] {
        let mut short = PcapWriter::new(linktype);
        short.frame(&vec![0u8; header - 1]);
        let path = dir.path().join(format!("short-{linktype}.pcap"));
        short.write(&path);
        let out = inspect(&path);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stderr}");
        assert!(
            stdout.contains(&format!(
                "frame of {} bytes is shorter than its link header",
                header - 1
            )),
            "link type {linktype}: {stdout}"
        );
    }
}

#[test]
fn garbage_on_pola_ports_is_decoded_as_malformed() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = PcapWriter::new(1);
    // Bytes that do not start any protocol: only the port says what they should have been.
    w.conversation(1883, &[b"\x00\x01garbage for the broker"]);
    w.conversation(8080, &[b"\x01\x02garbage for the REST API\r\n\r\n"]);
    w.conversation(5555, &[b"\x00\x00\x00garbage for ZeroMQ"]);
    // A ZMTP greeting followed by a frame with reserved flag bits.
    let mut greeting = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1];
    greeting.extend_from_slice(b"NULL");
    greeting.resize(64, 0);
    w.conversation(5556, &[&greeting, b"\xF0\x05hello"]);
    let path = dir.path().join("garbage.pcap");
    w.write(&path);
    let out = inspect(&path);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for want in [
        "MQTT malformed:",
        "HTTP malformed:",
        "ZMTP malformed: no greeting signature",
        "ZMTP malformed: frame flags 0xf0",
    ] {
        assert!(stdout.contains(want), "{want} missing from\n{stdout}");
    }
}

/// Feeds `data` in `cuts` pieces to a fresh tracker stream on `port`, as TCP segments would.
fn feed_stream(port: u16, data: &[u8], cuts: &[usize]) -> Vec<Message> {
    let mut t = Tracker::new();
    let client: std::net::SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let server: std::net::SocketAddr = format!("10.0.0.2:{port}").parse().unwrap();
    let mut seg = link::Segment {
        src: client,
        dst: server,
        seq: 1,
        ack: 0,
        flags: Default::default(),
        payload: &[],
    };
    seg.flags.syn = true;
    t.segment(0.0, &seg);
    seg.flags = link::Flags {
        ack: true,
        psh: true,
        ..Default::default()
    };
    let mut out = Vec::new();
    let mut at = 0;
    let mut seq = 2u32;
    for &cut in cuts.iter().chain([&data.len()]) {
        let end = cut.clamp(at, data.len());
        seg.payload = &data[at..end];
        seg.seq = seq;
        seq = seq.wrapping_add((end - at) as u32);
        out.extend(t.segment(0.0, &seg).messages);
        at = end;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn link_layers_never_panic(linktype in prop_oneof![Just(0), Just(1), Just(101), Just(113), Just(276), any::<i32>()],
                               data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = link::decode(linktype, &data);
    }

    #[test]
    fn stream_decoders_never_panic(port in prop_oneof![Just(1883u16), Just(8080), Just(5555), any::<u16>()],
                                   data in proptest::collection::vec(any::<u8>(), 0..400),
                                   cuts in proptest::collection::vec(0usize..400, 0..6)) {
        let mut cuts = cuts;
        cuts.sort();
        let _ = feed_stream(port, &data, &cuts);
    }

    #[test]
    fn decoders_fed_protocol_shaped_noise_never_panic(prefix in prop_oneof![
            Just(b"\x10\x0c\x00\x04MQTT\x04".to_vec()),
            Just(b"GET / HTTP/1.1\r\n".to_vec()),
            Just(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec()),
            Just({ let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1]; g.resize(64, 0); g }),
        ],
        noise in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut data = prefix;
        data.extend(noise);
        for dir in 0..2 {
            let mut out = Vec::new();
            mqtt::Decoder::default().feed(dir, &data, &mut out);
            http::Decoder::default().feed(dir, &data, &mut out);
            zmtp::Decoder::default().feed(dir, &data, &mut out);
        }
    }

    #[test]
    fn splitting_a_stream_anywhere_gives_the_same_messages(cut in 1usize..120) {
        // A REQ conversation's client side: greeting, READY, a two-frame message, split anywhere.
        let mut data = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1];
        data.extend_from_slice(b"NULL");
        data.resize(64, 0);
        data.extend_from_slice(b"\x04\x19\x05READY\x0bSocket-Type\x00\x00\x00\x03REQ");
        data.extend_from_slice(b"\x01\x00\x00\x05hello");
        let whole = feed_stream(40001, &data, &[]);
        prop_assert_eq!(whole.len(), 3);
        prop_assert_eq!(feed_stream(40001, &data, &[cut]), whole);
    }
}

#[test]
fn zmtp_matches_the_rfc_37_examples() {
    // Frames as RFC 37 draws them: a short final frame, a long frame, a command with properties.
    let mut data = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1];
    data.extend_from_slice(b"NULL");
    data.resize(64, 0);
    data[32] = 1;
    data.extend_from_slice(
        b"\x04\x26\x05READY\x0bSocket-Type\x00\x00\x00\x03SUB\x08Identity\x00\x00\x00\x00",
    );
    data.extend_from_slice(b"\x04\x0c\x09SUBSCRIBEab");
    data.extend_from_slice(b"\x04\x0b\x04PING\x00\x0actx!");
    data.extend_from_slice(b"\x03\x00\x00\x00\x00\x00\x00\x00\x02hi");
    data.extend_from_slice(b"\x00\x01x");
    data.extend_from_slice(b"\x00\x04\x01top"); // a 3.0 subscription message from this SUB
    let out = feed_stream(40002, &data, &[]);
    let shown: Vec<String> = out.iter().map(|m| m.to_string()).collect();
    assert_eq!(
        shown,
        [
            "ZMTP greeting 3.1 NULL as-server=1",
            "ZMTP READY Socket-Type=SUB Identity=",
            "ZMTP SUBSCRIBE topic=\"ab\"",
            "ZMTP PING ttl=1 context=\"ctx!\"",
            "ZMTP message 2 frames 3 bytes [2+ \"hi\" | 1 \"x\"]",
            "ZMTP SUBSCRIBE topic=\"top\" (3.0 message)",
        ]
    );
}
