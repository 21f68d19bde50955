//! PUB/SUB on loopback: subscribers with different topics each get every message of their topics
//! and none of another, because the publisher waits for their subscriptions; pyzmq subscribes too.

mod support;

use support::{python, python_done, spawn};

#[test]
fn each_subscriber_gets_every_message_of_its_topics_and_no_other() {
    let publisher = spawn(
        "zmq-publisher",
        &[
            "--listen",
            "127.0.0.1:0",
            "--topics",
            "weather,news,sports",
            "--count",
            "200",
            "--subscriptions",
            "3",
        ],
    );
    let addr = publisher.listening();
    let one = spawn(
        "zmq-subscriber",
        &["--connect", &addr, "--topics", "weather"],
    );
    let two = spawn(
        "zmq-subscriber",
        &["--connect", &addr, "--topics", "news,sports"],
    );
    let (one, two) = (one.finish(), two.finish());
    for done in [&one, &two] {
        assert!(done.status.success(), "{}", done.stderr);
        let s = done.summary();
        assert_eq!(
            (
                s["unexpected"].as_str(),
                s["lost"].as_str(),
                s["out_of_order"].as_str()
            ),
            ("0", "0", "0")
        );
    }
    assert_eq!(one.summary()["per_topic"], "weather:200");
    assert_eq!(two.summary()["per_topic"], "news:200,sports:200");
    assert_eq!(two.summary()["received"], "400");
    let p = publisher.finish();
    assert!(p.status.success(), "{}", p.stderr);
    assert_eq!(p.summary()["sent"], "600");
}

const PY_SUB: &str = r#"
import json, sys, zmq
sub = zmq.Context().socket(zmq.SUB)
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

#[test]
fn a_pyzmq_subscriber_gets_its_topic_from_our_publisher() {
    let publisher = spawn(
        "zmq-publisher",
        &[
            "--listen",
            "127.0.0.1:0",
            "--topics",
            "weather,news",
            "--count",
            "150",
            "--subscriptions",
            "2",
        ],
    );
    let addr = publisher.listening();
    let py = python(PY_SUB, &[&addr]);
    let ours = spawn(
        "zmq-subscriber",
        &["--connect", &addr, "--topics", "weather"],
    )
    .finish();
    assert_eq!(python_done(py).trim(), "150");
    assert!(ours.status.success(), "{}", ours.stderr);
    assert_eq!(ours.summary()["per_topic"], "weather:150");
}
