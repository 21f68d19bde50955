//! HTTPS on loopback: the API with a certificate from the lab CA (`common::tls`), the client
//! trusting only that CA walks every verb and logs its session secrets; a certificate from
//! another CA, for another name or out of date is refused with one line; a plain client on the
//! HTTPS port and an HTTPS client on a plain port fail while the API keeps serving.

use std::path::Path;
use std::process::{Command, Output};

use common::tls::CA_FILE;
use testkit::{assert_one_error_line, start, Server};

const API: &str = env!("CARGO_BIN_EXE_rest-api");
const CLIENT: &str = env!("CARGO_BIN_EXE_rest-client");

/// The lab CA in `dir`, and an API certificate for `names` signed by it or by another CA.
fn certs(dir: &Path, names: &[&str], other_ca: bool) {
    testkit::lab_certs(dir, "api", names, other_ca);
}

fn https_api(dir: &Path) -> Server {
    let (cert, key) = (dir.join("api.pem"), dir.join("api.key"));
    let server = start(
        API,
        &[
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    // The line that gave the address says how the API serves.
    assert!(
        server.proc.log().contains("over HTTPS"),
        "{}",
        server.proc.log()
    );
    server
}

fn client(addr: &str, ca: Option<&Path>, keylog: Option<&Path>) -> Output {
    let mut cmd = Command::new(CLIENT);
    cmd.args(["--connect", addr, "--count", "2", "--retry-secs", "1"]);
    if let Some(ca) = ca {
        cmd.arg("--ca-file").arg(ca);
    }
    if let Some(file) = keylog {
        cmd.env("SSLKEYLOGFILE", file);
    }
    cmd.output().unwrap()
}

fn passes(out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let fields = common::summary::find(&stdout).expect("summary");
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!((&*fields["received"], &*fields["failed"]), ("16", "0"));
}

fn error_line(out: &Output, must_contain: &[&str]) {
    assert!(!out.status.success());
    assert_one_error_line(&String::from_utf8_lossy(&out.stderr), must_contain);
}

#[test]
fn every_verb_over_https_and_the_client_logs_its_secrets() {
    let dir = tempfile::tempdir().unwrap();
    certs(dir.path(), &["rest-api", "127.0.0.1"], false);
    let api = https_api(dir.path());
    let keylog = dir.path().join("keys.log");
    passes(&client(
        &api.addr,
        Some(&dir.path().join(CA_FILE)),
        Some(&keylog),
    ));
    let keys = std::fs::read_to_string(&keylog).expect("the client wrote no key log");
    assert!(keys.contains("CLIENT_TRAFFIC_SECRET_0"), "{keys}");
}

#[test]
fn another_ca_or_another_name_is_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    certs(dir.path(), &["127.0.0.1"], true);
    let api = https_api(dir.path());
    let out = client(&api.addr, Some(&dir.path().join(CA_FILE)), None);
    error_line(&out, &["UnknownIssuer"]);

    let dir = tempfile::tempdir().unwrap();
    certs(dir.path(), &["rest-api"], false);
    let api = https_api(dir.path());
    let out = client(&api.addr, Some(&dir.path().join(CA_FILE)), None);
    error_line(&out, &["not valid for name"]);
}

#[test]
fn an_expired_certificate_is_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let ca = common::tls::LabCa::new("pola lab CA").unwrap();
    std::fs::write(dir.path().join(CA_FILE), ca.cert_pem()).unwrap();
    let issued = ca
        .issue_valid(&["127.0.0.1"], Some(((2020, 1, 1), (2021, 1, 1))))
        .unwrap();
    std::fs::write(dir.path().join("api.pem"), issued.cert_pem).unwrap();
    std::fs::write(dir.path().join("api.key"), issued.key_pem).unwrap();
    let api = https_api(dir.path());
    let out = client(&api.addr, Some(&dir.path().join(CA_FILE)), None);
    error_line(&out, &["xpired"]);
    // The same set-up with a certificate in date passes: the refusal was the date alone.
    let dir = tempfile::tempdir().unwrap();
    certs(dir.path(), &["rest-api", "127.0.0.1"], false);
    let api = https_api(dir.path());
    passes(&client(&api.addr, Some(&dir.path().join(CA_FILE)), None));
}

#[test]
fn plain_and_https_clients_on_the_wrong_port_fail_and_the_api_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    certs(dir.path(), &["127.0.0.1"], false);
    let ca = dir.path().join(CA_FILE);
    let tls_api = https_api(dir.path());
    error_line(&client(&tls_api.addr, None, None), &[&tls_api.addr]);
    passes(&client(&tls_api.addr, Some(&ca), None));

    let plain_api = start(API, &["--listen", "127.0.0.1:0"]);
    error_line(
        &client(&plain_api.addr, Some(&ca), None),
        &[&plain_api.addr],
    );
    passes(&client(&plain_api.addr, None, None));
}

#[test]
fn a_missing_key_is_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    certs(dir.path(), &["127.0.0.1"], false);
    let out = Command::new(API)
        .args(["--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(dir.path().join("api.pem"))
        .arg("--tls-key")
        .arg(dir.path().join("nope.key"))
        .output()
        .unwrap();
    error_line(&out, &["nope.key"]);
}
