//! The CURVE twins in compose (`scripts/capture.sh reqrep-curve`, `pubsub-curve`): each leaves
//! `captures/<variant>.pcap` in which tshark finds the ZMTP greetings naming CURVE, and in which
//! no byte of a request, reply, topic or payload appears, while the plain capture of the same
//! model holds them; `pola inspect` names the CURVE commands. Ignored by plain `cargo test`:
//! scripts/test-captures.sh runs them with the images built.

use std::path::{Path, PathBuf};

mod support;

/// Runs one model through scripts/capture.sh; returns its pcap once the sidecar's verdict says
/// complete (0 dropped).
fn capture(model: &str) -> PathBuf {
    let _turn = support::turn(model);
    let stdout = support::script_ok("scripts/capture.sh", &[model], &[], 900);
    support::complete_pcap(model, &stdout)
}

/// The greetings naming `mechanism`, by tshark: segments holding the name as a greeting carries
/// it, padded with zeros to 20 bytes (libzmq sends its greeting in three segments: signature,
/// major version, then the rest from the minor version on).
fn greetings(pcap: &Path, mechanism: &str) -> usize {
    let filter = format!("tcp.payload contains \"{mechanism}\"");
    let rows = support::tshark("curve capture", pcap, &["-Y", &filter, "-e", "tcp.payload"]);
    let field = hex(mechanism.as_bytes()) + &"00".repeat(20 - mechanism.len());
    rows.iter().filter(|r| r[0].contains(&field)).count()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// True if `needle` occurs anywhere in the raw bytes of `pcap`.
fn holds(pcap: &Path, needle: &str) -> bool {
    let bytes = std::fs::read(pcap).unwrap();
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The CURVE capture against the plain one of the same model: greetings naming CURVE (two per
/// connection, one each way), none of the `secrets` in its bytes though the plain one has them
/// all, and `pola inspect` naming every CURVE command without showing a body.
fn judge(plain: &Path, curve: &Path, connections: usize, secrets: &[&str]) {
    assert_eq!(
        greetings(curve, "CURVE"),
        2 * connections,
        "{}",
        curve.display()
    );
    assert_eq!(greetings(curve, "NULL"), 0);
    assert!(greetings(plain, "NULL") >= 2 * connections);
    for s in secrets {
        assert!(holds(plain, s), "{s:?} missing from the plain capture");
        assert!(!holds(curve, s), "{s:?} readable in the CURVE capture");
    }
    let text = support::pola(&["inspect"], curve);
    let named = text
        .lines()
        .filter(|l| l.contains("ZMTP greeting 3.") && l.contains(" CURVE as-server="))
        .count();
    assert_eq!(named, 2 * connections, "{text}");
    for name in ["HELLO", "WELCOME", "INITIATE", "READY", "MESSAGE"] {
        let n = text
            .lines()
            .filter(|l| l.contains(&format!("{name} ")) && l.contains("bytes encrypted"))
            .count();
        assert!(n >= connections, "{name}: {n} lines\n{text}");
    }
    // (Service names such as zmq-subscriber-weather-curve may name a topic: quoted JSON only.)
    for s in secrets.iter().filter(|s| s.starts_with('"')) {
        assert!(!text.contains(s), "pola inspect shows {s:?}");
    }
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn reqrep_curve_hides_every_request_and_reply_but_not_the_greeting() {
    let plain = capture("reqrep");
    let curve = capture("reqrep-curve");
    // One REQ client; its requests upper-case letters or add numbers.
    judge(&plain, &curve, 1, &["\"op\":\"upper\"", "\"result\""]);
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn pubsub_curve_hides_every_topic_and_payload_but_not_the_greeting() {
    let plain = capture("pubsub");
    let curve = capture("pubsub-curve");
    // Two subscribers; the topics and the sequence numbers are in every plain message.
    judge(&plain, &curve, 2, &["weather", "news", "\"seq\""]);
}
