//! TLS captured on loopback between real peers and decrypted by `pola inspect` with the peers'
//! own key log: mosquitto with a TLS listener and a python (OpenSSL) MQTT client, python's
//! http.server over TLS and curl, in TLS 1.3 and 1.2 and with AES-128-GCM, AES-256-GCM and
//! ChaCha20-Poly1305. The key log goes into the pcapng as editcap writes it, or beside a plain
//! pcap with `--keylog`; pola's counts of what is inside must equal tshark's decrypted counts.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use support::*;

/// A self-signed certificate for localhost and 127.0.0.1: `cert.pem` and `key.pem` in `dir`.
fn certificate(dir: &Path) {
    run_ok(
        Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "1"])
            .args(["-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .arg("-keyout")
            .arg(dir.join("key.pem"))
            .arg("-out")
            .arg(dir.join("cert.pem")),
    );
}

fn peers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/tls_peers.py")
}

/// A capture of `count` MQTT PUBLISHes over TLS `version` (`ciphers`: OpenSSL's TLS 1.2 list)
/// to mosquitto, and the client's key log.
fn mqtt_capture(dir: &Path, version: &str, ciphers: &str, count: usize) -> (PathBuf, PathBuf) {
    certificate(dir);
    let port = free_port();
    let conf = dir.join("mosquitto.conf");
    let tls = match version {
        "plain" => String::new(),
        _ => format!(
            "certfile {}\nkeyfile {}\n",
            dir.join("cert.pem").display(),
            dir.join("key.pem").display()
        ),
    };
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\n{tls}allow_anonymous true\nuser root\n"),
    )
    .unwrap();
    let _broker = Peer::listening(Command::new("mosquitto").arg("-c").arg(&conf), port);
    let keylog = dir.join("keys.log");
    let cap = Tcpdump::start(dir, "mqtt-tls.pcap", "lo", &[], &[port]);
    run_ok(
        Command::new("timeout")
            .args(["60", "/usr/bin/python3"])
            .arg(peers())
            .args(["mqtt-client", &port.to_string()])
            .arg(dir.join("cert.pem"))
            .args([&count.to_string(), version, ciphers])
            .env("SSLKEYLOGFILE", &keylog),
    );
    (cap.stop(), keylog)
}

/// A capture of curl fetching `/reading.json` twice and `/missing` once over one TLS connection
/// (`tls`: curl's version and cipher options), and curl's key log.
fn https_capture(dir: &Path, tls: &[&str]) -> (PathBuf, PathBuf) {
    certificate(dir);
    let port = free_port();
    let _server = Peer::listening(
        Command::new("/usr/bin/python3")
            .arg(peers())
            .args(["https-server", &port.to_string()])
            .arg(dir.join("cert.pem"))
            .arg(dir.join("key.pem")),
        port,
    );
    let keylog = dir.join("keys.log");
    let cap = Tcpdump::start(dir, "rest-tls.pcap", "lo", &[], &[port]);
    let url = |p: &str| format!("https://127.0.0.1:{port}{p}");
    run_ok(
        Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-o",
                "/dev/null",
                "-o",
                "/dev/null",
            ])
            .arg("--cacert")
            .arg(dir.join("cert.pem"))
            .args(tls)
            .args([url("/reading.json"), url("/missing"), url("/reading.json")])
            .env("SSLKEYLOGFILE", &keylog),
    );
    (cap.stop(), keylog)
}

/// The capture as a pcapng with the key log embedded (a Decryption Secrets Block).
fn embed(pcap: &Path, keylog: &Path) -> PathBuf {
    let out = pcap.with_extension("pcapng");
    let secrets = format!("tls,{}", keylog.display());
    run_ok(
        Command::new("editcap")
            .args(["--inject-secrets", &secrets])
            .arg(pcap)
            .arg(&out),
    );
    out
}

/// tshark's decrypted counts of `fields` (comma-separated values split), TLS on the capture's
/// server port carrying `inner`.
fn tshark_counts(pcap: &Path, port: u16, inner: &str, fields: &[&str]) -> BTreeMap<String, u64> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(pcap)
        .args(["-d", &format!("tcp.port=={port},tls")])
        .args(["-d", &format!("tls.port=={port},{inner}")])
        .args(["-Y", inner, "-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = run_ok(cmd.stderr(Stdio::null()));
    let mut counts = BTreeMap::new();
    for value in String::from_utf8(out.stdout)
        .unwrap()
        .split(['\n', '\t', ','])
        .filter(|v| !v.is_empty())
    {
        *counts.entry(value.to_string()).or_default() += 1;
    }
    counts
}

fn pola(args: &[&str], pcap: &Path) -> String {
    String::from_utf8(run_ok(Command::new(POLA).arg("inspect").args(args).arg(pcap)).stdout)
        .unwrap()
}

fn counts_with(args: &[&str], pcap: &Path) -> Value {
    let mut all = vec!["--counts"];
    all.extend(args);
    serde_json::from_str(&pola(&all, pcap)).unwrap()
}

/// The server port of the capture's TLS streams, as pola found it.
fn tls_port(c: &Value) -> u16 {
    c["ports"]["tls"][0].as_u64().expect("a TLS stream") as u16
}

/// One table of `{"key": count}` from pola's counts, as tshark's are.
fn table(v: &Value) -> BTreeMap<String, u64> {
    serde_json::from_value(v.clone()).unwrap()
}

#[test]
fn mqtt_inside_tls_13_and_12_with_every_aead_agrees_with_tshark() {
    for (version, ciphers) in [
        ("1.3", ""),
        ("1.2", "ECDHE-ECDSA-CHACHA20-POLY1305"),
        ("1.2", "ECDHE-ECDSA-AES128-GCM-SHA256"),
        ("1.2", "ECDHE-ECDSA-AES256-GCM-SHA384"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (pcap, keylog) = mqtt_capture(dir.path(), version, ciphers, 3);
        let pcapng = embed(&pcap, &keylog);
        let c = counts(&pcapng);
        let case = format!("TLS {version} {ciphers}: {c}");
        assert_eq!(
            c["mqtt"],
            json!({"CONNECT": 1, "CONNACK": 1, "SUBSCRIBE": 1, "SUBACK": 1,
                   "PUBLISH": 6, "PUBACK": 3, "DISCONNECT": 1}),
            "{case}"
        );
        assert_eq!(c["malformed"], 0, "{case}");
        let tshark = tshark_counts(&pcapng, tls_port(&c), "mqtt", &["mqtt.msgtype"]);
        assert_eq!(table(&c["mqtt_types"]), tshark, "{case}");
        // The plain pcap with the key log beside it decodes the same.
        let keylog_arg = ["--keylog", keylog.to_str().unwrap()];
        assert_eq!(counts_with(&keylog_arg, &pcap)["mqtt"], c["mqtt"], "{case}");
        // Without decryption, only the records are left.
        let sealed = counts_with(&["--no-decrypt"], &pcapng);
        assert_eq!(sealed["mqtt"], json!({}), "{case}");
        assert_eq!(sealed["tls"]["ClientHello"], 1, "{case}");
        let text = pola(&[], &pcapng);
        assert!(
            text.contains("MQTT PUBLISH") && text.contains("topic=lab/temp"),
            "{text}"
        );
    }
}

#[test]
fn curl_over_tls_13_and_12_agrees_with_tshark() {
    for tls in [
        &["--tlsv1.3", "--tls13-ciphers", "TLS_AES_128_GCM_SHA256"][..],
        &[
            "--tlsv1.3",
            "--tls13-ciphers",
            "TLS_CHACHA20_POLY1305_SHA256",
        ],
        &["--tlsv1.3", "--tls13-ciphers", "TLS_AES_256_GCM_SHA384"],
        &[
            "--tls-max",
            "1.2",
            "--ciphers",
            "ECDHE-ECDSA-AES256-GCM-SHA384",
        ],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (pcap, keylog) = https_capture(dir.path(), tls);
        let pcapng = embed(&pcap, &keylog);
        let c = counts(&pcapng);
        let case = format!("{tls:?}: {c}");
        assert_eq!(c["http_methods"], json!({"GET": 3}), "{case}");
        assert_eq!(c["http_status"], json!({"200": 2, "404": 1}), "{case}");
        let port = tls_port(&c);
        let methods = tshark_counts(&pcapng, port, "http", &["http.request.method"]);
        assert_eq!(table(&c["http_methods"]), methods, "{case}");
        let codes = tshark_counts(&pcapng, port, "http", &["http.response.code"]);
        assert_eq!(table(&c["http_status"]), codes, "{case}");
        let text = pola(&[], &pcapng);
        assert!(text.contains("HTTP GET /reading.json"), "{text}");
    }
}

/// A key log whose secrets are all wrong: one clear note per direction, no garbage decoded.
#[test]
fn a_wrong_secret_is_one_clear_note_not_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let (pcap, keylog) = mqtt_capture(dir.path(), "1.3", "", 2);
    let wrong: String = std::fs::read_to_string(&keylog)
        .unwrap()
        .lines()
        .map(|line| match line.rsplit_once(' ') {
            // The secret's first hex digit changed: same length, wrong key.
            Some((head, secret)) if !line.starts_with('#') => {
                let first = if secret.starts_with('0') { '1' } else { '0' };
                format!("{head} {first}{}\n", &secret[1..])
            }
            _ => format!("{line}\n"),
        })
        .collect();
    let bad = dir.path().join("wrong.log");
    std::fs::write(&bad, wrong).unwrap();
    let text = pola(&["--keylog", bad.to_str().unwrap()], &pcap);
    let notes = text.matches("cannot decrypt").count();
    assert_eq!(notes, 2, "one note per direction:\n{text}");
    assert!(!text.contains("MQTT"), "{text}");
    let c = counts_with(&["--keylog", bad.to_str().unwrap()], &pcap);
    assert_eq!(
        (c["mqtt"].clone(), c["malformed"].clone()),
        (json!({}), json!(0))
    );
}

/// A key log file that does not exist is a one-line error.
#[test]
fn a_missing_key_log_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("empty.pcap");
    PcapWriter::new(1).write(&pcap);
    let out = Command::new(POLA)
        .args(["inspect", "--keylog", "/nonexistent/keys.log"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("/nonexistent/keys.log"), "{err}");
}

/// The cells of the twin table row starting `label` in the report's Markdown between `| plain |
/// twin |` header and the next blank line.
fn twin_row(md: &str, plain: &str, twin: &str, label: &str) -> (String, String) {
    let header = format!("|   | {plain} | {twin} |\n|---|---|---|");
    let table = md
        .split(&header)
        .nth(1)
        .unwrap_or_else(|| panic!("no table {header}:\n{md}"));
    let table = table.split("\n\n").next().unwrap();
    let row = table
        .lines()
        .find(|l| l.starts_with(&format!("| {label}")))
        .unwrap_or_else(|| panic!("no row {label}:\n{table}"));
    let cells: Vec<&str> = row.split(" | ").collect();
    (
        cells[1].to_string(),
        cells[2].trim_end_matches(" |").to_string(),
    )
}

/// tshark's frame count and wire bytes of a capture.
fn tshark_size(pcap: &Path) -> (String, String) {
    let out = run_ok(
        Command::new("tshark")
            .arg("-r")
            .arg(pcap)
            .args(["-T", "fields", "-e", "frame.len"])
            .stderr(Stdio::null()),
    );
    let lens: Vec<u64> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    (lens.len().to_string(), lens.iter().sum::<u64>().to_string())
}

/// A plain MQTT capture beside three twins made by real peers: TLS 1.3 and TLS 1.2 with their
/// keys embedded, and TLS 1.3 without a key. The report pairs each twin with the plain model and
/// its figures agree with tshark and with how TLS works (one more round trip for TLS 1.3, two
/// for TLS 1.2; server name and ALPN in the clear; nothing opened without a key).
#[test]
fn report_puts_the_plain_model_beside_each_encrypted_twin() {
    let captures = tempfile::tempdir().unwrap();
    let take = |version: &str, ciphers: &str, name: &str, embed_key: bool| {
        let dir = tempfile::tempdir().unwrap();
        let (pcap, keylog) = mqtt_capture(dir.path(), version, ciphers, 3);
        let (from, ext) = match embed_key {
            true => (embed(&pcap, &keylog), "pcapng"),
            false => (pcap, "pcap"),
        };
        let to = captures.path().join(format!("{name}.{ext}"));
        std::fs::copy(from, &to).unwrap();
        to
    };
    let plain = take("plain", "", "mqtt", false);
    let tls13 = take("1.3", "", "mqtt-tls", true);
    let tls12 = take("1.2", "ECDHE-ECDSA-AES128-GCM-SHA256", "mqtt-tls12", true);
    take("1.3", "", "mqtt-sealed", false);
    let report = |lang: &str| {
        run_ok(
            Command::new(POLA)
                .args(["report", "--lang", lang, "--captures"])
                .arg(captures.path()),
        );
        std::fs::read_to_string(captures.path().join("report.md")).unwrap()
    };
    let md = report("en");
    let row = |twin: &str, label: &str| twin_row(&md, "mqtt", twin, label);
    for (twin, pcap) in [("mqtt-tls", &tls13), ("mqtt-tls12", &tls12)] {
        let (plain_packets, plain_bytes) = tshark_size(&plain);
        let (packets, bytes) = tshark_size(pcap);
        assert_eq!(row(twin, "packets"), (plain_packets, packets), "{md}");
        assert_eq!(row(twin, "bytes on the wire"), (plain_bytes, bytes), "{md}");
        assert_eq!(row(twin, "server name (SNI)").1, "localhost");
        assert_eq!(row(twin, "application protocol (ALPN)").1, "—");
        assert_eq!(
            row(twin, "messages readable with the key").1,
            "14 application messages decrypted",
            "{md}"
        );
        assert!(row(twin, "encrypted records").1.contains(" B, "), "{md}");
    }
    assert_eq!(row("mqtt-tls", "round trips before").0, "1", "{md}");
    assert_eq!(row("mqtt-tls", "round trips before").1, "2", "{md}");
    assert_eq!(row("mqtt-tls12", "round trips before").1, "3", "{md}");
    assert_eq!(row("mqtt-tls", "encryption").1, "TLS 1.3");
    assert_eq!(row("mqtt-tls12", "encryption").1, "TLS 1.2");
    let sealed = row("mqtt-sealed", "messages readable with the key").1;
    assert!(sealed.starts_with("cannot be decrypted"), "{md}");
    assert_eq!(
        row("mqtt-sealed", "bytes on the wire per application message").1,
        "—"
    );
    let id = report("id");
    assert_contains(
        &id,
        &[
            "Setiap model polos di samping kembarannya yang terenkripsi",
            "tidak dapat didekripsi",
        ],
    );
}
