//! How every ZeroMQ binary behaves as a process: SIGTERM and SIGINT stop it with exit 0, a port in
//! use or a bad flag value exits non-zero with one line naming it, a client whose server is not up
//! gives up with one line naming the address, and `--probe` tells whether a server listens.

mod support;

use std::net::TcpListener;

use support::{spawn, spawn_env, spawn_pusher, Proc};

/// A loopback address where nothing listens (bound, then released).
fn dead_addr() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn assert_stops_cleanly(proc: Proc, sig: &str, what: &str) {
    proc.signal(sig);
    let done = proc.finish();
    assert!(
        done.status.success(),
        "{what} after SIG{sig}: {:?}\n{}",
        done.status,
        done.stderr
    );
}

#[test]
fn sigterm_and_sigint_stop_every_role_with_exit_0() {
    // Servers idle on their sockets; clients waiting for work that never comes.
    let rep = spawn("zmq-rep-server", &["--listen", "127.0.0.1:0"]);
    rep.listening();
    let sink = spawn("zmq-sink", &["--listen", "127.0.0.1:0"]);
    let sink_addr = sink.listening();
    let pusher = spawn_pusher(&sink_addr, &["--workers", "2"]);
    let tasks_addr = pusher.listening();
    let worker = spawn(
        "zmq-worker",
        &["--connect", &tasks_addr, "--sink", &sink_addr, "--id", "w"],
    );
    worker.wait_for("worker w ready");
    let publisher = spawn(
        "zmq-publisher",
        &["--listen", "127.0.0.1:0", "--subscriptions", "5"],
    );
    let pub_addr = publisher.listening();
    let subscriber = spawn(
        "zmq-subscriber",
        &["--connect", &pub_addr, "--topics", "news"],
    );
    subscriber.wait_for("subscribed to");
    publisher.wait_for("subscribe \"news\"");
    assert_stops_cleanly(worker, "TERM", "zmq-worker");
    assert_stops_cleanly(subscriber, "INT", "zmq-subscriber");
    assert_stops_cleanly(pusher, "TERM", "zmq-pusher");
    assert_stops_cleanly(sink, "TERM", "zmq-sink");
    assert_stops_cleanly(publisher, "TERM", "zmq-publisher");
    assert_stops_cleanly(rep, "INT", "zmq-rep-server");
}

#[test]
fn a_req_client_stopped_while_waiting_for_a_reply_exits_0_with_its_summary() {
    // A raw REP that never answers: the client sits in its receive loop.
    let ctx = zmq::Context::new();
    let rep = ctx.socket(zmq::REP).unwrap();
    rep.bind("tcp://127.0.0.1:*").unwrap();
    let addr = rep
        .get_last_endpoint()
        .unwrap()
        .unwrap()
        .trim_start_matches("tcp://")
        .to_string();
    let client = spawn(
        "zmq-req-client",
        &["--connect", &addr, "--timeout-secs", "600"],
    );
    rep.recv_bytes(0).unwrap();
    client.signal("TERM");
    let done = client.finish();
    assert!(done.status.success(), "{}", done.stderr);
    done.assert_fields(&[("sent", "1"), ("received", "0")]);
}

/// Runs a binary to its end with logging off; returns (exit code, stderr lines).
fn run_quiet(name: &str, args: &[&str]) -> (Option<i32>, Vec<String>) {
    let done = spawn_env(name, args, &[("RUST_LOG", "off")]).finish();
    (
        done.status.code(),
        done.stderr.lines().map(str::to_string).collect(),
    )
}

#[test]
fn a_port_in_use_exits_1_with_one_line_naming_it() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for name in ["zmq-rep-server", "zmq-sink", "zmq-pusher", "zmq-publisher"] {
        let (code, lines) = run_quiet(name, &["--listen", &addr]);
        assert_eq!(code, Some(1), "{name}: {lines:?}");
        assert_eq!(lines.len(), 1, "{name}: {lines:?}");
        assert!(
            lines[0].starts_with("error: binding tcp://") && lines[0].contains(&addr),
            "{name}: {lines:?}"
        );
        assert!(lines[0].contains("in use"), "{name}: {lines:?}");
    }
}

#[test]
fn a_client_whose_server_is_not_up_gives_up_with_one_line_naming_the_address() {
    let addr = dead_addr();
    let clients: [(&str, Vec<&str>); 3] = [
        ("zmq-req-client", vec!["--connect", &addr]),
        ("zmq-subscriber", vec!["--connect", &addr]),
        ("zmq-worker", vec!["--connect", &addr, "--sink", &addr]),
    ];
    for (name, mut args) in clients {
        args.extend(["--retry-secs", "1"]);
        let (code, lines) = run_quiet(name, &args);
        assert_eq!(code, Some(1), "{name}: {lines:?}");
        assert_eq!(lines.len(), 1, "{name}: {lines:?}");
        assert!(
            lines[0].contains(&format!("no ZeroMQ handshake with tcp://{addr}")),
            "{name}: {lines:?}"
        );
    }
}

#[test]
fn bad_flag_values_and_unresolvable_hosts_exit_nonzero_with_one_line() {
    let cases: [(&str, &[&str], &str); 5] = [
        ("zmq-req-client", &["--count", "many"], "--count"),
        ("zmq-pusher", &["--workers", "0"], "--workers"),
        ("zmq-subscriber", &["--timeout-secs", "-1"], "-1"),
        (
            "zmq-rep-server",
            &["--listen", "no-such-host.invalid:5555"],
            "no-such-host.invalid",
        ),
        (
            "zmq-req-client",
            &[
                "--connect",
                "no-such-host.invalid:5555",
                "--retry-secs",
                "0",
            ],
            "no-such-host.invalid",
        ),
    ];
    for (name, args, named) in cases {
        let (code, lines) = run_quiet(name, args);
        assert!(code.is_some_and(|c| c != 0), "{name} {args:?}: {code:?}");
        assert_eq!(lines.len(), 1, "{name} {args:?}: {lines:?}");
        assert!(
            lines[0].starts_with("error:") && lines[0].contains(named),
            "{name} {args:?}: {lines:?}"
        );
    }
}

#[test]
fn probe_exits_0_only_when_the_server_listens() {
    let rep = spawn("zmq-rep-server", &["--listen", "127.0.0.1:0"]);
    let addr = rep.listening();
    for name in ["zmq-rep-server", "zmq-sink", "zmq-pusher", "zmq-publisher"] {
        assert_eq!(
            run_quiet(name, &["--probe", "--listen", &addr]).0,
            Some(0),
            "{name}"
        );
        assert_eq!(
            run_quiet(name, &["--probe", "--listen", &dead_addr()]).0,
            Some(1),
            "{name}"
        );
    }
}
