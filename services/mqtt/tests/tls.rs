//! MQTT over TLS on loopback: our broker with a certificate from the lab CA (`common::tls`), our
//! clients trusting only that CA. Every message arrives and the clients log their session
//! secrets; a broker whose certificate comes from another CA, or names another host, is refused
//! with one line; a plain client on the TLS port and a TLS client on a plain port fail cleanly
//! while the broker keeps serving.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::tls::CA_FILE;
use support::*;

/// A folder with the lab CA and a broker certificate for `names`, signed by `signer` (the lab CA
/// itself when None): what `pola certs` writes, or a deliberately wrong one.
struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    fn new(names: &[&str], other_ca: bool) -> Certs {
        let dir = tempfile::tempdir().unwrap();
        testkit::lab_certs(dir.path(), "broker", names, other_ca);
        Certs { dir }
    }
    fn path(&self, file: &str) -> String {
        self.dir.path().join(file).display().to_string()
    }
    fn broker(&self) -> (Proc, String) {
        let (cert, key) = (self.path("broker.pem"), self.path("broker.key"));
        broker(&["--tls-cert", &cert, "--tls-key", &key])
    }
}

fn tls_publish(addr: &str, ca: &str, keylog: Option<&Path>) -> Finished {
    let mut cmd = Command::new(PUBLISHER);
    cmd.args([
        "--connect",
        addr,
        "--retry-secs",
        "1",
        "--count",
        "4",
        "--qos",
        "1",
        "--ca-file",
        ca,
    ]);
    if let Some(file) = keylog {
        cmd.env("SSLKEYLOGFILE", file);
    }
    Proc::spawn_with(&mut cmd).finish()
}

fn good_publisher_passes(addr: &str, certs: &Certs) {
    let p = tls_publish(addr, &certs.path(CA_FILE), None);
    let s = p.assert_success().summary();
    assert_eq!((field(&s, "sent"), field(&s, "lost")), (4, 0), "{s:?}");
}

/// The last stderr line of a failed client: the one error line common::run prints.
fn error_line(f: &Finished) -> String {
    assert!(!f.status.success(), "expected a failure:\n{}", f.stderr);
    let last = f.stderr.lines().last().unwrap_or("").to_string();
    assert!(last.starts_with("error: "), "{}", f.stderr);
    last
}

/// The error line of our publisher refusing a broker whose certificate is for `names`, signed
/// by the lab CA or, with `other_ca`, by another one.
fn refusal(names: &[&str], other_ca: bool) -> String {
    let certs = Certs::new(names, other_ca);
    let (_broker, addr) = certs.broker();
    error_line(&tls_publish(&addr, &certs.path(CA_FILE), None))
}

#[test]
fn every_message_arrives_over_tls_and_the_clients_log_their_secrets() {
    let certs = Certs::new(&["broker", "localhost", "127.0.0.1"], false);
    let (broker, addr) = certs.broker();
    assert!(broker.log().contains("over TLS"), "{}", broker.log());
    let keylog: PathBuf = certs.dir.path().join("keys.log");
    let ca = certs.path(CA_FILE);
    let sub = subscriber(
        &addr,
        &[
            "--topics",
            "sensors/#",
            "--qos",
            "1",
            "--count",
            "4",
            "--ca-file",
            &ca,
        ],
    );
    let published = tls_publish(&addr, &ca, Some(&keylog));
    let p = published.assert_success().summary();
    assert_eq!(
        (field(&p, "sent"), field(&p, "received"), field(&p, "lost")),
        (4, 4, 0)
    );
    let s = sub.finish();
    let s = s.assert_success().summary();
    assert_eq!((field(&s, "received"), field(&s, "lost")), (4, 0), "{s:?}");
    // rustls' KeyLogFile writes NSS key log lines: TLS 1.3 traffic secrets per connection.
    let keys = std::fs::read_to_string(&keylog).expect("the publisher wrote no key log");
    let missing: Vec<&str> = [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
    ]
    .into_iter()
    .filter(|label| !keys.contains(label))
    .collect();
    assert!(missing.is_empty(), "{missing:?} missing from {keys}");
}

#[test]
fn a_broker_certified_by_another_ca_is_refused() {
    let line = refusal(&["localhost", "127.0.0.1"], true);
    assert!(line.contains("UnknownIssuer"), "{line}");
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    // Signed by the right CA, but for "broker" only: dialled as 127.0.0.1 it is not the peer
    // the client asked for.
    let line = refusal(&["broker"], false);
    assert!(line.contains("not valid for name \"127.0.0.1\""), "{line}");
}

#[test]
fn plain_and_tls_clients_on_the_wrong_port_fail_and_the_broker_keeps_serving() {
    let certs = Certs::new(&["localhost", "127.0.0.1"], false);
    let (_tls_broker, tls_addr) = certs.broker();
    // A plain MQTT client on the TLS port: its CONNECT is not a TLS record, so the broker drops
    // the connection and the client gives up after its retries, with one line.
    let plain = publish(&tls_addr, &["--count", "1", "--retry-secs", "1"]);
    error_line(&plain);
    good_publisher_passes(&tls_addr, &certs);

    // A TLS client on a plain port: its ClientHello gets no TLS answer.
    let (_plain_broker, plain_addr) = broker(&[]);
    let f = tls_publish(&plain_addr, &certs.path(CA_FILE), None);
    error_line(&f);
    let ok = publish(&plain_addr, &["--count", "1"]);
    ok.assert_success();
}

#[test]
fn a_missing_key_or_ca_file_is_one_line_naming_it() {
    let certs = Certs::new(&["localhost"], false);
    let missing = certs.path("nope.key");
    let out = Command::new(BROKER)
        .args([
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--tls-cert",
            &certs.path("broker.pem"),
            "--tls-key",
            &missing,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let last = stderr.lines().last().unwrap_or("");
    assert!(
        last.starts_with("error: ") && last.contains("nope.key"),
        "{stderr}"
    );

    let f = tls_publish("127.0.0.1:1", &certs.path("nope.pem"), None);
    let line = error_line(&f);
    assert!(line.contains("nope.pem"), "{line}");
}

#[test]
fn the_tls_healthcheck_is_a_whole_mqtt_session_not_a_failed_handshake() {
    let certs = Certs::new(&["broker", "localhost", "127.0.0.1"], false);
    let (broker, addr) = certs.broker();
    let (cert, key, ca) = (
        certs.path("broker.pem"),
        certs.path("broker.key"),
        certs.path(CA_FILE),
    );
    let probe = |ca: &str| {
        testkit::run_to_end(
            BROKER,
            &[
                "--probe",
                "--listen",
                &addr,
                "--tls-cert",
                &cert,
                "--tls-key",
                &key,
                "--probe-ca-file",
                ca,
            ],
        )
    };
    let ok = probe(&ca);
    assert!(ok.status.success(), "{}", ok.stderr);
    // A CA that did not sign the broker's certificate: the probe fails, in one line.
    let other = Certs::new(&["broker", "localhost", "127.0.0.1"], true);
    let refused = probe(&other.path(CA_FILE));
    assert_eq!(refused.status.code(), Some(1), "{}", refused.stderr);
    testkit::assert_one_error_line(&refused.stderr, &[&addr]);
    broker.signal("TERM");
    let log = broker.finish().stderr;
    assert_eq!(
        log.matches("TLS accept error").count(),
        1,
        "only the refused probe: {log}"
    );
}
