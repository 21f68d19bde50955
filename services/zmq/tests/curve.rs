//! CURVE on loopback: REQ/REP and PUB/SUB encrypted end to end with key files from libzmq; a
//! client with the wrong server key, a plain client and a missing key file each fail with one
//! clear line while the server goes on serving; pyzmq (Debian's, built with libsodium) as the
//! peer in all four directions.

mod support;

use std::path::{Path, PathBuf};
use std::process::Child;

use support::{first_line, python, python_done, spawn, PY_REP, PY_SUB};
use testkit::assert_one_error_line;

/// Key pairs for a server, a client and a stranger, as `pola certs` writes them.
struct Keys {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Keys {
    fn new() -> Keys {
        let dir = tempfile::tempdir().unwrap();
        for name in ["server", "client", "stranger"] {
            pola_zmq::curve::write_key_pair(dir.path(), name).unwrap();
        }
        let path = dir.path().to_path_buf();
        Keys { _dir: dir, path }
    }

    fn file(&self, name: &str) -> String {
        self.path.join(name).to_str().unwrap().to_string()
    }

    /// The server's flags.
    fn server(&self) -> Vec<String> {
        vec!["--curve-secret-key".into(), self.file("server.key")]
    }

    /// A client's flags, trusting `server_pub` as the server's key.
    fn client(&self, server_pub: &str) -> Vec<String> {
        vec![
            "--curve-server-key".into(),
            self.file(server_pub),
            "--curve-public-key".into(),
            self.file("client.pub"),
            "--curve-secret-key".into(),
            self.file("client.key"),
        ]
    }

    fn text(&self, name: &str) -> String {
        std::fs::read_to_string(Path::new(&self.path).join(name))
            .unwrap()
            .trim()
            .to_string()
    }
}

fn args<'a>(base: &[&'a str], more: &'a [String]) -> Vec<&'a str> {
    base.iter()
        .copied()
        .chain(more.iter().map(String::as_str))
        .collect()
}

/// Our CURVE REP server on a free port.
fn curve_rep_server(keys: &Keys) -> support::Proc {
    spawn(
        "zmq-rep-server",
        &args(&["--listen", "127.0.0.1:0"], &keys.server()),
    )
}

/// Our CURVE publisher on a free port, cycling over `topics`, `count` messages each.
fn curve_publisher(keys: &Keys, topics: &str, count: &str) -> support::Proc {
    let base = [
        "--listen",
        "127.0.0.1:0",
        "--topics",
        topics,
        "--count",
        count,
    ];
    spawn("zmq-publisher", &args(&base, &keys.server()))
}

/// Runs a pyzmq client `script` (after [`PY_CURVE_CLIENT`]) against `addr` with the client's key
/// files; its stdout.
fn python_client(script: &str, addr: &str, keys: &Keys) -> String {
    let script = format!("{PY_CURVE_CLIENT}{script}");
    let files = ["server.pub", "client.pub", "client.key"].map(|name| keys.file(name));
    python_done(python(&script, &[addr, &files[0], &files[1], &files[2]]))
}

/// Starts a pyzmq server `script` (after [`PY_CURVE_SERVER`]) with argv[1] `count` and the
/// server's secret key; the child and the `HOST:PORT` it bound.
fn python_curve_server(script: &str, count: &str, keys: &Keys) -> (Child, String) {
    let script = format!("{PY_CURVE_SERVER}{script}");
    let mut py = python(&script, &[count, &keys.file("server.key")]);
    let addr = first_line(&mut py);
    (py, addr)
}

fn req_client(addr: &str, count: &str, more: &[String]) -> support::Finished {
    let base = ["--connect", addr, "--count", count, "--retry-secs", "5"];
    spawn("zmq-req-client", &args(&base, more)).finish()
}

#[test]
fn curve_reqrep_loses_nothing_and_refuses_a_wrong_key_or_a_plain_client_in_one_line() {
    let keys = Keys::new();
    let server = curve_rep_server(&keys);
    let addr = server.listening();

    let good = req_client(&addr, "200", &keys.client("server.pub"));
    good.assert_success()
        .assert_fields(&[("sent", "200"), ("lost", "0")]);

    let wrong = req_client(&addr, "5", &keys.client("stranger.pub"));
    assert_eq!(wrong.status.code(), Some(1), "{}", wrong.stderr);
    assert_one_error_line(&wrong.stderr, &[&addr, "during the CURVE handshake"]);
    server.wait_for("a CURVE box did not open");

    let plain = req_client(&addr, "5", &[]);
    assert_eq!(plain.status.code(), Some(1), "{}", plain.stderr);
    // Whichever end reads the other's greeting first names the mismatch; the other sees it leave.
    assert_one_error_line(&plain.stderr, &[&addr, "CURVE"]);

    // The server is still there for a good client.
    let again = req_client(&addr, "50", &keys.client("server.pub"));
    again.assert_success();
    assert_eq!(again.summary()["lost"], "0");
    server.signal("TERM");
    server.finish().assert_success();
}

#[test]
fn a_missing_or_bad_key_file_is_one_line_naming_the_flag() {
    let keys = Keys::new();
    let mut missing = keys.client("server.pub");
    missing[5] = keys.file("nope.key");
    let out = req_client("127.0.0.1:1", "1", &missing);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert_one_error_line(&out.stderr, &["--curve-secret-key", "nope.key"]);

    let bad = keys.file("bad.pub");
    std::fs::write(&bad, "not a key\n").unwrap();
    let out = testkit::run_to_end(
        support::bin("zmq-publisher"),
        &["--listen", "127.0.0.1:0", "--curve-secret-key", &bad],
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert_one_error_line(&out.stderr, &["--curve-secret-key", "not a CURVE key"]);

    // A server key without the client's own pair.
    let out = testkit::run_to_end(
        support::bin("zmq-subscriber"),
        &["--curve-server-key", &keys.file("server.pub")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert_one_error_line(&out.stderr, &["--curve-public-key"]);
}

#[test]
fn curve_pubsub_delivers_every_message_and_a_plain_subscriber_is_turned_away() {
    let keys = Keys::new();
    let publisher = curve_publisher(&keys, "weather,news", "300");
    let addr = publisher.listening();
    let base = ["--connect", addr.as_str(), "--retry-secs", "5"];
    let plain = spawn("zmq-subscriber", &base).finish();
    assert_eq!(plain.status.code(), Some(1), "{}", plain.stderr);
    assert_one_error_line(&plain.stderr, &["CURVE"]);

    let client_flags = keys.client("server.pub");
    let sub = spawn("zmq-subscriber", &args(&base, &client_flags)).finish();
    sub.assert_success()
        .assert_fields(&[("received", "300"), ("lost", "0")]);
    publisher.finish().assert_success();
}

/// pyzmq's `secure(sock)` for a CURVE client: argv[2] the server's public key, argv[3..5] its own
/// pair.
const PY_CURVE_CLIENT: &str = r#"
import sys, zmq
def secure(sock):
    read = lambda p: open(p, "rb").read().strip()
    sock.curve_serverkey = read(sys.argv[2])
    sock.curve_publickey = read(sys.argv[3])
    sock.curve_secretkey = read(sys.argv[4])
"#;

/// pyzmq's `secure(sock)` for a CURVE server: argv[2] its secret key.
const PY_CURVE_SERVER: &str = r#"
import sys, zmq
def secure(sock):
    sock.curve_server = True
    sock.curve_secretkey = open(sys.argv[2], "rb").read().strip()
"#;

const PY_REQ: &str = r#"
req = zmq.Context().socket(zmq.REQ)
secure(req)
req.setsockopt(zmq.RCVTIMEO, 60000)
req.connect("tcp://" + sys.argv[1])
for i in range(40):
    req.send_json({"id": i, "op": "upper", "arg": "secret%d" % i})
    assert req.recv_json() == {"id": i, "result": "SECRET%d" % i}
print("ok")
"#;

#[test]
fn a_pyzmq_curve_req_client_is_answered_by_our_curve_rep_server() {
    let keys = Keys::new();
    let server = curve_rep_server(&keys);
    let out = python_client(PY_REQ, &server.listening(), &keys);
    assert_eq!(out.trim(), "ok");
}

#[test]
fn our_curve_req_client_is_answered_by_a_pyzmq_curve_rep_server() {
    let keys = Keys::new();
    let (py, addr) = python_curve_server(PY_REP, "60", &keys);
    let out = req_client(&addr, "60", &keys.client("server.pub"));
    out.assert_success()
        .assert_fields(&[("received", "60"), ("lost", "0")]);
    python_done(py);
}

#[test]
fn a_pyzmq_curve_subscriber_gets_its_topic_from_our_curve_publisher() {
    let keys = Keys::new();
    let publisher = curve_publisher(&keys, "news,weather", "120");
    let out = python_client(PY_SUB, &publisher.listening(), &keys);
    assert_eq!(out.trim(), "120");
    publisher.finish().assert_success();
}

/// An XPUB that waits for one subscription, then publishes argv[1] `weather` updates and the end
/// marker; prints its endpoint first.
const PY_PUB: &str = r#"
import json
xpub = zmq.Context().socket(zmq.XPUB)
secure(xpub)
xpub.bind("tcp://127.0.0.1:*")
print(xpub.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
xpub.setsockopt(zmq.RCVTIMEO, 60000)
assert xpub.recv() == b"\x01weather"
n = int(sys.argv[1])
for seq in range(n):
    xpub.send_multipart([b"weather", json.dumps({"data": "secret", "seq": seq}).encode()])
xpub.send_multipart([b"weather", b"END %d" % n])
xpub.close(linger=5000)
"#;

#[test]
fn our_curve_subscriber_gets_every_update_from_a_pyzmq_curve_publisher() {
    let keys = Keys::new();
    let (py, addr) = python_curve_server(PY_PUB, "150", &keys);
    let client_flags = keys.client("server.pub");
    let sub = spawn(
        "zmq-subscriber",
        &args(&["--connect", &addr, "--topics", "weather"], &client_flags),
    )
    .finish();
    sub.assert_success()
        .assert_fields(&[("received", "150"), ("lost", "0")]);
    python_done(py);
    assert_eq!(keys.text("server.pub").len(), 40);
}
