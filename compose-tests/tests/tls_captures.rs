//! The encrypted twins in compose (`scripts/capture.sh mqtt-tls`, `rest-tls`): each leaves
//! `captures/<variant>.pcapng` with the clients' TLS secrets inside, so Debian's tshark shows the
//! MQTT or HTTP inside with no options; the same file with its secrets removed shows only TLS
//! records; and `pola inspect` names the handshake (SNI, ALPN, version, cipher suite) and, with the
//! same embedded secrets, counts the MQTT or HTTP messages inside as tshark does. Ignored by
//! plain `cargo test`: scripts/test-captures.sh runs them with the images built.

use std::collections::BTreeMap;
use std::path::Path;

mod support;
use support::root;

/// Runs one variant through scripts/capture.sh; returns its pcapng once the sidecar's verdict
/// says complete (0 dropped) and the plain pcap and the key logs are gone.
fn capture(variant: &str) -> std::path::PathBuf {
    let _turn = support::turn(variant);
    let stdout = support::script_ok("scripts/capture.sh", &[variant], &[], 900);
    let pcapng = support::complete_pcap(variant, &stdout);
    assert_eq!(pcapng, root().join(format!("captures/{variant}.pcapng")));
    let captures = root().join("captures");
    assert!(!captures.join(format!("{variant}.pcap")).exists());
    assert!(!captures.join(format!("keys/{variant}")).exists());
    pcapng
}

/// tshark's field rows for display filter `filter`, with no decryption settings of any kind.
fn tshark(pcap: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut args = vec!["-Y", filter];
    for f in fields {
        args.extend(["-e", f]);
    }
    support::tshark("tls capture", pcap, &args)
}

/// The capture with its Decryption Secrets Blocks removed, as `editcap --discard-all-secrets`
/// would write it. Debian 12's editcap 4.0 refuses to rewrite any pcapng that holds secrets
/// ("can't be written as a pcapng file"), so the test drops the blocks itself: a pcapng is a run
/// of blocks, each `type, total length, body, total length`, and a DSB is type 0x0000000A.
fn stripped(pcap: &Path) -> tempfile::TempPath {
    let bytes = std::fs::read(pcap).unwrap();
    let little = bytes[8..12] == [0x4d, 0x3c, 0x2b, 0x1a];
    let word = |at: usize| {
        let w: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
        if little {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    };
    let (mut out, mut at, mut dropped) = (Vec::new(), 0, 0);
    while at < bytes.len() {
        let (kind, len) = (word(at), word(at + 4) as usize);
        if kind == 0x0000_000A {
            dropped += 1;
        } else {
            out.extend_from_slice(&bytes[at..at + len]);
        }
        at += len;
    }
    assert!(
        dropped > 0,
        "{}: no Decryption Secrets Block",
        pcap.display()
    );
    let file = tempfile::Builder::new()
        .suffix(".pcapng")
        .tempfile()
        .unwrap()
        .into_temp_path();
    std::fs::write(&file, out).unwrap();
    file
}

/// Counts of every comma-separated value in column 0 of `rows`.
fn tally(rows: &[Vec<String>]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for r in rows {
        for v in r[0].split(',').filter(|v| !v.is_empty()) {
            *counts.entry(v.to_string()).or_default() += 1;
        }
    }
    counts
}

/// `pola inspect --counts` of the capture, as JSON.
fn pola_counts(pcap: &Path) -> serde_json::Value {
    let out = support::pola(&["inspect", "--counts"], pcap);
    serde_json::from_str(&out).expect("pola inspect --counts is JSON")
}

/// `pola inspect` names the handshake: as many ClientHellos as tshark sees, each with the
/// server's name and ALPN, and a ServerHello with TLS 1.3 and its cipher suite.
fn pola_shows_the_handshake(pcap: &Path, sni: &str, alpn: &str) {
    let connections = tshark(pcap, "tls.handshake.type == 1", &["tcp.stream"]).len() as u64;
    assert!(connections > 0, "no ClientHello in {}", pcap.display());
    let counts = pola_counts(pcap);
    assert_eq!(
        counts["tls"]["ClientHello"].as_u64(),
        Some(connections),
        "{counts}"
    );
    let text = support::pola(&["inspect"], pcap);
    let hellos: Vec<&str> = text.lines().filter(|l| l.contains("ClientHello")).collect();
    assert_eq!(hellos.len() as u64, connections, "{text}");
    for h in hellos {
        assert!(h.contains(&format!("sni={sni}")), "{h}");
        assert!(h.contains(&format!("alpn={alpn}")), "{h}");
    }
    assert!(
        text.lines()
            .any(|l| l.contains("ServerHello") && l.contains("version=TLS 1.3 cipher=TLS_")),
        "{text}"
    );
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn mqtt_tls_decrypts_itself_and_shows_only_tls_without_its_secrets() {
    let pcap = capture("mqtt-tls");
    let kinds = tally(&tshark(&pcap, "mqtt", &["mqtt.msgtype"]));
    // Three clients: CONNECT each; two SUBSCRIBEs; 12 PUBLISHes in, 12 + 6 out at QoS 1.
    assert_eq!(kinds.get("1"), Some(&3), "CONNECT: {kinds:?}");
    assert_eq!(kinds.get("8"), Some(&2), "SUBSCRIBE: {kinds:?}");
    assert_eq!(kinds.get("3"), Some(&30), "PUBLISH: {kinds:?}");
    assert!(
        tshark(&pcap, "mqtt", &["tcp.port"])
            .iter()
            .all(|r| r[0].split(',').any(|p| p == "8883")),
        "MQTT off port 8883"
    );

    let bare = stripped(&pcap);
    assert!(
        tshark(&bare, "mqtt", &["mqtt.msgtype"]).is_empty(),
        "MQTT readable without the secrets"
    );
    // TLS 1.3 hides each record's real type: what shows is opaque application data.
    let opaque = tshark(&bare, "tls.app_data", &["frame.number"]).len();
    assert!(opaque >= 30, "{opaque} frames of TLS application data");
    pola_shows_the_handshake(&pcap, "broker", "mqtt");

    // pola decrypts with the same embedded secrets and counts what tshark counts.
    let counts = pola_counts(&pcap);
    assert_eq!(table(&counts["mqtt_types"]), kinds, "{counts}");
    assert!(table(&pola_counts(&bare)["mqtt_types"]).is_empty());
}

/// One `{"key": count}` table of pola's counts.
fn table(v: &serde_json::Value) -> BTreeMap<String, u64> {
    serde_json::from_value(v.clone()).expect("a table of counts")
}

#[test]
#[ignore = "needs Docker and `make images`"]
fn rest_tls_shows_every_verb_and_status_inside_https() {
    let pcap = capture("rest-tls");
    let methods = tally(&tshark(&pcap, "http.request", &["http.request.method"]));
    let statuses = tally(&tshark(&pcap, "http.response", &["http.response.code"]));
    for verb in ["GET", "POST", "PUT", "DELETE"] {
        assert!(methods.contains_key(verb), "{verb} missing: {methods:?}");
    }
    for code in ["200", "201", "404"] {
        assert!(statuses.contains_key(code), "{code} missing: {statuses:?}");
    }
    assert_eq!(
        methods.values().sum::<u64>(),
        statuses.values().sum::<u64>(),
        "every request answered: {methods:?} {statuses:?}"
    );
    let bare = stripped(&pcap);
    assert!(tshark(&bare, "http", &["http.request.method"]).is_empty());
    assert!(!tshark(&bare, "tls.app_data", &["frame.number"]).is_empty());
    pola_shows_the_handshake(&pcap, "rest-api", "http/1.1");

    let counts = pola_counts(&pcap);
    assert_eq!(table(&counts["http_methods"]), methods, "{counts}");
    assert_eq!(table(&counts["http_status"]), statuses, "{counts}");
    assert!(table(&pola_counts(&bare)["http_methods"]).is_empty());
}
