//! PUB/SUB on loopback: subscribers with different topics each get every message of their topics
//! and none of another, because the publisher waits for their subscriptions; pyzmq subscribes too.

mod support;

use support::{python, python_done, spawn, PY_PLAIN, PY_SUB};

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
        done.assert_fields(&[("unexpected", "0"), ("lost", "0"), ("out_of_order", "0")]);
    }
    assert_eq!(one.summary()["per_topic"], "weather:200");
    assert_eq!(two.summary()["per_topic"], "news:200,sports:200");
    assert_eq!(two.summary()["received"], "400");
    let p = publisher.finish();
    assert!(p.status.success(), "{}", p.stderr);
    assert_eq!(p.summary()["sent"], "600");
}

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
    let py = python(&format!("{PY_PLAIN}{PY_SUB}"), &[&addr]);
    let ours = spawn(
        "zmq-subscriber",
        &["--connect", &addr, "--topics", "weather"],
    )
    .finish();
    assert_eq!(python_done(py).trim(), "150");
    assert!(ours.status.success(), "{}", ours.stderr);
    assert_eq!(ours.summary()["per_topic"], "weather:150");
}

/// A publisher of one topic, `weather`, with extra flags; returns it and its address.
fn publisher(count: &str, extra: &[&str]) -> (support::Proc, String) {
    let args = [
        &[
            "--listen",
            "127.0.0.1:0",
            "--topics",
            "weather",
            "--count",
            count,
        ][..],
        extra,
    ]
    .concat();
    let p = spawn("zmq-publisher", &args);
    let addr = p.listening();
    (p, addr)
}

fn field(s: &std::collections::BTreeMap<String, String>, key: &str) -> u64 {
    s[key].parse().unwrap_or_else(|_| panic!("{key} in {s:?}"))
}

/// How many `weather` messages the publisher says it sent.
fn published(p: support::Finished) -> u64 {
    assert!(p.status.success(), "{}", p.stderr);
    let s = p.summary();
    let per_topic = s["per_topic"].strip_prefix("weather:").unwrap();
    per_topic.parse().unwrap()
}

#[test]
fn a_subscriber_paused_past_the_high_water_marks_counts_exactly_what_it_missed() {
    // Messages large enough that a 1.5 s pause overflows the kernel's socket buffers too.
    let (publisher, addr) = publisher(
        "4000",
        &["--size", "50000", "--sndhwm", "100", "--rate", "2000"],
    );
    let sub = spawn(
        "zmq-subscriber",
        &[
            "--connect",
            &addr,
            "--topics",
            "weather",
            "--rcvhwm",
            "100",
            "--expect-loss",
        ],
    );
    publisher.wait_for("1/1 subscriptions");
    // Some messages first, so the loss is a gap and not a late start.
    std::thread::sleep(std::time::Duration::from_millis(300));
    sub.signal("STOP");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    sub.signal("CONT");
    let done = sub.finish();
    assert!(done.status.success(), "{}", done.stderr);
    let s = done.summary();
    let sent = published(publisher.finish());
    assert_eq!(sent, 4000);
    let (received, missed) = (field(&s, "received"), field(&s, "missed"));
    assert!(missed > 0, "the pause dropped nothing: {s:?}");
    assert_eq!(missed, sent - received, "{s:?}");
    assert_eq!(
        (field(&s, "before_join"), field(&s, "out_of_order")),
        (0, 0)
    );
    assert_eq!(field(&s, "lost"), missed);
}

#[test]
fn a_late_joiner_counts_exactly_what_was_published_before_its_subscription() {
    let (publisher, addr) = publisher("2000", &["--rate", "1000", "--subscriptions", "0"]);
    publisher.wait_for("waiting for 0 subscriptions");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let args = ["--connect", &addr, "--topics", "weather"];
    let tolerant = spawn("zmq-subscriber", &[&args[..], &["--expect-loss"]].concat());
    let strict = spawn("zmq-subscriber", &args);
    let (tolerant, strict) = (tolerant.finish(), strict.finish());
    let sent = published(publisher.finish());
    for done in [&tolerant, &strict] {
        let s = done.summary();
        let (received, before) = (field(&s, "received"), field(&s, "before_join"));
        assert!(before > 0, "{s:?}");
        assert_eq!(before, sent - received, "{s:?}");
        assert_eq!(field(&s, "missed"), 0, "{s:?}");
    }
    assert!(tolerant.status.success(), "{}", tolerant.stderr);
    // Without --expect-loss the same exact count is still a failed run.
    assert_eq!(strict.status.code(), Some(1), "{}", strict.stderr);
    strict.assert_logged("incomplete stream");
}
