//! Bad input to every bound ZeroMQ port (REP, PULL sink, PUSH tasks, XPUB): garbage bytes and
//! abrupt closes over plain TCP, and a request over the REP server's 1 MiB limit. libzmq drops
//! each bad peer before it becomes a ZeroMQ peer (the oversize one on its message), and a
//! well-behaved client afterwards still gets full service.

mod support;

use support::{bad_peers, spawn, spawn_pusher};

#[test]
fn rep_port_drops_bad_peers_and_keeps_serving() {
    let server = spawn("zmq-rep-server", &["--listen", "127.0.0.1:0"]);
    let addr = server.listening();
    bad_peers(&addr);
    let done = spawn("zmq-req-client", &["--connect", &addr, "--count", "100"]).finish();
    assert!(done.status.success(), "{}", done.stderr);
    done.assert_fields(&[("received", "100"), ("mismatched", "0")]);
}

#[test]
fn sink_and_pusher_ports_drop_bad_peers_and_the_batch_is_still_fair() {
    let sink = spawn("zmq-sink", &["--listen", "127.0.0.1:0", "--workers", "3"]);
    let sink_addr = sink.listening();
    bad_peers(&sink_addr);
    let pusher = spawn_pusher(&sink_addr, &["--count", "300", "--workers", "3"]);
    let tasks_addr = pusher.listening();
    // Bad peers to the task port must neither count as workers nor receive tasks.
    bad_peers(&tasks_addr);
    let workers: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|id| {
            spawn(
                "zmq-worker",
                &["--connect", &tasks_addr, "--sink", &sink_addr, "--id", id],
            )
        })
        .collect();
    let done = sink.finish();
    assert!(done.status.success(), "{}", done.stderr);
    let s = done.summary();
    assert_eq!(s["per_worker"], "a:100,b:100,c:100");
    done.assert_fields(&[("lost", "0"), ("malformed", "0")]);
    for w in workers {
        assert!(w.finish().status.success());
    }
}

#[test]
fn publisher_port_drops_bad_peers_and_subscribers_get_everything() {
    let publisher = spawn(
        "zmq-publisher",
        &[
            "--listen",
            "127.0.0.1:0",
            "--topics",
            "a,b",
            "--count",
            "100",
            "--subscriptions",
            "2",
        ],
    );
    let addr = publisher.listening();
    bad_peers(&addr);
    let one = spawn("zmq-subscriber", &["--connect", &addr, "--topics", "a"]);
    let two = spawn("zmq-subscriber", &["--connect", &addr, "--topics", "b"]);
    let (one, two) = (one.finish(), two.finish());
    for (done, topic) in [(&one, "a:100"), (&two, "b:100")] {
        assert!(done.status.success(), "{}", done.stderr);
        assert_eq!(done.summary()["per_topic"], topic);
        assert_eq!(done.summary()["unexpected"], "0");
    }
    let p = publisher.finish();
    assert!(
        !p.stderr.contains("subscribe \"\""),
        "a bad peer counted as a subscriber:\n{}",
        p.stderr
    );
}

#[test]
fn an_oversize_request_drops_only_its_sender() {
    let server = spawn("zmq-rep-server", &["--listen", "127.0.0.1:0"]);
    let addr = server.listening();
    // A REQ that sends more than the server's ZMQ_MAXMSGSIZE (1 MiB): libzmq must drop that peer,
    // which the sender's monitor sees as a disconnect (an exact signal, no timeout to wait out).
    let ctx = zmq::Context::new();
    let req = ctx.socket(zmq::REQ).unwrap();
    req.set_linger(0).unwrap();
    req.monitor("inproc://oversize", zmq::SocketEvent::DISCONNECTED as i32)
        .unwrap();
    let events = ctx.socket(zmq::PAIR).unwrap();
    events.connect("inproc://oversize").unwrap();
    req.connect(&format!("tcp://{addr}")).unwrap();
    req.send(vec![b'x'; (1 << 20) + 1], 0).unwrap();
    events.set_rcvtimeo(20_000).unwrap();
    let event = events
        .recv_multipart(0)
        .expect("no disconnect after an oversize request");
    let id = u16::from_le_bytes([event[0][0], event[0][1]]);
    assert_eq!(id, zmq::SocketEvent::DISCONNECTED as u16);
    // Every other client is still served in full.
    let done = spawn("zmq-req-client", &["--connect", &addr, "--count", "100"]).finish();
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(done.summary()["received"], "100");
}
