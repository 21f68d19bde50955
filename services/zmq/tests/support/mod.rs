//! What the ZeroMQ tests share beyond the workspace's harness (testkit): our role binaries by
//! name, pyzmq as a real foreign peer, and bad bytes thrown at a port.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Child, Command, Stdio};

#[allow(unused_imports)]
pub use testkit::{Finished, Proc, HANG};

/// The path of one of this crate's binaries.
pub fn bin(name: &str) -> &'static str {
    match name {
        "zmq-rep-server" => env!("CARGO_BIN_EXE_zmq-rep-server"),
        "zmq-req-client" => env!("CARGO_BIN_EXE_zmq-req-client"),
        "zmq-pusher" => env!("CARGO_BIN_EXE_zmq-pusher"),
        "zmq-worker" => env!("CARGO_BIN_EXE_zmq-worker"),
        "zmq-sink" => env!("CARGO_BIN_EXE_zmq-sink"),
        "zmq-publisher" => env!("CARGO_BIN_EXE_zmq-publisher"),
        "zmq-subscriber" => env!("CARGO_BIN_EXE_zmq-subscriber"),
        other => panic!("no binary {other}"),
    }
}

pub fn spawn(name: &str, args: &[&str]) -> Proc {
    Proc::spawn(bin(name), args)
}

pub fn spawn_env(name: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
    Proc::spawn_with(Command::new(bin(name)).args(args).envs(env.iter().copied()))
}

/// Our pusher on a free port, announcing its batches to the sink at `sink`, with `flags`.
pub fn spawn_pusher(sink: &str, flags: &[&str]) -> Proc {
    let args: Vec<&str> = ["--listen", "127.0.0.1:0", "--sink", sink]
        .iter()
        .chain(flags)
        .copied()
        .collect();
    spawn("zmq-pusher", &args)
}

/// Runs a pyzmq script with the Debian interpreter (the only one with zmq); returns the child.
pub fn python(script: &str, args: &[&str]) -> Child {
    Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running /usr/bin/python3 (python3-zmq)")
}

/// pyzmq's `secure(sock)` for a plain peer, before one of the scripts below: nothing to set.
pub const PY_PLAIN: &str = "import sys, zmq\ndef secure(sock):\n    pass\n";

/// A SUB (argv[1]: the publisher's `HOST:PORT`) taking `news` until its end marker, every
/// message in order; prints how many it got.
pub const PY_SUB: &str = r#"
import json
sub = zmq.Context().socket(zmq.SUB)
secure(sub)
sub.setsockopt(zmq.RCVTIMEO, 60000)
sub.connect("tcp://" + sys.argv[1])
sub.setsockopt(zmq.SUBSCRIBE, b"news")
got = 0
while True:
    topic, payload = sub.recv_multipart()
    assert topic == b"news", topic
    if payload.startswith(b"END "):
        assert int(payload[4:]) == got, (payload, got)
        break
    assert json.loads(payload)["seq"] == got
    got += 1
print(got)
"#;

/// A REP answering argv[1] requests (`upper` and `add`); prints its endpoint first.
pub const PY_REP: &str = r#"
rep = zmq.Context().socket(zmq.REP)
secure(rep)
rep.bind("tcp://127.0.0.1:*")
print(rep.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
for _ in range(int(sys.argv[1])):
    req = rep.recv_json()
    if req["op"] == "upper":
        rep.send_json({"id": req["id"], "result": req["arg"].upper()})
    else:
        rep.send_json({"id": req["id"], "result": sum(req["args"])})
"#;

/// Waits for a python peer and returns its stdout, failing the test on a non-zero exit.
pub fn python_done(child: Child) -> String {
    testkit::stdout_of_success("the pyzmq peer", &child.wait_with_output().unwrap())
}

/// The endpoint a python peer prints on its first line, as `HOST:PORT`.
pub fn first_line(py: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(py.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.trim().trim_start_matches("tcp://").to_string()
}

/// The bad peers every bound port must survive: bytes that are no ZMTP greeting (an HTTP
/// request, zeros), a ZMTP signature with a mechanism that does not exist, and connections closed
/// abruptly with and without half a greeting. Each garbage connection is shut by us and read until
/// libzmq closes or resets it, so libzmq has dropped it before the test goes on; write and read
/// errors are expected (libzmq may reset before we finish).
pub fn bad_peers(addr: &str) {
    let garbage: [&[u8]; 3] = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f\x03\x01NOPE\x00\x00garbage garbage garbage garbage garbage garbage!",
        &[0u8; 300],
    ];
    for bytes in garbage {
        let mut s = TcpStream::connect(addr).expect("connecting with garbage");
        let _ = s.write_all(bytes);
        let _ = s.shutdown(Shutdown::Write);
        s.set_read_timeout(Some(HANG)).unwrap();
        let mut rest = Vec::new();
        if let Err(e) = s.read_to_end(&mut rest) {
            assert_ne!(
                e.kind(),
                std::io::ErrorKind::WouldBlock,
                "libzmq kept a garbage peer open"
            );
        }
    }
    // Abrupt closes: nothing sent, and half a greeting.
    drop(TcpStream::connect(addr).unwrap());
    let mut s = TcpStream::connect(addr).unwrap();
    let _ = s.write_all(b"\xff\x00\x00");
    drop(s);
}
