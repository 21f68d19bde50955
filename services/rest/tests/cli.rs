//! The REST binaries as compose runs them: raw-socket abuse of the port (garbage, abrupt
//! resets), the probe, SIGTERM with a keep-alive connection open, a client with no API, and a
//! port already in use. Each test spawns the real binaries on ephemeral ports.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;

use testkit::{assert_one_error_line, start, Server};

const API: &str = env!("CARGO_BIN_EXE_rest-api");
const CLIENT: &str = env!("CARGO_BIN_EXE_rest-client");

fn api() -> Server {
    start(API, &["--listen", "127.0.0.1:0"])
}

fn good_client_passes(addr: &str) {
    let out = Command::new(CLIENT)
        .args(["--connect", addr, "--count", "2"])
        .output()
        .unwrap();
    let fields = common::summary::find(&String::from_utf8_lossy(&out.stdout)).expect("summary");
    assert!(out.status.success());
    assert_eq!((&*fields["received"], &*fields["failed"]), ("16", "0"));
}

/// Sends `bytes` on a fresh connection and reads until the server closes it.
fn send_raw(addr: &str, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(testkit::HANG)).unwrap();
    stream.write_all(bytes).unwrap();
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .expect("server neither answered nor closed");
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn garbage_gets_400_and_a_close_and_others_stay_served() {
    let server = api();
    // Not HTTP at all, and a TLS ClientHello on the plain port: refused at the protocol layer,
    // before routing, so the 400 has no JSON body; the connection is closed.
    for junk in [
        &b"\x00\xff\xfe garbage \r\n\r\n"[..],
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
    ] {
        let answer = send_raw(&server.addr, junk);
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");
        assert!(
            answer.to_lowercase().contains("connection: close"),
            "{answer:?}"
        );
        good_client_passes(&server.addr);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abrupt_closes_mid_request_leave_others_served() {
    use tokio::io::AsyncWriteExt;
    let server = api();
    // Half a request line, half a body, then each connection vanishes: with a FIN and with a RST.
    let pieces: [&[u8]; 2] = [
        b"GET /items HTTP/1.1\r\nHost: x\r\n",
        b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"na",
    ];
    for piece in pieces {
        for reset in [false, true] {
            let mut stream = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
            stream.write_all(piece).await.unwrap();
            if reset {
                stream.set_zero_linger().unwrap();
            }
            drop(stream);
            good_client_passes(&server.addr);
        }
    }
}

#[test]
fn probe_wants_a_200_from_health() {
    let server = api();
    let probe = |addr: &str| {
        Command::new(API)
            .args(["--probe", "--listen", addr])
            .output()
            .unwrap()
    };
    assert!(probe(&server.addr).status.success());

    // Something that accepts TCP but does not speak HTTP is not a healthy API.
    let impostor = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let impostor_addr = impostor.local_addr().unwrap().to_string();
    std::thread::spawn(move || impostor.incoming().for_each(drop));
    let out = probe(&impostor_addr);
    assert_eq!(out.status.code(), Some(1));
    assert_one_error_line(
        &String::from_utf8_lossy(&out.stderr),
        &[&impostor_addr, "/health"],
    );

    let addr = server.addr.clone();
    assert!(server.terminate().status.success());
    assert_eq!(probe(&addr).status.code(), Some(1));
}

#[test]
fn sigterm_exits_0_with_a_keep_alive_connection_open() {
    let server = api();
    // An idle keep-alive connection that has been served once: graceful shutdown must not wait
    // for it forever (shutdown_timeout bounds it).
    let mut idle = TcpStream::connect(&server.addr).unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut status = String::new();
    BufReader::new(&idle).read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let done = server.terminate();
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
}

testkit::one_line_failure_tests!(server: API, client: CLIENT);

#[test]
fn bad_flag_values_are_refused_by_name() {
    testkit::assert_flag_refused(API, &["--max-body", "0"], &[]);
    testkit::assert_flag_refused(CLIENT, &["--count", "zero"], &[]);
    testkit::assert_flag_refused(
        CLIENT,
        &["--retry-secs", "soon"],
        &["not a number of seconds"],
    );
}

#[test]
fn sigterm_stops_a_running_client_with_a_partial_summary() {
    let server = api();
    // Signal only once it is walking, i.e. with its handlers installed.
    let fields = testkit::stop_a_long_client_run(CLIENT, &server.addr, "connected to");
    assert!(fields["sent"].parse::<u64>().unwrap() < 8_000_000_000);
    assert_eq!(fields["failed"], "0");
}
