//! REQ/REP on loopback: strict alternation with reply i answering request i, error replies for
//! malformed requests, a client that loses its server, and pyzmq as a real peer on either end.

mod support;

use serde_json::{json, Value};
use support::{first_line, python, python_done, spawn, spawn_env, PY_PLAIN, PY_REP};

/// A raw REQ socket connected to `addr`, for requests the real client would never send.
fn req_socket(ctx: &zmq::Context, addr: &str) -> zmq::Socket {
    let req = ctx.socket(zmq::REQ).unwrap();
    req.set_linger(0).unwrap();
    req.set_rcvtimeo(support::HANG.as_millis() as i32).unwrap();
    req.connect(&format!("tcp://{addr}")).unwrap();
    req
}

fn ask(req: &zmq::Socket, frames: &[&[u8]]) -> Value {
    req.send_multipart(frames, 0).unwrap();
    serde_json::from_slice(&req.recv_bytes(0).expect("a reply")).unwrap()
}

#[test]
fn hundred_requests_alternate_strictly_and_reply_i_answers_request_i() {
    let server = spawn("zmq-rep-server", &["--listen", "127.0.0.1:0"]);
    let addr = server.listening();
    let client = spawn(
        "zmq-req-client",
        &["--connect", &addr, "--count", "100", "--size", "64"],
    );
    let done = client.finish();
    assert!(done.status.success(), "{}", done.stderr);
    let s = done.summary();
    done.assert_fields(&[("sent", "100"), ("received", "100"), ("lost", "0")]);
    assert_eq!(s["mismatched"], "0");

    // The same by hand: each reply carries its request's id, and the REQ socket itself refuses a
    // second request before the first reply (EFSM): alternation is the socket's rule.
    let ctx = zmq::Context::new();
    let req = req_socket(&ctx, &addr);
    for i in 0..100u64 {
        let reply = ask(
            &req,
            &[json!({"id": i, "op": "add", "args": [i, 1]})
                .to_string()
                .as_bytes()],
        );
        assert_eq!(reply, json!({"id": i, "result": i + 1}));
    }
    req.send("{}", 0).unwrap();
    assert_eq!(req.send("{}", 0).unwrap_err(), zmq::Error::EFSM);
}

#[test]
fn malformed_requests_get_error_replies_and_a_good_client_gets_full_service() {
    let server = spawn("zmq-rep-server", &["--listen", "127.0.0.1:0"]);
    let addr = server.listening();
    let ctx = zmq::Context::new();
    let req = req_socket(&ctx, &addr);
    let bad: [(&[&[u8]], &str); 6] = [
        (&[b"\xff\xfe\x00 garbage bytes"], "not JSON"),
        (&[br#"{"id": 1, "op": "upper""#], "not JSON"),
        (
            &[br#"{"id": 2, "op": "divide", "args": [1, 0]}"#],
            "unknown op",
        ),
        (
            &[br#"{"id": 3, "op": "add", "args": "12"}"#],
            "array of integers",
        ),
        (&[br#"{"id": 4, "arg": "no op"}"#], "missing"),
        (&[b"two", b"frames"], "expected 1 frame"),
    ];
    for (frames, why) in bad {
        let reply = ask(&req, frames);
        let error = reply["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error in {reply}"));
        assert!(error.contains(why), "{reply} should say {why}");
    }
    assert_eq!(
        ask(&req, &[br#"{"id": 2, "op": "divide"}"#])["id"],
        2,
        "an error reply keeps the id"
    );

    let done = spawn("zmq-req-client", &["--connect", &addr, "--count", "100"]).finish();
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(done.summary()["received"], "100");
}

/// Our REP server on a free port, logging each request (debug level), so a test can strike once
/// requests flow; and its address.
fn logging_rep_server() -> (support::Proc, String) {
    let server = spawn_env(
        "zmq-rep-server",
        &["--listen", "127.0.0.1:0"],
        &[("RUST_LOG", "debug")],
    );
    let addr = server.listening();
    (server, addr)
}

/// Our REQ client against `addr` with `flags`.
fn req_client(addr: &str, flags: &[&str]) -> support::Proc {
    let args: Vec<&str> = ["--connect", addr].iter().chain(flags).copied().collect();
    spawn("zmq-req-client", &args)
}

#[test]
fn a_client_whose_server_is_killed_reports_the_lost_request_and_exits_nonzero() {
    let (server, addr) = logging_rep_server();
    let client = req_client(&addr, &["--count", "100000000", "--timeout-secs", "0.5"]);
    server.wait_for("request 10:");
    server.signal("KILL");
    let done = client.finish();
    assert_eq!(done.status.code(), Some(1), "{}", done.stderr);
    let s = done.summary();
    assert_eq!(s["lost"], "1");
    let (sent, received): (u64, u64) = (s["sent"].parse().unwrap(), s["received"].parse().unwrap());
    assert_eq!(sent, received + 1);
    done.assert_logged("error: no reply to request");
}

#[test]
fn a_lazy_pirate_client_survives_a_server_restart_on_the_same_port() {
    let (server, addr) = logging_rep_server();
    let client = req_client(
        &addr,
        &[
            "--count",
            "3000",
            "--timeout-secs",
            "0.3",
            "--retries",
            "20",
        ],
    );
    // Stopped first so the run cannot finish before the fault; then killed, as a crash would.
    server.wait_for("request 10:");
    server.signal("STOP");
    server.signal("KILL");
    drop(server);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let again = spawn("zmq-rep-server", &["--listen", &addr]);
    assert_eq!(again.listening(), addr);
    let done = client.finish();
    assert!(done.status.success(), "{}", done.stderr);
    let s = done.summary();
    done.assert_fields(&[
        ("sent", "3000"),
        ("received", "3000"),
        ("lost", "0"),
        ("mismatched", "0"),
    ]);
    let retries: u64 = s["retries"].parse().unwrap();
    assert!(retries >= 1, "{s:?}");
    let logged = done.stderr.matches(": resending to tcp://").count() as u64;
    assert_eq!(logged, retries, "one log line per retry:\n{}", done.stderr);
}

const PY_REQ: &str = r#"
import json, sys, zmq
req = zmq.Context().socket(zmq.REQ)
req.setsockopt(zmq.RCVTIMEO, 60000)
req.connect("tcp://" + sys.argv[1])
for i in range(50):
    req.send_json({"id": i, "op": "upper", "arg": "py%d" % i})
    assert req.recv_json() == {"id": i, "result": "PY%d" % i}
    req.send_json({"id": i, "op": "add", "args": [i, -2 * i]})
    assert req.recv_json() == {"id": i, "result": -i}
req.send(b"not json")
assert "error" in req.recv_json()
print("ok")
"#;

#[test]
fn a_pyzmq_req_client_is_answered_by_our_rep_server() {
    let server = spawn("zmq-rep-server", &["--listen", "127.0.0.1:0"]);
    let out = python_done(python(PY_REQ, &[&server.listening()]));
    assert_eq!(out.trim(), "ok");
}

#[test]
fn our_req_client_is_answered_by_a_pyzmq_rep_server() {
    let mut py = python(&format!("{PY_PLAIN}{PY_REP}"), &["60"]);
    let addr = first_line(&mut py);
    let done = spawn(
        "zmq-req-client",
        &["--connect", &addr, "--count", "60", "--size", "10"],
    )
    .finish();
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(done.summary()["mismatched"], "0");
    assert_eq!(done.summary()["received"], "60");
    python_done(py);
}
