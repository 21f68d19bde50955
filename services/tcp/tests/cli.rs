//! The TCP binaries as compose runs them: the summary line, the probe, SIGTERM, a client with no
//! server, and a port already in use. Each test spawns the real binaries on ephemeral ports.

use std::process::Command;

use testkit::{assert_one_error_line, start};

const SERVER: &str = env!("CARGO_BIN_EXE_tcp-echo-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_tcp-echo-client");

#[test]
fn client_prints_the_summary_for_large_messages() {
    let server = start(SERVER, &["--listen", "127.0.0.1:0"]);
    let out = testkit::run_to_end(
        CLIENT,
        &[
            "--connect",
            &server.addr,
            "--count",
            "20",
            "--size",
            "100000",
            "--concurrency",
            "4",
        ],
    );
    let fields = out.assert_success().summary();
    for (key, want) in [
        ("sent", "20"),
        ("received", "20"),
        ("lost", "0"),
        ("mismatched", "0"),
        ("size", "100000"),
    ] {
        assert_eq!(fields[key], want, "{key} in {}", out.stdout);
    }
}

#[test]
fn env_fallbacks_configure_the_client() {
    let server = start(SERVER, &["--listen", "127.0.0.1:0"]);
    let out = Command::new(CLIENT)
        .env("CONNECT", &server.addr)
        .env("COUNT", "7")
        .env("SIZE", "33")
        .output()
        .unwrap();
    assert!(out.status.success());
    let fields = common::summary::find(&String::from_utf8_lossy(&out.stdout)).unwrap();
    assert_eq!((&*fields["sent"], &*fields["size"]), ("7", "33"));
}

testkit::one_line_failure_tests!(server: SERVER, client: CLIENT);

#[test]
fn bad_flag_values_are_refused_by_name() {
    testkit::assert_flag_refused(CLIENT, &["--size", "0"], &[]);
    testkit::assert_flag_refused(
        CLIENT,
        &["--timeout-secs", "abc"],
        &["not a number of seconds"],
    );
    let out = Command::new(CLIENT)
        .args([
            "--connect",
            "no-such-host.invalid:7000",
            "--retry-secs",
            "0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_one_error_line(
        &String::from_utf8_lossy(&out.stderr),
        &["no-such-host.invalid:7000"],
    );
}

#[test]
fn probe_says_whether_the_server_listens() {
    let server = start(SERVER, &["--listen", "127.0.0.1:0"]);
    let addr = server.addr.clone();
    let probe = |addr: &str| {
        Command::new(SERVER)
            .args(["--probe", "--listen", addr])
            .output()
            .unwrap()
    };
    assert!(probe(&addr).status.success());
    assert!(server.terminate().status.success());
    let out = probe(&addr);
    assert_eq!(out.status.code(), Some(1));
    assert_one_error_line(&String::from_utf8_lossy(&out.stderr), &[&addr]);
}

#[test]
fn sigterm_stops_the_server_with_clients_connected() {
    let server = start(SERVER, &["--listen", "127.0.0.1:0"]);
    let mut idle = std::net::TcpStream::connect(&server.addr).unwrap();
    let done = server.terminate();
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    // The connection task was ended, not abandoned: the client sees the socket closed.
    let mut buf = [0u8; 1];
    assert_eq!(std::io::Read::read(&mut idle, &mut buf).unwrap_or(0), 0);
}

#[test]
fn sigterm_stops_a_running_client_with_a_partial_summary() {
    let server = start(SERVER, &["--listen", "127.0.0.1:0"]);
    // Signal only once it is connected, i.e. mid-run with its handlers installed.
    let fields = testkit::stop_a_long_client_run(CLIENT, &server.addr, "connected");
    assert!(fields["sent"].parse::<u64>().unwrap() < 1_000_000_000);
    assert_eq!(fields["mismatched"], "0");
}
